import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { z } from 'zod';
import { METRIC, SERVICE_DIMENSION } from '../contract/metrics.ts';
import {
  CANARY_SENT_AT,
  canaryCollectionOf,
  canaryCollectionSchema,
  canaryItem,
  canaryKey,
} from '../core/canary.ts';
import { documentId } from '../core/keys.ts';
import type { IndexLagPorts, LagCheckPorts, LagReading } from '../core/lag-check.ts';
import { resyncProgress } from '../core/resync.ts';
import { queueDepth, sleep } from './aws.ts';
import type { ingestionDelayConfigSchema, LagCheckConfig } from './config.ts';
import { dynamoResyncStore } from './resync-store.ts';
import type { TypesenseClient } from './typesense.ts';

/*
 * The latest lag reading lives in the re-sync state table (partition `lag`, sort key `latest`):
 * the lag check writes it once a run and the ingestion-delay endpoint reads it.
 */
const LATEST_READING = { pk: { S: 'lag' }, sk: { S: 'latest' } };

export async function saveLagReading(dynamodb: DynamoDBClient, stateTable: string, reading: LagReading) {
  await dynamodb.send(
    new PutItemCommand({
      TableName: stateTable,
      Item: { ...LATEST_READING, reading: { S: JSON.stringify(reading) } },
    }),
  );
}

export async function latestLagReading(
  dynamodb: DynamoDBClient,
  stateTable: string,
): Promise<LagReading | undefined> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: stateTable, Key: LATEST_READING, ConsistentRead: true }),
  );
  return Item?.reading?.S === undefined ? undefined : (JSON.parse(Item.reading.S) as LagReading);
}

export interface CanaryResources {
  dynamodb: DynamoDBClient;
  typesense: TypesenseClient;
  tableName: string;
  keyAttributes: readonly string[];
  alias: string;
  sourceTimestampAttribute?: string;
}

/** The canary's round trip through one index. */
export type CanaryPorts = Pick<IndexLagPorts, 'prepareCanary' | 'readCanary'> &
  Pick<LagCheckPorts, 'writeCanary'>;

/** The canary's round trip: the same for the deployed lag check and the embedded stack's. */
export function canaryPorts(resources: CanaryResources): CanaryPorts {
  const { dynamodb, typesense, keyAttributes } = resources;
  const canaryCollection = canaryCollectionOf(resources.alias);
  const canaryId = documentId(canaryKey(keyAttributes), keyAttributes);
  return {
    async prepareCanary() {
      if ((await typesense.getCollection(canaryCollection)) === undefined)
        await typesense.createCollection(canaryCollectionSchema(resources.alias));
    },
    async writeCanary(sentAt) {
      await dynamodb.send(
        new PutItemCommand({
          TableName: resources.tableName,
          Item: canaryItem(keyAttributes, sentAt, resources.sourceTimestampAttribute),
        }),
      );
    },
    async readCanary() {
      const document = await typesense.getDocument(canaryCollection, canaryId);
      const sentAt = document?.[CANARY_SENT_AT];
      return typeof sentAt === 'number' ? sentAt : undefined;
    },
  };
}

/** One index the lag check watches: its alias, its changes queue and DLQ, and its re-sync state table. */
export interface LagCheckIndex {
  alias: string;
  queueUrl: string;
  dlqUrl: string;
  resyncStateTable: string;
}

export interface LagCheckResources extends Omit<CanaryResources, 'alias'> {
  sqs: SQSClient;
  cloudwatch: CloudWatchClient;
  /** Every index, the first first. */
  indexes: readonly LagCheckIndex[];
  batcherFunctionName: string;
  writerServiceName: string;
  metricsNamespace: string;
}

/** The newest datapoint of each query over the last five minutes (metrics arrive a minute late). */
async function latestMetrics(cloudwatch: CloudWatchClient, queries: MetricDataQuery[]) {
  const end = new Date();
  const { MetricDataResults = [] } = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(end.getTime() - 5 * 60_000),
      EndTime: end,
      ScanBy: 'TimestampDescending',
      MetricDataQueries: queries,
    }),
  );
  return new Map(MetricDataResults.map((result) => [result.Id, result.Values?.[0]]));
}

const maximumOf = (id: string, Namespace: string, MetricName: string, Name: string, Value: string) => ({
  Id: id,
  MetricStat: {
    Metric: { Namespace, MetricName, Dimensions: [{ Name, Value }] },
    Period: 60,
    Stat: 'Maximum',
  },
});

/**
 * The deployed lag check's ports, for one check: the CloudWatch figures (iterator age, circuit, each index's
 * oldest message age) come from one GetMetricData call, made at most once per check.
 */
export function lagCheckPorts(resources: LagCheckResources): LagCheckPorts {
  let metrics: ReturnType<typeof latestMetrics> | undefined;
  const metric = async (id: string) => {
    metrics ??= latestMetrics(resources.cloudwatch, [
      maximumOf('iteratorAge', 'AWS/Lambda', 'IteratorAge', 'FunctionName', resources.batcherFunctionName),
      ...resources.indexes.map((index, position) =>
        maximumOf(
          `oldestMessageAge${position}`,
          'AWS/SQS',
          'ApproximateAgeOfOldestMessage',
          'QueueName',
          index.queueUrl.split('/').at(-1) as string,
        ),
      ),
      maximumOf(
        'circuitOpen',
        resources.metricsNamespace,
        METRIC.circuitOpen,
        SERVICE_DIMENSION,
        resources.writerServiceName,
      ),
    ]);
    return (await metrics).get(id);
  };
  const canaries = resources.indexes.map((index) => canaryPorts({ ...resources, alias: index.alias }));
  return {
    now: Date.now,
    sleep,
    writeCanary: (canaries[0] as CanaryPorts).writeCanary,
    streamIteratorAgeMs: () => metric('iteratorAge'),
    async circuit() {
      const open = await metric('circuitOpen');
      if (open === undefined) return undefined;
      return open >= 1 ? 'open' : 'closed';
    },
    indexes: resources.indexes.map((index, position) => ({
      alias: index.alias,
      prepareCanary: (canaries[position] as CanaryPorts).prepareCanary,
      readCanary: (canaries[position] as CanaryPorts).readCanary,
      async oldestMessageAgeMs() {
        const seconds = await metric(`oldestMessageAge${position}`);
        return seconds === undefined ? undefined : seconds * 1000;
      },
      dlqDepth: async () => (await queueDepth(resources.sqs, index.dlqUrl)).total,
      resyncProgress: () =>
        resyncProgress(dynamoResyncStore(resources.dynamodb, index.resyncStateTable), Date.now()),
    })),
  };
}

/** What the lag check handler needs besides its core's ports. */
export interface LagCheckAdapters {
  /** Fresh ports per check: they read CloudWatch once per check. */
  ports(): LagCheckPorts;
  saveReading(reading: LagReading): Promise<void>;
}

/** The lag check function's adapters, for the table, queues, functions and metrics its config names. */
export function lagCheckAdapters(
  clients: {
    dynamodb: DynamoDBClient;
    sqs: SQSClient;
    cloudwatch: CloudWatchClient;
    typesense: TypesenseClient;
  },
  config: LagCheckConfig,
): LagCheckAdapters {
  return {
    ports: () =>
      lagCheckPorts({
        ...clients,
        tableName: config.TABLE_NAME,
        keyAttributes: config.KEY_ATTRIBUTES,
        indexes: [
          {
            alias: config.TYPESENSE_COLLECTION,
            queueUrl: config.QUEUE_URL,
            dlqUrl: config.DLQ_URL,
            resyncStateTable: config.RESYNC_STATE_TABLE,
          },
          ...config.FURTHER_INDEXES,
        ],
        batcherFunctionName: config.BATCHER_FUNCTION_NAME,
        writerServiceName: config.WRITER_SERVICE_NAME,
        metricsNamespace: config.POWERTOOLS_METRICS_NAMESPACE,
        ...(config.SOURCE_TIMESTAMP_ATTRIBUTE === undefined
          ? {}
          : { sourceTimestampAttribute: config.SOURCE_TIMESTAMP_ATTRIBUTE }),
      }),
    saveReading: (reading) => saveLagReading(clients.dynamodb, config.RESYNC_STATE_TABLE, reading),
  };
}

/** What the ingestion-delay endpoint reads: the latest reading and the live DLQ depth. */
export interface IngestionDelayAdapters {
  latestReading(): Promise<LagReading | undefined>;
  dlqDepth(): Promise<number>;
  now(): number;
}

export type IngestionDelayConfig = z.infer<typeof ingestionDelayConfigSchema>;

export function ingestionDelayAdapters(
  clients: { dynamodb: DynamoDBClient; sqs: SQSClient },
  config: IngestionDelayConfig,
): IngestionDelayAdapters {
  return {
    latestReading: () => latestLagReading(clients.dynamodb, config.RESYNC_STATE_TABLE),
    dlqDepth: async () => (await queueDepth(clients.sqs, config.DLQ_URL)).total,
    now: Date.now,
  };
}
