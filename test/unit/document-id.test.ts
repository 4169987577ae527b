import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { projectionProblems } from '../../functions/contract/projection.ts';
import { aggregationOf, buildAggregate } from '../../functions/core/aggregate.ts';
import type { MarshalledKey } from '../../functions/core/change.ts';
import { indexDocumentId, keysOfDocumentId } from '../../functions/core/document-id.ts';
import { documentId, type KeyType } from '../../functions/core/keys.ts';
import { type Projection, projectItem } from '../../functions/core/project.ts';

/*
 * The per-index document id rule (projection.id): key → document id, from the key alone. Without a rule
 * it is the key's encoding byte for byte; with one, the chosen key values without their prefixes.
 */

const CUSTOMERS: Projection = {
  filter: { attribute: 'sk', equals: 'PROFILE' },
  id: { attributes: ['pk'], stripPrefix: { pk: 'CUSTOMER#' } },
};
const key = (pk: string, sk: string): MarshalledKey => ({ pk: { S: pk }, sk: { S: sk } });

const keyValue = (type: KeyType) =>
  type === 'S'
    ? fc.string({ minLength: 1, maxLength: 12 }).map((S): AttributeValue => ({ S }))
    : type === 'N'
      ? fc.integer().map((n): AttributeValue => ({ N: String(n) }))
      : fc.uint8Array({ minLength: 1, maxLength: 8 }).map((B): AttributeValue => ({ B }));
const keyTypes = fc.array(fc.constantFrom<KeyType>('S', 'N', 'B'), { minLength: 1, maxLength: 2 });
const keysOf = (types: KeyType[]) =>
  fc
    .tuple(...types.map(keyValue))
    .map((values) => Object.fromEntries(values.map((value, at) => [['pk', 'sk'][at] as string, value])));

describe('indexDocumentId', () => {
  it('property: without a rule, or with one that names every key attribute and strips nothing, it is documentId', () => {
    fc.assert(
      fc.property(
        keyTypes.chain((types) => fc.tuple(fc.constant(types), keysOf(types))),
        ([types, marshalled]) => {
          const attributes = ['pk', 'sk'].slice(0, types.length);
          const expected = documentId(marshalled, attributes);
          expect(indexDocumentId(marshalled, attributes, undefined)).toBe(expected);
          expect(indexDocumentId(marshalled, attributes, {})).toBe(expected);
          expect(indexDocumentId(marshalled, attributes, { id: {} })).toBe(expected);
          expect(indexDocumentId(marshalled, attributes, { id: { attributes } })).toBe(expected);
        },
      ),
    );
  });

  it('strips a prefix, keeps a value without it (or that is only it) whole, and leaves out a pinned attribute', () => {
    expect(indexDocumentId(key('CUSTOMER#123', 'PROFILE'), ['pk', 'sk'], CUSTOMERS)).toBe('123');
    expect(indexDocumentId(key('123', 'PROFILE'), ['pk', 'sk'], CUSTOMERS)).toBe('123');
    expect(indexDocumentId(key('CUSTOMER#', 'PROFILE'), ['pk', 'sk'], CUSTOMERS)).toBe('CUSTOMER#');
    // A key whose left-out attribute is not the pinned value is never in the index: no id at all.
    expect(indexDocumentId(key('CUSTOMER#123', 'ORDER#1'), ['pk', 'sk'], CUSTOMERS)).toBeUndefined();
    // Both attributes kept: joined and escaped as documentId joins them.
    const both = { id: { stripPrefix: { pk: 'C#', sk: 'S#' } } };
    expect(indexDocumentId(key('C#a|b', 'S#1'), ['pk', 'sk'], both)).toBe('a\\|b|1');
    expect(indexDocumentId({ pk: { N: '42' } }, ['pk'], { id: { stripPrefix: { pk: '4' } } })).toBe('2');
  });

  it('names the items the projection builds, and leaves them out of the index exactly when the filter does', () => {
    const profile = { ...key('CUSTOMER#123', 'PROFILE'), name: { S: 'Ada' } };
    expect(projectItem(profile, ['pk', 'sk'], CUSTOMERS)).toEqual({
      id: '123',
      pk: 'CUSTOMER#123',
      sk: 'PROFILE',
      name: 'Ada',
    });
    expect(projectItem(key('CUSTOMER#123', 'ORDER#1'), ['pk', 'sk'], CUSTOMERS)).toBeUndefined();
  });

  it('refuses a rule that leaves out a key attribute its filter does not pin', () => {
    expect(() => indexDocumentId(key('a', 'b'), ['pk', 'sk'], { id: { attributes: ['pk'] } })).toThrow(
      /leaves out the key attribute sk/,
    );
  });
});

describe('keysOfDocumentId', () => {
  it('property: every key the rule names an id is among the keys of that id, and every one of those maps back to it', () => {
    const text = fc.constantFrom('CUSTOMER#', 'CUSTOMER#1', 'CUSTOMER#CUSTOMER#2', '3', 'a|b', 'x\\');
    const rules = fc.constantFrom(
      CUSTOMERS,
      { id: { stripPrefix: { pk: 'CUSTOMER#' } } },
      { id: { attributes: ['sk', 'pk'] } },
      {},
    );
    fc.assert(
      fc.property(text, fc.constantFrom('PROFILE', 'P|1'), rules, (pk, sk, rule) => {
        const id = indexDocumentId(key(pk, sk), ['pk', 'sk'], rule);
        if (id === undefined) return;
        const keys = keysOfDocumentId(id, ['pk', 'sk'], ['S', 'S'], rule);
        expect(keys).toContainEqual(key(pk, sk));
        for (const each of keys) expect(indexDocumentId(each, ['pk', 'sk'], rule)).toBe(id);
      }),
    );
  });

  it('drops keys DynamoDB would refuse: a prefix on a number key', () => {
    const rule = { id: { stripPrefix: { pk: 'N' } } };
    expect(keysOfDocumentId('42', ['pk'], ['N'], rule)).toEqual([{ N: '42' }].map((pk) => ({ pk })));
  });
});

describe('projectionProblems: the id rule', () => {
  it('names every problem at its path: unknown key attribute, unused stripPrefix, empty prefix, unpinned attribute', () => {
    expect(
      projectionProblems(
        { id: { attributes: ['pk', 'type'], stripPrefix: { sk: 'X', pk: '' }, extra: 1 } },
        'indexes[1] (customers).projection',
        ['pk', 'sk'],
      ),
    ).toEqual([
      'indexes[1] (customers).projection.id has unknown key extra: use attributes, stripPrefix',
      'indexes[1] (customers).projection.id.attributes[1] names type, which is not a key attribute (pk, sk)',
      'indexes[1] (customers).projection.id.stripPrefix.sk strips a prefix of sk, which the id does not use (pk, type)',
      'indexes[1] (customers).projection.id.stripPrefix.pk must be a non-empty prefix',
      "indexes[1] (customers).projection.id.attributes leaves out the key attribute sk: indexes[1] (customers).projection.filter must pin it ({ attribute: 'sk', equals: … } at its top level or in a top-level and), or items differing only in sk would share one id",
    ]);
  });

  it('accepts a pinned attribute (alone or in a top-level and) and refuses a sort key in an aggregated index', () => {
    expect(projectionProblems(CUSTOMERS, 'projection', ['pk', 'sk'])).toEqual([]);
    const anded = {
      filter: {
        and: [
          { attribute: 'type', equals: 'c' },
          { attribute: 'sk', equals: 'PROFILE' },
        ],
      },
      id: { attributes: ['pk'] },
    };
    expect(projectionProblems(anded, 'projection', ['pk', 'sk'])).toEqual([]);
    // Pinned only under `or` is no pin.
    expect(
      projectionProblems({ ...anded, filter: { or: anded.filter.and } }, 'projection', ['pk', 'sk']),
    ).toHaveLength(1);
    expect(
      projectionProblems(
        { id: { attributes: ['pk', 'sk'] } },
        'aggregate index.projection',
        ['pk', 'sk'],
        ['pk'],
      ),
    ).toEqual([
      'aggregate index.projection.id.attributes[1] names the sort key sk: an aggregated index holds one document per partition, its id may use the partition key pk only',
    ]);
    expect(
      projectionProblems({ id: { stripPrefix: { pk: 'O#' } } }, 'projection', ['pk', 'sk'], ['pk']),
    ).toEqual([]);
  });
});

describe('the id rule of an aggregated index', () => {
  it("names the partition's document by the rule; its children keep their items' key encoding", () => {
    const aggregation = aggregationOf(['pk', 'sk'], {
      parent: { prefix: 'ORDER' },
      children: { lines: { prefix: 'LINE#' } },
    });
    const items: Record<string, AttributeValue>[] = [
      { pk: { S: 'ORDER#o1' }, sk: { S: 'ORDER' }, status: { S: 'open' } },
      { pk: { S: 'ORDER#o1' }, sk: { S: 'LINE#1' }, qty: { N: '2' } },
    ];
    const projection: Projection = { id: { stripPrefix: { pk: 'ORDER#' } } };
    expect(buildAggregate(items, aggregation, projection, undefined)).toEqual({
      id: 'o1',
      pk: 'ORDER#o1',
      sk: 'ORDER',
      status: 'open',
      lines: [{ id: 'ORDER#o1|LINE#1', pk: 'ORDER#o1', sk: 'LINE#1', qty: 2 }],
    });
    // The writer's changes of an aggregated index are keyed by the partition key: the same id.
    expect(indexDocumentId({ pk: { S: 'ORDER#o1' } }, ['pk'], projection)).toBe('o1');
  });
});
