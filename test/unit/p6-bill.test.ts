import { describe, expect, it } from 'vitest';
import { PRICES, total } from '../../bench/cost-model.ts';
import { billOf, comparisonOf, durationMs, type P6Inputs } from '../../bench/p6-bill.ts';
import type { WriterCounts } from '../../bench/p6-counts.ts';

const emf = (names: string[], records = 10, bytes = 5_000) => ({ names, records, bytes });

/** Round figures, so every expected number below can be worked out by hand. */
const run: WriterCounts = {
  changes: 100_000,
  batcherInvocations: 100,
  sendBatches: 100,
  messages: 500,
  // Fewer than P1's 500 per 1M would give: I/O is priced per change, at P1's changes per invocation.
  writerInvocations: 40,
  keysRead: 90_000,
  keysMissing: 5_000,
  batchGetCalls: 200,
  readUnits: 90_000,
  meanItemBytes: 2_048,
  typesenseImports: 50,
  importedDocuments: 100_000,
  typesenseDeletes: 50,
  naiveTypesenseRequests: 100_000,
  cpuMicrosPerChange: { oursBatcher: 5, oursWriter: 50, naiveBatcher: 100, naiveWriter: 40 },
  batcherEmf: emf(['A', 'B']),
  writerEmf: emf(['C', 'D', 'E']),
  batcherSummaryBytes: 200,
  writerSummaryBytes: 400,
};

const inputs: P6Inputs = {
  p1: {
    changes: 1_000_000,
    scale: 1,
    invocations: 1_000,
    rows: [
      { variant: 'ours', sendChunks: 2_000, receiveChunks: 1_500, deletes: 500, leases: 500, receives: 500 },
      { variant: 'bound', sendChunks: 0, receiveChunks: 0, deletes: 0, leases: 0, receives: 0 },
      {
        variant: 'naive',
        sendChunks: 1_000_000,
        receiveChunks: 100_000,
        deletes: 100_000,
        leases: 0,
        receives: 100_000,
      },
    ],
  },
  run,
  facts: {
    functions: [
      { id: 'B', role: 'batcher', memoryMb: 512, architecture: 'arm64' },
      { id: 'W', role: 'writer', memoryMb: 512, architecture: 'arm64' },
      { id: 'L', role: 'lagCheck', memoryMb: 512, architecture: 'arm64' },
    ],
    alarms: [
      { id: 'a1', metrics: 1, highResolution: false },
      { id: 'a2', metrics: 3, highResolution: false },
      { id: 'a3', metrics: 2, highResolution: true },
    ],
    dashboards: 1,
    kmsKeys: 0,
    functionUrls: 1,
    schedules: [{ id: 'Every', role: 'lagCheck', seconds: 60 }],
    sqsEventSources: { fifo: 1, standard: 1 },
    tableBillingMode: 'PAY_PER_REQUEST',
  },
  lagEmf: emf(['F', 'G', 'H', 'I']),
};

const byItem = (lines: ReturnType<typeof billOf>['ours'], start: string) => {
  const found = lines.find((entry) => entry.item.startsWith(start));
  if (found === undefined) throw new Error(`no line starting ${start}`);
  return found;
};

describe('P6 bill: from measured counts to dollars', () => {
  const bill = billOf(inputs);

  it('bills P1’s SQS requests (send and receive chunks, deletes, the writer’s leases) at the FIFO price', () => {
    const sqs = byItem(bill.ours, 'SQS FIFO billed');
    expect(sqs.count).toBe(4_500);
    expect(sqs.usd).toBeCloseTo(0.00225, 12);
    expect(byItem(bill.naive, 'SQS FIFO billed').usd).toBeCloseTo(0.6, 12);
  });

  it('spreads the run’s CPU per change over P1’s invocations, scales it to the memory’s vCPU share and adds the I/O', () => {
    // Batcher: 5 µs × 1M ÷ 1,000 invocations = 5 ms of CPU, × 1,769/512, + one 20 ms send round.
    expect(bill.cpuMs.batcher).toBeCloseTo(5, 9);
    expect(bill.durations.batcher).toBeCloseTo(5 * (1_769 / 512) + 20, 9);
    // Writer: 50 µs × 1M ÷ 500 = 100 ms of CPU; I/O = the lease's 20 ms round + 4 sequential BatchGetItem
    // × 10 ms + 30 ms + 2,000 documents × 0.1 ms.
    expect(bill.cpuMs.writer).toBeCloseTo(100, 9);
    expect(bill.ioMs.writer).toBeCloseTo(20 + 40 + 30 + 200, 9);
    expect(bill.durations.writer).toBeCloseTo(100 * (1_769 / 512) + 290, 9);
    // Billed per invocation rounded up to 1 ms: 636 ms × 0.5 GB × 500 invocations = 159 GB-s.
    const writerGbs = byItem(bill.ours, 'Lambda GB-s: writer');
    expect(writerGbs.count).toBeCloseTo(159, 9);
    expect(writerGbs.usd).toBeCloseTo(159 * PRICES.lambdaArmGbSecond.usd, 12);
  });

  it('gives no more CPU than one vCPU at or above 1,769 MB', () => {
    expect(durationMs(10, 1_769, 0)).toBe(10);
    expect(durationMs(10, 3_538, 0)).toBe(10);
    expect(durationMs(10, 884.5, 5)).toBe(25);
  });

  it('scales the run’s read units to 1M changes and adds one pointer read per writer invocation', () => {
    expect(byItem(bill.ours, "DynamoDB RRU: writer's consistent").count).toBe(900_000);
    expect(byItem(bill.ours, "DynamoDB RRU: writer's re-sync pointer").count).toBe(500);
    expect(byItem(bill.ours, 'DynamoDB Streams').usd).toBe(0);
  });

  it('counts one custom metric per EMF name and service, alarm metrics by resolution, and the schedule’s runs', () => {
    expect(byItem(bill.idle, 'CloudWatch custom metrics').count).toBe(2 + 3 + 4);
    expect(byItem(bill.idle, 'CloudWatch alarms, standard').count).toBe(4);
    expect(byItem(bill.idle, 'CloudWatch alarms, high').count).toBe(2);
    expect(byItem(bill.idle, 'Lambda requests: lag check').count).toBe(43_200);
    expect(byItem(bill.idle, 'SQS idle long polls: 1 FIFO').count).toBe(5 * 129_600);
  });

  it('names where every count comes from, and totals what its lines cost', () => {
    for (const entry of [...bill.ours, ...bill.naive, ...bill.idle])
      expect(entry.from.length).toBeGreaterThan(0);
    const comparison = comparisonOf(bill, run.meanItemBytes);
    expect(comparison.perMillion).toBeCloseTo(
      bill.ours.reduce((sum, entry) => sum + entry.usd, 0),
      12,
    );
    // Break-even: the changes a month whose cost plus the idle month equals the OCU minimum.
    const ocuMonth = 0.24 * 730;
    expect(comparison.breakEvenMillions(1) * comparison.perMillion + total(bill.idle)).toBeCloseTo(
      ocuMonth,
      6,
    );
    // A consistent Scan of 1M items of 2,048 B: the pages summed, then 4 KB per unit.
    expect(comparison.resyncReadUnits).toBe(500_000);
  });

  it('rejects P1 figures without the ours and naive rows', () => {
    expect(() => billOf({ ...inputs, p1: { ...inputs.p1, rows: [] } })).toThrow(/ours\/naive rows/);
  });
});
