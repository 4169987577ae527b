import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IndexLagReading, LagReading, ResyncReading } from '../../functions/core/lag-check.ts';
import type { ResyncPhase } from '../../functions/core/resync.ts';
import { type BatcherSummary, oneQueuePorts } from '../../functions/core/stream-batch.ts';
import type { WriterSummary } from '../../functions/core/write-batch.ts';
import { batcherConfigSchema, parseConfig, writerConfigSchema } from '../../functions/shared/config.ts';
import {
  addBatcherMetrics,
  addIndexLagMetrics,
  addLagMetrics,
  addWriterMetrics,
  createMetrics,
  DEFAULT_METRICS_NAMESPACE,
  METRIC,
} from '../../functions/shared/metrics.ts';
import { captureEmf, definitionsOf, type EmfRecord, parsed, valuesOf } from '../helpers/emf.ts';
import { change, sqsRecord } from '../helpers/factories.ts';
import { streamRecords } from '../helpers/fixtures.ts';

function writerSummary(overrides: Partial<WriterSummary> = {}): WriterSummary {
  return {
    messages: 4,
    changes: 9,
    upserted: 5,
    deleted: 2,
    deadLettered: 1,
    retrying: 2,
    requeued: 3,
    circuit: 'closed',
    maxIngestionDelayMs: 900,
    ingestionDelaysMs: [120, 900, 45, 300, 300, 61, 7],
    ...overrides,
  };
}

beforeEach(() => {
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', undefined);
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'typesense-sync-writer');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('addWriterMetrics', () => {
  it('emits every writer metric with its unit, under the namespace and the service dimension', () => {
    const emf = captureEmf();
    const metrics = createMetrics();
    addWriterMetrics(metrics, writerSummary());
    metrics.publishStoredMetrics();

    const [record, ...more] = emf.records();
    expect(more).toEqual([]);
    expect(record?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: DEFAULT_METRICS_NAMESPACE,
        Dimensions: [['service']],
        Metrics: expect.any(Array),
      },
    ]);
    expect(record?.service).toBe('typesense-sync-writer');
    expect(new Set(definitionsOf(record as EmfRecord))).toEqual(
      new Set([
        { Name: 'IngestionDelay', Unit: 'Milliseconds' },
        { Name: 'ChangesApplied', Unit: 'Count' },
        { Name: 'Retries', Unit: 'Count' },
        { Name: 'DeadLetters', Unit: 'Count' },
        { Name: 'Requeued', Unit: 'Count' },
        { Name: 'CircuitOpen', Unit: 'Count' },
      ]),
    );
    expect(record).toMatchObject({
      IngestionDelay: [120, 900, 45, 300, 300, 61, 7],
      ChangesApplied: 7,
      Retries: 2,
      DeadLetters: 1,
      Requeued: 3,
      CircuitOpen: 0,
    });
  });

  it('takes the namespace from POWERTOOLS_METRICS_NAMESPACE when it is set', () => {
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'Shop/Search');
    const emf = captureEmf();
    const metrics = createMetrics();
    addWriterMetrics(metrics, writerSummary());
    metrics.publishStoredMetrics();
    expect(emf.records().map((record) => record._aws.CloudWatchMetrics[0]?.Namespace)).toEqual([
      'Shop/Search',
    ]);
  });

  it('reads the namespace and service from the environment it is given (a handler built from config)', () => {
    const emf = captureEmf();
    const metrics = createMetrics({
      POWERTOOLS_METRICS_NAMESPACE: 'Shop/Orders',
      POWERTOOLS_SERVICE_NAME: 'Stack-SyncB-writer',
    });
    addWriterMetrics(metrics, writerSummary());
    metrics.publishStoredMetrics();
    const [record] = emf.records();
    expect(record?._aws.CloudWatchMetrics[0]?.Namespace).toBe('Shop/Orders');
    expect(record?.service).toBe('Stack-SyncB-writer');
  });

  it('reports an open circuit as CircuitOpen 1, and no delay values when nothing was applied', () => {
    const emf = captureEmf();
    const metrics = createMetrics();
    addWriterMetrics(
      metrics,
      writerSummary({
        circuit: 'open',
        upserted: 0,
        deleted: 0,
        maxIngestionDelayMs: undefined,
        ingestionDelaysMs: [],
      }),
    );
    metrics.publishStoredMetrics();
    const records = emf.records();
    expect(valuesOf(records, METRIC.circuitOpen)).toEqual([1]);
    expect(valuesOf(records, METRIC.changesApplied)).toEqual([0]);
    expect(valuesOf(records, METRIC.ingestionDelay)).toEqual([]);
  });

  it.each([
    { applied: 1, records: 1 },
    { applied: 100, records: 2 },
    { applied: 250, records: 3 },
  ])('publishes all $applied delay values in records of at most 100 ($records records)', (scenario) => {
    const delays = Array.from({ length: scenario.applied }, (_, index) => 1_000 + index);
    const emf = captureEmf();
    const metrics = createMetrics();
    addWriterMetrics(
      metrics,
      writerSummary({ upserted: scenario.applied, deleted: 0, ingestionDelaysMs: delays }),
    );
    metrics.publishStoredMetrics();

    const records = emf.records();
    expect(records).toHaveLength(scenario.records);
    expect(valuesOf(records, METRIC.ingestionDelay)).toEqual(delays);
    for (const record of records) {
      expect(valuesOf([record], METRIC.ingestionDelay).length).toBeLessThanOrEqual(100);
      expect(record.service).toBe('typesense-sync-writer');
      for (const { Name } of definitionsOf(record)) expect(record).toHaveProperty(Name);
    }
    // The counts are emitted once per invocation, whatever the number of records.
    expect(valuesOf(records, METRIC.changesApplied)).toEqual([scenario.applied]);
    // The final flush is never empty: powertools warns about an empty one.
    expect(emf.warn).not.toHaveBeenCalled();
  });
});

describe('addBatcherMetrics', () => {
  it('emits records, queued changes and dead letters as counts', () => {
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'typesense-sync-batcher');
    const emf = captureEmf();
    const metrics = createMetrics();
    const summary: BatcherSummary = {
      records: 12,
      changes: 9,
      messages: 3,
      deadLettered: 2,
      failedChanges: 4,
    };
    addBatcherMetrics(metrics, summary);
    metrics.publishStoredMetrics();

    const [record, ...more] = emf.records();
    expect(more).toEqual([]);
    expect(record?.service).toBe('typesense-sync-batcher');
    expect(record?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    expect(new Set(definitionsOf(record as EmfRecord))).toEqual(
      new Set([
        { Name: 'StreamRecords', Unit: 'Count' },
        { Name: 'ChangesQueued', Unit: 'Count' },
        { Name: 'DeadLetters', Unit: 'Count' },
      ]),
    );
    // Changes whose message SQS refused are replayed with their records, and counted then.
    expect(record).toMatchObject({ StreamRecords: 12, ChangesQueued: 5, DeadLetters: 2 });
  });
});

describe('addLagMetrics: the re-sync progress age', () => {
  const reading: LagReading = {
    lagMs: 500,
    canaryDelayMs: 500,
    oldestPendingChangeAgeMs: null,
    streamIteratorAgeMs: 0,
    dlqDepth: 0,
    circuit: 'closed',
    problems: [],
    measuredAt: '2026-11-30T12:00:00.000Z',
  };
  const progress = (phase: ResyncPhase, progressAgeMs: number | undefined): ResyncReading => ({
    jobId: 'job',
    phase,
    totalSegments: 8,
    segmentsDone: 3,
    indexed: 1_000,
    ...(progressAgeMs !== undefined && { progressAgeMs }),
  });
  /** The reading with the first index's re-sync as the lag check read it. */
  const withResync = (resync: IndexLagReading['resync']): LagReading => ({
    ...reading,
    indexes: [
      {
        alias: 'products',
        lagMs: 500,
        canaryDelayMs: 500,
        oldestPendingChangeAgeMs: null,
        dlqDepth: 0,
        resync,
      },
    ],
  });
  const emitted = (resync: IndexLagReading['resync']) => {
    const emf = captureEmf();
    const metrics = createMetrics();
    addLagMetrics(metrics, withResync(resync));
    metrics.publishStoredMetrics();
    const records = emf.records();
    return {
      values: valuesOf(records, METRIC.resyncProgressAge),
      definitions: records.flatMap(definitionsOf).filter(({ Name }) => Name === METRIC.resyncProgressAge),
    };
  };

  it('emits ResyncProgressAgeMs (milliseconds) while a re-sync is unfinished, in every unfinished phase', () => {
    for (const phase of ['backfilling', 'finishing', 'swapping'] as const) {
      const { values, definitions } = emitted(progress(phase, 95_000));
      expect(values).toEqual([95_000]);
      expect(definitions).toEqual([{ Name: 'ResyncProgressAgeMs', Unit: 'Milliseconds' }]);
      vi.restoreAllMocks();
    }
  });

  it('emits it for a finished job that still holds the active pointer (every later re-sync is refused)', () => {
    expect(emitted(progress('done', 120_000)).values).toEqual([120_000]);
  });

  it('leaves it out when no re-sync runs, its state is unknown, or the last one finished', () => {
    expect(emitted(undefined).values).toEqual([]);
    expect(emitted('none').values).toEqual([]);
    expect(emitted('unknown').values).toEqual([]);
    expect(emitted(progress('done', undefined)).values).toEqual([]);
  });

  it('emits ResyncFailed 1 while the latest job failed, 0 for any other job, and nothing without a job', () => {
    const failed = (resync: IndexLagReading['resync']) => {
      const emf = captureEmf();
      const metrics = createMetrics();
      addLagMetrics(metrics, withResync(resync));
      metrics.publishStoredMetrics();
      return valuesOf(emf.records(), METRIC.resyncFailed);
    };
    expect(failed(progress('failed', undefined))).toEqual([1]);
    vi.restoreAllMocks();
    for (const phase of ['backfilling', 'done', 'cancelled'] as const) {
      expect(failed(progress(phase, undefined))).toEqual([0]);
      vi.restoreAllMocks();
    }
    expect(failed('none')).toEqual([]);
    expect(failed('unknown')).toEqual([]);
  });
});

describe("addIndexLagMetrics: each index's lag", () => {
  const reading: LagReading = {
    lagMs: 2_400,
    canaryDelayMs: null,
    oldestPendingChangeAgeMs: 0,
    streamIteratorAgeMs: 0,
    dlqDepth: 0,
    circuit: 'closed',
    problems: ['lag unknown: cannot read the canary from the index: timeout (index customers)'],
    measuredAt: '2026-11-30T12:00:00.000Z',
    indexes: [
      { alias: 'products', lagMs: 300, canaryDelayMs: 300, oldestPendingChangeAgeMs: 0, dlqDepth: 0 },
      { alias: 'orders', lagMs: 2_400, canaryDelayMs: 2_400, oldestPendingChangeAgeMs: 0, dlqDepth: 0 },
      { alias: 'customers', lagMs: null, canaryDelayMs: null, oldestPendingChangeAgeMs: null, dlqDepth: 0 },
    ],
  };

  it('publishes SyncLagMs per index under service and Index, leaving out an unknown one', () => {
    const emf = captureEmf();
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'shop-lag-check');
    addIndexLagMetrics(createMetrics(), reading);
    const records = emf.records();
    expect(records.map((record) => [record.Index, record.service, record[METRIC.syncLag]])).toEqual([
      ['products', 'shop-lag-check', 300],
      ['orders', 'shop-lag-check', 2_400],
    ]);
    expect(records.map((record) => record._aws.CloudWatchMetrics[0]?.Dimensions)).toEqual([
      [['service', 'Index']],
      [['service', 'Index']],
    ]);
  });

  it("publishes each index's re-sync figures under service and Index, as the first index's headline ones", () => {
    const emf = captureEmf();
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'shop-lag-check');
    const resyncs: IndexLagReading['resync'][] = [
      'none',
      {
        jobId: 'j1',
        phase: 'backfilling',
        segmentsDone: 2,
        totalSegments: 8,
        indexed: 500,
        progressAgeMs: 1_900_000,
      },
      { jobId: 'j2', phase: 'failed', segmentsDone: 8, totalSegments: 8, indexed: 40 },
    ];
    addIndexLagMetrics(createMetrics(), {
      ...reading,
      indexes: reading.indexes?.map((index, position) => ({ ...index, resync: resyncs[position] })),
    });
    const records = emf.records();
    const figures = (alias: string) =>
      Object.fromEntries(
        records
          .filter((record) => record.Index === alias)
          .flatMap((record) =>
            (record._aws.CloudWatchMetrics[0]?.Metrics ?? []).map(({ Name }) => [Name, record[Name]]),
          ),
      );
    expect(figures('products')).toEqual({ [METRIC.syncLag]: 300, [METRIC.resyncActive]: 0 });
    expect(figures('orders')).toEqual({
      [METRIC.syncLag]: 2_400,
      [METRIC.resyncActive]: 1,
      [METRIC.resyncSegmentsDone]: 2,
      [METRIC.resyncSegmentsTotal]: 8,
      [METRIC.resyncItemsIndexed]: 500,
      [METRIC.resyncFailed]: 0,
      [METRIC.resyncProgressAge]: 1_900_000,
    });
    // An index whose lag is unknown still reports its re-sync: a failed one is what its alarm watches.
    expect(figures('customers')).toEqual({ [METRIC.resyncActive]: 0, [METRIC.resyncFailed]: 1 });
    expect(
      new Set(
        records.map((record) =>
          JSON.stringify([record.service, record._aws.CloudWatchMetrics[0]?.Dimensions]),
        ),
      ),
    ).toEqual(new Set([JSON.stringify(['shop-lag-check', [['service', 'Index']]])]));
  });

  it('publishes nothing for a table with one index: the headline is its lag', () => {
    const emf = captureEmf();
    addIndexLagMetrics(createMetrics(), { ...reading, indexes: reading.indexes?.slice(0, 1) });
    expect(emf.records()).toEqual([]);
  });
});

const lambdaContext = (functionName: string): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: '2024/01/01/[$LATEST]abcdef',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/** The handlers' variables; their configs are parsed from these and they are given fake adapters. */
const HANDLER_VARS = {
  QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo',
  DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo',
  QUEUES: JSON.stringify([
    {
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo',
      deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo',
    },
  ]),
  TABLE_NAME: 'orders',
  KEY_ATTRIBUTES: 'pk',
  TYPESENSE_NODES: 'http://127.0.0.1:9',
  TYPESENSE_API_KEY: 'test-key',
  TYPESENSE_COLLECTION: 'orders',
};

describe('the handlers', () => {
  it('the writer flushes its metrics at the end of the invocation and logs no per-change delays', async () => {
    const emf = captureEmf();
    const { createWriterHandler } = await import('../../functions/writer/handler.ts');
    const now = 1_700_000_010_000;
    const ids = Array.from({ length: 150 }, (_, index) => `order-${index}`);
    const handler = createWriterHandler(parseConfig(writerConfigSchema, HANDLER_VARS), {
      readItems: async () => ids.map((id) => ({ pk: { S: id } })),
      importDocuments: async (lines: string[]) => lines.map(() => ({ success: true as const })),
      deleteDocuments: async (deleted: string[]) => deleted.length,
      sendDeadLetters: async () => undefined,
      now: () => now,
    });
    const records = [0, 1].map((part) =>
      sqsRecord({
        messageId: `m${part}`,
        groupId: `g${part}`,
        changes: ids
          .slice(part * 75, (part + 1) * 75)
          .map((id, index) => change(id, { sourceTs: now - 1_000 - part * 75 - index })),
      }),
    );

    const response = await handler({ Records: records }, lambdaContext('typesense-sync-writer'));

    expect(response.batchItemFailures).toEqual([]);
    const published = emf.records();
    expect(valuesOf(published, METRIC.ingestionDelay).toSorted((a, b) => a - b)).toEqual(
      ids.map((_, index) => 1_000 + index),
    );
    expect(valuesOf(published, METRIC.changesApplied)).toEqual([150]);
    expect(published.every((record) => record.service === 'typesense-sync-writer')).toBe(true);

    const logged = emf.info.mock.calls.map(
      ([line]) => parsed(line) as { message?: string; summary?: object },
    );
    const applied = logged.find(({ message }) => message === 'change batch applied');
    expect(applied?.summary).toMatchObject({ upserted: 150, maxIngestionDelayMs: 1_149 });
    expect(applied?.summary).not.toHaveProperty('ingestionDelaysMs');
  });

  it('the batcher flushes its metrics at the end of the invocation', async () => {
    const emf = captureEmf();
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'typesense-sync-batcher');
    const { createBatcherHandler } = await import('../../functions/batcher/handler.ts');
    const handler = createBatcherHandler(
      parseConfig(batcherConfigSchema, HANDLER_VARS),
      oneQueuePorts({
        sendMessages: async () => [],
        sendDeadLetters: async () => undefined,
        now: Date.now,
      }),
    );
    const records = streamRecords('dynamodb-stream-insert-modify-remove.json');

    await handler({ Records: records }, lambdaContext('typesense-sync-batcher'));

    const published = emf.records();
    expect(published).toHaveLength(1);
    expect(published[0]?.service).toBe('typesense-sync-batcher');
    expect(valuesOf(published, METRIC.streamRecords)).toEqual([3]);
    // order-1 changed twice: its two records coalesce into one queued change.
    expect(valuesOf(published, METRIC.changesQueued)).toEqual([2]);
    expect(valuesOf(published, METRIC.deadLetters)).toEqual([0]);
  });
});
