import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import type { CircuitState } from '../../functions/core/breaker.ts';
import type { ChangeMessage, DeadLetter } from '../../functions/core/change.ts';
import type { KeyType } from '../../functions/core/keys.ts';
import { checkLag, type LagReading } from '../../functions/core/lag-check.ts';
import { parseChangeMessage } from '../../functions/core/pack.ts';
import { sendEventBridgeEvents } from '../../functions/shared/atlas-ingest-ports.ts';
import { createDynamoDbClient, queueDepth } from '../../functions/shared/aws.ts';
import { canaryPorts } from '../../functions/shared/lag-check-ports.ts';
import { type CollectionSchema, TypesenseClient } from '../../functions/shared/typesense.ts';
import { ingestionDelayOf } from '../../lib/operations/lag.ts';
import type { TargetInput } from '../../lib/operations/target.ts';
import { type VerifyReport, verifyIndex } from '../../lib/operations/verify.ts';
import {
  DEFAULT_MESSAGE_GROUP_BUCKETS,
  DEFAULT_STREAM_BATCH_SIZE,
  DEFAULT_STREAM_BATCHING_WINDOW_SECONDS,
} from '../../lib/stream-batching.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';
import { type AccessDenial, type LocalIam, localIam, type Revocation } from './iam/enforce.ts';
import { standIns } from './iam/stand-ins.ts';
import { syncTemplate } from './iam/template.ts';
import { sleep } from './processes.ts';
import { type PollerFaults, QueuePoller } from './queue-poller.ts';
import { s3FailureDestination } from './s3-failure-destination.ts';
import { StatusHistory, serveStatusPage } from './status-page.ts';
import { StreamPoller } from './stream-poller.ts';
import {
  DEFAULT_TYPESENSE_VERSION,
  startTypesenseEmulator,
  startTypesenseEmulatorProcess,
  type TypesenseEmulator,
  type TypesenseEmulatorProcess,
  type TypesenseVersion,
} from './typesense-emulator.ts';

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const API_KEY = 'local-typesense-key';

export interface LocalStackOptions {
  /** Partition key first, then the optional sort key. Default `['pk']` (`['_id']` with `atlas`). */
  keyAttributes?: string[];
  /** The DynamoDB types of `keyAttributes`, in order (S, N or B). Default all S. */
  keyTypes?: KeyType[];
  /**
   * The MongoDB Atlas source: the table becomes the mirror (keyed by `_id`), with the versions table,
   * the ingest queue (and its DLQ) and a poller driving the real atlas-ingest handler. `stack.atlas`
   * injects EventBridge events.
   */
  atlas?: boolean;
  tableName?: string;
  /** The alias the writer writes to; the collection behind it is `<alias>_v1`. */
  alias?: string;
  /** Collection schema; its name is replaced by `<alias>_v1`. */
  schema: CollectionSchema;
  sourceTimestampAttribute?: string;
  projection?: { include?: string[]; exclude?: string[] };
  /** Fixed ports; free ones are chosen when absent. */
  ports?: { dynamodb?: number; sqs?: number; typesense?: number; status?: number };
  /** Changes queue visibility timeout: when a failed message is retried. Default 2 s. */
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  buckets?: number;
  maxMessageBytes?: number;
  /** The stream event source's `BatchSize` (default: the construct's, 10,000). */
  streamBatchSize?: number;
  /** Its `MaximumBatchingWindowInSeconds` (default: the construct's, 1 s). */
  streamMaxBatchingWindowSeconds?: number;
  writerConcurrency?: number;
  /** Handler log level (powertools): WARN keeps a live status line readable. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Writer backoff in compressed local time (defaults: 1 s base, 4 s cap, 72 h budget). */
  retry?: { baseSeconds?: number; maxSeconds?: number; budgetHours?: number };
  /** Writer circuit breaker (defaults: 3 failures, probe after 1 s, at most 4 s). */
  circuit?: { failureThreshold?: number; probeSeconds?: number; maxProbeSeconds?: number };
  /** Crashes and duplicate deliveries injected by the event-source pollers. */
  pollerFaults?: PollerFaults;
  /** The writer's Typesense request timeout (default 2 s locally). */
  typesenseTimeoutMs?: number;
  /** Route the writer through a fault-injecting proxy (`stack.faults`); reads stay direct. */
  faultInjection?: boolean;
  /**
   * Where the Typesense emulator runs. `child`: in a process of its own, so that its work does not
   * take turns with the handlers' on this process's thread, as with a real server (used by the
   * benchmarks); `stack.emulator` is then undefined. Default `in-process`.
   */
  typesenseProcess?: 'in-process' | 'child';
  /**
   * IAM is always enforced on the functions' calls (README, "IAM on the embedded stack"). `revoke`
   * takes actions away from a function's role, to show that a missing grant is caught.
   */
  iam?: { revoke?: Revocation[] };
  /** The Typesense version the emulator answers as (27 to 30). Default 30, the current release line. */
  typesenseVersion?: TypesenseVersion;
  /**
   * Typesense nodes. 3 starts three independent in-process emulators (no replication between them: each
   * holds what was written to it); the handlers get all three and pick one per request. For chaos, take
   * a node down mid-run with `stack.typesenseNodes[i].setDown(true)`. Default 1.
   */
  typesenseNodes?: 1 | 3;
  /** Full re-sync tuning (defaults: 4 segments, pages of 250, 20 pages per task, keep 2, 2 workers). */
  resync?: {
    totalSegments?: number;
    pageSize?: number;
    pagesPerTask?: number;
    keepCollections?: number;
    workers?: number;
    /**
     * When a crashed task is redelivered. Default 10 s: longer than one task (20 pages take about
     * 3–4 s here), so a slow task is not delivered twice while it still runs.
     */
    visibilityTimeoutSeconds?: number;
    /** The re-sync function's timeout as its context reports it (tasks hand on before it). Default 60. */
    timeoutSeconds?: number;
  };
}

export interface LocalStatus {
  /** Stream records the batcher accepted. */
  changesSeen: number;
  /** Changes in messages the writer finished. */
  changesApplied: number;
  /** Messages waiting or in flight on the changes queue. */
  pendingMessages: number;
  dlqDepth: number;
  /** Largest ingestion delay (item timestamp → applied) over the last second of applies, ms. */
  lagMs: number | undefined;
  /**
   * Age of the oldest change the writer has received but not finished (failing, backing off, or
   * waiting for the circuit), ms: how far behind the index is while it cannot catch up.
   */
  oldestPendingAgeMs: number | undefined;
  streamRecordsGivenUp: number;
  /** The writer's circuit breaker. */
  circuit: CircuitState;
}

export interface LocalStack {
  endpoints: { dynamodb: string; sqs: string; typesense: string };
  /** `GET` answers the current ingestion delay, as the deployed endpoint does. */
  ingestionDelayUrl: string;
  /** The local status page: lag chart, throughput, pending, DLQ and circuit, live. */
  statusPageUrl: string;
  /** What the operator CLI needs to reach this stack (`--target`). */
  target: TargetInput;
  apiKey: string;
  tableName: string;
  keyAttributes: string[];
  alias: string;
  collection: string;
  queueUrl: string;
  dlqUrl: string;
  /** Where stream batches the batcher gave up on land, full records included (fauxqs S3). */
  failureBucket: string;
  s3: S3Client;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  typesense: TypesenseClient;
  /** The in-process Typesense emulator's fault controls and stats; undefined with `typesenseProcess: 'child'`. */
  emulator: TypesenseEmulator | undefined;
  /** Every in-process emulator node (`emulator` is the first); empty with `typesenseProcess: 'child'`. */
  typesenseNodes: TypesenseEmulator[];
  streamPoller: StreamPoller;
  queuePoller: QueuePoller;
  /** Drives the re-sync function from its work queue, as its event source mapping does. */
  resyncPoller: QueuePoller;
  /** Present with `atlas`: the Atlas trigger path into the mirror table. */
  atlas: LocalAtlasSource | undefined;
  resyncStateTable: string;
  resyncQueueUrl: string;
  /** Present with `faultInjection`: Typesense faults as the writer sees them. */
  faults: FaultProxy | undefined;
  /**
   * The calls the functions' roles refused, as AWS would have, and the calls IAM could not judge at
   * all (no mapping, unsupported policy): those make `stop()` throw.
   */
  iam: { denials: readonly AccessDenial[]; problems: readonly Error[] };
  status(): Promise<LocalStatus>;
  /**
   * One lag check as the deployed scheduled function runs it: a canary through the whole pipeline
   * and the backlog figures. The stream iterator age is not measured locally.
   */
  checkLag(canaryTimeoutMs?: number): Promise<LagReading>;
  /** Table vs index, field by field, through the writer's projection. */
  verify(): Promise<VerifyReport>;
  /** Receives every message on the DLQ (each is gone from the queue afterwards). */
  drainDeadLetters(): Promise<DeadLetter[]>;
  /** Resolves when the stream is drained and the changes queue is empty (throws after timeoutMs). */
  waitForIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The embedded Atlas source: what EventBridge and the ingest function's event source do on AWS. */
export interface LocalAtlasSource {
  ingestQueueUrl: string;
  /** Where the ingest queue moves messages after 5 failed receives. */
  ingestDeadLetterQueueUrl: string;
  versionsTable: string;
  poller: QueuePoller;
  /** Sends EventBridge events to the ingest queue as an EventBridge SQS target does (the body is the event). */
  sendEvents(events: readonly unknown[]): Promise<void>;
}

let started = false;

/**
 * The embedded stack: DynamoDB Local, the fauxqs SQS emulator, the Typesense emulator, and the
 * event-source pollers driving the real batcher and writer handlers. One per process, because the
 * handlers read their configuration from the environment once, at import, as in Lambda.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  if (started) throw new Error('one local stack per process: the handlers read their environment at import');
  started = true;
  const keyAttributes = options.keyAttributes ?? (options.atlas === true ? ['_id'] : ['pk']);
  if (options.keyTypes !== undefined && options.keyTypes.length !== keyAttributes.length)
    throw new Error(
      `keyTypes names ${options.keyTypes.length} types for ${keyAttributes.length} key attributes`,
    );
  if (options.atlas === true && keyAttributes.join(',') !== '_id')
    throw new Error("the Atlas source's mirror table is keyed by '_id' alone");
  const tableName = options.tableName ?? 'items';
  const alias = options.alias ?? 'products';
  const collection = `${alias}_v1`;

  const emulatorOptions = {
    apiKey: API_KEY,
    port: options.ports?.typesense ?? 0,
    version: options.typesenseVersion ?? DEFAULT_TYPESENSE_VERSION,
  };
  if (options.typesenseNodes === 3 && options.typesenseProcess === 'child')
    throw new Error('typesenseNodes: 3 runs in-process emulators only');
  // Declared as either: inferred, the union would shrink to the common part and lose the controls.
  const startingEmulator: Promise<TypesenseEmulator | TypesenseEmulatorProcess> =
    options.typesenseProcess === 'child'
      ? startTypesenseEmulatorProcess(emulatorOptions)
      : startTypesenseEmulator(emulatorOptions);
  const templateOptions = {
    keyAttributes,
    atlas: options.atlas === true,
    alias,
    sourceTimestampAttribute: options.sourceTimestampAttribute,
    projection: options.projection,
  };
  // The synthesis (seconds of CPU, cached for localIam below) runs while DynamoDB Local's JVM boots.
  const synthesis = new Promise<void>((resolve, reject) =>
    setTimeout(() => {
      try {
        syncTemplate(templateOptions);
        resolve();
      } catch (error) {
        reject(error);
      }
    }, 50),
  );
  const [[dynamoDbLocal, fauxqs, emulator, ...moreNodes]] = await Promise.all([
    Promise.all([
      startDynamoDbLocal(options.ports?.dynamodb),
      startFauxqs({ port: options.ports?.sqs ?? 0, logger: false }),
      startingEmulator,
      ...(options.typesenseNodes === 3
        ? [0, 1].map(() => startTypesenseEmulator({ ...emulatorOptions, port: 0 }))
        : []),
    ]),
    synthesis,
  ]);
  const typesenseNodes = 'failNext' in emulator ? [emulator, ...moreNodes] : [];
  const endpoints = { dynamodb: dynamoDbLocal.endpoint, sqs: fauxqs.address, typesense: emulator.url };
  const nodeUrls = [emulator.url, ...moreNodes.map((node) => node.url)];
  const faults = options.faultInjection === true ? await startFaultProxy(emulator.url) : undefined;
  const dynamodb = createDynamoDbClient({
    endpoint: endpoints.dynamodb,
    region: REGION,
    credentials: CREDENTIALS,
  });
  const streams = new DynamoDBStreamsClient({
    endpoint: endpoints.dynamodb,
    region: REGION,
    credentials: CREDENTIALS,
  });
  const sqs = new SQSClient({
    endpoint: endpoints.sqs,
    region: REGION,
    credentials: CREDENTIALS,
    useQueueUrlAsEndpoint: false,
  });
  const typesense = new TypesenseClient({ nodes: [endpoints.typesense], apiKey: API_KEY });
  const s3 = new S3Client({
    endpoint: endpoints.sqs,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true,
  });
  const failureBucket = `${tableName}-stream-failures`;
  fauxqs.createBucket(failureBucket);

  const keySchema: KeySchemaElement[] = keyAttributes.map((name, index) => ({
    AttributeName: name,
    KeyType: index === 0 ? 'HASH' : 'RANGE',
  }));
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: keySchema,
      AttributeDefinitions: keyAttributes.map((name, index) => ({
        AttributeName: name,
        AttributeType: options.keyTypes?.[index] ?? 'S',
      })),
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = Table?.LatestStreamArn as string;

  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-dlq.fifo`,
      Attributes: { FifoQueue: 'true', MessageRetentionPeriod: '1209600' },
    }),
  );
  const dlqUrl = dlq.QueueUrl as string;
  const dlqArn = `arn:aws:sqs:${REGION}:000000000000:${tableName}-dlq.fifo`;
  const maxMessageBytes = options.maxMessageBytes ?? 262_144;
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const changes = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-changes.fifo`,
      Attributes: {
        FifoQueue: 'true',
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        MaximumMessageSize: String(maxMessageBytes),
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 2),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount,
        }),
      },
    }),
  );
  const queueUrl = changes.QueueUrl as string;
  const queueArn = `arn:aws:sqs:${REGION}:000000000000:${tableName}-changes.fifo`;

  const resyncStateTable = `${tableName}-resync-state`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: resyncStateTable,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const resyncQueue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-resync`,
      Attributes: { VisibilityTimeout: String(options.resync?.visibilityTimeoutSeconds ?? 10) },
    }),
  );
  const resyncQueueUrl = resyncQueue.QueueUrl as string;

  const atlasResources =
    options.atlas === true ? await createAtlasResources(dynamodb, sqs, tableName) : undefined;

  for (const node of nodeUrls) {
    const client = new TypesenseClient({ nodes: [node], apiKey: API_KEY });
    await client.createCollection({ ...options.schema, name: collection });
    await client.upsertAlias(alias, collection);
  }

  // Each function's calls are checked against its role in the construct's synthesised template.
  const iam = localIam({
    template: templateOptions,
    physical: standIns({
      tableName,
      streamArn,
      stateTable: resyncStateTable,
      queueUrl,
      dlqUrl,
      resyncQueueUrl,
      failureBucket,
      atlas: atlasResources,
    }),
    partitionKeys: new Map([
      [tableName, keyAttributes[0] as string],
      [resyncStateTable, 'pk'],
      ...(atlasResources === undefined ? [] : [[atlasResources.versionsTable, 'id'] as [string, string]]),
    ]),
    revoke: options.iam?.revoke,
  });
  const roleClients = functionClients(iam, endpoints);
  // Lambda writes the on-failure records with the batcher's execution role.
  const failures = s3FailureDestination(
    roleClients.s3('batcher'),
    failureBucket,
    `arn:aws:lambda:${REGION}:000000000000:function:batcher`,
  );

  // The handlers configure themselves from the environment at import, exactly as in Lambda.
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'WARN',
    // EMF lines are for CloudWatch; locally the same figures are on the status page.
    POWERTOOLS_METRICS_DISABLED: 'true',
    QUEUE_URL: queueUrl,
    DLQ_URL: dlqUrl,
    TABLE_NAME: tableName,
    KEY_ATTRIBUTES: keyAttributes.join(','),
    MESSAGE_GROUP_BUCKETS: String(options.buckets ?? DEFAULT_MESSAGE_GROUP_BUCKETS),
    MAX_RECEIVE_COUNT: String(maxReceiveCount),
    RETRY_BASE_SECONDS: String(options.retry?.baseSeconds ?? 1),
    RETRY_MAX_SECONDS: String(options.retry?.maxSeconds ?? 4),
    RETRY_BUDGET_HOURS: String(options.retry?.budgetHours ?? 72),
    CIRCUIT_FAILURE_THRESHOLD: String(options.circuit?.failureThreshold ?? 3),
    CIRCUIT_PROBE_SECONDS: String(options.circuit?.probeSeconds ?? 1),
    CIRCUIT_MAX_PROBE_SECONDS: String(options.circuit?.maxProbeSeconds ?? 4),
    MAX_MESSAGE_BYTES: String(maxMessageBytes),
    TYPESENSE_NODES: faults?.url ?? nodeUrls.join(','),
    TYPESENSE_API_KEY: API_KEY,
    TYPESENSE_TIMEOUT_MS: String(options.typesenseTimeoutMs ?? 2_000),
    // The embedded queue's visibility (2 s) is shorter than the 60 s its invocations are told they have.
    TYPESENSE_IMPORT_TIMEOUT_MS: String(options.typesenseTimeoutMs ?? 2_000),
    TYPESENSE_COLLECTION: alias,
    PROJECTION: JSON.stringify(options.projection ?? {}),
    RESYNC_STATE_TABLE: resyncStateTable,
    RESYNC_QUEUE_URL: resyncQueueUrl,
    RESYNC_TOTAL_SEGMENTS: String(options.resync?.totalSegments ?? 4),
    RESYNC_PAGE_SIZE: String(options.resync?.pageSize ?? 250),
    RESYNC_PAGES_PER_TASK: String(options.resync?.pagesPerTask ?? 20),
    RESYNC_KEEP_COLLECTIONS: String(options.resync?.keepCollections ?? 2),
    ...(options.sourceTimestampAttribute === undefined
      ? {}
      : { SOURCE_TIMESTAMP_ATTRIBUTE: options.sourceTimestampAttribute }),
    ...(atlasResources === undefined ? {} : { ATLAS_VERSIONS_TABLE: atlasResources.versionsTable }),
  });
  const [batcherModule, writerModule, resyncModule] = await Promise.all([
    import('../../functions/batcher/handler.ts'),
    import('../../functions/writer/handler.ts'),
    import('../../functions/resync/handler.ts'),
  ]);
  const { handler: batcher } = batcherModule;
  const { handler: writer, breaker } = writerModule;
  const { handler: resync } = resyncModule;
  iam.enforce('batcher', batcherModule.clients.sqs);
  iam.enforce('writer', writerModule.clients.dynamodb, writerModule.clients.sqs);
  iam.enforce('resync', resyncModule.clients.dynamodb, resyncModule.clients.sqs);
  // Like Lambda's: the time left counts down from the invocation's start to the function's timeout.
  const context = (name: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    return {
      functionName: name,
      awsRequestId: `local-${Date.now()}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    } as unknown as import('aws-lambda').Context;
  };

  let changesSeen = 0;
  let changesApplied = 0;
  const recentDelays: { at: number; delayMs: number }[] = [];
  const unfinished = new Map<string, number>();
  const streamPoller = new StreamPoller({
    streams,
    streamArn,
    region: REGION,
    // The construct's event source defaults, so the embedded stack batches as a deployed one does.
    batchSize: options.streamBatchSize ?? DEFAULT_STREAM_BATCH_SIZE,
    maxBatchingWindowMs:
      1_000 * (options.streamMaxBatchingWindowSeconds ?? DEFAULT_STREAM_BATCHING_WINDOW_SECONDS),
    onFailure: failures.onFailure,
    ...(options.pollerFaults === undefined ? {} : { faults: options.pollerFaults }),
    handler: async (event) => {
      const response = await batcher(event, context('batcher'));
      const failedFrom = response?.batchItemFailures[0]?.itemIdentifier;
      const index = event.Records.findIndex((record) => record.dynamodb?.SequenceNumber === failedFrom);
      changesSeen += index < 0 ? event.Records.length : index;
      return response;
    },
  });
  const onReceive = (records: SQSRecord[]) => {
    for (const record of records) {
      const message = parseChangeMessage(record.body);
      const precise = (message?.changes ?? []).filter((change) => change.clock === 'item');
      const oldest = Math.min(...precise.map((change) => change.sourceTs));
      if (Number.isFinite(oldest)) unfinished.set(record.messageId, oldest);
    }
  };
  const onDone = (records: SQSRecord[], doneAt: number) => {
    for (const record of records) {
      unfinished.delete(record.messageId);
      const message: ChangeMessage | undefined = parseChangeMessage(record.body);
      for (const change of message?.changes ?? []) {
        changesApplied++;
        // Only item clocks are precise enough for a live figure (DynamoDB Local floors stream times to the minute).
        if (change.clock === 'item') recentDelays.push({ at: doneAt, delayMs: doneAt - change.sourceTs });
      }
    }
    while ((recentDelays[0]?.at ?? doneAt) < doneAt - 1_000) recentDelays.shift();
  };
  // The event source mappings receive and delete with the function's execution role.
  const queuePoller = new QueuePoller({
    sqs: roleClients.sqs('writer'),
    queueUrl,
    queueArn,
    region: REGION,
    handler: (event) => writer(event, context('writer')),
    concurrency: options.writerConcurrency ?? 2,
    ...(options.pollerFaults === undefined ? {} : { faults: options.pollerFaults }),
    onReceive,
    onDone,
  });
  const resyncPoller = new QueuePoller({
    sqs: roleClients.sqs('resync'),
    queueUrl: resyncQueueUrl,
    queueArn: `arn:aws:sqs:${REGION}:000000000000:${tableName}-resync`,
    region: REGION,
    // The deployed mapping's batch size: one task per invocation.
    batchSize: 1,
    handler: (event) => resync(event, context('resync', (options.resync?.timeoutSeconds ?? 60) * 1000)),
    concurrency: options.resync?.workers ?? 2,
  });
  let atlas: LocalAtlasSource | undefined;
  if (atlasResources !== undefined) {
    const atlasModule = await import('../../functions/atlas-ingest/handler.ts');
    const { handler: atlasIngest } = atlasModule;
    iam.enforce('atlasIngest', atlasModule.clients.dynamodb, atlasModule.clients.sqs);
    atlas = {
      ...atlasResources,
      poller: new QueuePoller({
        sqs: roleClients.sqs('atlasIngest'),
        queueUrl: atlasResources.ingestQueueUrl,
        queueArn: `arn:aws:sqs:${REGION}:000000000000:${tableName}-atlas-ingest`,
        region: REGION,
        handler: (event) => atlasIngest(event, context('atlas-ingest')),
        ...(options.pollerFaults === undefined ? {} : { faults: options.pollerFaults }),
      }),
      sendEvents: sendEventBridgeEvents(sqs, atlasResources.ingestQueueUrl),
    };
  }
  streamPoller.start();
  queuePoller.start();
  resyncPoller.start();
  atlas?.poller.start();

  // The deployed ingestion-delay endpoint's local twin, answering from the pollers' live figures,
  // and the status page with its history.
  const history = new StatusHistory(() => stack.status());
  const statusServer = createServer((request, response) => {
    if (serveStatusPage(request, response, history)) return;
    if (request.method !== 'GET' || request.url !== '/v1/ingestion-delay') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
      return;
    }
    stack.status().then(
      (status) =>
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(ingestionDelayOf(status, Date.now()))),
      (error: unknown) =>
        response
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ message: `status unavailable: ${(error as Error).message}` })),
    );
  });
  await new Promise<void>((resolve) => statusServer.listen(options.ports?.status ?? 0, '127.0.0.1', resolve));
  const statusPageUrl = `http://127.0.0.1:${(statusServer.address() as AddressInfo).port}/`;
  const ingestionDelayUrl = `${statusPageUrl}v1/ingestion-delay`;

  // The canary is written as the deployed lag check writes it: with its role.
  const lagCheckDynamodb = roleClients.dynamodb('lagCheck');
  const stack: LocalStack = {
    endpoints,
    ingestionDelayUrl,
    statusPageUrl,
    target: {
      region: REGION,
      endpoints: { dynamodb: endpoints.dynamodb, sqs: endpoints.sqs, s3: endpoints.sqs },
      // Copied: the SDK marks the credential objects it was given.
      credentials: { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey },
      tableName,
      keyAttributes,
      queueUrl,
      dlqUrl,
      failureBucket,
      messageGroupBuckets: options.buckets ?? DEFAULT_MESSAGE_GROUP_BUCKETS,
      maxMessageBytes,
      ...(options.sourceTimestampAttribute === undefined
        ? {}
        : { sourceTimestampAttribute: options.sourceTimestampAttribute }),
      projection: options.projection ?? {},
      typesense: { nodes: [endpoints.typesense], collection: alias, apiKey: API_KEY },
      resync: { stateTable: resyncStateTable, queueUrl: resyncQueueUrl },
      ingestionDelayUrl,
    },
    apiKey: API_KEY,
    tableName,
    keyAttributes,
    alias,
    collection,
    queueUrl,
    dlqUrl,
    failureBucket,
    s3,
    dynamodb,
    sqs,
    typesense,
    emulator: 'failNext' in emulator ? emulator : undefined,
    typesenseNodes,
    streamPoller,
    queuePoller,
    resyncPoller,
    resyncStateTable,
    resyncQueueUrl,
    atlas,
    faults,
    iam,
    async status() {
      const [pending, dlq] = await Promise.all([queueDepth(sqs, queueUrl), queueDepth(sqs, dlqUrl)]);
      const now = Date.now();
      const recent = recentDelays.filter(({ at }) => at >= now - 1_000);
      return {
        changesSeen,
        changesApplied,
        pendingMessages: pending.total,
        dlqDepth: dlq.total,
        lagMs: recent.length === 0 ? undefined : Math.max(...recent.map(({ delayMs }) => delayMs)),
        oldestPendingAgeMs: unfinished.size === 0 ? undefined : now - Math.min(...unfinished.values()),
        streamRecordsGivenUp: streamPoller.stats.recordsGivenUp,
        circuit: breaker.state,
      };
    },
    checkLag(canaryTimeoutMs = 10_000) {
      // One status read serves both backlog figures (it includes the DLQ depth).
      let figures: Promise<LocalStatus> | undefined;
      const local = () => {
        figures ??= stack.status();
        return figures;
      };
      return checkLag(
        {
          now: Date.now,
          sleep,
          ...canaryPorts({
            dynamodb: lagCheckDynamodb,
            typesense,
            tableName,
            keyAttributes,
            alias,
            ...(options.sourceTimestampAttribute === undefined
              ? {}
              : { sourceTimestampAttribute: options.sourceTimestampAttribute }),
          }),
          streamIteratorAgeMs: async () => undefined,
          oldestMessageAgeMs: async () => (await local()).oldestPendingAgeMs,
          dlqDepth: async () => (await local()).dlqDepth,
          circuit: async () => breaker.state,
        },
        { canaryTimeoutMs, pollIntervalMs: 50 },
      );
    },
    verify: () =>
      verifyIndex({
        dynamodb,
        tableName,
        keyAttributes,
        ...(options.projection === undefined ? {} : { projection: options.projection }),
        typesense,
        collection: alias,
      }),
    async drainDeadLetters() {
      const letters: DeadLetter[] = [];
      for (;;) {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        if (Messages === undefined || Messages.length === 0) return letters;
        for (const message of Messages) letters.push(JSON.parse(message.Body ?? '{}') as DeadLetter);
      }
    },
    async waitForIdle(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let quietChecks = 0;
      // Two quiet checks in a row: the stream drained, nothing queued or in flight.
      while (quietChecks < 2) {
        if (Date.now() > deadline)
          throw new Error(
            `local stack not idle after ${timeoutMs} ms: ${JSON.stringify(await stack.status())}`,
          );
        await sleep(150);
        const quiet =
          streamPoller.caughtUp &&
          !queuePoller.busy &&
          !resyncPoller.busy &&
          !(atlas?.poller.busy ?? false) &&
          (await queueDepth(sqs, queueUrl)).total === 0 &&
          (await queueDepth(sqs, resyncQueueUrl)).total === 0 &&
          (atlas === undefined || (await queueDepth(sqs, atlas.ingestQueueUrl)).total === 0);
        quietChecks = quiet ? quietChecks + 1 : 0;
      }
    },
    async stop() {
      await history.stop();
      await Promise.all([
        streamPoller.stop(),
        queuePoller.stop(),
        resyncPoller.stop(),
        atlas?.poller.stop(),
        new Promise((resolve) => statusServer.close(resolve)),
      ]);
      await failures.flush();
      await Promise.all([
        dynamoDbLocal.stop(),
        fauxqs.stop(),
        emulator.stop(),
        ...moreNodes.map((node) => node.stop()),
        faults?.stop(),
      ]);
      dynamodb.destroy();
      streams.destroy();
      sqs.destroy();
      s3.destroy();
      roleClients.destroy();
      started = false;
      // A call IAM could not judge (no mapping, unsupported policy) fails the test that made it.
      iam.assertNoProblems();
    },
  };
  history.start();
  return stack;
}

/** Clients of the stack's own (the pollers', the lag check's), each checked against one function's role. */
function functionClients(iam: LocalIam, endpoints: { dynamodb: string; sqs: string }) {
  const created: { destroy(): void }[] = [];
  const make = <T extends { destroy(): void }>(client: T) => {
    created.push(client);
    return client;
  };
  const common = { region: REGION, credentials: CREDENTIALS };
  return {
    sqs: (fn: Parameters<LocalIam['enforce']>[0]) =>
      iam.enforce(
        fn,
        make(new SQSClient({ ...common, endpoint: endpoints.sqs, useQueueUrlAsEndpoint: false })),
      )[0],
    s3: (fn: Parameters<LocalIam['enforce']>[0]) =>
      iam.enforce(fn, make(new S3Client({ ...common, endpoint: endpoints.sqs, forcePathStyle: true })))[0],
    dynamodb: (fn: Parameters<LocalIam['enforce']>[0]) =>
      iam.enforce(fn, make(createDynamoDbClient({ ...common, endpoint: endpoints.dynamodb })))[0],
    destroy: () => {
      for (const client of created) client.destroy();
    },
  };
}

/** The versions table and the ingest queue with its DLQ, as lib/atlas-source.ts creates them. */
async function createAtlasResources(dynamodb: DynamoDBClient, sqs: SQSClient, tableName: string) {
  const versionsTable = `${tableName}-atlas-versions`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: versionsTable,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const deadLetters = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-atlas-ingest-dlq`,
      Attributes: { MessageRetentionPeriod: '1209600' },
    }),
  );
  const ingest = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-atlas-ingest`,
      Attributes: {
        // Short, so a failed write is retried quickly in tests.
        VisibilityTimeout: '2',
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: `arn:aws:sqs:${REGION}:000000000000:${tableName}-atlas-ingest-dlq`,
          maxReceiveCount: 5,
        }),
      },
    }),
  );
  return {
    versionsTable,
    ingestQueueUrl: ingest.QueueUrl as string,
    ingestDeadLetterQueueUrl: deadLetters.QueueUrl as string,
  };
}
