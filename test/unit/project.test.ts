import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProjectionError } from '../../functions/core/errors.ts';
import { projectItem } from '../../functions/core/project.ts';

type Item = Record<string, AttributeValue>;
const project = (attributes: Item, keyAttributes: readonly string[] = ['pk']) =>
  projectItem({ pk: { S: 'p1' }, ...attributes }, keyAttributes);

function projectionError(fn: () => unknown): ProjectionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProjectionError);
    return error as ProjectionError;
  }
  throw new Error('expected a ProjectionError');
}

describe('projectItem: scalar values', () => {
  it('maps S and BOOL to their JSON values, and a NULL to an absent field (as Typesense stores it)', () => {
    expect(
      project({ s: { S: 'text' }, yes: { BOOL: true }, no: { BOOL: false }, nothing: { NULL: true } }),
    ).toEqual({
      id: 'p1',
      pk: 'p1',
      s: 'text',
      yes: true,
      no: false,
    });
  });

  it('maps binary to base64', () => {
    expect(project({ b: { B: new Uint8Array([0x01, 0xff, 0x7c]) } }).b).toBe('Af98');
  });

  it("keeps binary that is base64 text already, as in a Lambda stream event's JSON images", () => {
    const event = { b: { B: 'Af98' }, bs: { BS: ['fA==', 'AA=='] } } as unknown as Record<
      string,
      AttributeValue
    >;
    expect(project(event)).toMatchObject({ b: 'Af98', bs: ['AA==', 'fA=='] });
  });

  it('makes safe integers JSON numbers', () => {
    const doc = project({
      zero: { N: '0' },
      small: { N: '-17' },
      max: { N: '9007199254740991' },
      min: { N: '-9007199254740991' },
    });
    expect(doc).toMatchObject({
      zero: 0,
      small: -17,
      max: Number.MAX_SAFE_INTEGER,
      min: Number.MIN_SAFE_INTEGER,
    });
    expect(typeof doc.max).toBe('number');
  });

  it('keeps integers beyond 2^53 as exact decimal text', () => {
    const doc = project({
      big: { N: '12345678901234567890123' },
      justOver: { N: '9007199254740993' },
      negative: { N: '-9007199254740993' },
      huge: { N: '1E+125' },
    });
    expect(doc).toMatchObject({
      big: '12345678901234567890123',
      justOver: '9007199254740993',
      negative: '-9007199254740993',
      huge: '1E+125',
    });
  });

  it('makes decimals of ≤ 15 significant digits JSON numbers', () => {
    const doc = project({
      price: { N: '12.5' },
      fifteen: { N: '1234567.89012345' },
      tiny: { N: '0.000000000000123' },
      negative: { N: '-0.5' },
    });
    expect(doc).toMatchObject({ price: 12.5, fifteen: 1234567.89012345, tiny: 1.23e-13, negative: -0.5 });
  });

  it('keeps long decimals whose double is a whole number as exact text (regression)', () => {
    const doc = project({
      a: { N: '1.0000000000000000001' },
      b: { N: '0.99999999999999999999' },
      c: { N: '2957902939279280.7500' },
    });
    expect(doc).toMatchObject({
      a: '1.0000000000000000001',
      b: '0.99999999999999999999',
      c: '2957902939279280.7500',
    });
  });

  it('keeps decimals of more than 15 significant digits as exact text', () => {
    const doc = project({
      sixteen: { N: '1234567.890123456' },
      long: { N: '3.14159265358979323846' },
    });
    expect(doc).toMatchObject({ sixteen: '1234567.890123456', long: '3.14159265358979323846' });
  });

  it('property: a number projected as a JSON number is exactly the value of its text', () => {
    const decimal = fc
      .tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.nat({ max: 20 }))
      .map(([digits, scale]) => {
        const text = (digits < 0n ? -digits : digits).toString().padStart(scale + 1, '0');
        const body = scale === 0 ? text : `${text.slice(0, -scale)}.${text.slice(-scale)}`;
        return `${digits < 0n ? '-' : ''}${body}`;
      });
    fc.assert(
      fc.property(decimal, (text) => {
        const value = project({ n: { N: text } }).n;
        if (typeof value === 'string') expect(value).toBe(text);
        else {
          expect(typeof value).toBe('number');
          // Exact: the double's shortest decimal denotes the same rational as the text.
          expect(sameDecimal(String(value), text)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});

/** Whether two decimal texts (with optional exponent) denote the same number, compared exactly. */
function sameDecimal(a: string, b: string): boolean {
  const normal = (text: string) => {
    const match = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
    if (match === null) throw new Error(`not a decimal: ${text}`);
    const [, sign = '', int = '', frac = '', exp = '0'] = match;
    const digits = `${int}${frac}`.replace(/^0+/, '');
    const scale = frac.length - Number(exp);
    if (digits === '') return '0';
    const trimmed = digits.replace(/0+$/, '');
    return `${sign}${trimmed}e${digits.length - trimmed.length - scale}`;
  };
  return normal(a) === normal(b);
}

describe('projectItem: sets, lists and maps', () => {
  it('gives one array for a number set mixing exact and too-long numbers, whatever the listing order (regression)', () => {
    const orders = [
      ['9', '10', '100000000000000000000000'],
      ['10', '100000000000000000000000', '9'],
      ['100000000000000000000000', '9', '10'],
    ];
    const projected = orders.map((members) => project({ ns: { NS: members } }).ns);
    expect(projected[0]).toEqual([9, 10, '100000000000000000000000']);
    expect(projected[1]).toEqual(projected[0]);
    expect(projected[2]).toEqual(projected[0]);
  });

  it('property: a number set projects to the same array for every permutation', () => {
    const member = fc.oneof(
      fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
      fc.bigInt({ min: 10n ** 20n, max: 10n ** 25n }).map(String),
      fc
        .tuple(fc.nat({ max: 999 }), fc.nat({ max: 99 }))
        .map(([i, f]) => `${i}.${String(f).padStart(2, '0')}1`),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(member, { minLength: 1, maxLength: 8, selector: (m) => Number(m).toString() + m }),
        (members) => {
          const unique = [...new Set(members)];
          const forward = project({ ns: { NS: unique } }).ns;
          const backward = project({ ns: { NS: [...unique].reverse() } }).ns;
          expect(backward).toEqual(forward);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sorts string sets', () => {
    expect(project({ tags: { SS: ['pear', 'apple', 'fig'] } }).tags).toEqual(['apple', 'fig', 'pear']);
  });

  it('sorts number sets numerically, not as text', () => {
    expect(project({ sizes: { NS: ['10', '9', '2.5', '-1'] } }).sizes).toEqual([-1, 2.5, 9, 10]);
  });

  it('sorts binary sets by their base64 text (code unit order: "/" < "A")', () => {
    const bs = [new Uint8Array([0xff]), new Uint8Array([0x00]), new Uint8Array([0x7c])];
    expect(project({ blobs: { BS: bs } }).blobs).toEqual(['/w==', 'AA==', 'fA==']);
  });

  it('property: the projected set does not depend on the order DynamoDB lists the members in', () => {
    const members = fc.uniqueArray(fc.integer({ min: -1_000_000, max: 1_000_000 }), {
      minLength: 1,
      maxLength: 12,
    });
    fc.assert(
      fc.property(
        members.chain((ns) =>
          fc.tuple(fc.constant(ns), fc.shuffledSubarray(ns, { minLength: ns.length, maxLength: ns.length })),
        ),
        fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 6 }), { minLength: 1, maxLength: 8 }),
        ([ns, shuffled], ss) => {
          const a = project({ ns: { NS: ns.map(String) }, ss: { SS: ss } });
          const b = project({ ns: { NS: shuffled.map(String) }, ss: { SS: [...ss].reverse() } });
          expect(a).toEqual(b);
          expect(a.ns).toEqual([...ns].sort((x, y) => x - y));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps list order and converts members recursively', () => {
    const list: AttributeValue = {
      L: [
        { N: '2' },
        { S: 'x' },
        { NULL: true },
        { B: new Uint8Array([1, 2, 3]) },
        { N: '12345678901234567890123' },
      ],
    };
    // A NULL member is dropped, as Typesense drops nulls inside arrays on upsert.
    expect(project({ list }).list).toEqual([2, 'x', 'AQID', '12345678901234567890123']);
  });

  it('converts nested maps, with sets and binary inside', () => {
    const map: AttributeValue = {
      M: {
        name: { S: 'n' },
        inner: { M: { tags: { SS: ['b', 'a'] }, blob: { B: new Uint8Array([0]) } } },
        flags: { L: [{ BOOL: true }] },
      },
    };
    expect(project({ map }).map).toEqual({
      name: 'n',
      inner: { tags: ['a', 'b'], blob: 'AA==' },
      flags: [true],
    });
  });
});

describe('projectItem: agrees with the SDK', () => {
  // Strings, booleans, nulls, lists and maps have one obvious JSON form, the SDK's own unmarshall.
  // Except for a member named __proto__, which unmarshall takes as the prototype (tested below).
  const name = fc.string().filter((text) => text !== '__proto__');
  const plainValue: fc.Arbitrary<AttributeValue> = fc.letrec<{ value: AttributeValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.string().map((S) => ({ S })),
      fc.boolean().map((BOOL) => ({ BOOL })),
      fc.constant({ NULL: true }),
      fc.array(tie('value'), { maxLength: 4 }).map((L) => ({ L })),
      fc.dictionary(name, tie('value'), { maxKeys: 4 }).map((M) => ({ M })),
    ),
  })).value;

  /** unmarshall's value without its nulls: the projection leaves NULLs out at every depth. */
  const withoutNulls = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.filter((member) => member !== null).map(withoutNulls);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, member]) => member !== null)
        .map(([key, member]) => [key, withoutNulls(member)]),
    );
  };

  it('property: items of strings, booleans, nulls, lists and maps project to what unmarshall gives, without nulls', () => {
    fc.assert(
      fc.property(fc.dictionary(name, plainValue, { maxKeys: 6 }), (attributes) => {
        const item: Item = { ...attributes, pk: { S: 'p1' } };
        const { id: _itemId, ...expected } = unmarshall(item);
        expect(projectItem(item, ['pk'])).toStrictEqual({ id: 'p1', ...(withoutNulls(expected) as object) });
      }),
      { numRuns: 200 },
    );
  });

  it('keeps a member named __proto__ as a field, not as the prototype', () => {
    const doc = project({ ['__proto__']: { M: { ['__proto__']: { S: 'inner' } } } });
    expect(Object.keys(doc)).toContain('__proto__');
    expect(JSON.parse(JSON.stringify(doc))).toEqual(
      JSON.parse('{"id":"p1","pk":"p1","__proto__":{"__proto__":"inner"}}'),
    );
  });
});

describe('projectItem: id and projection', () => {
  it('replaces an item attribute named id by the key-derived id', () => {
    const doc = project({ id: { S: 'not-the-key' }, title: { S: 't' } });
    expect(doc.id).toBe('p1');
    expect(Object.keys(doc).filter((k) => k === 'id')).toHaveLength(1);
  });

  it('derives a composite id and keeps both key attributes as fields', () => {
    const doc = projectItem({ pk: { S: 'a|b' }, sk: { N: '7' }, title: { S: 't' } }, ['pk', 'sk']);
    expect(doc).toEqual({ id: 'a\\|b|7', pk: 'a|b', sk: 7, title: 't' });
  });

  it('derives the id of a binary key from bytes as base64', () => {
    const doc = projectItem({ pk: { S: 'tenant-1' }, sk: { B: new Uint8Array([0x01, 0xff, 0x7c]) } }, [
      'pk',
      'sk',
    ]);
    expect(doc.id).toBe('tenant-1|Af98');
    expect(doc.sk).toBe('Af98');
  });

  const item: Item = { pk: { S: 'p1' }, title: { S: 't' }, price: { N: '3' }, secret: { S: 's' } };

  it('keeps only included attributes (plus id)', () => {
    expect(projectItem(item, ['pk'], { include: ['title', 'price'] })).toEqual({
      id: 'p1',
      title: 't',
      price: 3,
    });
  });

  it('drops excluded attributes', () => {
    expect(projectItem(item, ['pk'], { exclude: ['secret'] })).toEqual({
      id: 'p1',
      pk: 'p1',
      title: 't',
      price: 3,
    });
  });

  it('lets exclude win over include', () => {
    expect(projectItem(item, ['pk'], { include: ['title', 'secret'], exclude: ['secret'] })).toEqual({
      id: 'p1',
      title: 't',
    });
  });

  it('never lets include bring back an item attribute named id', () => {
    expect(projectItem({ ...item, id: { S: 'x' } }, ['pk'], { include: ['id'] })).toEqual({ id: 'p1' });
  });

  it('does not modify the item', () => {
    const copy = structuredClone(item);
    projectItem(item, ['pk'], { exclude: ['secret'] });
    expect(item).toEqual(copy);
  });
});

describe('projectItem: errors', () => {
  it('throws ProjectionError with id "(unknown)" when a key attribute is missing', () => {
    const error = projectionError(() => projectItem({ title: { S: 't' } }, ['pk']));
    expect(error.id).toBe('(unknown)');
    expect(error.message).toMatch(/'pk' is missing/);
  });

  it('throws ProjectionError for a key of an impossible type', () => {
    const error = projectionError(() => projectItem({ pk: { BOOL: true } }, ['pk']));
    expect(error.message).toMatch(/S, N or B/);
  });

  it('throws ProjectionError carrying the id when an attribute cannot be unmarshalled', () => {
    const error = projectionError(() => project({ weird: {} as AttributeValue }));
    expect(error.id).toBe('p1');
    expect(error.message).toMatch(/cannot project item/);
  });
});
