import { describe, expect, it } from 'vitest';
import { ingestionDelayOfReading } from '../../functions/core/ingestion-delay.ts';
import {
  checkLag,
  type IndexLagPorts,
  type LagCheckPorts,
  type LagReading,
} from '../../functions/core/lag-check.ts';
import type { ResyncPhase, ResyncProgress } from '../../functions/core/resync.ts';

const START = 1_700_000_000_000;

type IndexOverrides = Partial<Omit<IndexLagPorts, 'alias'>> & { visibleAt?: number };

/**
 * Fake ports on a fake clock: sleeping moves time (sleeps begun at once, one per index, end at once); the
 * canary becomes searchable in an index at its `visibleAt`. `further` adds indexes after the first
 * (`products`), each with its own overrides. `writes` counts the canaries written.
 */
function fakePorts(
  overrides: Partial<Omit<LagCheckPorts, 'indexes'>> & IndexOverrides = {},
  further: Record<string, IndexOverrides> = {},
) {
  let now = START;
  let sentAt: number | undefined;
  let writes = 0;
  const { visibleAt, prepareCanary, readCanary, oldestMessageAgeMs, dlqDepth, resyncProgress, ...rest } =
    overrides;
  const indexPorts = (alias: string, index: IndexOverrides): IndexLagPorts => ({
    alias,
    prepareCanary: async () => undefined,
    readCanary: async () =>
      index.visibleAt !== undefined && now >= index.visibleAt ? sentAt : START - 60_000,
    oldestMessageAgeMs: async () => 0,
    dlqDepth: async () => 0,
    resyncProgress: async () => undefined,
    ...index,
  });
  const first = Object.fromEntries(
    Object.entries({
      visibleAt,
      prepareCanary,
      readCanary,
      oldestMessageAgeMs,
      dlqDepth,
      resyncProgress,
    }).filter(([, value]) => value !== undefined),
  ) as IndexOverrides;
  const ports: LagCheckPorts = {
    now: () => now,
    sleep: async (ms) => {
      const until = now + ms;
      await Promise.resolve();
      now = Math.max(now, until);
    },
    writeCanary: async (at) => {
      sentAt = at;
      writes += 1;
    },
    streamIteratorAgeMs: async () => 1_000,
    circuit: async () => 'closed',
    indexes: [
      indexPorts('products', first),
      ...Object.entries(further).map(([alias, index]) => indexPorts(alias, index)),
    ],
    ...rest,
  };
  return Object.assign(ports, { writes: () => writes });
}

const options = { canaryTimeoutMs: 5_000, pollIntervalMs: 100 };

describe('checkLag', () => {
  it('measures the canary from write to searchable and takes the largest backlog figure as the lag', async () => {
    const reading = await checkLag(fakePorts({ visibleAt: START + 1_500 }), options);
    expect(reading).toEqual({
      lagMs: 1_500,
      canaryDelayMs: 1_500,
      oldestPendingChangeAgeMs: 0,
      streamIteratorAgeMs: 1_000,
      dlqDepth: 0,
      circuit: 'closed',
      problems: [],
      measuredAt: new Date(START).toISOString(),
      indexes: [
        {
          alias: 'products',
          lagMs: 1_500,
          canaryDelayMs: 1_500,
          oldestPendingChangeAgeMs: 0,
          dlqDepth: 0,
          resync: 'none',
        },
      ],
    });
  });

  it('an older canary in the index does not count: it waits for the one it sent', async () => {
    // The index still holds the previous minute's canary until START + 800.
    const reading = await checkLag(fakePorts({ visibleAt: START + 800 }), options);
    expect(reading.canaryDelayMs).toBe(800);
  });

  it('a queue backlog older than the canary is the lag', async () => {
    const reading = await checkLag(
      fakePorts({ visibleAt: START + 300, oldestMessageAgeMs: async () => 90_000 }),
      options,
    );
    expect(reading.lagMs).toBe(90_000);
    expect(reading.oldestPendingChangeAgeMs).toBe(90_000);
  });

  it('a canary that never appears gives a lower bound of the lag and says so', async () => {
    const reading = await checkLag(fakePorts({ circuit: async () => 'open' }), options);
    expect(reading.canaryDelayMs).toBeNull();
    expect(reading.lagMs).toBe(5_000);
    expect(reading.circuit).toBe('open');
    expect(reading.problems).toEqual(['canary not searchable after 5 s']);
  });

  it('a canary it cannot write makes the lag unknown, with the reason, instead of throwing', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: dynamodb:PutItem'), {
      name: 'AccessDeniedException',
    });
    const reading = await checkLag(
      fakePorts({
        writeCanary: async () => {
          throw denied;
        },
      }),
      options,
    );
    expect(reading.lagMs).toBeNull();
    expect(reading.problems).toEqual([
      'lag unknown: cannot write the canary: User is not authorized to perform: dynamodb:PutItem',
    ]);
    // The other figures are still measured.
    expect(reading.streamIteratorAgeMs).toBe(1_000);
  });

  it('an unreachable index makes the lag unknown', async () => {
    const reading = await checkLag(
      fakePorts({
        readCanary: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:8108');
        },
      }),
      options,
    );
    expect(reading.lagMs).toBeNull();
    expect(reading.problems).toEqual([
      'lag unknown: cannot read the canary from the index: connect ECONNREFUSED 127.0.0.1:8108',
    ]);
  });

  it('a figure it cannot read is named and left out; the canary still gives the lag', async () => {
    const reading = await checkLag(
      fakePorts({
        visibleAt: START + 200,
        streamIteratorAgeMs: async () => {
          throw new Error('not authorized to perform: cloudwatch:GetMetricData');
        },
        dlqDepth: async () => {
          throw new Error('queue does not exist');
        },
      }),
      options,
    );
    expect(reading.lagMs).toBe(200);
    expect(reading.streamIteratorAgeMs).toBeNull();
    expect(reading.dlqDepth).toBeNull();
    expect(reading.problems.sort()).toEqual([
      'DLQ depth unknown: queue does not exist',
      'stream iterator age unknown: not authorized to perform: cloudwatch:GetMetricData',
    ]);
  });
});

describe('checkLag over several indexes', () => {
  it('writes the canary once, waits for it in every index and takes the slowest index as the lag', async () => {
    const ports = fakePorts(
      { visibleAt: START + 300, dlqDepth: async () => 1 },
      { orders: { visibleAt: START + 2_400, oldestMessageAgeMs: async () => 700, dlqDepth: async () => 2 } },
    );
    const reading = await checkLag(ports, options);
    expect(ports.writes()).toBe(1);
    expect(reading.problems).toEqual([]);
    expect(reading.indexes).toEqual([
      {
        alias: 'products',
        lagMs: 1_000,
        canaryDelayMs: 300,
        oldestPendingChangeAgeMs: 0,
        dlqDepth: 1,
        resync: 'none',
      },
      {
        alias: 'orders',
        lagMs: 2_400,
        canaryDelayMs: 2_400,
        oldestPendingChangeAgeMs: 700,
        dlqDepth: 2,
        resync: 'none',
      },
    ]);
    expect(reading).toMatchObject({
      lagMs: 2_400,
      canaryDelayMs: 2_400,
      oldestPendingChangeAgeMs: 700,
      dlqDepth: 3,
    });
  });

  it('an index the canary never reaches is reported as timed out, by name; the others are measured', async () => {
    const reading = await checkLag(
      fakePorts({ visibleAt: START + 200 }, { orders: {}, customers: { visibleAt: START + 600 } }),
      options,
    );
    expect(reading.problems).toEqual(['canary not searchable after 5 s (index orders)']);
    expect(reading.indexes?.map(({ alias, canaryDelayMs }) => [alias, canaryDelayMs])).toEqual([
      ['products', 200],
      ['orders', null],
      ['customers', 600],
    ]);
    // The headline is the timed-out index's lower bound: at least the timeout.
    expect(reading.lagMs).toBe(5_000);
    expect(reading.canaryDelayMs).toBeNull();
  });

  it('an unreachable index makes the lag unknown, naming it; the others still report theirs', async () => {
    const reading = await checkLag(
      fakePorts(
        { visibleAt: START + 200 },
        {
          orders: {
            prepareCanary: async () => {
              throw new Error('connect ECONNREFUSED');
            },
          },
        },
      ),
      options,
    );
    expect(reading.lagMs).toBeNull();
    expect(reading.problems).toEqual([
      'lag unknown: cannot prepare the canary collection: connect ECONNREFUSED (index orders)',
    ]);
    expect(reading.indexes?.map(({ alias, lagMs }) => [alias, lagMs])).toEqual([
      ['products', 1_000],
      ['orders', null],
    ]);
    // The endpoint names the step, never the error text.
    expect(ingestionDelayOfReading(reading, 0, START, 180_000)).toMatchObject({
      unknown: 'lag unknown: cannot prepare the canary collection (details in the lag-check function logs)',
    });
  });
});

/** A re-sync job's progress as `resyncProgress` reads it from an index's state table. */
const progress = (phase: ResyncPhase, progressAgeMs: number | undefined): ResyncProgress => ({
  job: {
    jobId: `job-${phase}`,
    alias: 'orders',
    collection: 'orders_v2',
    phase,
    trigger: 'operator',
    totalSegments: 8,
    startedAt: START - 3_600_000,
    updatedAt: START - 60_000,
  },
  segmentsDone: 3,
  scanned: 900,
  indexed: 800,
  skipped: 0,
  filtered: 0,
  itemsPerSecond: undefined,
  etaSeconds: undefined,
  rejections: [],
  waitingFor: 'segments 3/8 backfilling',
  progressAgeMs,
});

describe("checkLag: every index's re-sync", () => {
  it("reads each index's re-sync at once and reports it under its alias; an unreadable one hides nothing else", async () => {
    const started: string[] = [];
    const seenStarted: number[] = [];
    const resyncOf = (alias: string, read: () => Promise<ResyncProgress | undefined>) => async () => {
      started.push(alias);
      await Promise.resolve();
      seenStarted.push(started.length);
      return read();
    };
    const denied =
      'User: lagCheck is not authorized to perform: dynamodb:GetItem on resource: suppliers-state';
    const reading = await checkLag(
      fakePorts(
        { visibleAt: START + 200, resyncProgress: resyncOf('products', async () => undefined) },
        {
          orders: {
            visibleAt: START + 300,
            resyncProgress: resyncOf('orders', async () => progress('backfilling', 1_800_000)),
          },
          customers: {
            visibleAt: START + 400,
            resyncProgress: resyncOf('customers', async () => progress('failed', undefined)),
          },
          suppliers: {
            visibleAt: START + 500,
            resyncProgress: resyncOf('suppliers', async () => {
              throw new Error(denied);
            }),
          },
        },
      ),
      options,
    );
    // In parallel: every read had started before any went on.
    expect(seenStarted).toEqual([4, 4, 4, 4]);
    expect(reading.indexes?.map(({ alias, resync }) => [alias, resync])).toEqual([
      ['products', 'none'],
      [
        'orders',
        {
          jobId: 'job-backfilling',
          phase: 'backfilling',
          segmentsDone: 3,
          totalSegments: 8,
          indexed: 800,
          progressAgeMs: 1_800_000,
        },
      ],
      [
        'customers',
        { jobId: 'job-failed', phase: 'failed', segmentsDone: 3, totalSegments: 8, indexed: 800 },
      ],
      ['suppliers', 'unknown'],
    ]);
    expect(reading.problems).toEqual([`re-sync progress unknown: ${denied} (index suppliers)`]);
    // The failed read leaves every lag measured, the suppliers index's own included.
    expect(reading.indexes?.map(({ alias, lagMs }) => [alias, lagMs])).toEqual([
      ['products', 1_000],
      ['orders', 1_000],
      ['customers', 1_000],
      ['suppliers', 1_000],
    ]);
    expect(reading.lagMs).toBe(1_000);
    // The endpoint lists each index's re-sync too.
    expect(ingestionDelayOfReading(reading, 0, START, 180_000)).toMatchObject({
      indexes: [
        { alias: 'products', resync: 'none' },
        { alias: 'orders', resync: { phase: 'backfilling', progressAgeMs: 1_800_000 } },
        { alias: 'customers', resync: { phase: 'failed' } },
        { alias: 'suppliers', resync: 'unknown' },
      ],
    });
  });

  it('with one index, an unreadable re-sync is a problem as before, without an index name', async () => {
    const reading = await checkLag(
      fakePorts({
        visibleAt: START + 200,
        resyncProgress: async () => {
          throw new Error('ResourceNotFoundException');
        },
      }),
      options,
    );
    expect(reading.problems).toEqual(['re-sync progress unknown: ResourceNotFoundException']);
    expect(reading.lagMs).toBe(1_000);
    expect(reading.indexes?.[0]?.resync).toBe('unknown');
  });
});

describe('ingestionDelayOfReading (the deployed endpoint)', () => {
  const reading: LagReading = {
    lagMs: 1_200,
    canaryDelayMs: 1_200,
    oldestPendingChangeAgeMs: 300,
    streamIteratorAgeMs: 1_000,
    dlqDepth: 1,
    circuit: 'closed',
    problems: [],
    measuredAt: new Date(START).toISOString(),
  };
  const staleAfterMs = 180_000;

  it("with several indexes: the slowest index as the headline, the first index's live DLQ, each index listed", () => {
    const indexes = [
      { alias: 'customers', lagMs: 400, canaryDelayMs: 400, oldestPendingChangeAgeMs: 0, dlqDepth: 1 },
      { alias: 'orders', lagMs: 1_200, canaryDelayMs: 1_200, oldestPendingChangeAgeMs: 300, dlqDepth: 4 },
    ];
    const several = { ...reading, dlqDepth: 5, indexes };
    expect(ingestionDelayOfReading(several, undefined, START + 1_000, staleAfterMs)).toEqual({
      lagMs: 1_200,
      oldestPendingChangeAgeMs: 300,
      dlqDepth: 1,
      circuit: 'closed',
      measuredAt: new Date(START).toISOString(),
      indexes: [
        { alias: 'customers', lagMs: 400, oldestPendingChangeAgeMs: 0, dlqDepth: 1 },
        { alias: 'orders', lagMs: 1_200, oldestPendingChangeAgeMs: 300, dlqDepth: 4 },
      ],
    });
    // One index: no list, as before.
    expect(
      ingestionDelayOfReading({ ...reading, indexes: indexes.slice(0, 1) }, 0, START + 1_000, staleAfterMs),
    ).not.toHaveProperty('indexes');
  });

  it('answers the latest reading with the live DLQ depth', () => {
    expect(ingestionDelayOfReading(reading, 4, START + 30_000, staleAfterMs)).toEqual({
      lagMs: 1_200,
      oldestPendingChangeAgeMs: 300,
      dlqDepth: 4,
      circuit: 'closed',
      measuredAt: reading.measuredAt,
    });
    expect(ingestionDelayOfReading(reading, undefined, START, staleAfterMs)).toMatchObject({ dlqDepth: 1 });
  });

  it('a stale or missing reading is an unknown lag, never an old figure', () => {
    expect(ingestionDelayOfReading(reading, 0, START + 200_000, staleAfterMs)).toEqual({
      unknown: `lag unknown: the lag check last reported 200 s ago (at ${reading.measuredAt})`,
    });
    expect(ingestionDelayOfReading(undefined, 0, START, staleAfterMs)).toEqual({
      unknown: 'lag unknown: the lag check has not reported yet',
    });
  });

  it('a reading without a lag figure says which step failed; the error text only goes to the log', () => {
    const unknown = { ...reading, lagMs: null, problems: ['lag unknown: cannot write the canary: denied'] };
    expect(ingestionDelayOfReading(unknown, 0, START, staleAfterMs)).toEqual({
      unknown: 'lag unknown: cannot write the canary (details in the lag-check function logs)',
      detail: 'lag unknown: cannot write the canary: denied',
    });
    const other = { ...reading, lagMs: null, problems: ['DLQ depth unknown: timeout'] };
    expect(ingestionDelayOfReading(other, 0, START, staleAfterMs)).toEqual({
      unknown: 'lag unknown (details in the lag-check function logs)',
      detail: 'DLQ depth unknown: timeout',
    });
  });
});
