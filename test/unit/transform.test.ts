import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProjectionError, TransformError } from '../../functions/core/errors.ts';
import { documentJson, projectItem } from '../../functions/core/project.ts';
import { buildDocument, checkTransformResult, type Transform } from '../../functions/core/transform.ts';
import {
  registeredTransform,
  TRANSFORM_SLOT,
  TransformModuleError,
} from '../../functions/shared/transform-registry.ts';

type Item = Record<string, AttributeValue>;
const ITEM: Item = { pk: { S: 'p1' }, sk: { N: '7' }, title: { S: 'Hello' }, secret: { S: 's' } };
const KEYS = ['pk', 'sk'];
const ID = 'p1|7';

function transformError(fn: () => unknown): TransformError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TransformError);
    return error as TransformError;
  }
  throw new Error('expected a TransformError');
}

const build = (transform: Transform, item: Item = ITEM) =>
  buildDocument(item, KEYS, { exclude: ['secret'] }, transform);

describe('buildDocument', () => {
  it('gives the transform the projected document and the key; its answer is the document', () => {
    const seen: unknown[] = [];
    const document = build((doc, context) => {
      seen.push(structuredClone(doc), context.id, context.key);
      return { ...doc, title_lower: String(doc.title).toLowerCase() };
    });
    expect(document).toEqual({ id: ID, pk: 'p1', sk: 7, title: 'Hello', title_lower: 'hello' });
    expect(seen).toEqual([
      { id: ID, pk: 'p1', sk: 7, title: 'Hello' },
      ID,
      { pk: { S: 'p1' }, sk: { N: '7' } },
    ]);
  });

  it('reads the whole item, before the projection, only through the context', () => {
    expect(build((doc, { item }) => ({ ...doc, hadSecret: item.secret === 's' }))?.hadSecret).toBe(true);
  });

  it('puts the key-derived id on a document returned without one', () => {
    expect(build(() => ({ title: 'only' }))).toEqual({ id: ID, title: 'only' });
  });

  it('leaves the item out on null, as the filter does', () => {
    expect(build(() => null)).toBeUndefined();
  });

  it('does not call the transform for an item the filter leaves out', () => {
    let calls = 0;
    const transform = () => {
      calls++;
      return {};
    };
    expect(
      buildDocument(ITEM, KEYS, { filter: { attribute: 'title', equals: 'x' } }, transform),
    ).toBeUndefined();
    expect(calls).toBe(0);
  });

  it("sees the mapping's document, an int64 beyond 2^53 as a bigint, and sends it back exactly", () => {
    const item: Item = { pk: { S: 'p1' }, created_at: { S: '2024-03-01' }, big: { N: '9007199254740993' } };
    const projection = {
      rename: { created_at: 'createdAt' },
      convert: { createdAt: 'epochSeconds', big: 'int64' },
    } as const;
    const seen: unknown[] = [];
    const document = buildDocument(item, ['pk'], projection, (doc) => {
      seen.push(doc.createdAt, doc.big);
      return doc;
    });
    expect(seen).toEqual([1709251200, 9007199254740993n]);
    expect(documentJson(document)).toBe(
      '{"id":"p1","pk":"p1","createdAt":1709251200,"big":9007199254740993}',
    );
  });

  it('without a transform is projectItem', () => {
    expect(buildDocument(ITEM, KEYS, undefined, undefined)).toEqual(projectItem(ITEM, KEYS));
  });

  it('turns a throw into a TransformError (a ProjectionError) with the key-derived id and the message', () => {
    const error = transformError(() =>
      build(() => {
        throw new TypeError('no title');
      }),
    );
    expect(error).toBeInstanceOf(ProjectionError);
    expect(error.id).toBe(ID);
    expect(error.code).toBe('transform-error');
    expect(error.message).toBe('transform threw: no title');
  });
});

describe('checkTransformResult: every answer that is not a document', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a Promise', Promise.resolve({}), /must be synchronous/],
    ['an array', [{ title: 'a' }], /array: one item makes at most one document/],
    ['undefined', undefined, /returned undefined, not a document or null/],
    ['a string', 'doc', /returned a string/],
    ['a number', 1, /returned a number/],
    ['a function member', { f: () => 1 }, /f: a function/],
    ['NaN', { n: Number.NaN }, /n: NaN is not a JSON number/],
    ['Infinity deep in a list', { l: [1, { x: Number.POSITIVE_INFINITY }] }, /l: \[1\]: x: Infinity/],
    [
      'a null in a list, which Typesense drops',
      { tags: ['a', null] },
      /tags: \[1\]: null in a list: leave it out/,
    ],
    ['undefined in a list', { l: [undefined] }, /l: \[0\]: undefined in a list/],
    ['a Date', { at: new Date(0) }, /at: a Date object/],
    ['a Set', { tags: new Set(['a']) }, /tags: a Set object/],
    ['another id', { id: 'other' }, /changed the document id to "other": it must stay p1\|7/],
    ['a numeric id', { id: 7 }, /changed the document id to 7/],
  ];
  for (const [what, result, message] of cases)
    it(`refuses ${what}`, () => {
      const error = transformError(() => checkTransformResult(result, ID));
      expect(error.message).toMatch(message);
      expect(error.id).toBe(ID);
    });

  it('refuses a cycle', () => {
    const doc: Record<string, unknown> = { title: 't' };
    doc.self = { back: doc };
    expect(transformError(() => checkTransformResult(doc, ID)).message).toMatch(/self: back: a cycle/);
  });

  it('accepts a value shared twice (not a cycle), null and undefined members (left out), an int64 beyond 2^53 (a bigint) and its own id', () => {
    const shared = { a: 1 };
    const doc = { id: ID, x: shared, y: [shared], z: null, u: undefined, big: 2n ** 60n };
    expect(checkTransformResult(doc, ID)).toBe(doc);
  });

  it('does not put the document in the message', () => {
    const error = transformError(() =>
      checkTransformResult({ secretField: 'do-not-log', n: Number.NaN }, ID),
    );
    expect(error.message).not.toContain('do-not-log');
  });
});

describe('property: the identity transform', () => {
  const name = fc.string({ maxLength: 6 }).filter((text) => text !== '__proto__' && text !== 'pk');
  const value: fc.Arbitrary<AttributeValue> = fc.letrec<{ value: AttributeValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.string().map((S) => ({ S })),
      fc.integer().map((n) => ({ N: String(n) })),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => ({ N: String(n) })),
      fc.boolean().map((BOOL) => ({ BOOL })),
      fc.constant({ NULL: true }),
      fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 3 }).map((SS) => ({ SS })),
      fc.array(tie('value'), { maxLength: 3 }).map((L) => ({ L })),
      fc.dictionary(name, tie('value'), { maxKeys: 3 }).map((M) => ({ M })),
    ),
  })).value;

  it('gives exactly projectItem’s document for every item and projection', () => {
    fc.assert(
      fc.property(
        fc.dictionary(name, value, { maxKeys: 6 }),
        fc.option(fc.array(name, { maxLength: 3 }), { nil: undefined }),
        (attributes, exclude) => {
          const item: Item = { ...attributes, pk: { S: 'p1' } };
          const projection = { exclude };
          const built = buildDocument(item, ['pk'], projection, (doc) => doc);
          // The same line too: field order included, so an identity transform changes no byte sent.
          expect(JSON.stringify(built)).toBe(JSON.stringify(projectItem(item, ['pk'], projection)));
          expect(built).toStrictEqual(projectItem(item, ['pk'], projection));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('registeredTransform: the slot a deployed entry fills', () => {
  const slot = Symbol.for(TRANSFORM_SLOT);
  const global = globalThis as Record<symbol, unknown>;

  it('answers the function registered, none when the slot is empty, and refuses anything else', () => {
    try {
      expect(registeredTransform()).toBeUndefined();
      const transform: Transform = (document) => document;
      global[slot] = transform;
      expect(registeredTransform()).toBe(transform);
      global[slot] = 42;
      expect(() => registeredTransform()).toThrow(TransformModuleError);
      expect(() => registeredTransform()).toThrow('the registered transform is a number, not a function');
    } finally {
      delete global[slot];
    }
  });
});
