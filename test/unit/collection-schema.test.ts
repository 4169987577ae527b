import { describe, expect, it } from 'vitest';
import {
  COLLECTION_FIELD_TYPES,
  collectionSchemaProblems,
} from '../../functions/contract/collection-schema.ts';

/**
 * The synth-time check of `typesense.schema` against what Typesense's POST /collections rejects. Each case
 * names the server code (typesense/typesense) or docs page the rule comes from.
 */

const FIELD_H = 'include/field.h field::fields_to_json_fields';
const FIELD_CPP = 'src/field.cpp field::json_field_to_field';
const COLLECTION_MANAGER = 'src/collection_manager.cpp CollectionManager::create_collection';
const DOCS = 'https://typesense.org/docs/latest/api/collections.html';

const title = { name: 'title', type: 'string' };
const schemaWith = (...fields: object[]) => ({ fields: [title, ...fields] });

describe('collectionSchemaProblems', () => {
  it('accepts a schema using every option Typesense documents', () => {
    expect(
      collectionSchemaProblems({
        fields: [
          { name: 'title', type: 'string', infix: true, locale: 'en' },
          { name: 'brand', type: 'string', facet: true, sort: true },
          { name: 'price', type: 'float' },
          { name: 'rank', type: 'int32' },
          { name: 'tags', type: 'string[]', facet: true, optional: true },
          { name: 'location', type: 'geopoint' },
          { name: 'details', type: 'object', optional: true },
          { name: 'details.color', type: 'string', optional: false },
          { name: 'embedding', type: 'float[]', num_dim: 384, optional: true },
          { name: 'notes', type: 'string', index: false, optional: true },
          { name: 'score_.*', type: 'int32' },
          { name: '.*_facet', type: 'auto', facet: true },
          { name: '.*', type: 'auto' },
        ],
        default_sorting_field: 'rank',
        enable_nested_fields: true,
        token_separators: ['-', '/'],
        symbols_to_index: ['+'],
      }),
    ).toEqual([]);
  });

  it(`knows every field type Typesense accepts and nothing else (${FIELD_H} has_valid_type, ${DOCS} "Field types")`, () => {
    for (const type of COLLECTION_FIELD_TYPES) {
      const options = type.startsWith('object') ? { enable_nested_fields: true } : {};
      expect(
        collectionSchemaProblems({ ...options, fields: [{ name: 'f', type, optional: true }] }),
        type,
      ).toEqual([]);
    }
    expect(collectionSchemaProblems(schemaWith({ name: 'count', type: 'integer' }))).toEqual([
      'fields[1] "count" has the type "integer", which Typesense does not know (one of: string, string[], int32, int32[], int64, int64[], float, float[], bool, bool[], geopoint, geopoint[], geopolygon, object, object[], string*, auto, image)',
    ]);
  });

  it(`needs fields, each an object with a non-empty name and a type (${FIELD_CPP}: "Wrong format for fields")`, () => {
    expect(collectionSchemaProblems({ fields: [] })).toEqual(['fields must list at least one field']);
    expect(collectionSchemaProblems({})).toEqual(['fields must list at least one field']);
    expect(collectionSchemaProblems('title:string')).toEqual(['must be an object with a fields list']);
    expect(
      collectionSchemaProblems({ fields: ['title', { name: '', type: 'string' }, { name: 'price' }] }),
    ).toEqual([
      'fields[0] must be an object with a name and a type',
      'fields[1] must have a non-empty name',
      'fields[2] "price" must have a type',
    ]);
  });

  it('refuses a name: the sync versions the collection names itself', () => {
    expect(collectionSchemaProblems({ name: 'products', fields: [title] })).toEqual([
      'must not have a name: the sync names each collection after the alias and a version',
    ]);
  });

  it(`refuses two static fields of one name (${FIELD_H}: "There are duplicate field names")`, () => {
    expect(collectionSchemaProblems(schemaWith({ name: 'title', type: 'string[]' }))).toEqual([
      'fields lists "title" more than once',
    ]);
    // One static and one dynamic field of a name are allowed.
    expect(collectionSchemaProblems(schemaWith({ name: 'title', type: 'string*' }))).toEqual([]);
  });

  it(`needs enable_nested_fields for object fields (${FIELD_CPP}: "Type object or object[] can be used only when nested fields are enabled")`, () => {
    expect(collectionSchemaProblems(schemaWith({ name: 'details', type: 'object[]' }))).toEqual([
      'fields[1] "details" has the type object[], which needs enable_nested_fields: true',
    ]);
  });

  it(`refuses non-boolean flags and bad locales (${FIELD_CPP}: "should be a boolean", "locale value is not valid")`, () => {
    expect(
      collectionSchemaProblems(
        schemaWith({ name: 'brand', type: 'string', facet: 'yes', locale: 'english' }),
      ),
    ).toEqual([
      'fields[1] "brand" facet must be a boolean',
      'fields[1] "brand" locale must be a two-letter language code',
    ]);
  });

  it(`refuses drop, which only a schema update accepts (${FIELD_CPP}: "Invalid property drop")`, () => {
    expect(collectionSchemaProblems(schemaWith({ name: 'old', type: 'string', drop: true }))).toEqual([
      'fields[1] "old" must not have drop: Typesense allows it only in a schema update',
    ]);
  });

  it(`keeps dynamic and pattern-named fields optional (${FIELD_H}: "must be an optional field"; ${FIELD_CPP} for .*)`, () => {
    expect(
      collectionSchemaProblems(
        schemaWith(
          { name: 'score_.*', type: 'int32', optional: false },
          { name: 'anything', type: 'string*', optional: false },
          { name: '.*', type: 'auto', optional: false, facet: true, index: false },
        ),
      ),
    ).toEqual([
      'fields[1] "score_.*" must be optional: a string*, auto or pattern-named field matches only some documents',
      'fields[2] "anything" must be optional: a string*, auto or pattern-named field matches only some documents',
      'fields[3] ".*" must be optional: it matches every unlisted field',
      'fields[3] ".*" cannot be a facet: Typesense refuses facet on the .* field',
      'fields[3] ".*" must be indexed: index: false makes the .* field pointless',
    ]);
  });

  it(`makes a non-indexed field optional and never a facet (${FIELD_H}: "must be optional since it is marked as non-indexable")`, () => {
    expect(
      collectionSchemaProblems(schemaWith({ name: 'notes', type: 'string', index: false, facet: true })),
    ).toEqual([
      'fields[1] "notes" must be optional: true, since it has index: false',
      'fields[1] "notes" cannot be a facet: it has index: false',
    ]);
  });

  it(`allows sort only on types with a sort index (${FIELD_H}: "cannot be a sortabale field")`, () => {
    expect(collectionSchemaProblems(schemaWith({ name: 'tags', type: 'string[]', sort: true }))).toEqual([
      'fields[1] "tags" cannot be sortable: a string[] field has no sort index',
    ]);
  });

  it(`keeps num_dim to float[] fields without facet or sort (${FIELD_CPP}: "num_dim is only allowed on a float array field")`, () => {
    expect(
      collectionSchemaProblems(schemaWith({ name: 'embedding', type: 'string[]', num_dim: 0, facet: true })),
    ).toEqual([
      'fields[1] "embedding" num_dim must be a positive integer',
      'fields[1] "embedding" has num_dim, which is allowed only on a float[] field',
      'fields[1] "embedding" cannot be a facet: it is a vector field (num_dim)',
    ]);
  });

  describe(`default_sorting_field (${FIELD_H}; ${DOCS} "default_sorting_field")`, () => {
    it('accepts int32, int64, float and bool fields, and strings with sort: true', () => {
      for (const field of [
        { name: 'n', type: 'int32' },
        { name: 'n', type: 'int64' },
        { name: 'n', type: 'float' },
        { name: 'n', type: 'bool' },
        { name: 'n', type: 'string', sort: true },
      ]) {
        expect(
          collectionSchemaProblems({ ...schemaWith(field), default_sorting_field: 'n' }),
          field.type,
        ).toEqual([]);
      }
    });

    it('names a listed field: "Default sorting field is defined as … but is not found in the schema"', () => {
      expect(collectionSchemaProblems({ ...schemaWith(), default_sorting_field: 'rank' })).toEqual([
        'default_sorting_field "rank" is not one of the fields',
      ]);
    });

    it('names a field with a sort index: "is not a sortable type"', () => {
      expect(
        collectionSchemaProblems({
          ...schemaWith({ name: 'rank', type: 'int32', sort: false }),
          default_sorting_field: 'rank',
        }),
      ).toEqual([
        'default_sorting_field "rank" must be a sortable field: int32, int64, float or bool (not sort: false), or a string with sort: true; it is a int32',
      ]);
      expect(collectionSchemaProblems({ fields: [title], default_sorting_field: 'title' })).toHaveLength(1);
    });

    it('names a required field, never a geopoint: "cannot be an optional field", "cannot be of type geopoint"', () => {
      expect(
        collectionSchemaProblems({
          ...schemaWith({ name: 'rank', type: 'int32', optional: true }, { name: 'where', type: 'geopoint' }),
          default_sorting_field: 'rank',
        }),
      ).toEqual(['default_sorting_field "rank" cannot be optional: every document must have it']);
      expect(
        collectionSchemaProblems({
          ...schemaWith({ name: 'where', type: 'geopoint' }),
          default_sorting_field: 'where',
        }),
      ).toEqual(['default_sorting_field "where" cannot be a geopoint field']);
    });
  });

  it(`checks the collection options' types (${COLLECTION_MANAGER}: "should be an array of character symbols", "should be a boolean")`, () => {
    expect(
      collectionSchemaProblems({
        fields: [title],
        token_separators: ['foo'],
        symbols_to_index: '+',
        enable_nested_fields: 'true',
        default_sorting_field: 3,
      }),
    ).toEqual([
      'default_sorting_field must be a string: the name of a numeric field',
      'enable_nested_fields must be a boolean',
      'token_separators must be a list of single characters, got ["foo"]',
      'symbols_to_index must be a list of single characters, got "+"',
    ]);
  });

  it('reports every problem of a schema at once', () => {
    const problems = collectionSchemaProblems({
      name: 'x',
      fields: [
        { name: 'a', type: 'nope' },
        { name: 'a', type: 'string' },
        { name: 'a', type: 'string' },
      ],
      default_sorting_field: 'missing',
    });
    expect(problems).toHaveLength(4);
  });
});
