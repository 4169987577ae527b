import { describe, expect, it } from 'vitest';
import { formatChaosReport, runChaos } from '../../infra/local/chaos.ts';

const NO_FAULTS = {
  http503: 0,
  http429: 0,
  http500: 0,
  timeouts: 0,
  lines: 0,
  lostResponses: 0,
  crashes: 0,
  duplicates: 0,
};

describe('Typesense outage', () => {
  it('dead-letters nothing while Typesense is down for many receive cycles, reports the lag, and recovers fully', async () => {
    // 10 s down, messages retried every second, a receive limit of 3: a message caught by the outage
    // is received ~10 times, so without the requeue at the receive limit it would reach the DLQ. The
    // writer without a visibility lease and with 3 pollers: the limit leaves one spare receive, and on a
    // loaded 2-core machine the embedded SQS answers in ~300 ms on average with 16 pollers, so the chaos
    // runs' 1 s lease (half of it for a renewal to be sent and answered) lapses now and then, each lapse a
    // receive the writer never sees (bench/CONVERGENCE.md, "The lease by default"). The lease's own
    // convergence under an outage is test/chaos/chaos.test.ts's.
    const outageMs = 10_000;
    const report = await runChaos({
      seed: 11,
      keys: 60,
      ops: 540,
      rate: 60,
      outageMs,
      faultRates: NO_FAULTS,
      maxReceiveCount: 3,
      retryCapSeconds: 1,
      visibilityLeaseSeconds: 0,
      writerConcurrency: 3,
    });
    console.info(formatChaosReport(report));

    expect(report.deadLetters).toEqual([]);
    expect({ lost: report.lost, stale: report.stale, resurrected: report.resurrected }).toEqual({
      lost: [],
      stale: [],
      resurrected: [],
    });
    expect(report.indexDocuments).toBe(report.tableItems);
    expect(report.circuitOpenedDuringOutage).toBe(true);
    expect(report.faults.downRejections).toBeGreaterThan(0);
    // The lag figure kept growing through the outage instead of going blank.
    expect(report.maxPendingAgeDuringOutageMs).toBeGreaterThan(outageMs / 2);
  }, 300_000);
});
