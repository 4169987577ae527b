import { describe, expect, it } from 'vitest';
import {
  describeDifference,
  diffSchemas,
  normaliseField,
} from '../../functions/core/collection-schema-diff.ts';

/** A field as GET /collections/:name lists it (Collection::get_summary_json). */
const stored = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  facet: false,
  optional: false,
  index: true,
  sort: ['int32', 'int64', 'float', 'bool'].includes(type),
  infix: false,
  locale: '',
  stem: false,
  store: true,
  ...extra,
});
const live = (fields: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({
  name: 'products_r20261130000000000',
  num_documents: 3,
  created_at: 1_764_000_000,
  default_sorting_field: '',
  enable_nested_fields: false,
  token_separators: [],
  symbols_to_index: [],
  fields,
  ...extra,
});

describe('diffSchemas', () => {
  it('finds nothing when only what Typesense adds differs: defaults, field order, statistics', () => {
    const deployed = {
      fields: [
        { name: 'title', type: 'string' },
        { name: 'price', type: 'float' },
      ],
    };
    expect(diffSchemas(deployed, live([stored('price', 'float'), stored('title', 'string')]))).toEqual([]);
  });

  it('ignores fields Typesense detected through `.*`, a dynamic field, or an object field', () => {
    const deployed = {
      enable_nested_fields: true,
      fields: [
        { name: 'title', type: 'string' },
        { name: 'attr_.*', type: 'string' },
        { name: 'address', type: 'object' },
      ],
    };
    const fields = [
      stored('title', 'string'),
      stored('attr_.*', 'string', { optional: true }),
      stored('attr_colour', 'string', { optional: true }),
      stored('address', 'object'),
      stored('address.city', 'string', { optional: true }),
    ];
    expect(diffSchemas(deployed, live(fields, { enable_nested_fields: true }))).toEqual([]);
    expect(
      diffSchemas(
        { fields: [{ name: '.*', type: 'auto' }] },
        live([stored('.*', 'auto', { optional: true }), stored('any', 'float', { optional: true })]),
      ),
    ).toEqual([]);
  });

  it('names each difference: a facet turned on, a field added, one removed, a collection setting', () => {
    const deployed = {
      token_separators: ['-'],
      fields: [
        { name: 'title', type: 'string' },
        { name: 'brand', type: 'string', facet: true },
        { name: 'rating', type: 'int32' },
      ],
    };
    const differences = diffSchemas(
      deployed,
      live([stored('title', 'string'), stored('brand', 'string'), stored('legacy', 'string')]),
    );
    expect(differences.map(describeDifference)).toEqual([
      'fields.brand.facet: false → true',
      'fields.rating: added',
      'fields.legacy: removed',
      'token_separators: [] → ["-"]',
    ]);
  });

  it('a type change or a default sorting field is a difference; a field named id is ignored', () => {
    const deployed = {
      default_sorting_field: 'price',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'price', type: 'int32' },
      ],
    };
    expect(diffSchemas(deployed, live([stored('price', 'float')])).map(({ path }) => path)).toEqual([
      'fields.price.type',
      'default_sorting_field',
    ]);
  });

  it('v30 set references are compared only when the deployed schema names them', () => {
    const v30 = live([stored('t', 'string')], { synonym_sets: [], curation_sets: [] });
    expect(diffSchemas({ fields: [{ name: 't', type: 'string' }] }, v30)).toEqual([]);
    expect(
      diffSchemas({ fields: [{ name: 't', type: 'string' }], synonym_sets: ['s'] }, v30).map(
        ({ path }) => path,
      ),
    ).toEqual(['synonym_sets']);
  });
});

describe('normaliseField', () => {
  it('fills the defaults of src/field.cpp: dynamic fields optional, numbers and bools sortable', () => {
    expect(normaliseField({ name: 'n', type: 'int64' })).toMatchObject({ sort: true, optional: false });
    expect(normaliseField({ name: 's', type: 'string' })).toMatchObject({
      sort: false,
      facet: false,
      index: true,
    });
    expect(normaliseField({ name: 'x.*', type: 'string' })).toMatchObject({ optional: true });
    expect(normaliseField({ name: 'r', type: 'int32', range_index: false })).not.toHaveProperty(
      'range_index',
    );
  });
});
