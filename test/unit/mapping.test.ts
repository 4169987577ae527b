import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandContext } from '../../bin/cli/context.ts';
import { type PreviewRules, previewItem } from '../../bin/cli/operations/preview.ts';
import { renderPreview } from '../../bin/cli/render/preview.ts';
import {
  CONVERSIONS,
  type Conversion,
  projectionProblems,
  projectionSchema,
} from '../../functions/contract/projection.ts';
import { convertValue, isoEpochMillis, Refusal } from '../../functions/core/conversions.ts';
import { ProjectionError } from '../../functions/core/errors.ts';
import { documentJson, type Projection, projectItem } from '../../functions/core/project.ts';

/* The projection's mapping: rename, nested maps as objects or flattened, typed conversions. */

type Item = Record<string, AttributeValue>;
const KEY = ['pk'];
const project = (item: Item, projection: Projection) =>
  projectItem({ pk: { S: 'k1' }, ...item }, KEY, projection);

/** The ProjectionError projectItem throws for `item`, or a failure when it throws none. */
function projectionError(item: Item, projection: Projection): ProjectionError {
  try {
    project(item, projection);
  } catch (error) {
    if (error instanceof ProjectionError) return error;
    throw error;
  }
  throw new Error('projectItem accepted the item');
}

describe('rename', () => {
  it('gives attributes other field names; the others keep theirs', () => {
    const projection: Projection = { rename: { created_at: 'createdAt', pk: 'tenant' } };
    expect(project({ created_at: { S: 'x' }, title: { S: 't' } }, projection)).toEqual({
      id: 'k1',
      tenant: 'k1',
      createdAt: 'x',
      title: 't',
    });
  });

  it('swaps two names (a bijection), and applies after include/exclude, which name attributes', () => {
    const projection: Projection = { include: ['a', 'b'], rename: { a: 'b', b: 'a' } };
    expect(project({ a: { N: '1' }, b: { N: '2' }, c: { N: '3' } }, projection)).toEqual({
      id: 'k1',
      a: 2,
      b: 1,
    });
  });

  it('an attribute renamed to the name of another kept attribute is a per-item error naming the field', () => {
    const error = projectionError({ a: { S: 'x' }, b: { S: 'y' } }, { rename: { a: 'b' } });
    expect(error.message).toBe(
      'cannot project item: field b is produced twice (by a rename or a flattened map): rename one of them',
    );
    expect(error.id).toBe('k1');
  });

  it('property: on kept fields, rename is a bijection: renaming back restores the document', () => {
    const name = fc.stringMatching(/^[a-z]{1,6}$/).filter((text) => text !== 'pk' && text !== 'id');
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 2, maxLength: 6 }), fc.integer(), (names, seed) => {
        const item: Item = Object.fromEntries(
          names.map((attribute, n) => [attribute, { N: String(seed + n) }]),
        );
        // A permutation of the names: each renamed to the next.
        const rename = Object.fromEntries(
          names.map((attribute, n) => [attribute, names[(n + 1) % names.length] as string]),
        );
        const back = Object.fromEntries(Object.entries(rename).map(([from, to]) => [to, from]));
        const renamed = project(item, { rename }) as Record<string, unknown>;
        expect(Object.keys(renamed).sort()).toEqual(['id', 'pk', ...names].sort());
        for (const [from, to] of Object.entries(rename))
          expect(renamed[to as string]).toBe(Number(item[from]?.N));
        const restored = projectItem(
          Object.fromEntries(
            Object.entries(renamed).flatMap(([field, value]) =>
              field === 'id' ? [] : [[field, { N: String(value) } as AttributeValue]],
            ),
          ),
          KEY,
          { rename: back },
        );
        expect(restored).toEqual(project(item, {}));
      }),
    );
  });
});

describe("nested: 'flatten'", () => {
  const flatten: Projection = { nested: 'flatten' };

  it('turns nested maps into dotted names; object (the default) keeps them', () => {
    const item: Item = { address: { M: { city: { S: 'Oslo' }, geo: { M: { zip: { S: '0150' } } } } } };
    expect(project(item, flatten)).toEqual({
      id: 'k1',
      pk: 'k1',
      'address.city': 'Oslo',
      'address.geo.zip': '0150',
    });
    expect(project(item, { nested: 'object' })).toEqual(project(item, {}));
  });

  it('gathers a list of maps into one array per dotted name, in order, lists inside concatenated (as Typesense does)', () => {
    const lines: AttributeValue = {
      L: [
        { M: { sku: { S: 'a' }, qty: { N: '1' }, tags: { L: [{ S: 'x' }, { S: 'y' }] } } },
        { M: { sku: { S: 'b' }, tags: { SS: ['z'] }, dims: { M: { w: { N: '2' } } } } },
      ],
    };
    expect(project({ lines }, flatten)).toEqual({
      id: 'k1',
      pk: 'k1',
      'lines.sku': ['a', 'b'],
      'lines.qty': [1],
      'lines.tags': ['x', 'y', 'z'],
      'lines.dims.w': [2],
    });
  });

  it('keeps lists without maps and scalars as they are; an empty map gives no field', () => {
    expect(project({ tags: { L: [{ S: 'a' }] }, n: { N: '1' }, empty: { M: {} } }, flatten)).toEqual({
      id: 'k1',
      pk: 'k1',
      tags: ['a'],
      n: 1,
    });
  });

  it('a flattened name equal to a top-level attribute is a per-item error', () => {
    const error = projectionError(
      { 'address.city': { S: 'x' }, address: { M: { city: { S: 'y' } } } },
      flatten,
    );
    expect(error.message).toMatch(/field address\.city is produced twice/);
  });

  it('a list mixing maps and other values is a per-item error', () => {
    const error = projectionError({ lines: { L: [{ M: { a: { N: '1' } } }, { S: 'x' }] } }, flatten);
    expect(error.message).toBe(
      'cannot project item: cannot flatten lines: its list holds maps beside other values',
    );
  });

  it('applies after rename: the renamed attribute is the prefix', () => {
    expect(
      project({ addr: { M: { city: { S: 'Oslo' } } } }, { ...flatten, rename: { addr: 'address' } }),
    ).toEqual({
      id: 'k1',
      pk: 'k1',
      'address.city': 'Oslo',
    });
  });

  /** Nested maps of string leaves, names without dots. */
  const nestedMap: fc.Arbitrary<AttributeValue> = fc.letrec<{ map: AttributeValue }>((tie) => ({
    map: fc
      .dictionary(
        fc.stringMatching(/^[a-z]{1,4}$/),
        fc.oneof(
          { depthSize: 'small' },
          fc.string().map((text) => ({ S: text })),
          tie('map'),
        ),
        { maxKeys: 4 },
      )
      .map((members) => ({ M: members })),
  })).map;

  /** Every leaf of a nested map with its dotted path. */
  const leavesOf = (value: AttributeValue, path: string): [string, string][] =>
    value.M === undefined
      ? [[path, value.S as string]]
      : Object.entries(value.M).flatMap(([name, member]) => leavesOf(member, `${path}.${name}`));

  it('property: reading the dotted names back reproduces every leaf, and nothing else', () => {
    fc.assert(
      fc.property(nestedMap, (map) => {
        const document = project({ root: map }, flatten) as Record<string, unknown>;
        const { id: _id, pk: _pk, ...fields } = document;
        expect(fields).toEqual(Object.fromEntries(leavesOf(map, 'root')));
      }),
    );
  });
});

describe('convert', () => {
  it('converts after rename and flatten, by the field names they give', () => {
    const projection: Projection = {
      nested: 'flatten',
      rename: { created_at: 'createdAt' },
      convert: {
        createdAt: 'epochSeconds',
        'meta.updated': 'epochMillis',
        'lines.price': 'float',
        count: 'int64',
        tags: 'stringArray',
        code: 'string',
      },
    };
    const item: Item = {
      created_at: { S: '2024-03-01T12:00:00Z' },
      meta: { M: { updated: { S: '2024-03-01T12:00:00.250+01:00' } } },
      lines: { L: [{ M: { price: { S: '9.5' } } }, { M: { price: { N: '10' } } }] },
      count: { S: '42' },
      tags: { L: [{ S: 'b' }, { N: '1' }, { S: 'a' }] },
      code: { N: '7' },
    };
    expect(project(item, projection)).toEqual({
      id: 'k1',
      pk: 'k1',
      createdAt: 1_709_294_400,
      'meta.updated': 1_709_290_800_250,
      'lines.price': [9.5, 10],
      count: 42,
      tags: ['1', 'a', 'b'],
      code: '7',
    });
  });

  it('an absent field (or NULL) stays absent: no error', () => {
    expect(
      project({ other: { S: 'x' }, when: { NULL: true } }, { convert: { when: 'epochSeconds' } }),
    ).toEqual({
      id: 'k1',
      pk: 'k1',
      other: 'x',
    });
  });

  it.each<[string, AttributeValue, Conversion, string]>([
    [
      'a date that is no date',
      { S: 'yesterday' },
      'epochSeconds',
      'field f: epochSeconds needs an ISO-8601 date/time string, got "yesterday"',
    ],
    [
      '30 February',
      { S: '2024-02-30' },
      'epochMillis',
      'field f: epochMillis needs an ISO-8601 date/time string, got "2024-02-30"',
    ],
    [
      'a number as a date',
      { N: '1700000000' },
      'epochSeconds',
      'field f: epochSeconds needs an ISO-8601 date/time string',
    ],
    ['a fraction as int64', { N: '1.5' }, 'int64', 'field f: int64 needs a whole number, got "1.5"'],
    [
      'beyond int64',
      { S: '9223372036854775808' },
      'int64',
      'field f: int64 needs a number within int64 (±2^63), got "9223372036854775808"',
    ],
    [
      '1e400 as int64',
      { N: '1e400' },
      'int64',
      'field f: int64 needs a number within int64 (±2^63), got "1e400"',
    ],
    ['text as a float', { S: '12 kg' }, 'float', 'field f: float needs a finite number or numeric string'],
    ['a map as a string', { M: { a: { S: 'x' } } }, 'string', 'field f: string cannot convert a map'],
    [
      'a list member',
      { L: [{ S: '1' }, { S: 'x' }] },
      'int64',
      'field f: int64 member 1: needs a number or a numeric string',
    ],
    [
      'a list of lists as stringArray',
      { L: [{ L: [] }] },
      'stringArray',
      'field f: stringArray needs a set, or a list of strings, numbers, booleans or binary values',
    ],
  ])('refuses %s, naming the field, the conversion and the item', (_, value, conversion, reason) => {
    const error = projectionError({ f: value }, { convert: { f: conversion } });
    expect(error.message).toBe(`cannot project item: ${reason}`);
    expect(error.id).toBe('k1');
  });

  it('never carries a whole long value in its reason', () => {
    const error = projectionError({ f: { S: 'x'.repeat(10_000) } }, { convert: { f: 'epochSeconds' } });
    expect(error.message.length).toBeLessThan(200);
  });

  it('int64 is exact: a whole number in any notation, a bigint beyond 2^53 written as bare digits', () => {
    const int64 = (value: AttributeValue) => convertValue(value, 'int64');
    expect([int64({ N: '12' }), int64({ S: '-12.000' }), int64({ N: '1.2e3' }), int64({ N: '0.0' })]).toEqual(
      [12, -12, 1200, 0],
    );
    expect(int64({ N: '9007199254740993' })).toBe(9_007_199_254_740_993n);
    expect(int64({ S: '-9223372036854775808' })).toBe(-(2n ** 63n));
    expect(documentJson({ id: 'k', n: 9_223_372_036_854_775_807n, s: 'x', m: [2n ** 62n] })).toBe(
      '{"id":"k","n":9223372036854775807,"s":"x","m":[4611686018427387904]}',
    );
    // A string holding what looks like a marker stays a string.
    expect(documentJson({ id: 'k', s: '\u0000x:5' })).toBe(JSON.stringify({ id: 'k', s: '\u0000x:5' }));
  });

  it('stringArray sorts a set, a list or a scalar; scalar conversions keep a list in order and sort a set', () => {
    expect(convertValue({ SS: ['b', 'a'] }, 'stringArray')).toEqual(['a', 'b']);
    expect(convertValue({ NS: ['10', '9'] }, 'stringArray')).toEqual(['10', '9']);
    expect(convertValue({ S: 'solo' }, 'stringArray')).toEqual(['solo']);
    expect(convertValue({ NS: ['10', '9'] }, 'int64')).toEqual([9, 10]);
    expect(convertValue({ L: [{ N: '3' }, { N: '1' }] }, 'int64')).toEqual([3, 1]);
    expect(convertValue({ BOOL: true }, 'string')).toBe('true');
  });

  it('reads a date alone as midnight UTC, a date-time without offset as UTC, and truncates beyond milliseconds', () => {
    expect(isoEpochMillis('2024-01-02')).toBe(Date.parse('2024-01-02T00:00:00Z'));
    expect(isoEpochMillis('2024-01-02T03:04')).toBe(Date.parse('2024-01-02T03:04:00Z'));
    expect(isoEpochMillis('2024-01-02T03:04:05.123456789-02:30')).toBe(
      Date.parse('2024-01-02T03:04:05.123-02:30'),
    );
    expect(isoEpochMillis('0050-06-01T00:00:00Z')).toBe(Date.parse('0050-06-01T00:00:00Z'));
    expect(convertValue({ S: '1969-12-31T23:59:59.500Z' }, 'epochSeconds')).toBe(-1);
    for (const bad of ['2024-13-01', '2024-01-01T24:00', '2024-01-01T10:00+24:00', '2024-1-1', '2023-02-29'])
      expect(isoEpochMillis(bad)).toBeUndefined();
  });

  const instant = fc.date({
    min: new Date('0001-01-01T00:00:00Z'),
    max: new Date('9999-12-31T23:59:59Z'),
    noInvalidDate: true,
  });
  const offset = fc.tuple(
    fc.constantFrom('+', '-'),
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
  );

  it('property: a valid ISO date/time converts to what Date.parse reads, with any offset', () => {
    fc.assert(
      fc.property(instant, offset, (date, [sign, hours, minutes]) => {
        const utc = date.toISOString();
        const zone = `${sign}${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
        const text = `${utc.slice(0, -1)}${zone}`;
        expect(convertValue({ S: utc }, 'epochMillis')).toBe(Date.parse(utc));
        expect(convertValue({ S: text }, 'epochMillis')).toBe(Date.parse(text));
        expect(convertValue({ S: text }, 'epochSeconds')).toBe(Math.floor(Date.parse(text) / 1000));
      }),
    );
  });

  it('property: int64 and float agree with the number they are given, exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (integer) => {
        const converted = convertValue({ N: String(integer) }, 'int64');
        expect(BigInt(converted as number | bigint)).toBe(integer);
        // The line Typesense is sent holds the exact digits, whatever the magnitude.
        expect(documentJson({ id: 'k', n: converted })).toBe(`{"id":"k","n":${integer}}`);
      }),
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (number) => {
        expect(convertValue({ N: String(number) }, 'float')).toBe(Number(String(number)));
      }),
    );
  });

  it('property: conversions are deterministic, and a set converts alike whatever order DynamoDB lists it in', () => {
    const conversion = fc.constantFrom<Conversion>(...CONVERSIONS);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer().map(String), { minLength: 1 }), conversion, (members, how) => {
        const once = convertValue({ NS: members }, how);
        const shuffled = convertValue({ NS: [...members].reverse() }, how);
        const result = (value: unknown) => (value instanceof Refusal ? value.reason : value);
        expect(result(shuffled)).toEqual(result(once));
        expect(result(convertValue({ NS: members }, how))).toEqual(result(once));
      }),
    );
  });
});

describe('projectionProblems: mapping checked before any item is seen', () => {
  it('reports every problem at once, each at its path', () => {
    expect(
      projectionProblems({
        include: ['a', 'b', 'c', ''],
        exclude: ['x'],
        rename: { a: 'id', b: 'c', c: 'z', d: 'z', x: 'y', e: '' },
        nested: 'flat',
        convert: { createdAt: 'date', id: 'string', a: 'int64', q: 'float' },
        fields: [],
      }),
    ).toEqual([
      'projection has unknown key fields: use include, exclude, filter, rename, nested, convert, id',
      'projection.include[3] must be a non-empty attribute name',
      'projection.nested must be one of object, flatten, got "flat"',
      'projection.rename.a must not be id: that field is the key-derived document id',
      'projection.rename.d renames an attribute no document has: it is not in projection.include',
      'projection.rename.d renames to z, as projection.rename.c does',
      'projection.rename.x renames an attribute no document has: projection.exclude drops it',
      'projection.rename.e must be a non-empty field name',
      'projection.convert.createdAt must be one of epochSeconds, epochMillis, int64, float, string, stringArray, got "date"',
      'projection.convert.createdAt converts a field no document has: it is not in projection.include',
      'projection.convert.id: the document id is the key-derived text, it cannot be converted',
      'projection.convert.a names an attribute renamed to id: convert applies after rename',
      'projection.convert.q converts a field no document has: it is not in projection.include',
    ]);
  });

  it('a rename to a name include keeps is a collision; a rename of id is refused; an empty name is named', () => {
    expect(
      projectionProblems({
        include: ['a', 'b'],
        rename: { a: 'b', id: 'sourceId' },
        convert: { '': 'int64' },
      }),
    ).toEqual([
      'projection.rename.a renames to b, an attribute projection.include keeps under that name',
      'projection.rename.id: the attribute id is replaced by the key-derived id, it cannot be renamed',
      'projection.rename.id renames an attribute no document has: it is not in projection.include',
      'projection.convert has an empty name',
    ]);
  });

  it('accepts a mapping whose names all resolve, dotted names inside a renamed, flattened map included', () => {
    const projection = {
      include: ['addr', 'created_at', 'a', 'b'],
      rename: { addr: 'address', created_at: 'createdAt', a: 'b', b: 'a' },
      nested: 'flatten',
      convert: { 'address.zip': 'int64', createdAt: 'epochSeconds', a: 'string' },
    };
    expect(projectionProblems(projection)).toEqual([]);
    expect(projectionSchema.parse(projection)).toEqual(projection);
  });

  it('PROJECTION puts each problem at its key', () => {
    const parsed = projectionSchema.safeParse({ convert: { at: 'date' } });
    expect(parsed.error?.issues.map(({ path, message }) => [path, message])).toEqual([
      [
        ['convert'],
        'convert.at must be one of epochSeconds, epochMillis, int64, float, string, stringArray, got "date"',
      ],
    ]);
  });
});

describe('preview of a mapped item (the CLI prints what the writer sends)', () => {
  const rules: PreviewRules = {
    keyAttributes: ['pk'],
    projection: { convert: { n: 'int64' } },
    index: 'orders',
  };
  const item = { pk: { S: 'k1' }, n: { N: '9223372036854775807' } };

  it('renders an int64 beyond 2^53 as its exact digits, as text and as --json', () => {
    const report = previewItem(item, { pk: { S: 'k1' } }, rules, 'file item.json');
    expect(renderPreview(report)).toContain('"n": 9223372036854775807');
    const printed: string[] = [];
    const io = { out: (text: string) => printed.push(text), err: () => {}, env: {}, isTTY: false };
    commandContext(io).print(true, report, () => '');
    expect(printed.join('')).toContain('"n": 9223372036854775807');
  });
});
