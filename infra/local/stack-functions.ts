import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createAtlasIngestHandler } from '../../functions/atlas-ingest/handler.ts';
import { createBatcherHandler } from '../../functions/batcher/handler.ts';
import { changeKeyAttributes } from '../../functions/contract/aggregate.ts';
import {
  atlasIngestEnvironment,
  batcherEnvironment,
  resyncEnvironment,
  writerEnvironment,
} from '../../functions/contract/env-builders.ts';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import type { AtlasIngestPorts } from '../../functions/core/atlas-change.ts';
import type { IndexLifecyclePorts } from '../../functions/core/index-lifecycle.ts';
import type { ResyncPorts } from '../../functions/core/resync.ts';
import type { BatcherPorts } from '../../functions/core/stream-batch.ts';
import type { Transform } from '../../functions/core/transform.ts';
import type { WriterPorts } from '../../functions/core/write-batch.ts';
import { createIndexResourceHandler } from '../../functions/index-resource/handler.ts';
import { createResyncHandler } from '../../functions/resync/handler.ts';
import { atlasIngestAdapters } from '../../functions/shared/atlas-ingest-adapters.ts';
import { createDynamoDbClient } from '../../functions/shared/aws.ts';
import { batcherAdapters } from '../../functions/shared/batcher-adapters.ts';
import {
  type AtlasIngestConfig,
  atlasIngestConfigSchema,
  type BatcherConfig,
  batcherConfigSchema,
  parseConfig,
  type ResyncConfig,
  resyncConfigSchema,
  type WriterConfig,
  writerConfigSchema,
} from '../../functions/shared/config.ts';
import { indexResourceAdapters } from '../../functions/shared/index-resource-adapters.ts';
import type { LambdaHandler, TelemetryOptions } from '../../functions/shared/lambda.ts';
import { resyncAdapters } from '../../functions/shared/resync-adapters.ts';
import { typesenseClientOf } from '../../functions/shared/typesense-client.ts';
import { writerAdapters } from '../../functions/shared/writer-adapters.ts';
import { createWriterHandler, type WriterHandler } from '../../functions/writer/handler.ts';
import type { LocalIam } from './iam/enforce.ts';
import { API_KEY, CREDENTIALS, type LocalStackOptions, REGION, writerLeaseSeconds } from './stack-options.ts';
import type { StackResources } from './stack-resources.ts';

/**
 * The functions of the embedded stack, built as Lambda builds them but from config objects: each
 * function's config is parsed from the variables the construct would give it, its adapters are
 * made over SDK clients checked against its role, and its handler comes from its factory. Nothing
 * is read from or written to `process.env`, so two stacks in one process do not share a config.
 */

type FunctionName = Parameters<LocalIam['enforce']>[0];

/** One function: what its handler was built from, and the handler. */
export interface LocalFunction<Config, Adapters, Clients, Handler> {
  config: Config;
  /** The object the handler calls through: replace a member to inject a fault into the real path. */
  adapters: Adapters;
  /** Its SDK clients, each call checked against the function's role in the synthesised template. */
  clients: Clients;
  handler: Handler;
}

export type SqsFunction<Config, Adapters, Clients> = LocalFunction<
  Config,
  Adapters,
  Clients,
  LambdaHandler<import('aws-lambda').SQSEvent, import('aws-lambda').SQSBatchResponse>
>;

interface DynamoDbAndSqs {
  dynamodb: ReturnType<typeof createDynamoDbClient>;
  sqs: SQSClient;
}

export interface LocalFunctions {
  batcher: LocalFunction<
    BatcherConfig,
    BatcherPorts,
    { sqs: SQSClient },
    ReturnType<typeof createBatcherHandler>
  >;
  writer: LocalFunction<WriterConfig, WriterPorts, DynamoDbAndSqs, WriterHandler>;
  resync: SqsFunction<ResyncConfig, Omit<ResyncPorts, 'remainingTimeMs'>, DynamoDbAndSqs>;
  /**
   * The index custom resource's handler (issue 19), with the re-sync function's environment, under its
   * own role from the synthesized template.
   */
  indexResource: LocalFunction<
    ResyncConfig,
    IndexLifecyclePorts,
    DynamoDbAndSqs,
    ReturnType<typeof createIndexResourceHandler>
  >;
  /** Present with `atlas`. */
  atlasIngest: SqsFunction<AtlasIngestConfig, AtlasIngestPorts, DynamoDbAndSqs> | undefined;
}

/** The stack's resources the functions are configured with. */
export interface FunctionResources
  extends Pick<
    StackResources,
    | 'tableName'
    | 'keyAttributes'
    | 'queueUrl'
    | 'dlqUrl'
    | 'maxReceiveCount'
    | 'maxMessageBytes'
    | 'resyncStateTable'
    | 'resyncQueueUrl'
  > {
  /** The alias the functions write to. */
  alias: string;
  /** Every index's changes queue and DLQ, the batcher's targets (default: `queueUrl` and `dlqUrl` alone). */
  changesQueues?: readonly { queueUrl: string; deadLetterQueueUrl: string }[];
  /** The nodes the functions reach Typesense at (the fault proxy's, with `faultInjection`). */
  typesenseNodes: readonly string[];
  atlasVersionsTable: string | undefined;
}

/**
 * Each function's variables as the construct sets them, through the same typed env builders
 * (functions/contract/env-builders.ts), with the embedded stack's values: its backoff and circuit in
 * compressed local time. A variable a function needs and the stack forgot fails `tsc` here too.
 */
export function functionEnvironments(options: LocalStackOptions, resources: FunctionResources) {
  const typesense = {
    TYPESENSE_NODES: resources.typesenseNodes,
    TYPESENSE_API_KEY: API_KEY,
    TYPESENSE_TIMEOUT_MS: options.typesenseTimeoutMs ?? 2_000,
    // The embedded queue's visibility (2 s) is shorter than the 60 s its invocations are told they have.
    TYPESENSE_IMPORT_TIMEOUT_MS: options.typesenseTimeoutMs ?? 2_000,
    TYPESENSE_COLLECTION: resources.alias,
    KEY_ATTRIBUTES: resources.keyAttributes,
    PROJECTION: options.projection ?? {},
    ...(options.aggregate === undefined ? {} : { AGGREGATE: options.aggregate }),
  };
  const queues = { QUEUE_URL: resources.queueUrl, DLQ_URL: resources.dlqUrl };
  const packing = {
    MESSAGE_GROUP_BUCKETS: options.buckets ?? DEFAULTS.messageGroupBuckets,
    MAX_MESSAGE_BYTES: resources.maxMessageBytes,
  };
  return {
    batcher: batcherEnvironment({
      QUEUES: resources.changesQueues ?? [
        {
          queueUrl: resources.queueUrl,
          deadLetterQueueUrl: resources.dlqUrl,
          // As the construct sets it: an aggregated index's changes name partitions.
          ...(options.aggregate !== undefined && {
            keyAttributes: changeKeyAttributes(resources.keyAttributes, options.aggregate),
          }),
        },
      ],
      DLQ_URL: resources.dlqUrl,
      ...packing,
      KEY_ATTRIBUTES: resources.keyAttributes,
      SOURCE_TIMESTAMP_ATTRIBUTE: options.sourceTimestampAttribute,
    }),
    writer: writerEnvironment({
      ...typesense,
      ...queues,
      TABLE_NAME: resources.tableName,
      MAX_RECEIVE_COUNT: resources.maxReceiveCount,
      MAX_MESSAGE_BYTES: resources.maxMessageBytes,
      RETRY_BASE_SECONDS: options.retry?.baseSeconds ?? 1,
      RETRY_MAX_SECONDS: options.retry?.maxSeconds ?? 4,
      RETRY_BUDGET_HOURS: options.retry?.budgetHours ?? 72,
      CIRCUIT_FAILURE_THRESHOLD: options.circuit?.failureThreshold ?? 3,
      CIRCUIT_PROBE_SECONDS: options.circuit?.probeSeconds ?? 1,
      CIRCUIT_MAX_PROBE_SECONDS: options.circuit?.maxProbeSeconds ?? 4,
      TYPESENSE_MAX_CONCURRENT_IMPORTS: options.maxConcurrentImports,
      VISIBILITY_LEASE_SECONDS: writerLeaseSeconds(options),
      RESYNC_STATE_TABLE: resources.resyncStateTable,
    }),
    resync: resyncEnvironment({
      ...typesense,
      ...packing,
      TABLE_NAME: resources.tableName,
      QUEUE_URL: resources.queueUrl,
      RESYNC_STATE_TABLE: resources.resyncStateTable,
      RESYNC_QUEUE_URL: resources.resyncQueueUrl,
      RESYNC_TOTAL_SEGMENTS: options.resync?.totalSegments ?? 4,
      RESYNC_PAGE_SIZE: options.resync?.pageSize ?? 250,
      RESYNC_PAGES_PER_TASK: options.resync?.pagesPerTask ?? 20,
      RESYNC_KEEP_COLLECTIONS: options.resync?.keepCollections ?? 2,
    }),
    atlasIngest:
      resources.atlasVersionsTable === undefined
        ? undefined
        : atlasIngestEnvironment({
            TABLE_NAME: resources.tableName,
            ATLAS_VERSIONS_TABLE: resources.atlasVersionsTable,
            DLQ_URL: resources.dlqUrl,
          }),
  };
}

/** SDK clients for the stack's endpoints, each checked against one function's role. */
export function functionClients(iam: LocalIam, endpoints: { dynamodb: string; sqs: string }) {
  const created: { destroy(): void }[] = [];
  const make = <T extends { destroy(): void }>(client: T) => {
    created.push(client);
    return client;
  };
  const common = { region: REGION, credentials: CREDENTIALS };
  return {
    sqs: (fn: FunctionName) =>
      iam.enforce(
        fn,
        make(new SQSClient({ ...common, endpoint: endpoints.sqs, useQueueUrlAsEndpoint: false })),
      )[0],
    s3: (fn: FunctionName) =>
      iam.enforce(fn, make(new S3Client({ ...common, endpoint: endpoints.sqs, forcePathStyle: true })))[0],
    dynamodb: (fn: FunctionName) =>
      iam.enforce(fn, make(createDynamoDbClient({ ...common, endpoint: endpoints.dynamodb })))[0],
    destroy: () => {
      for (const client of created) client.destroy();
    },
  };
}

export type FunctionClients = ReturnType<typeof functionClients>;

/** The functions of one index: its writer, re-sync and index custom resource handler. */
export type IndexFunctions = Pick<LocalFunctions, 'writer' | 'resync' | 'indexResource'>;

/**
 * Builds one index's writer, re-sync and index resource handler through their factories, with the app's
 * transform as the deployed entries register it. A further index's functions run under its own roles
 * (`writer:<alias>`…, `role` names the alias); the first index's under the construct's own.
 */
export function buildIndexFunctions(
  options: LocalStackOptions,
  resources: FunctionResources,
  roleClients: FunctionClients,
  transform: Transform | undefined,
  role?: string,
): IndexFunctions {
  const environments = functionEnvironments(options, resources);
  const telemetry: TelemetryOptions = { logLevel: options.logLevel ?? 'WARN', metrics: false };
  const nameOf = <K extends 'writer' | 'resync' | 'indexResource'>(kind: K): FunctionName =>
    role === undefined ? kind : `${kind}:${role}`;
  const clientsOf = (fn: FunctionName) => ({
    dynamodb: roleClients.dynamodb(fn),
    sqs: roleClients.sqs(fn),
  });

  const writerConfig = parseConfig(writerConfigSchema, environments.writer);
  const writerClients = clientsOf(nameOf('writer'));
  const writerPorts = writerAdapters(
    { ...writerClients, typesense: typesenseClientOf(writerConfig) },
    writerConfig,
  );

  const resyncConfig = parseConfig(resyncConfigSchema, environments.resync);
  const resyncClients = clientsOf(nameOf('resync'));
  const resyncPorts = resyncAdapters(
    { ...resyncClients, typesense: typesenseClientOf(resyncConfig) },
    resyncConfig,
  );
  return {
    writer: {
      config: writerConfig,
      adapters: writerPorts,
      clients: writerClients,
      handler: createWriterHandler(writerConfig, writerPorts, telemetry, transform),
    },
    resync: {
      config: resyncConfig,
      adapters: resyncPorts,
      clients: resyncClients,
      handler: createResyncHandler(resyncConfig, resyncPorts, telemetry, transform),
    },
    indexResource: buildIndexResource(resyncConfig, clientsOf(nameOf('indexResource')), telemetry),
  };
}

/**
 * Builds the batcher, the first index's functions and (with `atlas`) the Atlas ingest function through
 * their factories.
 */
export function buildFunctions(
  options: LocalStackOptions,
  resources: FunctionResources,
  roleClients: FunctionClients,
  transform?: Transform,
): LocalFunctions {
  const environments = functionEnvironments(options, resources);
  // EMF lines are for CloudWatch; locally the same figures are on the status page.
  const telemetry: TelemetryOptions = { logLevel: options.logLevel ?? 'WARN', metrics: false };
  const batcherConfig = parseConfig(batcherConfigSchema, environments.batcher);
  const batcherClients = { sqs: roleClients.sqs('batcher') };
  const batcherPorts = batcherAdapters(batcherClients, batcherConfig);
  return {
    batcher: {
      config: batcherConfig,
      adapters: batcherPorts,
      clients: batcherClients,
      handler: createBatcherHandler(batcherConfig, batcherPorts, telemetry),
    },
    ...buildIndexFunctions(options, resources, roleClients, transform),
    atlasIngest:
      environments.atlasIngest === undefined
        ? undefined
        : buildAtlasIngest(
            environments.atlasIngest,
            { dynamodb: roleClients.dynamodb('atlasIngest'), sqs: roleClients.sqs('atlasIngest') },
            telemetry,
          ),
  };
}

function buildIndexResource(
  config: ResyncConfig,
  clients: DynamoDbAndSqs,
  telemetry: TelemetryOptions,
): LocalFunctions['indexResource'] {
  const adapters = indexResourceAdapters({ ...clients, typesense: typesenseClientOf(config) }, config);
  return { config, adapters, clients, handler: createIndexResourceHandler(config, adapters, telemetry) };
}

function buildAtlasIngest(
  variables: Record<string, string>,
  clients: DynamoDbAndSqs,
  telemetry: TelemetryOptions,
): LocalFunctions['atlasIngest'] {
  const config = parseConfig(atlasIngestConfigSchema, variables);
  const adapters = atlasIngestAdapters(clients, config);
  return { config, adapters, clients, handler: createAtlasIngestHandler(config, adapters, telemetry) };
}
