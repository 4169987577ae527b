import { describe, expect, it } from 'vitest';
import {
  atlasIngestEnvironment,
  batcherEnvironment,
  ingestionDelayEnvironment,
  lagCheckEnvironment,
  resyncEnvironment,
  writerEnvironment,
} from '../../functions/contract/env-builders.ts';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import {
  atlasIngestConfigSchema,
  batcherConfigSchema,
  ingestionDelayConfigSchema,
  lagCheckConfigSchema,
  parseConfig,
  resyncConfigSchema,
  writerConfigSchema,
} from '../../functions/shared/config.ts';

/**
 * The env builders are the contract's compile-time half: `tsc --noEmit` (npm run typecheck) compiles this file,
 * and each `@ts-expect-error` below fails the typecheck if its builder stopped rejecting a missing or misspelt
 * variable. The runtime half: what a builder writes, the function's config parser reads back.
 */

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo';
const RESYNC_QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/resync';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ts-key-AbCdEf';
const typesense = {
  TYPESENSE_NODES: ['https://a.typesense.net:443', 'https://b.typesense.net:443'],
  TYPESENSE_API_KEY_SECRET_ARN: SECRET_ARN,
  TYPESENSE_COLLECTION: 'orders',
  KEY_ATTRIBUTES: ['pk', 'sk'],
  PROJECTION: { include: ['title', 'price'] },
};

describe('env builders: compile-time contract', () => {
  it('rejects a missing and a misspelt variable (tsc)', () => {
    // Each call throws at run time only because the parser sees the gap too; tsc rejects it first.
    const parse = (build: () => Record<string, string>) => () => parseConfig(writerConfigSchema, build());
    expect(
      parse(() =>
        // @ts-expect-error MAX_RECEIVE_COUNT is missing: the writer must agree with the queue's redrive policy.
        writerEnvironment({
          ...typesense,
          TABLE_NAME: 'orders',
          QUEUE_URL,
          DLQ_URL,
          MAX_MESSAGE_BYTES: 262_144,
        }),
      ),
    ).not.toThrow();
    expect(
      parse(() =>
        writerEnvironment({
          ...typesense,
          TABLE_NAME: 'orders',
          QUEUE_URL,
          // @ts-expect-error DLQ_ULR is misspelt (DLQ_URL).
          DLQ_ULR: DLQ_URL,
          MAX_RECEIVE_COUNT: 10,
          MAX_MESSAGE_BYTES: 262_144,
        }),
      ),
    ).toThrow(/DLQ_URL: Required/);
    expect(() =>
      parseConfig(
        batcherConfigSchema,
        // @ts-expect-error KEY_ATTRIBUTES is missing, which the batcher cannot run without.
        batcherEnvironment({
          QUEUES: [{ queueUrl: QUEUE_URL, deadLetterQueueUrl: DLQ_URL }],
          DLQ_URL,
          MESSAGE_GROUP_BUCKETS: 16,
          MAX_MESSAGE_BYTES: 262_144,
        }),
      ),
    ).toThrow(/KEY_ATTRIBUTES: Required/);
    expect(() =>
      parseConfig(
        ingestionDelayConfigSchema,
        // @ts-expect-error RESYNC_STATE_TABL is misspelt (RESYNC_STATE_TABLE).
        ingestionDelayEnvironment({ RESYNC_STATE_TABL: 'state', DLQ_URL, LAG_CHECK_INTERVAL_SECONDS: 60 }),
      ),
    ).toThrow(/RESYNC_STATE_TABLE: Required/);
    // And one API key source is required, not optional.
    // @ts-expect-error neither TYPESENSE_API_KEY_SECRET_ARN nor TYPESENSE_API_KEY
    lagCheckEnvironment({
      TYPESENSE_NODES: typesense.TYPESENSE_NODES,
      TYPESENSE_COLLECTION: 'orders',
      KEY_ATTRIBUTES: ['pk'],
      TABLE_NAME: 'orders',
      RESYNC_STATE_TABLE: 'state',
      QUEUE_URL,
      DLQ_URL,
      BATCHER_FUNCTION_NAME: 'batcher',
      WRITER_SERVICE_NAME: 'writer',
    });
  });
});

describe('env builders: what they write, the functions read', () => {
  it('batcher', () => {
    const QUEUES = [
      { queueUrl: QUEUE_URL, deadLetterQueueUrl: DLQ_URL },
      { queueUrl: `${QUEUE_URL}2`, deadLetterQueueUrl: `${DLQ_URL}2`, keyAttributes: ['pk'] },
    ];
    const env = batcherEnvironment({
      QUEUES,
      DLQ_URL,
      KEY_ATTRIBUTES: ['pk', 'sk'],
      MESSAGE_GROUP_BUCKETS: 64,
      MAX_MESSAGE_BYTES: 1_048_576,
      SOURCE_TIMESTAMP_ATTRIBUTE: undefined,
      POWERTOOLS_METRICS_NAMESPACE: 'Orders',
    });
    // Unset variables are left out rather than written as 'undefined'; the queues are JSON.
    expect(env).not.toHaveProperty('SOURCE_TIMESTAMP_ATTRIBUTE');
    expect(parseConfig(batcherConfigSchema, env)).toEqual({
      QUEUES,
      DLQ_URL,
      KEY_ATTRIBUTES: ['pk', 'sk'],
      MESSAGE_GROUP_BUCKETS: 64,
      MAX_MESSAGE_BYTES: 1_048_576,
    });
  });

  it('writer: lists comma-separated, the projection as JSON, numbers in decimal', () => {
    const env = writerEnvironment({
      ...typesense,
      TABLE_NAME: 'orders',
      QUEUE_URL,
      DLQ_URL,
      MAX_RECEIVE_COUNT: 12,
      MAX_MESSAGE_BYTES: 524_288,
      RETRY_MAX_SECONDS: 600,
      CIRCUIT_FAILURE_THRESHOLD: '5',
      RESYNC_STATE_TABLE: 'state',
    });
    expect(env).toMatchObject({
      TYPESENSE_NODES: 'https://a.typesense.net:443,https://b.typesense.net:443',
      KEY_ATTRIBUTES: 'pk,sk',
      PROJECTION: '{"include":["title","price"]}',
      MAX_RECEIVE_COUNT: '12',
    });
    expect(parseConfig(writerConfigSchema, env)).toMatchObject({
      TYPESENSE_NODES: typesense.TYPESENSE_NODES,
      TYPESENSE_API_KEY_SECRET_ARN: SECRET_ARN,
      TYPESENSE_COLLECTION: 'orders',
      KEY_ATTRIBUTES: ['pk', 'sk'],
      PROJECTION: { include: ['title', 'price'] },
      TABLE_NAME: 'orders',
      MAX_RECEIVE_COUNT: 12,
      MAX_MESSAGE_BYTES: 524_288,
      RETRY_MAX_SECONDS: 600,
      RETRY_BASE_SECONDS: DEFAULTS.retryBaseSeconds,
      CIRCUIT_FAILURE_THRESHOLD: 5,
      RESYNC_STATE_TABLE: 'state',
    });
  });

  it('re-sync, with a local stack key and a collection schema', () => {
    const schema = { fields: [{ name: 'title', type: 'string' }], default_sorting_field: '' };
    const env = resyncEnvironment({
      ...typesense,
      TYPESENSE_API_KEY_SECRET_ARN: undefined,
      TYPESENSE_API_KEY: 'local-key',
      TABLE_NAME: 'orders',
      RESYNC_STATE_TABLE: 'state',
      RESYNC_QUEUE_URL,
      QUEUE_URL,
      MESSAGE_GROUP_BUCKETS: 16,
      MAX_MESSAGE_BYTES: 262_144,
      COLLECTION_SCHEMA: schema,
      RESYNC_PAGES_PER_TASK: 40,
    });
    expect(parseConfig(resyncConfigSchema, env)).toMatchObject({
      TYPESENSE_API_KEY: 'local-key',
      RESYNC_QUEUE_URL,
      COLLECTION_SCHEMA: schema,
      RESYNC_PAGES_PER_TASK: 40,
      RESYNC_TOTAL_SEGMENTS: DEFAULTS.resyncTotalSegments,
    });
  });

  it('lag check, ingestion delay and Atlas ingest', () => {
    const lag = lagCheckEnvironment({
      ...typesense,
      TABLE_NAME: 'orders',
      RESYNC_STATE_TABLE: 'state',
      QUEUE_URL,
      DLQ_URL,
      BATCHER_FUNCTION_NAME: 'batcher',
      WRITER_SERVICE_NAME: 'sync-writer',
      CANARY_TIMEOUT_SECONDS: 30,
      POWERTOOLS_METRICS_NAMESPACE: 'Orders',
    });
    expect(parseConfig(lagCheckConfigSchema, lag)).toMatchObject({
      WRITER_SERVICE_NAME: 'sync-writer',
      CANARY_TIMEOUT_SECONDS: 30,
      POWERTOOLS_METRICS_NAMESPACE: 'Orders',
      // One index: no further ones, and no variable for them.
      FURTHER_INDEXES: [],
    });
    expect(lag).not.toHaveProperty('FURTHER_INDEXES');
    const further = [
      { alias: 'lines', queueUrl: QUEUE_URL, dlqUrl: DLQ_URL, resyncStateTable: 'lines-state' },
    ];
    const several = lagCheckEnvironment({
      ...typesense,
      TABLE_NAME: 'orders',
      RESYNC_STATE_TABLE: 'state',
      QUEUE_URL,
      DLQ_URL,
      BATCHER_FUNCTION_NAME: 'batcher',
      WRITER_SERVICE_NAME: 'sync-writer',
      FURTHER_INDEXES: further,
    });
    expect(parseConfig(lagCheckConfigSchema, several).FURTHER_INDEXES).toEqual(further);
    expect(() =>
      parseConfig(lagCheckConfigSchema, { ...several, FURTHER_INDEXES: '[{"alias":"lines"}]' }),
    ).toThrow(/FURTHER_INDEXES/);
    // Each further index names its re-sync state table: the lag check reads its re-sync there.
    expect(() =>
      parseConfig(lagCheckConfigSchema, {
        ...several,
        FURTHER_INDEXES: JSON.stringify([{ alias: 'lines', queueUrl: QUEUE_URL, dlqUrl: DLQ_URL }]),
      }),
    ).toThrow(/FURTHER_INDEXES.*resyncStateTable/s);
    const delay = ingestionDelayEnvironment({
      RESYNC_STATE_TABLE: 'state',
      DLQ_URL,
      LAG_CHECK_INTERVAL_SECONDS: 120,
    });
    expect(parseConfig(ingestionDelayConfigSchema, delay)).toEqual({
      RESYNC_STATE_TABLE: 'state',
      DLQ_URL,
      LAG_CHECK_INTERVAL_SECONDS: 120,
    });
    const atlas = atlasIngestEnvironment({ TABLE_NAME: 'mirror', ATLAS_VERSIONS_TABLE: 'versions', DLQ_URL });
    expect(parseConfig(atlasIngestConfigSchema, atlas)).toEqual({
      TABLE_NAME: 'mirror',
      ATLAS_VERSIONS_TABLE: 'versions',
      DLQ_URL,
      ATLAS_VERSION_TTL_DAYS: DEFAULTS.atlasVersionTtlDays,
    });
  });
});
