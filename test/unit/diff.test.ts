import { describe, expect, it } from 'vitest';
import {
  coerceToSchema,
  type Document,
  diffDocuments,
  diffStream,
  sameValue,
  staleFields,
} from '../../functions/core/diff.ts';

const docs = (...entries: Document[]) => new Map(entries.map((doc) => [doc.id as string, doc]));

describe('sameValue', () => {
  it('compares scalars strictly', () => {
    expect(sameValue(1, 1)).toBe(true);
    expect(sameValue('a', 'a')).toBe(true);
    expect(sameValue(null, null)).toBe(true);
    expect(sameValue(1, '1')).toBe(false);
    expect(sameValue(0, false)).toBe(false);
    expect(sameValue(null, undefined)).toBe(false);
    expect(sameValue(null, {})).toBe(false);
  });

  it('ignores the order of object keys, at any depth', () => {
    expect(sameValue({ a: 1, b: { c: 2, d: [1] } }, { b: { d: [1], c: 2 }, a: 1 })).toBe(true);
  });

  it('sees a missing, extra or changed key', () => {
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameValue({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(sameValue({ a: 1, b: 2 }, { a: 1, c: 2 })).toBe(false);
    expect(sameValue({ a: { b: 1 } }, { a: { b: 2 } })).toBe(false);
  });

  it('is sensitive to array order and length', () => {
    expect(sameValue([1, 2], [1, 2])).toBe(true);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue([1, 2], [1, 2, 3])).toBe(false);
    expect(sameValue([{ a: 1 }], [{ a: 1 }])).toBe(true);
  });

  it('treats an object key holding null as absent, as Typesense stores it (src/index.cpp Index::get_doc_changes drops nulls on updates)', () => {
    expect(sameValue({ a: 1, n: null }, { a: 1 })).toBe(true);
    expect(sameValue({ a: { b: null, c: 2 } }, { a: { c: 2 } })).toBe(true);
    expect(sameValue({ a: null }, { a: 1 })).toBe(false);
    expect(sameValue({ a: 1 }, { a: 1, n: null })).toBe(true);
  });

  it('does not confuse an array with an object of the same indexes', () => {
    expect(sameValue([1], { 0: 1 })).toBe(false);
    expect(sameValue({ 0: 1 }, [1])).toBe(false);
  });
});

describe('diffDocuments', () => {
  it('does not call a document stale for a null the index dropped, at the top or nested', () => {
    const expected = docs({ id: '1', gone: null, attributes: { note: null, color: 'red' } });
    const actual = docs({ id: '1', attributes: { color: 'red' } });
    expect(diffDocuments(expected, actual)).toEqual({ missing: [], extra: [], stale: [] });
  });

  it('finds nothing when the index matches the table, key order aside', () => {
    const expected = docs({ id: '1', a: 1, tags: ['x', 'y'] }, { id: '2', m: { p: 1, q: 2 } });
    const actual = docs({ tags: ['x', 'y'], a: 1, id: '1' }, { id: '2', m: { q: 2, p: 1 } });
    expect(diffDocuments(expected, actual)).toEqual({ missing: [], extra: [], stale: [] });
  });

  it('reports documents missing from the index and extra ones in it', () => {
    const expected = docs({ id: '1' }, { id: '2' }, { id: '3' });
    const actual = docs({ id: '2' }, { id: '4' }, { id: '5' });
    const drift = diffDocuments(expected, actual);
    expect(drift.missing).toEqual(['1', '3']);
    expect(drift.extra).toEqual(['4', '5']);
    expect(drift.stale).toEqual([]);
  });

  it('names the stale fields, sorted, including fields only one side has', () => {
    const expected = docs({ id: '1', title: 'new', price: 2, same: true, onlyInTable: 1 });
    const actual = docs({ id: '1', title: 'old', price: 2, same: true, onlyInIndex: 'x' });
    expect(diffDocuments(expected, actual).stale).toEqual([
      { id: '1', fields: ['onlyInIndex', 'onlyInTable', 'title'] },
    ]);
  });

  it('treats a reordered array as stale', () => {
    const drift = diffDocuments(docs({ id: '1', tags: ['a', 'b'] }), docs({ id: '1', tags: ['b', 'a'] }));
    expect(drift.stale).toEqual([{ id: '1', fields: ['tags'] }]);
  });

  it('reports each kind of drift in one pass', () => {
    const drift = diffDocuments(
      docs({ id: 'same', v: 1 }, { id: 'stale', v: 1 }, { id: 'missing', v: 1 }),
      docs({ id: 'same', v: 1 }, { id: 'stale', v: 2 }, { id: 'extra', v: 1 }),
    );
    expect(drift).toEqual({
      missing: ['missing'],
      extra: ['extra'],
      stale: [{ id: 'stale', fields: ['v'] }],
    });
  });

  it('handles empty sides', () => {
    expect(diffDocuments(new Map(), new Map())).toEqual({ missing: [], extra: [], stale: [] });
    expect(diffDocuments(docs({ id: 'a' }), new Map()).missing).toEqual(['a']);
    expect(diffDocuments(new Map(), docs({ id: 'a' })).extra).toEqual(['a']);
  });
});

describe('diffStream', () => {
  async function* streamOf(...documents: Document[]): AsyncGenerator<Document> {
    for (const document of documents) yield document;
  }

  it('agrees with diffDocuments on the same input, with the expected side kept as JSON text', async () => {
    const table = docs(
      { id: 'same', v: 1, gone: null },
      { id: 'stale', v: 1, w: 'x' },
      { id: 'missing', v: 1 },
      { id: 'stale2', tags: ['a', 'b'] },
    );
    const index = [
      { id: 'stale2', tags: ['b', 'a'] },
      { id: 'extra', v: 1 },
      { v: 1, id: 'same' },
      { id: 'stale', v: 2, w: 'x' },
    ];
    const encoded = new Map([...table].map(([id, document]) => [id, JSON.stringify(document)]));
    const streamed = await diffStream(encoded, streamOf(...index), (text) => JSON.parse(text) as Document);
    const inMemory = diffDocuments(table, docs(...index));
    expect(streamed).toEqual({ ...inMemory, indexDocuments: 4 });
    expect(inMemory).toEqual({
      missing: ['missing'],
      extra: ['extra'],
      stale: [
        { id: 'stale2', fields: ['tags'] },
        { id: 'stale', fields: ['v'] },
      ],
    });
  });

  it("consumes the expected side as it matches (what is left is missing), and leaves diffDocuments' input alone", async () => {
    const expected = new Map([
      ['a', '{"id":"a"}'],
      ['b', '{"id":"b"}'],
    ]);
    const drift = await diffStream(expected, [{ id: 'a' }], (text) => JSON.parse(text) as Document);
    expect(drift).toEqual({ missing: ['b'], extra: [], stale: [], indexDocuments: 1 });
    expect([...expected.keys()]).toEqual(['b']);
    const table = docs({ id: 'a' }, { id: 'b' });
    diffDocuments(table, docs({ id: 'a' }));
    expect([...table.keys()]).toEqual(['a', 'b']);
  });
});

describe('round-trip rule: nulls and schema coercion', () => {
  it('a null field counts as absent on either side', () => {
    expect(staleFields({ id: 'a', x: 1 }, { id: 'a', x: 1, gone: null })).toEqual([]);
    expect(staleFields({ id: 'a', gone: null }, { id: 'a' })).toEqual([]);
    expect(staleFields({ id: 'a', x: 1 }, { id: 'a', x: null })).toEqual(['x']);
  });

  it('coerces like Typesense under a schema with a pattern field, and not without one', () => {
    const fields = [
      { name: '.*', type: 'auto' },
      { name: 's', type: 'string' },
      { name: 'i', type: 'int64' },
      { name: 'f', type: 'float' },
      { name: 'b', type: 'bool' },
      { name: 'tags', type: 'string[]' },
    ];
    const document = { id: 'a', s: 1234.56789, i: '42', f: '2.5', b: 'TRUE', tags: [1, true, 'x'], other: 1 };
    expect(coerceToSchema(document, fields)).toEqual({
      id: 'a',
      s: '1234.57',
      i: 42,
      f: 2.5,
      b: true,
      tags: ['1', 'true', 'x'],
      other: 1,
    });
    expect(coerceToSchema({ id: 'a', s: 1234567.5, i: 9.7 }, fields)).toEqual({
      id: 'a',
      s: '1.23457e+06',
      i: 9,
    });
    expect(coerceToSchema({ id: 'a', s: 1e7 }, fields)).toEqual({ id: 'a', s: '10000000' });
    expect(coerceToSchema({ id: 'a', s: 12 }, fields.slice(1))).toEqual({ id: 'a', s: 12 });
    // A value that cannot be coerced is left as it is (Typesense would have rejected the document).
    expect(coerceToSchema({ id: 'a', i: 'x' }, fields)).toEqual({ id: 'a', i: 'x' });
  });
});
