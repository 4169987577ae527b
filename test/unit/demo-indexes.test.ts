import { describe, expect, it } from 'vitest';
import type { VerifyReport } from '../../bin/cli/operations/verify.ts';
import { formatIndexFigures, verdictOf } from '../../infra/local/demo-indexes.ts';
import { shopIndexes, shopItem, shopKey } from '../../infra/local/demo-shop.ts';
import { seededRandom } from '../../infra/local/workload.ts';

/* `npm start`'s figures and verdicts per index of the demo shop (issue 20, item 3). */

const report = (overrides: Partial<VerifyReport> = {}): VerifyReport => ({
  missing: [],
  extra: [],
  stale: [],
  unprojectable: [],
  tableItems: 12,
  indexDocuments: 12,
  ...overrides,
});

describe('the demo per index', () => {
  it('the status line ends with each index’s documents, pending messages and dead letters', () => {
    expect(
      formatIndexFigures([
        { alias: 'products', documents: 212, pendingMessages: 3, dlqDepth: 0 },
        { alias: 'reviews', documents: 340, pendingMessages: 0, dlqDepth: 1 },
      ]),
    ).toBe(' | products 212 docs 3 msg DLQ 0 · reviews 340 docs 0 msg DLQ 1');
    expect(formatIndexFigures([])).toBe('');
  });

  it('an index is clean only with no missing, extra, stale or refused document', () => {
    expect(verdictOf('products', report())).toEqual({
      clean: true,
      line: 'verify products: clean — the index matches the table field by field (12 table items, 12 documents)',
    });
    const refused = { id: 'p-1|PRODUCT', code: 'projection', reason: 'no name' };
    for (const drift of [
      { missing: ['p-1|PRODUCT'] },
      { extra: ['p-1|PRODUCT'] },
      { stale: [{ id: 'p-1|PRODUCT', fields: ['name'] }] },
      { unprojectable: [refused] },
    ] as Partial<VerifyReport>[])
      expect(verdictOf('reviews', report(drift))).toMatchObject({
        clean: false,
        line: expect.stringMatching(
          /^verify reviews: NOT CLEAN — missing \d, extra \d, stale \d, refused \d/,
        ),
      });
  });

  it('routes products and reviews by sort key, and aggregates each product with its reviews', () => {
    expect([0, 1, 3, 4].map((n) => shopKey(n))).toEqual([
      { pk: { S: 'p-000000' }, sk: { S: 'PRODUCT' } },
      { pk: { S: 'p-000000' }, sk: { S: 'REVIEW#0' } },
      { pk: { S: 'p-000000' }, sk: { S: 'REVIEW#2' } },
      { pk: { S: 'p-000001' }, sk: { S: 'PRODUCT' } },
    ]);
    const random = seededRandom(1);
    expect(shopItem(random, 4, 1, 0)).toMatchObject({ ...shopKey(4), name: { S: expect.any(String) } });
    expect(shopItem(random, 5, 1, 0)).toMatchObject({ ...shopKey(5), rating: { N: expect.any(String) } });
    expect(shopIndexes.map(({ alias, projection, aggregate }) => ({ alias, projection, aggregate }))).toEqual(
      [
        {
          alias: 'products',
          projection: { filter: { attribute: 'sk', equals: 'PRODUCT' }, id: { attributes: ['pk'] } },
          aggregate: undefined,
        },
        {
          alias: 'reviews',
          projection: { filter: { attribute: 'sk', beginsWith: 'REVIEW#' } },
          aggregate: undefined,
        },
        {
          alias: 'catalogue',
          projection: undefined,
          aggregate: { parent: { prefix: 'PRODUCT' }, children: { reviews: { prefix: 'REVIEW#' } } },
        },
      ],
    );
  });
});
