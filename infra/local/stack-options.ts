import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { TargetInput } from '../../bin/cli/operations/target.ts';
import type { VerifyReport } from '../../bin/cli/operations/verify.ts';
import type { AggregateConfig } from '../../functions/contract/aggregate.ts';
import { defaultVisibilityLeaseSeconds } from '../../functions/contract/limits.ts';
import type { CircuitState } from '../../functions/core/breaker.ts';
import type { DeadLetter } from '../../functions/core/change.ts';
import type { KeyType } from '../../functions/core/keys.ts';
import type { LagReading } from '../../functions/core/lag-check.ts';
import type { Transform } from '../../functions/core/transform.ts';
import type { IndexResourceResponse } from '../../functions/index-resource/handler.ts';
import type { CollectionSchema, TypesenseClient } from '../../functions/shared/typesense.ts';
import type { TypesenseSyncProjection } from '../../lib/typesense-sync-props.ts';
import type { FaultProxy } from './fault-proxy.ts';
import type { AccessDenial, Revocation } from './iam/enforce.ts';
import type { PollerFaults, QueuePoller } from './queue-poller.ts';
import type { LocalFunctions } from './stack-functions.ts';
import type { LocalIndexResource } from './stack-index.ts';
import type { LiveFigures } from './stack-pollers.ts';
import type { StreamPoller } from './stream-poller.ts';
import type { TypesenseEmulator, TypesenseVersion } from './typesense-emulator.ts';

/** The embedded stack's options and its public shape (see `startLocalStack` in stack.ts). */

export const REGION = 'us-east-1';
export const ACCOUNT_ID = '000000000000';
export const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const API_KEY = 'local-typesense-key';
/** The changes queue's visibility timeout when the options do not set one, s. */
export const CHANGES_VISIBILITY_SECONDS = 2;

/** The writer's visibility lease, s, as the construct picks it (`defaultVisibilityLeaseSeconds`); 0 is none. */
export function writerLeaseSeconds(
  options: Pick<LocalStackOptions, 'visibilityTimeoutSeconds' | 'visibilityLeaseSeconds'>,
): number | undefined {
  const lease =
    options.visibilityLeaseSeconds ??
    defaultVisibilityLeaseSeconds(options.visibilityTimeoutSeconds ?? CHANGES_VISIBILITY_SECONDS);
  return lease === 0 ? undefined : lease;
}

/** One index of the table (the construct's `indexes` entry): its alias, schema, projection and transform. */
export interface LocalIndexOptions {
  alias: string;
  /** @default the stack's `schema` */
  schema?: CollectionSchema;
  projection?: TypesenseSyncProjection;
  transform?: Transform | { module: string; exportName?: string };
  /** An aggregated index (the stack's `aggregate`). */
  aggregate?: AggregateConfig;
}

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
  /**
   * Several indexes of the table, as the construct's `indexes`: the first replaces `alias`, `projection` and
   * `transform` (the stack's top-level fields are its), each further one gets its own queues, writer poller,
   * re-sync and index, named `<table>-<alias>-…`. `schema` is the default of each index's.
   */
  indexes?: LocalIndexOptions[];
  /** Collection schema; its name is replaced by `<alias>_v1` (or by the first load's collection). */
  schema: CollectionSchema;
  /**
   * How the index is set up. `direct` (default): the collection `<alias>_v1` and the alias are created
   * on every node before anything runs. `custom-resource`: as `cdk deploy` does it (issue 19): the index
   * custom resource's handler gets a Create with `schema` once the pollers can run, which starts the
   * first load; the alias appears at its swap (`stack.index` drives later deploys). One node only.
   */
  index?: 'direct' | 'custom-resource';
  /**
   * Writes to the table after it exists and before the index is set up and the pollers start: a table
   * that already holds items when the sync is deployed (`npm start -- --prefill N`).
   */
  prefill?: (dynamodb: DynamoDBClient, tableName: string) => Promise<void>;
  sourceTimestampAttribute?: string;
  projection?: TypesenseSyncProjection;
  /** An aggregated index (docs/configuration.md "Aggregation"); needs a sort key in `keyAttributes`. */
  aggregate?: AggregateConfig;
  /**
   * The app's transform (docs/configuration.md "Transform"), run by the writer and the re-sync after the
   * projection: a function, or a module imported by path, which `target` also names for `verify` and
   * `preview`.
   */
  transform?: Transform | { module: string; exportName?: string };
  /** Fixed ports; free ones are chosen when absent. */
  ports?: { dynamodb?: number; sqs?: number; typesense?: number; status?: number };
  /** Changes queue visibility timeout: when a failed message is retried. Default 2 s. */
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  buckets?: number;
  maxMessageBytes?: number;
  /** The stream event source's `BatchSize` (default: the construct's, 10,000). */
  streamBatchSize?: number;
  /** Its `MaximumBatchingWindowInSeconds` (default: the construct's, 0 s). */
  streamMaxBatchingWindowSeconds?: number;
  writerConcurrency?: number;
  /**
   * The cap of the writer's adaptive import limit, shared by its `writerConcurrency` pollers as by
   * batches of one instance (default: the function's, 4 = N − 2 on a 6-core node).
   */
  maxConcurrentImports?: number;
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
  /**
   * The writer's visibility lease, s (`VISIBILITY_LEASE_SECONDS`); 0: none. Default as deployed: a sixth of
   * the changes queue's visibility timeout, none under a second (so none at the default 2 s).
   */
  visibilityLeaseSeconds?: number;
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

/** One index of the embedded stack: its pipeline, its functions, and what checks it. */
export interface LocalIndex {
  alias: string;
  collection: string;
  queueUrl: string;
  dlqUrl: string;
  resyncStateTable: string;
  resyncQueueUrl: string;
  queuePoller: QueuePoller;
  resyncPoller: QueuePoller;
  /** What this index's writer poller saw (the stack's `LiveFigures` count every index's). */
  indexFigures: LiveFigures;
  functions: Pick<LocalFunctions, 'writer' | 'resync' | 'indexResource'>;
  index: LocalIndexResource;
  /** This index's entry in the target's `indexes` (functions/contract/target.ts). */
  targetEntry: NonNullable<TargetInput['indexes']>[string];
  /** Table vs this index, through its projection and transform. */
  verify(): Promise<VerifyReport>;
  /** Receives every message on this index's DLQ. */
  drainDeadLetters(): Promise<DeadLetter[]>;
}

/** One index's own figures on the embedded stack (infra/local/index-status.ts). */
export interface LocalIndexStatus {
  alias: string;
  /** Documents in the collection behind the alias; undefined while Typesense does not answer. */
  documents: number | undefined;
  /** Changes in messages this index's writer finished. */
  changesApplied: number;
  /** Messages waiting or in flight on this index's changes queue. */
  pendingMessages: number;
  dlqDepth: number;
  /** As `LocalStatus.lagMs`, of this index's writer. */
  lagMs: number | undefined;
  oldestPendingAgeMs: number | undefined;
  circuit: CircuitState;
  load?: LocalStatus['load'];
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
  /** The running re-sync, if any: a first load (the alias appears at its swap) or a migration. */
  load?: { jobId: string; firstLoad: boolean; phase: string; scanned: number; estimatedItems?: number };
  /** Every index's own figures, the first first. */
  indexes: LocalIndexStatus[];
}

export interface LocalStack {
  endpoints: { dynamodb: string; sqs: string; typesense: string };
  /** `GET` answers the current ingestion delay, as the deployed endpoint does. */
  ingestionDelayUrl: string;
  /** The local status page: lag chart, throughput, pending, DLQ and circuit, live; a row of figures per index. */
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
  /** The index custom resource as CloudFormation drives it: `deploy(schema)` (an Update), `delete(…)`. */
  index: LocalIndexResource;
  /** With `index: 'custom-resource'`: what the Create at start answered (the first load's job). */
  indexCreated: IndexResourceResponse | undefined;
  /**
   * The functions the pollers drive, each built by its handler factory from a config object: their
   * adapters (replace one to inject a fault into the real path) and their SDK clients, which IAM
   * checks against the function's role.
   */
  functions: LocalFunctions;
  /** Present with `atlas`: the Atlas trigger path into the mirror table. */
  atlas: LocalAtlasSource | undefined;
  /** Every index by its alias, the first (the stack's own fields) included. */
  indexes: Readonly<Record<string, LocalIndex>>;
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
