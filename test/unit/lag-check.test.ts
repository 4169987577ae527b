import { describe, expect, it } from 'vitest';
import { ingestionDelayOfReading } from '../../functions/core/ingestion-delay.ts';
import { checkLag, type LagCheckPorts, type LagReading } from '../../functions/core/lag-check.ts';

const START = 1_700_000_000_000;

/** Fake ports on a fake clock: sleeping moves time; the canary becomes searchable at `visibleAt`. */
function fakePorts(overrides: Partial<LagCheckPorts> & { visibleAt?: number } = {}) {
  let now = START;
  let sentAt: number | undefined;
  const { visibleAt, ...rest } = overrides;
  const ports: LagCheckPorts = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    prepareCanary: async () => undefined,
    writeCanary: async (at) => {
      sentAt = at;
    },
    readCanary: async () => (visibleAt !== undefined && now >= visibleAt ? sentAt : START - 60_000),
    streamIteratorAgeMs: async () => 1_000,
    oldestMessageAgeMs: async () => 0,
    dlqDepth: async () => 0,
    circuit: async () => 'closed',
    ...rest,
  };
  return ports;
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
