import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MarshalledKey } from '../../functions/core/change.ts';
import { documentId, KeyError, keyOfDocumentId, pickKey } from '../../functions/core/keys.ts';

/** An independent reader of the documented id format: `\` escapes the next char, a bare `|` separates. */
function splitId(id: string): string[] {
  const parts = [''];
  for (let i = 0; i < id.length; i++) {
    const char = id[i] as string;
    if (char === '\\') {
      const next = id[i + 1];
      if (next !== '\\' && next !== '|') throw new Error(`bad escape at ${i} in ${JSON.stringify(id)}`);
      parts[parts.length - 1] += next;
      i++;
    } else if (char === '|') parts.push('');
    else parts[parts.length - 1] += char;
  }
  return parts;
}

const awkward = fc.oneof(
  fc.string({ unit: fc.constantFrom('|', '\\', 'a', 'b') }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);

describe('documentId', () => {
  it('is the partition key value itself for a simple key, unescaped', () => {
    expect(documentId({ pk: { S: 'a|b\\c' } }, ['pk'])).toBe('a|b\\c');
  });

  it('uses the decimal text of an N key', () => {
    expect(documentId({ pk: { N: '-12.50' } }, ['pk'])).toBe('-12.50');
  });

  it('maps a B key to base64 whether it comes as bytes (SDK) or base64 text (Lambda JSON)', () => {
    const bytes = new Uint8Array([0x01, 0xff, 0x7c, 0x00]);
    expect(documentId({ pk: { B: bytes } }, ['pk'])).toBe('Af98AA==');
    expect(documentId({ pk: { B: 'Af98AA==' as unknown as Uint8Array } }, ['pk'])).toBe('Af98AA==');
  });

  it('joins a composite key partition first, whatever order the key object lists them in', () => {
    expect(documentId({ sk: { S: 'x' }, pk: { S: 'y' } }, ['pk', 'sk'])).toBe('y|x');
  });

  it('escapes "\\" and "|" in composite parts', () => {
    expect(documentId({ pk: { S: 'a|b' }, sk: { S: 'c' } }, ['pk', 'sk'])).toBe('a\\|b|c');
    expect(documentId({ pk: { S: 'a' }, sk: { S: 'b|c' } }, ['pk', 'sk'])).toBe('a|b\\|c');
    expect(documentId({ pk: { S: 'a\\' }, sk: { S: 'b' } }, ['pk', 'sk'])).toBe('a\\\\|b');
    expect(documentId({ pk: { S: 'a' }, sk: { S: '\\|b' } }, ['pk', 'sk'])).toBe('a|\\\\\\|b');
  });

  it('tells apart the classic ambiguous pairs', () => {
    const id = (pk: string, sk: string) => documentId({ pk: { S: pk }, sk: { S: sk } }, ['pk', 'sk']);
    expect(id('a|b', 'c')).not.toBe(id('a', 'b|c'));
    expect(id('a\\', '|b')).not.toBe(id('a', '\\|b'));
    expect(id('a\\', 'b')).not.toBe(id('a', '\\b'));
    expect(id('', '|')).not.toBe(id('|', ''));
  });

  it('property: composite ids decode back to their (pk, sk), so distinct pairs give distinct ids', () => {
    fc.assert(
      fc.property(awkward, awkward, (pk, sk) => {
        const id = documentId({ pk: { S: pk }, sk: { S: sk } }, ['pk', 'sk']);
        expect(splitId(id)).toEqual([pk, sk]);
      }),
      { numRuns: 200 },
    );
  });

  it('property: a set of distinct pairs maps to as many distinct ids', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(awkward, awkward), {
          maxLength: 30,
          selector: ([pk, sk]) => JSON.stringify([pk, sk]),
        }),
        (pairs) => {
          const ids = pairs.map(([pk, sk]) => documentId({ pk: { S: pk }, sk: { S: sk } }, ['pk', 'sk']));
          expect(new Set(ids).size).toBe(pairs.length);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('mixes N and B parts in composite keys', () => {
    const key: MarshalledKey = { pk: { N: '42' }, sk: { B: new Uint8Array([1, 2, 3]) } };
    expect(documentId(key, ['pk', 'sk'])).toBe('42|AQID');
  });

  it('throws KeyError naming a missing key attribute', () => {
    expect(() => documentId({ pk: { S: 'a' } }, ['pk', 'sk'])).toThrow(KeyError);
    expect(() => documentId({ pk: { S: 'a' } }, ['pk', 'sk'])).toThrow(/'sk' is missing/);
  });

  it('throws KeyError for key types DynamoDB keys cannot have', () => {
    for (const value of [{ BOOL: true }, { NULL: true }, { SS: ['a'] }, { L: [] }, { M: {} }]) {
      expect(() => documentId({ pk: value } as MarshalledKey, ['pk'])).toThrow(
        /'pk' must be of type S, N or B/,
      );
    }
  });
});

describe('pickKey', () => {
  it('keeps only the key attributes', () => {
    const item: MarshalledKey = { pk: { S: 'a' }, sk: { N: '1' }, title: { S: 't' } };
    expect(pickKey(item, ['pk', 'sk'])).toEqual({ pk: { S: 'a' }, sk: { N: '1' } });
    expect(pickKey(item, ['pk'])).toEqual({ pk: { S: 'a' } });
  });

  it('throws KeyError naming a missing attribute', () => {
    expect(() => pickKey({ title: { S: 't' } }, ['pk'])).toThrow(/'pk' is missing/);
  });
});

describe('keyOfDocumentId', () => {
  it('property: inverts documentId for simple and composite keys of every key type', () => {
    const part = fc.oneof(
      awkward.map((text) => ({ type: 'S' as const, value: { S: text } })),
      fc.integer().map((n) => ({ type: 'N' as const, value: { N: String(n) } })),
      fc
        .uint8Array({ minLength: 1, maxLength: 6 })
        .map((bytes) => ({ type: 'B' as const, value: { B: bytes } })),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 2 }), (parts) => {
        const names = parts.map((_, index) => (index === 0 ? 'pk' : 'sk'));
        const key: MarshalledKey = Object.fromEntries(parts.map(({ value }, index) => [names[index], value]));
        const id = documentId(key, names);
        const back = keyOfDocumentId(
          id,
          names,
          parts.map(({ type }) => type),
        );
        expect(documentId(back, names)).toBe(id);
        for (const [index, { type, value }] of parts.entries()) {
          const restored = back[names[index] as string];
          if (type === 'B')
            expect(Buffer.from(restored?.B as Uint8Array)).toEqual(Buffer.from(value.B as Uint8Array));
          else expect(restored).toEqual(value);
        }
      }),
    );
  });

  it('names an id that does not hold as many parts as the key has', () => {
    expect(() => keyOfDocumentId('just-one', ['pk', 'sk'], ['S', 'S'])).toThrow(
      new KeyError("document id 'just-one' does not hold 2 key parts"),
    );
  });
});
