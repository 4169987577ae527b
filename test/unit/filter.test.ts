import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FilterValue,
  type ItemFilter,
  itemFilterProblems,
  projectionSchema,
} from '../../functions/contract/projection.ts';
import { describeValue, explainFilter, matchesFilter } from '../../functions/core/filter.ts';
import { projectItem } from '../../functions/core/project.ts';

type Item = Record<string, AttributeValue>;

const order: Item = {
  pk: { S: 'ORDER#17' },
  type: { S: 'order' },
  total: { N: '42.50' },
  paid: { BOOL: true },
  note: { NULL: true },
  tags: { SS: ['gift', 'rush'] },
  sizes: { NS: ['1', '2'] },
  lines: { L: [{ S: 'a' }] },
  address: { M: { city: { S: 'Oslo' } } },
  blob: { B: new Uint8Array([1]) },
};
const matches = (filter: ItemFilter, item: Item = order) => matchesFilter(filter, item);

describe('matchesFilter: comparisons', () => {
  it.each<[string, ItemFilter, boolean]>([
    ['equals a string (S)', { attribute: 'type', equals: 'order' }, true],
    ['equals another string', { attribute: 'type', equals: 'customer' }, false],
    ['equals a number by value (N "42.50" = 42.5)', { attribute: 'total', equals: 42.5 }, true],
    ['a number never equals the same digits as a string', { attribute: 'total', equals: '42.50' }, false],
    ['equals a boolean (BOOL)', { attribute: 'paid', equals: true }, true],
    ['a boolean never equals a string', { attribute: 'paid', equals: 'true' }, false],
    ['in: one of the values', { attribute: 'type', in: ['customer', 'order'] }, true],
    ['in: none of the values', { attribute: 'type', in: ['customer', 'product'] }, false],
    ['in: numbers by value', { attribute: 'total', in: [1, 42.5] }, true],
    [
      'a set never equals a member (sets, lists and maps only exist)',
      { attribute: 'tags', equals: 'gift' },
      false,
    ],
    ['nor is a set in a list of its members', { attribute: 'tags', in: ['gift', 'rush'] }, false],
    ['a number set never compares', { attribute: 'sizes', gte: 0 }, false],
    ['beginsWith on the key', { attribute: 'pk', beginsWith: 'ORDER#' }, true],
    ['beginsWith another prefix', { attribute: 'pk', beginsWith: 'CUSTOMER#' }, false],
    ['beginsWith matches S only', { attribute: 'total', beginsWith: '42' }, false],
    ['lt', { attribute: 'total', lt: 42.5 }, false],
    ['lte', { attribute: 'total', lte: 42.5 }, true],
    ['gt', { attribute: 'total', gt: 42 }, true],
    ['gte', { attribute: 'total', gte: 43 }, false],
    ['numeric comparisons match N only', { attribute: 'type', gt: 0 }, false],
    ['exists: a scalar', { attribute: 'paid', exists: true }, true],
    [
      'exists: a list, a map, a set, binary',
      { and: ['lines', 'address', 'tags', 'blob'].map((attribute) => ({ attribute, exists: true })) },
      true,
    ],
    ['a NULL is absent, as the projection leaves it out', { attribute: 'note', exists: false }, true],
    ['an attribute no item has is absent', { attribute: 'nowhere', exists: false }, true],
    ['a comparison with an absent attribute is false', { attribute: 'nowhere', equals: 'x' }, false],
    [
      'and',
      {
        and: [
          { attribute: 'type', equals: 'order' },
          { attribute: 'total', gte: 10 },
        ],
      },
      true,
    ],
    [
      'or',
      {
        or: [
          { attribute: 'type', equals: 'customer' },
          { attribute: 'paid', equals: false },
        ],
      },
      false,
    ],
    ['not', { not: { attribute: 'type', equals: 'customer' } }, true],
  ])('%s', (_, filter, expected) => {
    expect(matches(filter)).toBe(expected);
  });

  it('reads an own attribute only, never an inherited member such as toString', () => {
    expect(matches({ attribute: 'toString', exists: true }, {})).toBe(false);
    expect(matches({ attribute: '__proto__', exists: true }, JSON.parse('{"__proto__": {"S": "x"}}'))).toBe(
      true,
    );
  });
});

describe('projectItem with a filter', () => {
  it('projects a matching item and answers undefined for one the filter leaves out', () => {
    const projection = { include: ['type'], filter: { attribute: 'type', equals: 'order' } as ItemFilter };
    expect(projectItem(order, ['pk'], projection)).toEqual({ id: 'ORDER#17', type: 'order' });
    expect(projectItem({ ...order, type: { S: 'customer' } }, ['pk'], projection)).toBeUndefined();
  });
});

// Items over a few attribute names, with every attribute type (or none), and filters over them.
const NAMES = ['a', 'b', 'c'] as const;
const filterValue: fc.Arbitrary<FilterValue> = fc.oneof(
  fc.constantFrom('x', 'xy', 'y', ''),
  fc.integer({ min: -3, max: 3 }),
  fc.boolean(),
);
const attributeValue = fc.oneof<fc.Arbitrary<AttributeValue>[]>(
  fc.constantFrom('x', 'xy', 'y', '').map((S) => ({ S })),
  fc.integer({ min: -3, max: 3 }).map((n) => ({ N: String(n) })),
  fc.constantFrom('1.50', '-0', '2e0').map((N) => ({ N })),
  fc.boolean().map((BOOL) => ({ BOOL })),
  fc.constant({ NULL: true as const }),
  fc.constant({ SS: ['x'] }),
  fc.constant({ L: [{ S: 'x' }] }),
  fc.constant({ M: { x: { N: '1' } } }),
);
const itemArbitrary: fc.Arbitrary<Item> = fc.record(
  Object.fromEntries(NAMES.map((name) => [name, attributeValue])) as Record<
    string,
    fc.Arbitrary<AttributeValue>
  >,
  { requiredKeys: [] },
) as fc.Arbitrary<Item>;
const attribute = fc.constantFrom(...NAMES);
const number = fc.integer({ min: -3, max: 3 });
const { filter: filterArbitrary } = fc.letrec<{ filter: ItemFilter }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ attribute, equals: filterValue }),
    fc.record({ attribute, in: fc.array(filterValue, { minLength: 1, maxLength: 3 }) }),
    fc.record({ attribute, beginsWith: fc.constantFrom('x', 'y') }),
    fc.record({ attribute, exists: fc.boolean() }),
    fc.record({ attribute, lt: number }),
    fc.record({ attribute, lte: number }),
    fc.record({ attribute, gt: number }),
    fc.record({ attribute, gte: number }),
    fc.record({ and: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ or: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ not: tie('filter') }),
  ) as fc.Arbitrary<ItemFilter>,
}));

describe('matchesFilter: laws (fast-check)', () => {
  it('not(f) matches exactly the items f does not', () => {
    fc.assert(
      fc.property(
        filterArbitrary,
        itemArbitrary,
        (f, item) => matches({ not: f }, item) === !matches(f, item),
      ),
    );
  });

  it('and/or are conjunction and disjunction, and obey De Morgan', () => {
    fc.assert(
      fc.property(filterArbitrary, filterArbitrary, itemArbitrary, (f, g, item) => {
        expect(matches({ and: [f, g] }, item)).toBe(matches(f, item) && matches(g, item));
        expect(matches({ or: [f, g] }, item)).toBe(matches(f, item) || matches(g, item));
        expect(matches({ not: { and: [f, g] } }, item)).toBe(matches({ or: [{ not: f }, { not: g }] }, item));
        expect(matches({ and: [f] }, item)).toBe(matches(f, item));
      }),
    );
  });

  it('in is the or of equals; exists false is not exists true', () => {
    fc.assert(
      fc.property(attribute, fc.array(filterValue, { minLength: 1 }), itemArbitrary, (name, values, item) => {
        const anyEquals: ItemFilter = { or: values.map((equals) => ({ attribute: name, equals })) };
        expect(matches({ attribute: name, in: values }, item)).toBe(matches(anyEquals, item));
        expect(matches({ attribute: name, exists: false }, item)).toBe(
          !matches({ attribute: name, exists: true }, item),
        );
      }),
    );
  });

  it('on a number, lt is not gte and gt is not lte; any comparison implies exists', () => {
    fc.assert(
      fc.property(filterArbitrary, number, itemArbitrary, (f, bound, item) => {
        const isNumber = item.a?.N !== undefined;
        const lt = matches({ attribute: 'a', lt: bound }, item);
        if (isNumber) expect(lt).toBe(!matches({ attribute: 'a', gte: bound }, item));
        else expect(lt).toBe(false);
        if ('attribute' in f && !('exists' in f) && matches(f, item))
          expect(matches({ attribute: f.attribute, exists: true }, item)).toBe(true);
      }),
    );
  });

  it('every generated filter is valid, and the PROJECTION contract parses it back to the same predicate', () => {
    fc.assert(
      fc.property(filterArbitrary, itemArbitrary, (f, item) => {
        expect(itemFilterProblems(f)).toEqual([]);
        const parsed = projectionSchema.parse(JSON.parse(JSON.stringify({ filter: f })));
        expect(matches(parsed.filter as ItemFilter, item)).toBe(matches(f, item));
      }),
    );
  });
});

/** How many nodes a filter has: an explanation shows each once. */
const nodeCount = (filter: ItemFilter): number =>
  'attribute' in filter
    ? 1
    : 'not' in filter
      ? 1 + nodeCount(filter.not)
      : 1 + ('and' in filter ? filter.and : filter.or).map(nodeCount).reduce((a, b) => a + b, 0);

describe('explainFilter: why an item matches', () => {
  it('gives every node, combinators before their members, with its path, operand, the item value and outcome', () => {
    const filter: ItemFilter = {
      and: [
        { attribute: 'type', equals: 'order' },
        {
          or: [
            { attribute: 'total', gte: 100 },
            { attribute: 'paid', equals: true },
          ],
        },
        { not: { attribute: 'pk', beginsWith: 'TEST#' } },
        { attribute: 'nowhere', exists: false },
      ],
    };
    expect(explainFilter(filter, order)).toEqual({
      matches: true,
      steps: [
        { path: 'filter', depth: 0, node: 'and', matched: true },
        {
          path: 'filter.and[0]',
          depth: 1,
          node: 'equals',
          attribute: 'type',
          operand: 'order',
          value: '"order"',
          matched: true,
        },
        { path: 'filter.and[1]', depth: 1, node: 'or', matched: true },
        {
          path: 'filter.and[1].or[0]',
          depth: 2,
          node: 'gte',
          attribute: 'total',
          operand: 100,
          value: '42.50',
          matched: false,
        },
        {
          path: 'filter.and[1].or[1]',
          depth: 2,
          node: 'equals',
          attribute: 'paid',
          operand: true,
          value: 'true',
          matched: true,
        },
        { path: 'filter.and[2]', depth: 1, node: 'not', matched: true },
        {
          path: 'filter.and[2].not',
          depth: 2,
          node: 'beginsWith',
          attribute: 'pk',
          operand: 'TEST#',
          value: '"ORDER#17"',
          matched: false,
        },
        {
          path: 'filter.and[3]',
          depth: 1,
          node: 'exists',
          attribute: 'nowhere',
          operand: false,
          value: 'absent',
          matched: true,
        },
      ],
    });
  });

  it('shows the members after the one that decides an and/or (the result is the same)', () => {
    const filter: ItemFilter = {
      or: [
        { attribute: 'type', in: ['order', 'invoice'] },
        { attribute: 'total', lt: 1 },
      ],
    };
    const { matches, steps } = explainFilter(filter, order);
    expect(matches).toBe(true);
    expect(steps.map(({ path, matched }) => [path, matched])).toEqual([
      ['filter', true],
      ['filter.or[0]', true],
      ['filter.or[1]', false],
    ]);
    expect(steps[1]?.operand).toEqual(['order', 'invoice']);
  });

  it.each<[string, AttributeValue | undefined, string]>([
    ['absent', undefined, 'absent'],
    ['NULL', { NULL: true }, 'NULL (absent)'],
    ['a string, quoted', { S: 'Oslo' }, '"Oslo"'],
    ['a number as DynamoDB holds it', { N: '1.50' }, '1.50'],
    ['a boolean', { BOOL: false }, 'false'],
    ['a set', { SS: ['a', 'b'] }, 'SS of 2'],
    ['a list', { L: [{ S: 'a' }] }, 'L of 1'],
    ['a map', { M: { a: { S: 'x' }, b: { S: 'y' } } }, 'a map of 2 attributes'],
    ['binary', { B: new Uint8Array([1, 2]) }, 'binary'],
    ['a long string, cut at 60 characters', { S: 'x'.repeat(500) }, `"${'x'.repeat(58)}…`],
  ])('describes %s', (_, value, described) => {
    expect(describeValue(value)).toBe(described);
  });
});

describe('explainFilter: laws (fast-check)', () => {
  it('matches exactly when matchesFilter does, shows every node once, and its root carries the outcome', () => {
    fc.assert(
      fc.property(filterArbitrary, itemArbitrary, (f, item) => {
        const { matches: explained, steps } = explainFilter(f, item);
        expect(explained).toBe(matchesFilter(f, item));
        expect(steps).toHaveLength(nodeCount(f));
        expect(steps[0]).toMatchObject({ path: 'filter', depth: 0, matched: explained });
        expect(new Set(steps.map(({ path }) => path)).size).toBe(steps.length);
      }),
    );
  });

  it('each attribute step is that node evaluated on its own', () => {
    fc.assert(
      fc.property(filterArbitrary, itemArbitrary, (f, item) => {
        for (const step of explainFilter(f, item).steps) {
          if (step.attribute === undefined) continue;
          const node = { attribute: step.attribute, [step.node]: step.operand } as ItemFilter;
          expect(step.matched).toBe(matchesFilter(node, item));
        }
      }),
    );
  });
});

describe('itemFilterProblems: the grammar, each problem at its path', () => {
  it.each<[string, unknown, string[]]>([
    [
      'not an object',
      'type = order',
      [
        'filter must be an object: attribute with one of equals, in, beginsWith, exists, lt, lte, gt, gte, or one of and, or, not',
      ],
    ],
    [
      'an empty attribute name',
      { attribute: '', equals: 'x' },
      ['filter.attribute must be a non-empty attribute name'],
    ],
    [
      'an unknown operator',
      { attribute: 'type', startsWith: 'x' },
      [
        'filter has unknown operator startsWith: use attribute with one of equals, in, beginsWith, exists, lt, lte, gt, gte, or one of and, or, not',
        'filter must have exactly one of equals, in, beginsWith, exists, lt, lte, gt, gte beside attribute',
      ],
    ],
    [
      'two comparisons in one node',
      { attribute: 'n', gt: 1, lt: 5 },
      ['filter must have exactly one of equals, in, beginsWith, exists, lt, lte, gt, gte beside attribute'],
    ],
    [
      'a numeric comparison with a string',
      { attribute: 'n', gte: '5' },
      ['filter.gte must be a finite number, got "5"'],
    ],
    [
      'equals null',
      { attribute: 'n', equals: null },
      ['filter.equals must be a string, a finite number or a boolean, got null'],
    ],
    [
      'an empty in',
      { attribute: 'n', in: [] },
      ['filter.in must be a non-empty list of strings, finite numbers or booleans, got []'],
    ],
    [
      'exists with a string',
      { attribute: 'n', exists: 'yes' },
      ['filter.exists must be true or false, got "yes"'],
    ],
    [
      'an empty beginsWith',
      { attribute: 'pk', beginsWith: '' },
      ['filter.beginsWith must be a non-empty string, got ""'],
    ],
    ['an empty and', { and: [] }, ['filter.and must be a non-empty list of filters']],
    [
      'an unknown combinator',
      { xor: [] },
      [
        'filter must have attribute with one of equals, in, beginsWith, exists, lt, lte, gt, gte, or one of and, or, not; got xor',
      ],
    ],
    [
      'nested problems, each with its path',
      {
        and: [
          { attribute: 'type', equals: 'order' },
          { or: [{ attribute: 'total', lt: 'ten' }, { not: { attribute: '', exists: true } }] },
        ],
      },
      [
        'filter.and[1].or[0].lt must be a finite number, got "ten"',
        'filter.and[1].or[1].not.attribute must be a non-empty attribute name',
      ],
    ],
  ])('%s', (_, filter, problems) => {
    expect(itemFilterProblems(filter)).toEqual(problems);
  });

  it('the PROJECTION contract reports every bad node at once', () => {
    const parsed = projectionSchema.safeParse({ filter: { or: [{ attribute: 'a', gt: 'x' }, { not: 1 }] } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map(({ message }) => message)).toEqual([
      'filter.or[0].gt must be a finite number, got "x"',
      expect.stringMatching(/^filter\.or\[1\]\.not must be an object/),
    ]);
  });
});
