import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, LambdaFunctionURLEvent, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAtlasIngestHandler } from '../../functions/atlas-ingest/handler.ts';
import { createBatcherHandler } from '../../functions/batcher/handler.ts';
import type { LagCheckPorts, LagReading } from '../../functions/core/lag-check.ts';
import type { ResyncTypesense } from '../../functions/core/resync.ts';
import { oneQueuePorts } from '../../functions/core/stream-batch.ts';
import type { WriterPorts } from '../../functions/core/write-batch.ts';
import { createIngestionDelayHandler } from '../../functions/ingestion-delay/handler.ts';
import { createLagCheckHandler } from '../../functions/lag-check/handler.ts';
import { createResyncHandler } from '../../functions/resync/handler.ts';
import { atlasIngestAdapters } from '../../functions/shared/atlas-ingest-adapters.ts';
import {
  atlasIngestConfigSchema,
  batcherConfigSchema,
  ingestionDelayConfigSchema,
  lagCheckConfigSchema,
  parseConfig,
  resyncConfigSchema,
  writerConfigSchema,
} from '../../functions/shared/config.ts';
import { createWriterHandler } from '../../functions/writer/handler.ts';
import { atlasEvent } from '../helpers/atlas-events.ts';
import { change, sqsRecord } from '../helpers/factories.ts';
import { streamRecords } from '../helpers/fixtures.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';

/**
 * Each handler factory uses the config and the adapters it is given, not the process environment:
 * two handlers built side by side in one process with different configs behave differently, and
 * each calls only its own adapters. (Read from the environment at import, the second would have
 * had the first one's config.)
 */

const context = {
  functionName: 'test',
  awsRequestId: 'r-1',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo';
const DLQ = 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo';
const TYPESENSE = {
  TYPESENSE_NODES: 'http://127.0.0.1:9',
  TYPESENSE_API_KEY: 'test-key',
  KEY_ATTRIBUTES: 'pk',
};
/** Quiet: nothing logged, no EMF lines. */
const quiet = { logLevel: 'SILENT' as const, metrics: false };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createBatcherHandler', () => {
  it('packs into the message groups of its own config, through its own adapters', async () => {
    const built = [1, 10_000].map((buckets) => {
      const groups: string[] = [];
      const config = parseConfig(batcherConfigSchema, {
        QUEUES: JSON.stringify([{ queueUrl: QUEUE, deadLetterQueueUrl: DLQ }]),
        DLQ_URL: DLQ,
        KEY_ATTRIBUTES: 'pk',
        MESSAGE_GROUP_BUCKETS: String(buckets),
      });
      const handler = createBatcherHandler(
        config,
        oneQueuePorts({
          sendMessages: async (messages) => {
            groups.push(...messages.map((message) => message.groupId));
            return [];
          },
          sendDeadLetters: async () => undefined,
          now: Date.now,
        }),
        quiet,
      );
      return { handler, groups };
    });
    const records = streamRecords('dynamodb-stream-insert-modify-remove.json');
    for (const { handler } of built) await handler({ Records: records }, context);
    const [oneBucket, manyBuckets] = built;
    // Two keys (order-1 changed twice): one group with one bucket, one group per key with 10,000.
    expect(new Set(oneBucket?.groups).size).toBe(1);
    expect(new Set(manyBuckets?.groups).size).toBe(2);
  });
});

describe('createWriterHandler', () => {
  const writerConfig = (projection: string) =>
    parseConfig(writerConfigSchema, {
      ...TYPESENSE,
      TYPESENSE_COLLECTION: 'orders',
      TABLE_NAME: 'orders',
      QUEUE_URL: QUEUE,
      DLQ_URL: DLQ,
      PROJECTION: projection,
    });
  const adapters = (imported: string[]): WriterPorts => ({
    readItems: async (keys) => keys.map((key) => ({ ...key, name: { S: 'pen' }, secret: { S: 'x' } })),
    importDocuments: async (lines) => {
      imported.push(...lines);
      return lines.map(() => ({ success: true as const }));
    },
    deleteDocuments: async (ids) => ids.length,
    sendDeadLetters: async () => undefined,
    now: Date.now,
  });

  it('projects with its own config into its own adapters, with a circuit breaker of its own', async () => {
    const all: string[] = [];
    const some: string[] = [];
    const allFields = createWriterHandler(writerConfig(''), adapters(all), quiet);
    const included = createWriterHandler(writerConfig('{"include":["name"]}'), adapters(some), quiet);
    const event: SQSEvent = {
      Records: [sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('order-1')] })],
    };
    expect(await allFields(event, context)).toEqual({ batchItemFailures: [] });
    expect(await included(event, context)).toEqual({ batchItemFailures: [] });
    expect(all.map((line) => JSON.parse(line))).toEqual([
      { id: 'order-1', pk: 'order-1', name: 'pen', secret: 'x' },
    ]);
    expect(some.map((line) => JSON.parse(line))).toEqual([{ id: 'order-1', name: 'pen' }]);
    expect(allFields.breaker).not.toBe(included.breaker);
  });
});

describe('createResyncHandler', () => {
  it('starts a re-sync of the alias its own config names', async () => {
    const asked: string[] = [];
    const typesense = {
      getAlias: async (alias: string) => {
        asked.push(alias);
        return undefined;
      },
    } as unknown as ResyncTypesense;
    const handlers = ['orders', 'products'].map((alias) => {
      const config = parseConfig(resyncConfigSchema, {
        ...TYPESENSE,
        TYPESENSE_COLLECTION: alias,
        TABLE_NAME: alias,
        RESYNC_STATE_TABLE: 'state',
        RESYNC_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/resync',
        QUEUE_URL: QUEUE,
      });
      return createResyncHandler(config, memoryResyncPorts(typesense).ports, quiet);
    });
    const start = sqsRecord({
      messageId: 's1',
      body: JSON.stringify({ action: 'start', trigger: 'operator' }),
    });
    // A start without an alias is reported, not retried: no batch item failure.
    for (const handler of handlers)
      expect(await handler({ Records: [start] }, context)).toEqual({ batchItemFailures: [] });
    expect(asked).toEqual(['orders', 'products']);
  });
});

describe('createLagCheckHandler', () => {
  it('waits for the canary as long as its own config says', async () => {
    const readings = await Promise.all(
      ['2', '7'].map((seconds) => {
        const config = parseConfig(lagCheckConfigSchema, {
          ...TYPESENSE,
          TYPESENSE_COLLECTION: 'orders',
          TABLE_NAME: 'orders',
          RESYNC_STATE_TABLE: 'state',
          QUEUE_URL: QUEUE,
          DLQ_URL: DLQ,
          BATCHER_FUNCTION_NAME: 'batcher',
          WRITER_SERVICE_NAME: 'writer',
          CANARY_TIMEOUT_SECONDS: seconds,
        });
        let now = 1_700_000_000_000;
        const ports: LagCheckPorts = {
          now: () => now,
          sleep: async (ms) => {
            now += ms;
          },
          writeCanary: async () => undefined,
          streamIteratorAgeMs: async () => 0,
          circuit: async () => 'closed',
          indexes: [
            {
              alias: 'products',
              prepareCanary: async () => undefined,
              readCanary: async () => undefined,
              oldestMessageAgeMs: async () => undefined,
              dlqDepth: async () => 0,
              resyncProgress: async () => undefined,
            },
          ],
        };
        const saved: LagReading[] = [];
        const handler = createLagCheckHandler(
          config,
          {
            ports: () => ports,
            saveReading: async (reading) => void saved.push(reading),
          },
          quiet,
        );
        return handler(undefined, context).then((reading) => ({ reading, saved }));
      }),
    );
    expect(readings.map(({ reading }) => reading.problems)).toEqual([
      ['canary not searchable after 2 s'],
      ['canary not searchable after 7 s'],
    ]);
    for (const { reading, saved } of readings) expect(saved).toEqual([reading]);
  });
});

describe('createIngestionDelayHandler', () => {
  it('judges a reading stale by its own lag check interval', async () => {
    const now = 1_700_000_000_000;
    const reading: LagReading = {
      lagMs: 850,
      canaryDelayMs: 850,
      oldestPendingChangeAgeMs: null,
      streamIteratorAgeMs: 0,
      dlqDepth: 0,
      circuit: 'closed',
      problems: [],
      measuredAt: new Date(now - 620_000).toISOString(),
    };
    const request = {
      rawPath: '/v1/ingestion-delay',
      requestContext: { http: { method: 'GET' } },
    } as unknown as LambdaFunctionURLEvent;
    const statuses = [];
    for (const interval of ['60', '600']) {
      const config = parseConfig(ingestionDelayConfigSchema, {
        RESYNC_STATE_TABLE: 'state',
        DLQ_URL: DLQ,
        LAG_CHECK_INTERVAL_SECONDS: interval,
      });
      const handler = createIngestionDelayHandler(
        config,
        { latestReading: async () => reading, dlqDepth: async () => 0, now: () => now },
        quiet,
      );
      statuses.push(((await handler(request, context)) as { statusCode: number }).statusCode);
    }
    // Three intervals: 180 s < 620 s (stale), 1,800 s > 620 s (fresh).
    expect(statuses).toEqual([503, 200]);
  });
});

describe('createAtlasIngestHandler', () => {
  it("mirrors into the tables its own config names, through its own adapters' client", async () => {
    const sent: unknown[][] = [[], []];
    const handlers = ['orders', 'products'].map((table, index) => {
      const config = parseConfig(atlasIngestConfigSchema, {
        TABLE_NAME: table,
        ATLAS_VERSIONS_TABLE: `${table}-versions`,
        DLQ_URL: DLQ,
      });
      const dynamodb = {
        send: async (command: { input: unknown }) => {
          sent[index]?.push(command.input);
          return {};
        },
      } as unknown as DynamoDBClient;
      const sqs = { send: async () => ({}) } as unknown as SQSClient;
      return createAtlasIngestHandler(config, atlasIngestAdapters({ dynamodb, sqs }, config), quiet);
    });
    const event = atlasEvent({
      oid: '65a1b2c3d4e5f60718293a4b',
      operation: 'insert',
      t: 1,
      document: { n: 1 },
    });
    const record = sqsRecord({ messageId: 'a1', body: JSON.stringify(event) });
    for (const handler of handlers)
      expect(await handler({ Records: [record] }, context)).toEqual({ batchItemFailures: [] });
    const tablesOf = (inputs: unknown[] | undefined) =>
      (inputs as { TransactItems: Record<string, { TableName: string }>[] }[]).flatMap(({ TransactItems }) =>
        TransactItems.flatMap((item) => Object.values(item).map(({ TableName }) => TableName)),
      );
    expect(tablesOf(sent[0])).toEqual(['orders-versions', 'orders']);
    expect(tablesOf(sent[1])).toEqual(['products-versions', 'products']);
  });
});
