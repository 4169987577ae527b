import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../infra/local/demo.ts';
import type { LocalStatus } from '../../infra/local/stack.ts';
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
