import { describe, expect, it } from 'vitest';
import { formatChaosReport, runChaos } from '../../infra/local/chaos.ts';

// CI size; `npm run chaos -- --ops N --keys K --seed S` runs bigger ones with the same code.
const seed = Number(process.env.CHAOS_SEED ?? 1);

// The default writer as deployed: a visibility lease of a sixth of the visibility timeout (1 s of 6 s) and one
// poller per message group, as Lambda scales a FIFO source: a crash frees its group after about a lease, and
// writes of one key must still never overlap. The second run opts out of the lease, with 3 pollers: a crash
// then holds its groups for the visibility timeout.
const WRITERS = {
  'the default writer (a visibility lease, one poller per group)': {},
  'the writer without a lease': { visibilityLeaseSeconds: 0, writerConcurrency: 3 },
};

describe('chaos convergence', () => {
  it.each(Object.entries(WRITERS))(
    '%s converges to the table with no lost, stale or resurrected document, and dead-letters only poison',
    async (_name, writer) => {
      const report = await runChaos({
        seed,
        keys: 40,
        ops: 1_500,
        poison: 3,
        outageMs: 3_000,
        rate: 150,
        ...writer,
      });
      console.info(formatChaosReport(report));

      expect({ lost: report.lost, stale: report.stale, resurrected: report.resurrected }).toEqual({
        lost: [],
        stale: [],
        resurrected: [],
      });
      expect(report.indexDocuments).toBe(report.tableItems - report.poisonIds.length);
      // At least one operation in ten had its processing hit by an injected fault; every kind occurred.
      expect(report.changesHit).toBeGreaterThanOrEqual(report.workload.total / 10);
      const kinds = ['http503', 'http429', 'http500', 'timeouts', 'importLineFailures', 'lostResponses'];
      for (const kind of [...kinds, 'downRejections', 'pollerCrashes', 'duplicateDeliveries']) {
        expect(report.faults[kind], kind).toBeGreaterThan(0);
      }
      // A writer crash on a message's last receive leaves it to SQS's redrive policy, which moves the
      // raw change message (no letter around it). Its changes converged anyway (nothing lost above).
      const lettered = report.deadLetters.filter((letter) => {
        if ('kind' in letter) return true;
        expect(letter).toMatchObject({ v: 1, changes: expect.any(Array) });
        return false;
      });
      // Only true poison is lettered (a poison change may be dead-lettered more than once: at-least-once).
      expect([...new Set(lettered.map(({ id }) => id))].sort()).toEqual([...report.poisonIds].sort());
      for (const letter of lettered) {
        expect(letter).toMatchObject({ kind: 'dead-letter', stage: 'writer', reason: { code: 400 } });
        expect(letter.reason.message).toContain('price');
      }
      expect(report.circuitOpenedDuringOutage).toBe(true);
    },
    300_000,
  );
});
