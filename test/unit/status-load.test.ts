import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../infra/local/demo.ts';
import type { LocalIndexStatus, LocalStatus } from '../../infra/local/stack.ts';
import { StatusHistory } from '../../infra/local/status-page.ts';

/* The embedded stack's status line and page show a running first load (issue 19). */

const status = (load?: LocalStatus['load']): LocalStatus => ({
  changesSeen: 10,
  changesApplied: 8,
  pendingMessages: 1,
  dlqDepth: 0,
  lagMs: undefined,
  oldestPendingAgeMs: undefined,
  streamRecordsGivenUp: 0,
  circuit: 'closed',
  ...(load === undefined ? {} : { load }),
  indexes: [],
});
const firstLoad = {
  jobId: 'r1',
  firstLoad: true,
  phase: 'backfilling',
  scanned: 5000,
  estimatedItems: 20000,
};

describe('the running load on the status line and page', () => {
  it('the status line starts with the first load while it runs, and without it after', () => {
    expect(formatStatus(status(firstLoad), '')).toMatch(
      /^first load 5000\/~20000 \(backfilling\) \| seen 10 /,
    );
    expect(formatStatus(status({ ...firstLoad, firstLoad: false, phase: 'finishing' }), '')).toMatch(
      /^re-sync 5000\/~20000 \(finishing\) \| /,
    );
    expect(formatStatus(status(), '')).toMatch(/^seen 10 /);
  });

  it('each history sample (what the page shows) carries it', async () => {
    const answers = [status(firstLoad), status()];
    const history = new StatusHistory(async () => answers.shift() ?? status(), { intervalMs: 5 });
    history.start();
    while (history.samples().length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await history.stop();
    const [loading, live] = history.samples();
    expect(loading?.load).toBe('first load 5000/~20000 (backfilling)');
    expect(live).not.toHaveProperty('load');
  });
});

/** The index's figures: by default idle, nothing applied, nothing waiting. */
const indexStatus = (alias: string, overrides: Partial<LocalIndexStatus> = {}): LocalIndexStatus => ({
  alias,
  documents: 10,
  changesApplied: 0,
  pendingMessages: 0,
  dlqDepth: 0,
  lagMs: undefined,
  oldestPendingAgeMs: undefined,
  circuit: 'closed',
  ...overrides,
});

describe('each index on the status page (issue 20, item 3)', () => {
  it("each sample carries every index's own documents, lag, throughput, queues, circuit and re-sync", async () => {
    const answers = [
      { ...status(), indexes: [indexStatus('products'), indexStatus('reviews', { changesApplied: 100 })] },
      {
        ...status(),
        indexes: [
          indexStatus('products', { changesApplied: 40, lagMs: 120, pendingMessages: 2 }),
          indexStatus('reviews', {
            documents: undefined,
            changesApplied: 100,
            // Stuck changes: their age is the lag, as the stack's own figure.
            lagMs: 50,
            oldestPendingAgeMs: 4_000,
            dlqDepth: 3,
            circuit: 'open',
            load: { ...firstLoad, firstLoad: false, phase: 'finishing' },
          }),
        ],
      },
    ];
    const history = new StatusHistory(async () => answers.shift() ?? status(), { intervalMs: 5 });
    history.start();
    while (history.samples().length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await history.stop();
    const [first, second] = history.samples();
    expect(first?.indexes.map(({ alias, changesPerSecond }) => ({ alias, changesPerSecond }))).toEqual([
      { alias: 'products', changesPerSecond: 0 },
      { alias: 'reviews', changesPerSecond: 0 },
    ]);
    const [products, reviews] = second?.indexes ?? [];
    expect(products).toMatchObject({
      alias: 'products',
      documents: 10,
      lagMs: 120,
      pendingMessages: 2,
      dlqDepth: 0,
    });
    expect(products).not.toHaveProperty('load');
    // 40 changes in the gap between the two samples: a positive rate; none for reviews.
    expect(products?.changesPerSecond).toBeGreaterThan(0);
    expect(reviews).toMatchObject({
      alias: 'reviews',
      documents: undefined,
      changesPerSecond: 0,
      lagMs: 4_000,
      dlqDepth: 3,
      circuit: 'open',
      load: 're-sync 5000/~20000 (finishing)',
    });
  });
});
