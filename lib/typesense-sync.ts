import { fileURLToPath } from 'node:url';
import { Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { CANARY_KEY_VALUE } from '../functions/core/canary.ts';
import { DEFAULT_METRICS_NAMESPACE } from '../functions/shared/metrics.ts';
import { allowCloudWatchAlarms, createAlarmTopic, type SyncRule } from './alarms.ts';
import { AtlasSource, checkAtlasSourceProps } from './atlas-source.ts';
import { allowLogGroupEncryption, queueEncryptionOf, tableEncryptionOf } from './encryption.ts';
import { grantSendMessage, grantTableKey, queueRuleTarget } from './grants.ts';
import {
  SyncObservability,
  type TypesenseSyncAlarms,
  type TypesenseSyncAlarmsProps,
} from './observability.ts';
import { redriveSource } from './redrive.ts';
import {
  DEFAULT_MESSAGE_GROUP_BUCKETS,
  DEFAULT_STREAM_BATCH_SIZE,
  DEFAULT_STREAM_BATCHING_WINDOW_SECONDS,
  STREAM_BATCH_SIZE_RANGE,
  STREAM_BATCHING_WINDOW_SECONDS_RANGE,
} from './stream-batching.ts';
import { SyncFunction } from './sync-function.ts';

export interface TypesenseSyncTypesenseProps {
  /** Node URLs, e.g. `https://xyz.a1.typesense.net:443`. */
  readonly nodes: string[];
  /** Secret whose value is the Typesense API key; only its ARN reaches the function environment. */
  readonly apiKeySecret: secretsmanager.ISecret;
  /**
   * The customer managed key the secret is encrypted with, when it is imported (an imported secret does
   * not know its key): the functions reading it are granted `kms:Decrypt` on it, through Secrets Manager
   * only. @default the secret's own `encryptionKey` (a secret defined in the app), else none needed
   */
  readonly apiKeySecretKey?: kms.IKey;
  /**
   * Accept `http://` nodes, which send the API key in clear text: for local stacks (LocalStack, a private
   * test network) only. @default false: every node must be `https://`
   */
  readonly allowInsecureHttp?: boolean;
  /** The alias the writer writes to. */
  readonly collection: string;
}

export interface TypesenseSyncProjection {
  readonly include?: string[];
  readonly exclude?: string[];
}

/**
 * Backoff of changes that failed retryably. Unset fields keep the writer's defaults (its env contract
 * in functions/shared/config.ts).
 */
export interface TypesenseSyncRetryProps {
  /** First backoff; it doubles per receive (with jitter) up to `maxDelay`. Whole seconds. @default 2 s */
  readonly baseDelay?: Duration;
  /** Backoff cap, at most 12 hours (the SQS visibility timeout maximum). Whole seconds. @default 5 min */
  readonly maxDelay?: Duration;
  /**
   * How long a change may keep failing retryably before it is dead-lettered anyway. Whole hours, at
   * least 1, shorter than the changes queue retention (14 days). @default 72 h
   */
  readonly budget?: Duration;
}

/**
 * The writer's circuit breaker around Typesense. Unset fields keep the writer's defaults (its env
 * contract in functions/shared/config.ts).
 */
export interface TypesenseSyncCircuitBreakerProps {
  /** Consecutive batches failing for outage reasons that open the circuit. @default 3 */
  readonly failureThreshold?: number;
  /** First wait before probing Typesense's health while open; doubles up to the max. Whole seconds. @default 15 s */
  readonly probeInterval?: Duration;
  /** Probe interval cap, at most 12 hours. Whole seconds. @default 5 min */
  readonly maxProbeInterval?: Duration;
}

/** The full re-sync: a zero-downtime rebuild of the index into a new collection, then an alias swap. */
export interface TypesenseSyncResyncProps {
  /** When to start a re-sync on its own. @default none: only operators and the triggers below start one */
  readonly schedule?: events.Schedule;
  /** Parallel Scan segments, each a task of its own, 1..1000. @default 8 */
  readonly totalSegments?: number;
  /** Items per Scan page (one import request and one checkpoint each), 1..10000. @default 500 */
  readonly pageSize?: number;
  /** Older collections kept for rollback after a swap, 1..100. @default 2 */
  readonly keepCollections?: number;
  /** The re-sync function's timeout, 1 s..15 min. Whole seconds. @default 5 min */
  readonly timeout?: Duration;
  /** Start a re-sync when the stream iterator age nears `streamMaxRecordAge`. @default true */
  readonly onStreamGap?: boolean;
  /** Concurrent re-sync tasks, 2..1000 (the SQS event source minimum is 2). @default max(2, totalSegments) */
  readonly maxConcurrency?: number;
  /** Concurrency reserved for the re-sync function; at least `maxConcurrency`. @default none reserved */
  readonly reservedConcurrentExecutions?: number;
  /**
   * How long a running re-sync may go without progress before the stall alarm fires (needs the lag check
   * schedule, which reports the progress age), whole minutes from 5 to 1440. @default 30 minutes
   */
  readonly stallAlarmAfter?: Duration;
}

/** The writer's concurrency. */
export interface TypesenseSyncWriterProps {
  /**
   * Concurrent writer invocations the changes queue's event source may run, 2..1000: a cap on the
   * load on Typesense. FIFO message groups bound it too (`messageGroupBuckets`). @default no cap
   */
  readonly maxConcurrency?: number;
  /**
   * Concurrency reserved for the writer, at least `maxConcurrency` (a throttled batch returns to the
   * queue and its receive counts towards the DLQ). @default none reserved
   */
  readonly reservedConcurrentExecutions?: number;
}

/** The batcher's concurrency. */
export interface TypesenseSyncBatcherProps {
  /**
   * Concurrency reserved for the batcher: at least shards × `parallelizationFactor`, or the stream
   * falls behind. @default none reserved
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Where the functions that talk to Typesense (writer, re-sync, lag check) run, e.g. to reach a private
 * Typesense. The subnets need a route to DynamoDB, SQS, Secrets Manager and CloudWatch (a NAT gateway
 * or VPC endpoints); the batcher, the ingestion-delay function and the Atlas ingest only call AWS and
 * stay outside.
 */
export interface TypesenseSyncVpcProps {
  readonly vpc: ec2.IVpc;
  /** @default the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default one security group per function, allowing all outbound traffic */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** The scheduled lag check: a canary item written to the table and timed until Typesense has it. */
export interface TypesenseSyncLagCheckProps {
  /**
   * How often to check, as a rate (the alarms and the ingestion-delay endpoint need the interval),
   * 1 minute..1 hour; `false` for no schedule (and then no lag alarms). @default rate(1 minute)
   */
  readonly schedule?: events.Schedule | false;
  /** How long to wait for the canary to reach Typesense, 5 s..10 min. Whole seconds. @default 45 s */
  readonly canaryTimeout?: Duration;
}

/** The ingestion-delay endpoint: a Lambda Function URL serving `GET …/v1/ingestion-delay`. */
export interface TypesenseSyncIngestionDelayEndpointProps {
  /** `AWS_IAM` requires SigV4-signed requests; `NONE` makes the figures public. @default AWS_IAM */
  readonly authType?: lambda.FunctionUrlAuthType;
  /**
   * Concurrency reserved for (and so capping) the endpoint's function, 1..100000, or `false` for none. A
   * public endpoint is capped so that anyone calling it cannot run up costs or starve the account's other
   * functions. Reserving needs 100 unreserved executions left in the account (new accounts may have a
   * quota of 10: then pass `false` or keep `AWS_IAM`). @default 2 with `NONE`, none with `AWS_IAM`
   */
  readonly reservedConcurrentExecutions?: number | false;
}

/** The Typesense schema of the collections a re-sync creates; the name is generated. */
export interface TypesenseSyncCollectionSchema {
  readonly fields: Array<{ name: string; type: string; [k: string]: unknown }>;
  readonly [k: string]: unknown;
}

/** A MongoDB Atlas Database Trigger as the source (see lib/atlas-source.ts). */
export interface TypesenseSyncMongoAtlasProps {
  /** The trigger's partner event source: `aws.partner/mongodb.com/stitch.trigger/<trigger id>`. */
  readonly eventSourceName: string;
  /** Only events of this database. @default any */
  readonly database?: string;
  /** Only events of this collection. @default any */
  readonly collection?: string;
  /** How long a document's version outlives its last event, 15..365 whole days. @default 30 days */
  readonly versionRetention?: Duration;
}

export interface TypesenseSyncProps {
  /** A table to sync from. It must have a stream. Mutually exclusive with `tableProps`. */
  readonly existingTableObj?: dynamodb.ITable;
  /** Overrides for the table the construct creates. Mutually exclusive with `existingTableObj`. */
  readonly tableProps?: Partial<dynamodb.TableProps>;
  /**
   * Primary key attribute names, partition key first. Required with `existingTableObj`; derived from
   * the key schema for a created table (if given, it must match).
   */
  readonly keyAttributes?: string[];
  readonly typesense: TypesenseSyncTypesenseProps;
  /** Which item attributes become document fields. Default: all. */
  readonly projection?: TypesenseSyncProjection;
  /**
   * FIFO message groups keys are hashed into: the writer's maximum parallelism. Fewer groups make
   * fuller messages (bench P1: 16 groups bill 1.9× the byte-count lower bound of SQS requests, 4 groups
   * 1.3×, 2 groups 1.2×). Changing it on a deployed stack moves keys to other groups: let the changes
   * queue drain first, or two changes of a key may be applied at once. @default 4
   */
  readonly messageGroupBuckets?: number;
  /** Changes queue maximum message size, 8192..1048576. @default 262144 */
  readonly maxMessageBytes?: number;
  /** @default Duration.seconds(30) */
  readonly writerTimeout?: Duration;
  /**
   * Receives of one changes message before SQS moves it to the DLQ. Also passed to the writer, which
   * re-sends a message failing for a retryable reason before it reaches this limit. 3..1000 (below 3
   * the re-send would loop without backoff). @default 10
   */
  readonly maxReceiveCount?: number;
  /** Writer backoff for retryable failures. @default the writer's defaults */
  readonly retry?: TypesenseSyncRetryProps;
  /** Writer circuit breaker around Typesense. @default the writer's defaults */
  readonly circuitBreaker?: TypesenseSyncCircuitBreakerProps;
  /**
   * Records per batcher invocation at most (the stream event source's `BatchSize`), 1..10000. Lambda
   * also stops at its 6 MB invocation payload, so with large items the window and that limit decide.
   * @default 10000
   */
  readonly streamBatchSize?: number;
  /**
   * How long the stream event source gathers records before invoking the batcher unless the batch fills
   * first (`MaximumBatchingWindowInSeconds`): whole seconds, 0..300. Fuller batches mean fuller SQS
   * messages (fewer billed requests); every change may wait up to this long. With
   * `parallelizationFactor` > 1 each concurrent batch of a shard gathers for its own window.
   * @default Duration.seconds(1)
   */
  readonly streamMaxBatchingWindow?: Duration;
  /** @default Duration.days(1) */
  readonly streamMaxRecordAge?: Duration;
  /** @default 10 */
  readonly streamRetryAttempts?: number;
  /** Concurrent batcher invocations per stream shard, 1..10. @default 1 */
  readonly parallelizationFactor?: number;
  /** Item attribute holding a precise change time (ms epoch number or ISO string). */
  readonly sourceTimestampAttribute?: string;
  /**
   * Bucket receiving stream batches the batcher failed to process (after the retry attempts or the
   * maximum record age): the S3 on-failure destination, which gets the full records, not only
   * metadata. Mutually exclusive with `failureRetention`. @default a new bucket
   */
  readonly existingFailureBucketObj?: s3.IBucket;
  /** How long the created failure bucket keeps failed batches. Whole days. @default Duration.days(30) */
  readonly failureRetention?: Duration;
  /** Full re-sync tuning and triggers. @default see TypesenseSyncResyncProps */
  readonly resync?: TypesenseSyncResyncProps;
  /** Schema of the collections a re-sync creates. @default the live collection's schema */
  readonly collectionSchema?: TypesenseSyncCollectionSchema;
  /** The CloudWatch namespace of every function's EMF metrics. @default 'TypesenseSync' */
  readonly metricsNamespace?: string;
  /** The scheduled lag check. @default see TypesenseSyncLagCheckProps */
  readonly lagCheck?: TypesenseSyncLagCheckProps;
  /** The ingestion-delay endpoint (see `grantIngestionDelayRead`). @default see TypesenseSyncIngestionDelayEndpointProps */
  readonly ingestionDelayEndpoint?: TypesenseSyncIngestionDelayEndpointProps;
  /** @default a name CloudFormation generates */
  readonly dashboardName?: string;
  /** Alarm notifications and thresholds. @default see TypesenseSyncAlarmsProps */
  readonly alarms?: TypesenseSyncAlarmsProps;
  /**
   * Also sync a MongoDB collection, through an Atlas Database Trigger's EventBridge events mirrored
   * into the table (keyed by `_id`). See README, "MongoDB Atlas source". @default no Atlas source
   */
  readonly mongoAtlas?: TypesenseSyncMongoAtlasProps;
  /**
   * A customer managed KMS key for every queue (changes, re-sync work and both DLQs, and the Atlas ingest
   * queue and its DLQ), the created tables (with the Atlas versions table), the created failure bucket,
   * every function's log group, the Atlas partner event bus and a created alarms topic; each function is
   * granted only the use of it its resources need. The key policy must let EventBridge (the rules' target
   * queues, the partner bus), CloudWatch Logs and CloudWatch alarms use it: added to a key defined in the
   * same app, to be added by hand to an imported key (synth warnings say what). @default SQS-managed SSE,
   * AWS managed table keys, S3-managed bucket encryption, CloudWatch Logs' and EventBridge's own keys
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Overrides of the changes queue's props. Rejected: `fifo: false`, `deadLetterQueue`, `encryption`
   * and `encryptionMasterKey` (use `encryptionKey`), `enforceSSL: false`, `maxMessageSizeBytes` (use
   * `maxMessageBytes`), a `retentionPeriod` other than 14 days and a `visibilityTimeout` shorter than
   * 6 × `writerTimeout`. @default see the README
   */
  readonly queueProps?: Partial<sqs.QueueProps>;
  /**
   * Overrides of the changes DLQ's props. Rejected: `fifo: false`, `deadLetterQueue`, `encryption`
   * and `encryptionMasterKey` (use `encryptionKey`) and `enforceSSL: false`. @default FIFO, 14 days
   */
  readonly deadLetterQueueProps?: Partial<sqs.QueueProps>;
  /** Writer concurrency. @default no cap, none reserved */
  readonly writer?: TypesenseSyncWriterProps;
  /** Batcher concurrency. @default none reserved */
  readonly batcher?: TypesenseSyncBatcherProps;
  /** Runs the writer, re-sync and lag check in a VPC. @default no VPC */
  readonly vpc?: TypesenseSyncVpcProps;
  /** Retention of every function's log group. @default one month */
  readonly logRetention?: logs.RetentionDays;
}

// The batcher's env contract (functions/shared/config.ts) rejects anything outside these ranges, so a
// value the construct accepted would otherwise only fail at the first cold start.
const MAX_MESSAGE_BYTES_RANGE = [8_192, 1_048_576] as const;
const MESSAGE_GROUP_BUCKETS_RANGE = [1, 10_000] as const;
const PARALLELIZATION_FACTOR_RANGE = [1, 10] as const;
/** SQS's maximum visibility timeout, which bounds every writer backoff. */
const MAX_VISIBILITY_SECONDS = 43_200;
const CHANGES_QUEUE_RETENTION = Duration.days(14);
const RESYNC_QUEUE_RETENTION = Duration.days(7);
/** Concurrency reserved for a public (`authType: NONE`) ingestion-delay endpoint. */
const PUBLIC_ENDPOINT_RESERVED_CONCURRENCY = 2;
const ATTRIBUTE_TYPE_NAMES: Record<dynamodb.AttributeType, string> = {
  [dynamodb.AttributeType.STRING]: 'STRING',
  [dynamodb.AttributeType.NUMBER]: 'NUMBER',
  [dynamodb.AttributeType.BINARY]: 'BINARY',
};
// The writer's own defaults (functions/shared/config.ts), used only to validate combinations.
const WRITER_DEFAULT_MAX_DELAY_SECONDS = 300;
const WRITER_DEFAULT_MAX_PROBE_SECONDS = 300;
/**
 * How much one re-sync task is budgeted to scan and import within its timeout: the re-sync contract's
 * defaults (200 pages of 500 items) in the default 5-minute timeout.
 */
const RESYNC_TASK_BUDGET = { items: 200 * 500, seconds: 300 } as const;

function checkIntRange(name: string, value: number, [min, max]: readonly [number, number]): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`TypesenseSync: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/** A Duration in whole `unit`s within [min, max]; undefined stays undefined, tokens are not checked. */
function wholeUnits(
  name: string,
  duration: Duration | undefined,
  unit: 'seconds' | 'minutes' | 'hours' | 'days',
  [min, max]: readonly [number, number],
): number | undefined {
  if (duration === undefined) return undefined;
  const value =
    unit === 'seconds'
      ? duration.toSeconds({ integral: false })
      : unit === 'minutes'
        ? duration.toMinutes({ integral: false })
        : unit === 'hours'
          ? duration.toHours({ integral: false })
          : duration.toDays({ integral: false });
  if (Token.isUnresolved(value)) return value;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `TypesenseSync: ${name} must be a whole number of ${unit} from ${min} to ${max}, got ${duration.toHumanString()}`,
    );
  }
  return value;
}

const DEFAULT_LAG_CHECK_INTERVAL = Duration.minutes(1);
const LAG_CHECK_INTERVAL_RANGE = [60, 3_600] as const;
/** What the lag check needs beyond waiting for the canary: the CloudWatch, SQS and state table reads. */
const LAG_CHECK_OVERHEAD_SECONDS = 20;

/** The interval of a `rate(…)` schedule expression in seconds; undefined for cron and at expressions. */
function rateSeconds(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (match === null) return undefined;
  const unitSeconds = { minute: 60, hour: 3_600, day: 86_400 }[match[2] as 'minute' | 'hour' | 'day'];
  return Number(match[1]) * unitSeconds;
}

/** CloudWatch's rule for namespaces; `AWS/` is reserved for AWS services. */
function checkMetricsNamespace(namespace: string): void {
  if (Token.isUnresolved(namespace)) return;
  if (
    !/^[0-9A-Za-z.\-_/#: ]{1,255}$/.test(namespace) ||
    namespace.trim() === '' ||
    namespace.startsWith('AWS/')
  ) {
    throw new Error(
      `TypesenseSync: metricsNamespace must be 1 to 255 of the characters 0-9A-Za-z.-_/#: and space, not starting with AWS/, got ${JSON.stringify(namespace)}`,
    );
  }
}

const resolved = (...values: number[]) => values.every((value) => !Token.isUnresolved(value));

/** The limit of reserved concurrency the construct accepts; the account's quota may be lower. */
const RESERVED_CONCURRENCY_RANGE = [1, 100_000] as const;
/** The SQS event source's maximum concurrency range. */
const EVENT_SOURCE_CONCURRENCY_RANGE = [2, 1_000] as const;

/**
 * Validates a function's reserved concurrency against the maximum concurrency of its queue's event
 * source: fewer reserved executions would throttle batches back to the queue, where each return
 * counts as a receive towards the DLQ.
 */
function checkConcurrency(name: string, reserved: number | undefined, maxConcurrency: number | undefined) {
  if (reserved === undefined) return;
  checkIntRange(`${name}.reservedConcurrentExecutions`, reserved, RESERVED_CONCURRENCY_RANGE);
  if (maxConcurrency !== undefined && resolved(reserved, maxConcurrency) && reserved < maxConcurrency) {
    throw new Error(
      `TypesenseSync: ${name}.reservedConcurrentExecutions (${reserved}) must be at least ${name}.maxConcurrency ` +
        `(${maxConcurrency}), or batches are throttled back to the queue and counted towards the DLQ`,
    );
  }
}

/** Rejects queue prop overrides that would break what every queue of the sync relies on. */
function checkQueueOverrides(name: string, overrides: Partial<sqs.QueueProps>): void {
  const reject = (field: string, why: string) => {
    throw new Error(`TypesenseSync: ${name}.${field} ${why}`);
  };
  if (overrides.fifo === false) {
    reject('fifo', 'must not be false: per-key order needs FIFO queues, and a FIFO queue a FIFO DLQ');
  }
  if (overrides.deadLetterQueue !== undefined) {
    reject(
      'deadLetterQueue',
      'is not supported: the construct wires its own DLQ (deadLetterQueueProps, maxReceiveCount)',
    );
  }
  if (overrides.encryption !== undefined || overrides.encryptionMasterKey !== undefined) {
    reject(
      'encryption',
      'is not supported: pass encryptionKey, which encrypts every queue and created table',
    );
  }
  if (overrides.enforceSSL === false)
    reject('enforceSSL', 'must not be false: the queues deny requests without TLS');
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, index) => name === b[index]);
}

/** DynamoDB actions that write items; a grant of any of them also needs a table key's encrypt side. */
const TABLE_WRITE_ACTIONS = new Set([
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
]);

/**
 * Exactly `actions` on a table, and the use of its key. CDK's grantReadData / grantReadWriteData would
 * give every read or write action, including Scan on the source table to functions that never scan.
 */
function grantTable(table: dynamodb.ITable, fn: lambda.IFunction, actions: string[]): void {
  table.grant(fn, ...actions);
  grantTableKey(table, fn, actions.some((action) => TABLE_WRITE_ACTIONS.has(action)) ? 'write' : 'read');
}

/**
 * The stream's S3 on-failure destination with only what Lambda needs to write there: s3:PutObject on
 * the objects, s3:ListBucket and, for a KMS bucket, kms:GenerateDataKey. CDK's S3OnFailureDestination
 * grants read, write and delete on the whole bucket.
 */
class FailureBucketDestination implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  bind(target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    const statements = [
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('*')] }),
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    ];
    if (this.bucket.encryptionKey !== undefined) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey'],
          resources: [this.bucket.encryptionKey.keyArn],
        }),
      );
    }
    // A policy of its own, so the object wildcard below is suppressed for this policy alone.
    const policy = new iam.Policy(targetHandler, 'FailureDestinationPolicy', { statements });
    targetHandler.role?.attachInlinePolicy(policy);
    // Lambda checks the destination permissions when the mapping is created.
    target.node.addDependency(policy);
    NagSuppressions.addResourceSuppressions(policy, [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Lambda names each failed batch object itself (aws/lambda/<mapping id>/<shard>/<date>/...), so s3:PutObject ' +
          'needs the object wildcard of the failure bucket; nothing may be read or deleted.',
        appliesTo: [{ regex: '/^Resource::.+\\/\\*$/' }],
      },
    ]);
    return { destination: this.bucket.bucketArn };
  }
}

/**
 * Keeps a Typesense alias in step with a DynamoDB table:
 * stream -> batcher -> SQS FIFO (keys only) -> writer (consistent re-read) -> Typesense.
 * A full re-sync rebuilds the index into a new collection from a parallel Scan and swaps the alias.
 */
export class TypesenseSync extends Construct {
  public readonly table: dynamodb.ITable;
  public readonly changesQueue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly batcher: SyncFunction;
  public readonly writer: SyncFunction;
  /**
   * Re-sync bookkeeping: job state, segment checkpoints and the tombstones of keys deleted during a
   * backfill.
   */
  public readonly resyncStateTable: dynamodb.Table;
  /** The re-sync's work: start, segment and finish tasks. Every trigger goes through it. */
  public readonly resyncQueue: sqs.Queue;
  public readonly resyncDeadLetterQueue: sqs.Queue;
  public readonly resync: SyncFunction;
  /** Where failed stream batches land, with their full records. */
  public readonly failureBucket: s3.IBucket;
  /** Times a canary from the table to Typesense and publishes the lag and pipeline figures. */
  public readonly lagCheck: SyncFunction;
  /** Serves the latest lag figures at `ingestionDelayUrl`. */
  public readonly ingestionDelay: SyncFunction;
  /** `GET` it for the current ingestion delay (signed with SigV4 unless the endpoint's auth type is NONE). */
  public readonly ingestionDelayUrl: string;
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: TypesenseSyncAlarms;
  /** Where the alarms notify: `alarms.topic`, or the topic created with `alarms.createTopic`. */
  public readonly alarmTopic?: sns.ITopic;
  /**
   * What the operator CLI needs to reach this deployment (`typesense-sync --stack`): resource names,
   * the Typesense connection by secret ARN (never the key) and the settings that shape messages.
   * The ready stack publishes it as the `OperatorTarget` output; see lib/operations/target.ts.
   */
  public readonly operatorTarget: Record<string, unknown>;
  /** With `mongoAtlas`: the partner bus, rule, ingest queue and function writing the mirror table. */
  public readonly atlasSource?: AtlasSource;

  constructor(scope: Construct, id: string, props: TypesenseSyncProps) {
    super(scope, id);

    const messageGroupBuckets = props.messageGroupBuckets ?? DEFAULT_MESSAGE_GROUP_BUCKETS;
    const maxMessageBytes = props.maxMessageBytes ?? 262_144;
    const writerTimeout = props.writerTimeout ?? Duration.seconds(30);
    const maxReceiveCount = props.maxReceiveCount ?? 10;
    const parallelizationFactor = props.parallelizationFactor ?? 1;
    const streamMaxRecordAge = props.streamMaxRecordAge ?? Duration.days(1);
    // Stream batching (issue 23): how full each batcher invocation, and so each SQS message, gets.
    const streamBatchSize = props.streamBatchSize ?? DEFAULT_STREAM_BATCH_SIZE;
    const streamMaxBatchingWindow =
      props.streamMaxBatchingWindow ?? Duration.seconds(DEFAULT_STREAM_BATCHING_WINDOW_SECONDS);
    checkIntRange('streamBatchSize', streamBatchSize, STREAM_BATCH_SIZE_RANGE);
    wholeUnits(
      'streamMaxBatchingWindow',
      streamMaxBatchingWindow,
      'seconds',
      STREAM_BATCHING_WINDOW_SECONDS_RANGE,
    );

    // Validate everything before creating any resource: a bad prop then costs no bundling.
    checkIntRange('maxMessageBytes', maxMessageBytes, MAX_MESSAGE_BYTES_RANGE);
    checkIntRange('messageGroupBuckets', messageGroupBuckets, MESSAGE_GROUP_BUCKETS_RANGE);
    checkIntRange('parallelizationFactor', parallelizationFactor, PARALLELIZATION_FACTOR_RANGE);
    // At least 3: the writer re-sends a retryably failing message at maxReceiveCount − 1 receives, so
    // below 3 every failure would be re-sent at once, a tight loop instead of a backoff.
    checkIntRange('maxReceiveCount', maxReceiveCount, [3, 1_000]);
    if (props.typesense.nodes.length === 0) {
      throw new Error('TypesenseSync: typesense.nodes must name at least one Typesense node URL');
    }
    for (const node of props.typesense.nodes) {
      if (Token.isUnresolved(node)) continue;
      if (!URL.canParse(node) || node.includes(',')) {
        throw new Error(`TypesenseSync: typesense.nodes entry is not a URL: ${JSON.stringify(node)}`);
      }
      if (new URL(node).protocol === 'http:' && props.typesense.allowInsecureHttp !== true) {
        throw new Error(
          `TypesenseSync: typesense.nodes entry ${JSON.stringify(node)} uses http://, which sends the API key in clear ` +
            'text: use https://, or set typesense.allowInsecureHttp: true (local stacks only)',
        );
      }
    }
    if (props.alarms?.topic !== undefined && props.alarms.createTopic === true) {
      throw new Error('TypesenseSync: pass alarms.topic or alarms.createTopic, not both');
    }
    if (!Token.isUnresolved(props.typesense.collection) && props.typesense.collection.length === 0) {
      throw new Error('TypesenseSync: typesense.collection must not be empty');
    }
    const writerTuning = this.writerTuningEnv(props, maxReceiveCount);
    if (props.existingFailureBucketObj !== undefined && props.failureRetention !== undefined) {
      throw new Error(
        'TypesenseSync: failureRetention applies only to the created failure bucket, not to existingFailureBucketObj',
      );
    }
    const failureRetention = props.failureRetention ?? Duration.days(30);
    wholeUnits('failureRetention', failureRetention, 'days', [1, 36_500]);
    const resync = this.resyncSettings(props);
    const lagCheck = this.lagCheckSettings(props);
    const metricsNamespace = props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE;
    checkMetricsNamespace(metricsNamespace);
    const queueOverrides = this.changesQueueOverrides(props, writerTimeout);
    const deadLetterQueueOverrides = props.deadLetterQueueProps ?? {};
    checkQueueOverrides('deadLetterQueueProps', deadLetterQueueOverrides);
    const writerConcurrency = this.writerConcurrency(props);
    const ingestionDelayEndpoint = this.ingestionDelayEndpointSettings(props);

    const { table, keyAttributes } = this.resolveTable(props, lagCheck.schedule !== undefined);
    this.table = table;

    // Every queue is encrypted at rest and denies requests without TLS.
    const queueEncryption = queueEncryptionOf(props.encryptionKey);

    const changesSource = redriveSource(this, 'changes', { fifo: true, queueName: queueOverrides.queueName });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // A FIFO source queue can only redrive into a FIFO DLQ.
      fifo: true,
      ...changesSource.deadLetterQueueProps,
      // The functions send their own dead letters; this keeps a SendMessage without an explicit
      // deduplication id valid, while an explicit id still takes precedence.
      contentBasedDeduplication: true,
      retentionPeriod: Duration.days(14),
      ...deadLetterQueueOverrides,
      ...queueEncryption,
      enforceSSL: true,
    });

    this.changesQueue = new sqs.Queue(this, 'ChangesQueue', {
      contentBasedDeduplication: false,
      // High-throughput FIFO: limits apply per message group, so buckets scale throughput.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      // AWS guidance for SQS event sources: at least six times the function timeout, so batches
      // retried after throttling are not made visible again while still in flight.
      visibilityTimeout: Duration.seconds(writerTimeout.toSeconds() * 6),
      ...queueOverrides,
      queueName: changesSource.queueName,
      fifo: true,
      maxMessageSizeBytes: maxMessageBytes,
      // Outlive a long indexing outage rather than silently expiring unapplied changes.
      retentionPeriod: CHANGES_QUEUE_RETENTION,
      ...queueEncryption,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    this.failureBucket = props.existingFailureBucketObj ?? this.createFailureBucket(props, failureRetention);

    this.resyncStateTable = new dynamodb.Table(this, 'ResyncStateTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      ...tableEncryptionOf(props.encryptionKey),
      // Derived bookkeeping (job state, checkpoints, tombstones), worthless once the stack is gone:
      // a re-sync can always start over from the source table.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    NagSuppressions.addResourceSuppressions(this.resyncStateTable, [
      {
        id: 'AwsSolutions-DDB3',
        reason:
          'The re-sync state table holds derived bookkeeping only (job state, segment checkpoints, tombstones, the ' +
          'latest lag reading): after a loss, a new re-sync rebuilds everything from the source table, so ' +
          'point-in-time recovery would cost without protecting anything.',
      },
    ]);

    const resyncSource = redriveSource(this, 'resync', { fifo: false });
    this.resyncDeadLetterQueue = new sqs.Queue(this, 'ResyncDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      ...resyncSource.deadLetterQueueProps,
      ...queueEncryption,
      enforceSSL: true,
    });

    // Standard, not FIFO: segments must run in parallel, and tasks are idempotent against their
    // checkpoints, so neither ordering nor exactly-once delivery is needed.
    this.resyncQueue = new sqs.Queue(this, 'ResyncQueue', {
      queueName: resyncSource.queueName,
      // Six times the function timeout, as for the changes queue.
      visibilityTimeout: Duration.seconds(resync.timeoutSeconds * 6),
      // Explicit, not SQS's 4-day default: a week outlives a long weekend's outage, and stays below the
      // DLQ's 14 days, because a standard queue's message keeps its first enqueue time in the DLQ.
      retentionPeriod: RESYNC_QUEUE_RETENTION,
      ...queueEncryption,
      enforceSSL: true,
      deadLetterQueue: { queue: this.resyncDeadLetterQueue, maxReceiveCount: 5 },
    });

    const keyAttributesEnv = keyAttributes.join(',');
    // Unique per construct instance, so two syncs in one account publish apart: the dashboard selects each
    // function's metrics by this `service` dimension.
    const servicePrefix = Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    const serviceName = (role: string) => `${servicePrefix}-${role}`;
    const metricsEnv = { POWERTOOLS_METRICS_NAMESPACE: metricsNamespace };
    const logRetention = props.logRetention;
    const logEncryptionKey = props.encryptionKey;
    if (logEncryptionKey !== undefined) allowLogGroupEncryption(this, logEncryptionKey);
    // Only the functions that talk to Typesense go into the VPC: the others call AWS alone.
    const typesenseNetwork =
      props.vpc === undefined
        ? {}
        : { vpc: props.vpc.vpc, vpcSubnets: props.vpc.vpcSubnets, securityGroups: props.vpc.securityGroups };
    const typesenseEnv = {
      KEY_ATTRIBUTES: keyAttributesEnv,
      TYPESENSE_NODES: props.typesense.nodes.join(','),
      // The key is fetched at runtime: a value in the environment would be readable by anyone
      // allowed lambda:GetFunctionConfiguration.
      TYPESENSE_API_KEY_SECRET_ARN: props.typesense.apiKeySecret.secretArn,
      TYPESENSE_COLLECTION: props.typesense.collection,
      PROJECTION: JSON.stringify(props.projection ?? {}),
    };

    this.batcher = new SyncFunction(this, 'Batcher', {
      entry: fileURLToPath(new URL('../functions/batcher/handler.ts', import.meta.url)),
      serviceName: serviceName('batcher'),
      description: 'DynamoDB stream -> packed key-only change messages on the SQS FIFO changes queue',
      timeout: Duration.seconds(60),
      logRetention,
      logEncryptionKey,
      reservedConcurrentExecutions: props.batcher?.reservedConcurrentExecutions,
      environment: {
        QUEUE_URL: this.changesQueue.queueUrl,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        KEY_ATTRIBUTES: keyAttributesEnv,
        MESSAGE_GROUP_BUCKETS: String(messageGroupBuckets),
        MAX_MESSAGE_BYTES: String(maxMessageBytes),
        ...(props.sourceTimestampAttribute !== undefined && {
          SOURCE_TIMESTAMP_ATTRIBUTE: props.sourceTimestampAttribute,
        }),
        ...metricsEnv,
      },
    });
    this.batcher.addEventSource(
      new DynamoEventSource(this.table, {
        // Start from the oldest retained record so nothing written before deployment is skipped.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: streamBatchSize,
        maxBatchingWindow: streamMaxBatchingWindow,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        maxRecordAge: streamMaxRecordAge,
        retryAttempts: props.streamRetryAttempts ?? 10,
        parallelizationFactor,
        // An SQS or SNS destination would only receive the batch's metadata (shard and sequence
        // numbers), useless once the stream's 24 h retention has passed; S3 receives the records too.
        onFailure: new FailureBucketDestination(this.failureBucket),
      }),
    );
    NagSuppressions.addResourceSuppressions(
      this.batcher.role as iam.IRole,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'dynamodb:ListStreams, which the DynamoDB event source adds, has no resource-level permissions: it only ' +
            'lists stream ARNs and reads no item data (the stream reads are scoped to the table stream ARN).',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
    grantSendMessage(this.changesQueue, this.batcher);
    grantSendMessage(this.deadLetterQueue, this.batcher);

    this.writer = new SyncFunction(this, 'Writer', {
      entry: fileURLToPath(new URL('../functions/writer/handler.ts', import.meta.url)),
      serviceName: serviceName('writer'),
      description: 'SQS FIFO changes -> consistent re-read of each key -> Typesense upsert/delete',
      timeout: writerTimeout,
      logRetention,
      logEncryptionKey,
      reservedConcurrentExecutions: writerConcurrency.reservedConcurrentExecutions,
      ...typesenseNetwork,
      environment: {
        TABLE_NAME: this.table.tableName,
        QUEUE_URL: this.changesQueue.queueUrl,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        // The same number as the redrive policy above: one source of truth.
        MAX_RECEIVE_COUNT: String(maxReceiveCount),
        // Re-sends at the receive limit are packed to fit the queue's message size.
        MAX_MESSAGE_BYTES: String(maxMessageBytes),
        ...writerTuning,
        ...typesenseEnv,
        // While a re-sync runs, the writer also applies changes to its new collection.
        RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
        ...metricsEnv,
      },
    });
    this.writer.addEventSource(
      new SqsEventSource(this.changesQueue, {
        // The maximum for FIFO queues.
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: writerConcurrency.maxConcurrency,
      }),
    );
    // The strongly consistent re-read, and nothing else: the writer never scans or writes the table.
    grantTable(this.table, this.writer, ['dynamodb:BatchGetItem']);
    // Re-sends of retryable messages near the receive limit. ChangeMessageVisibility (the backoff)
    // is already part of the event source's consume grant.
    grantSendMessage(this.changesQueue, this.writer);
    grantSendMessage(this.deadLetterQueue, this.writer);
    this.grantApiKeyRead(props, this.writer);
    // Reads the active re-sync; writes tombstones of deletes and rejections of the new collection;
    // a successful write clears that id's earlier rejection (Query, DeleteItem).
    grantTable(this.resyncStateTable, this.writer, [
      'dynamodb:GetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:Query',
      'dynamodb:DeleteItem',
    ]);

    this.resync = new SyncFunction(this, 'Resync', {
      entry: fileURLToPath(new URL('../functions/resync/handler.ts', import.meta.url)),
      serviceName: serviceName('resync'),
      description: 'Full re-sync: parallel Scan -> new Typesense collection -> alias swap',
      timeout: Duration.seconds(resync.timeoutSeconds),
      memorySize: 1024,
      logRetention,
      logEncryptionKey,
      reservedConcurrentExecutions: resync.reservedConcurrentExecutions,
      ...typesenseNetwork,
      environment: {
        ...typesenseEnv,
        TABLE_NAME: this.table.tableName,
        RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
        RESYNC_QUEUE_URL: this.resyncQueue.queueUrl,
        QUEUE_URL: this.changesQueue.queueUrl,
        MESSAGE_GROUP_BUCKETS: String(messageGroupBuckets),
        MAX_MESSAGE_BYTES: String(maxMessageBytes),
        ...(props.collectionSchema !== undefined && {
          COLLECTION_SCHEMA: JSON.stringify(props.collectionSchema),
        }),
        ...resync.env,
        ...metricsEnv,
      },
    });
    this.resync.addEventSource(
      new SqsEventSource(this.resyncQueue, {
        // One task per invocation: a task already runs for up to the whole timeout.
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: resync.maxConcurrency,
      }),
    );
    // The re-sync never writes to the source table. BatchGetItem: the finisher re-reads the keys deleted
    // during the backfill (strongly consistent) before deciding to delete them from the new collection.
    grantTable(this.table, this.resync, ['dynamodb:Scan', 'dynamodb:DescribeTable', 'dynamodb:BatchGetItem']);
    // Jobs, the active pointer, segment checkpoints, tombstones and rejections (functions/shared/resync-store.ts).
    grantTable(this.resyncStateTable, this.resync, [
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ]);
    // Continuations: the next page range of a segment, and the finish task.
    grantSendMessage(this.resyncQueue, this.resync);
    // Keys deleted during the backfill are re-applied through the changes queue, in their group.
    grantSendMessage(this.changesQueue, this.resync);
    this.grantApiKeyRead(props, this.resync);

    // Every rule gets delivery alarms (lib/alarms.ts): a rule failing to deliver is otherwise silent.
    const rules: SyncRule[] = [];
    let streamGapAlarm: cloudwatch.Alarm | undefined;
    // Every trigger only enqueues a start task, so all of them take the same path as an operator's.
    if (resync.schedule !== undefined) {
      const rule = new events.Rule(this, 'ResyncSchedule', {
        description: 'Starts a full re-sync of the Typesense index on a schedule',
        schedule: resync.schedule,
        targets: [this.resyncStart('schedule')],
      });
      rules.push({ role: 'resyncSchedule', rule });
    }
    if (resync.onStreamGap) {
      // Records older than the stream's retention are gone from it, so changes the batcher has not
      // read by then are lost to the pipeline: only a full re-sync recovers them. Alarm before that.
      const alarm = new cloudwatch.Alarm(this, 'StreamIteratorAgeAlarm', {
        alarmDescription: 'The batcher is falling behind the stream: unread records are about to expire',
        metric: this.batcher.metric('IteratorAge', {
          statistic: cloudwatch.Stats.MAXIMUM,
          period: Duration.minutes(5),
        }),
        threshold: (streamMaxRecordAge.toMilliseconds() * 4) / 5,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      streamGapAlarm = alarm;
      const rule = new events.Rule(this, 'StreamGapRule', {
        description: 'Starts a full re-sync when the stream iterator age alarm fires',
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          resources: [alarm.alarmArn],
          detail: { state: { value: ['ALARM'] } },
        },
        targets: [this.resyncStart('stream-gap')],
      });
      rules.push({ role: 'streamGap', rule });
    }

    this.lagCheck = new SyncFunction(this, 'LagCheck', {
      entry: fileURLToPath(new URL('../functions/lag-check/handler.ts', import.meta.url)),
      serviceName: serviceName('lag-check'),
      description: 'Times a canary item from the table to Typesense; publishes the lag and pipeline figures',
      timeout: Duration.seconds(lagCheck.canaryTimeoutSeconds + LAG_CHECK_OVERHEAD_SECONDS),
      // A failed check is not retried: the next scheduled one replaces it, and a retry would overlap it.
      retryAttempts: 0,
      logRetention,
      logEncryptionKey,
      ...typesenseNetwork,
      environment: {
        ...typesenseEnv,
        TABLE_NAME: this.table.tableName,
        QUEUE_URL: this.changesQueue.queueUrl,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
        BATCHER_FUNCTION_NAME: this.batcher.functionName,
        WRITER_SERVICE_NAME: serviceName('writer'),
        CANARY_TIMEOUT_SECONDS: String(lagCheck.canaryTimeoutSeconds),
        ...(props.sourceTimestampAttribute !== undefined && {
          SOURCE_TIMESTAMP_ATTRIBUTE: props.sourceTimestampAttribute,
        }),
        ...metricsEnv,
      },
    });
    // The canary's own partition only: the check can never overwrite an application item.
    this.lagCheck.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [CANARY_KEY_VALUE] } },
      }),
    );
    grantTableKey(this.table, this.lagCheck, 'write');
    // Publishes the latest figures for the ingestion-delay endpoint; reads the re-sync progress.
    grantTable(this.resyncStateTable, this.lagCheck, [
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:PutItem',
    ]);
    this.changesQueue.grant(this.lagCheck, 'sqs:GetQueueAttributes');
    this.deadLetterQueue.grant(this.lagCheck, 'sqs:GetQueueAttributes');
    // The batcher's IteratorAge and the writer's CircuitOpen. GetMetricData has no resource-level
    // permissions: `*` is the only resource it accepts.
    this.lagCheck.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
    NagSuppressions.addResourceSuppressions(
      this.lagCheck.role as iam.IRole,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'cloudwatch:GetMetricData has no resource-level permissions, so * is the only resource it accepts; it ' +
            "reads the batcher's iterator age and the writer's circuit state.",
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
    // Looks for the canary in Typesense.
    this.grantApiKeyRead(props, this.lagCheck);
    if (lagCheck.schedule !== undefined) {
      const rule = new events.Rule(this, 'LagCheckSchedule', {
        description: 'Runs the Typesense sync lag check',
        schedule: lagCheck.schedule,
        targets: [new targets.LambdaFunction(this.lagCheck)],
      });
      rules.push({ role: 'lagCheckSchedule', rule });
    }

    this.ingestionDelay = new SyncFunction(this, 'IngestionDelay', {
      entry: fileURLToPath(new URL('../functions/ingestion-delay/handler.ts', import.meta.url)),
      serviceName: serviceName('ingestion-delay'),
      description: 'Serves GET /v1/ingestion-delay: the latest lag figures of the lag check',
      timeout: Duration.seconds(10),
      reservedConcurrentExecutions: ingestionDelayEndpoint.reservedConcurrentExecutions,
      logRetention,
      logEncryptionKey,
      environment: {
        RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        // Tells a fresh reading from a stale one. Without a schedule, whoever runs the check is expected
        // to run it as often as the default schedule would.
        LAG_CHECK_INTERVAL_SECONDS: String(
          lagCheck.intervalSeconds ?? DEFAULT_LAG_CHECK_INTERVAL.toSeconds(),
        ),
        ...metricsEnv,
      },
    });
    grantTable(this.resyncStateTable, this.ingestionDelay, ['dynamodb:GetItem']);
    this.deadLetterQueue.grant(this.ingestionDelay, 'sqs:GetQueueAttributes');
    const ingestionDelayFunctionUrl = this.ingestionDelay.addFunctionUrl({
      authType: ingestionDelayEndpoint.authType,
    });
    // The function URL ends with a slash.
    this.ingestionDelayUrl = `${ingestionDelayFunctionUrl.url}v1/ingestion-delay`;

    if (props.mongoAtlas !== undefined) {
      this.atlasSource = new AtlasSource(this, 'MongoAtlas', {
        ...props.mongoAtlas,
        table: this.table,
        deadLetterQueue: this.deadLetterQueue,
        serviceName: serviceName('atlas-ingest'),
        metricsNamespace,
        encryptionKey: props.encryptionKey,
        logRetention,
      });
      rules.push({
        role: 'atlas',
        rule: this.atlasSource.rule,
        eventBusName: props.mongoAtlas.eventSourceName,
        hasDeadLetterQueue: true,
      });
    }

    this.alarmTopic =
      props.alarms?.topic ??
      (props.alarms?.createTopic === true ? createAlarmTopic(this, props.encryptionKey) : undefined);
    if (this.alarmTopic !== undefined) allowCloudWatchAlarms(this, this.alarmTopic);

    const observability = new SyncObservability(this, 'Observability', {
      namespace: metricsNamespace,
      functions: {
        batcher: { fn: this.batcher, serviceName: serviceName('batcher') },
        writer: { fn: this.writer, serviceName: serviceName('writer') },
        resync: { fn: this.resync, serviceName: serviceName('resync') },
        lagCheck: { fn: this.lagCheck, serviceName: serviceName('lag-check') },
        ingestionDelay: { fn: this.ingestionDelay, serviceName: serviceName('ingestion-delay') },
      },
      changesQueue: this.changesQueue,
      deadLetterQueue: this.deadLetterQueue,
      lagCheckInterval:
        lagCheck.intervalSeconds === undefined ? undefined : Duration.seconds(lagCheck.intervalSeconds),
      lagThreshold: props.alarms?.lagThreshold ?? Duration.seconds(60),
      iteratorAgeThreshold: props.alarms?.iteratorAgeThreshold ?? Duration.minutes(5),
      topic: this.alarmTopic,
      dashboardName: props.dashboardName,
      atlas: this.atlasSource,
      stall: {
        resyncDeadLetterQueue: this.resyncDeadLetterQueue,
        stallAfter: resync.stallAlarmAfter,
        rules,
      },
      streamGapAlarm,
    });
    this.dashboard = observability.dashboard;
    this.alarms = observability.alarms;

    this.operatorTarget = {
      region: Stack.of(this).region,
      tableName: this.table.tableName,
      keyAttributes,
      queueUrl: this.changesQueue.queueUrl,
      dlqUrl: this.deadLetterQueue.queueUrl,
      failureBucket: this.failureBucket.bucketName,
      messageGroupBuckets,
      maxMessageBytes,
      ...(props.sourceTimestampAttribute !== undefined && {
        sourceTimestampAttribute: props.sourceTimestampAttribute,
      }),
      projection: props.projection ?? {},
      typesense: {
        nodes: props.typesense.nodes,
        collection: props.typesense.collection,
        apiKeySecretArn: props.typesense.apiKeySecret.secretArn,
      },
      resync: { stateTable: this.resyncStateTable.tableName, queueUrl: this.resyncQueue.queueUrl },
      ingestionDelayUrl: this.ingestionDelayUrl,
    };
  }

  /**
   * Lets `grantee` call the ingestion-delay endpoint (with `AWS_IAM` auth): `lambda:InvokeFunctionUrl`
   * and, which a Function URL created since October 2025 also needs, `lambda:InvokeFunction` conditioned on
   * `lambda:InvokedViaFunctionUrl` (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html).
   */
  public grantIngestionDelayRead(grantee: iam.IGrantable): iam.Grant {
    return this.ingestionDelay.grantInvokeUrl(grantee);
  }

  /** Read access to the API key secret, and to its imported customer managed key via Secrets Manager only. */
  private grantApiKeyRead(props: TypesenseSyncProps, fn: lambda.IFunction): void {
    props.typesense.apiKeySecret.grantRead(fn);
    const key = props.typesense.apiKeySecretKey;
    // A secret defined in the app with its own key is covered by grantRead above.
    if (key === undefined || key === props.typesense.apiKeySecret.encryptionKey) return;
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
        },
      }),
    );
  }

  /** Validates the ingestion-delay endpoint props; returns its auth type and reserved concurrency. */
  private ingestionDelayEndpointSettings(props: TypesenseSyncProps) {
    const authType = props.ingestionDelayEndpoint?.authType ?? lambda.FunctionUrlAuthType.AWS_IAM;
    const configured = props.ingestionDelayEndpoint?.reservedConcurrentExecutions;
    if (typeof configured === 'number') {
      checkIntRange(
        'ingestionDelayEndpoint.reservedConcurrentExecutions',
        configured,
        RESERVED_CONCURRENCY_RANGE,
      );
    }
    // A public endpoint is capped: anyone may call it, and an uncapped function could use up the
    // account's concurrency or run up costs. Reads of one item need no more than a couple at a time.
    const reservedConcurrentExecutions =
      configured === false
        ? undefined
        : (configured ??
          (authType === lambda.FunctionUrlAuthType.NONE ? PUBLIC_ENDPOINT_RESERVED_CONCURRENCY : undefined));
    return { authType, reservedConcurrentExecutions };
  }

  /** Validates the writer and batcher concurrency props; returns the writer's. */
  private writerConcurrency(props: TypesenseSyncProps): TypesenseSyncWriterProps {
    const writer = props.writer ?? {};
    if (writer.maxConcurrency !== undefined) {
      checkIntRange('writer.maxConcurrency', writer.maxConcurrency, EVENT_SOURCE_CONCURRENCY_RANGE);
    }
    checkConcurrency('writer', writer.reservedConcurrentExecutions, writer.maxConcurrency);
    checkConcurrency('batcher', props.batcher?.reservedConcurrentExecutions, undefined);
    return writer;
  }

  /** Validates the changes queue overrides; returns them. */
  private changesQueueOverrides(props: TypesenseSyncProps, writerTimeout: Duration): Partial<sqs.QueueProps> {
    const overrides = props.queueProps ?? {};
    checkQueueOverrides('queueProps', overrides);
    if (overrides.maxMessageSizeBytes !== undefined) {
      throw new Error(
        'TypesenseSync: queueProps.maxMessageSizeBytes is not supported: use maxMessageBytes, which the batcher packs messages to',
      );
    }
    const retentionSeconds = overrides.retentionPeriod?.toSeconds();
    if (
      retentionSeconds !== undefined &&
      resolved(retentionSeconds) &&
      retentionSeconds !== CHANGES_QUEUE_RETENTION.toSeconds()
    ) {
      throw new Error(
        'TypesenseSync: queueProps.retentionPeriod must stay 14 days (the SQS maximum): unapplied changes must ' +
          'outlive an outage, and the retry budget is validated against it',
      );
    }
    const visibilitySeconds = overrides.visibilityTimeout?.toSeconds();
    const minimumSeconds = writerTimeout.toSeconds() * 6;
    if (
      visibilitySeconds !== undefined &&
      resolved(visibilitySeconds, minimumSeconds) &&
      visibilitySeconds < minimumSeconds
    ) {
      throw new Error(
        `TypesenseSync: queueProps.visibilityTimeout must be at least 6 × writerTimeout (${minimumSeconds} s), ` +
          `got ${overrides.visibilityTimeout?.toHumanString()}: a shorter one redelivers batches still in flight`,
      );
    }
    return overrides;
  }

  /** The bucket receiving failed stream batches: private, encrypted, TLS-only, versioned, expiring, retained. */
  private createFailureBucket(props: TypesenseSyncProps, failureRetention: Duration): s3.Bucket {
    const bucket = new s3.Bucket(this, 'StreamFailureBucket', {
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      ...(props.encryptionKey === undefined
        ? { encryption: s3.BucketEncryption.S3_MANAGED }
        : {
            encryption: s3.BucketEncryption.KMS,
            encryptionKey: props.encryptionKey,
            // One data key per bucket, not per object: fewer KMS requests.
            bucketKeyEnabled: true,
          }),
      // Versioning keeps a batch that a replay overwrote or deleted by mistake.
      versioned: true,
      lifecycleRules: [
        { expiration: failureRetention, noncurrentVersionExpiration: failureRetention },
        { expiredObjectDeleteMarker: true },
      ],
      // Failed batches are unapplied changes: deleting the stack must not delete them.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    NagSuppressions.addResourceSuppressions(bucket, [
      {
        id: 'AwsSolutions-S1',
        reason:
          'Only the Lambda service (the stream on-failure destination) and operators running replay-stream-failures ' +
          'use this bucket; CloudTrail records those requests, and an access log bucket would need one of its own.',
      },
    ]);
    return bucket;
  }

  /** A rule target enqueueing a re-sync start task; only that rule may send to the work queue. */
  private resyncStart(trigger: 'schedule' | 'stream-gap'): events.IRuleTarget {
    return queueRuleTarget(this.resyncQueue, {
      message: events.RuleTargetInput.fromObject({ action: 'start', trigger }),
    });
  }

  /** Validates the re-sync props and the collection schema; returns the settings and their env variables. */
  private resyncSettings(props: TypesenseSyncProps) {
    const {
      schedule,
      totalSegments = 8,
      pageSize = 500,
      keepCollections = 2,
      timeout = Duration.minutes(5),
      onStreamGap = true,
      maxConcurrency = Math.max(2, totalSegments),
      reservedConcurrentExecutions,
      stallAlarmAfter = Duration.minutes(30),
    } = props.resync ?? {};
    wholeUnits('resync.stallAlarmAfter', stallAlarmAfter, 'minutes', [5, 1_440]);
    checkIntRange('resync.totalSegments', totalSegments, [1, 1_000]);
    checkIntRange('resync.pageSize', pageSize, [1, 10_000]);
    checkIntRange('resync.keepCollections', keepCollections, [1, 100]);
    checkIntRange('resync.maxConcurrency', maxConcurrency, EVENT_SOURCE_CONCURRENCY_RANGE);
    checkConcurrency('resync', reservedConcurrentExecutions, maxConcurrency);
    const timeoutSeconds = wholeUnits('resync.timeout', timeout, 'seconds', [1, 900]) as number;
    if (props.collectionSchema !== undefined && props.collectionSchema.fields.length === 0) {
      throw new Error('TypesenseSync: collectionSchema.fields must list at least one field');
    }

    const env: Record<string, string> = {
      RESYNC_TOTAL_SEGMENTS: String(totalSegments),
      RESYNC_PAGE_SIZE: String(pageSize),
      RESYNC_KEEP_COLLECTIONS: String(keepCollections),
    };
    // A task hands its segment on after this many pages; scaling it with the timeout and the page
    // size keeps one task's work inside its timeout when either is tuned.
    if (resolved(timeoutSeconds, pageSize)) {
      const { items, seconds } = RESYNC_TASK_BUDGET;
      const pagesPerTask = Math.floor((timeoutSeconds * items) / (seconds * pageSize));
      env.RESYNC_PAGES_PER_TASK = String(Math.max(1, pagesPerTask));
    }
    return {
      schedule,
      onStreamGap,
      maxConcurrency,
      reservedConcurrentExecutions,
      timeoutSeconds,
      stallAlarmAfter,
      env,
    };
  }

  /** Validates the lag check props; returns its schedule, interval and canary timeout. */
  private lagCheckSettings(props: TypesenseSyncProps) {
    const {
      schedule = events.Schedule.rate(DEFAULT_LAG_CHECK_INTERVAL),
      canaryTimeout = Duration.seconds(45),
    } = props.lagCheck ?? {};
    const canaryTimeoutSeconds = wholeUnits(
      'lagCheck.canaryTimeout',
      canaryTimeout,
      'seconds',
      [5, 600],
    ) as number;
    if (schedule === false) return { schedule: undefined, intervalSeconds: undefined, canaryTimeoutSeconds };
    const intervalSeconds = rateSeconds(schedule.expressionString);
    const [min, max] = LAG_CHECK_INTERVAL_RANGE;
    if (intervalSeconds === undefined || intervalSeconds < min || intervalSeconds > max) {
      throw new Error(
        `TypesenseSync: lagCheck.schedule must be a rate from 1 minute to 1 hour (the alarms and the ingestion-delay endpoint need its interval), got ${schedule.expressionString}`,
      );
    }
    return { schedule, intervalSeconds, canaryTimeoutSeconds };
  }

  /** Validates the retry and circuit breaker props; returns the env variables of those that are set. */
  private writerTuningEnv(props: TypesenseSyncProps, maxReceiveCount: number): Record<string, string> {
    const { retry = {}, circuitBreaker = {} } = props;
    const retentionHours = CHANGES_QUEUE_RETENTION.toHours();
    const baseDelay = wholeUnits('retry.baseDelay', retry.baseDelay, 'seconds', [1, MAX_VISIBILITY_SECONDS]);
    const maxDelay = wholeUnits('retry.maxDelay', retry.maxDelay, 'seconds', [1, MAX_VISIBILITY_SECONDS]);
    // Below the queue retention, so a change still retrying is dead-lettered before it can expire.
    const budget = wholeUnits('retry.budget', retry.budget, 'hours', [1, retentionHours - 1]);
    const probe = wholeUnits('circuitBreaker.probeInterval', circuitBreaker.probeInterval, 'seconds', [
      1,
      MAX_VISIBILITY_SECONDS,
    ]);
    const maxProbe = wholeUnits(
      'circuitBreaker.maxProbeInterval',
      circuitBreaker.maxProbeInterval,
      'seconds',
      [1, MAX_VISIBILITY_SECONDS],
    );
    const threshold = circuitBreaker.failureThreshold;
    if (threshold !== undefined) checkIntRange('circuitBreaker.failureThreshold', threshold, [1, 1_000]);

    if (
      baseDelay !== undefined &&
      maxDelay !== undefined &&
      resolved(baseDelay, maxDelay) &&
      baseDelay > maxDelay
    ) {
      throw new Error('TypesenseSync: retry.baseDelay must not exceed retry.maxDelay');
    }
    if (probe !== undefined && maxProbe !== undefined && resolved(probe, maxProbe) && probe > maxProbe) {
      throw new Error(
        'TypesenseSync: circuitBreaker.probeInterval must not exceed circuitBreaker.maxProbeInterval',
      );
    }
    // Each receive of one message waits at most the larger cap; all receives of it must fit in the
    // queue retention, or a message still backing off could expire before reaching the limit.
    const caps = [maxDelay ?? WRITER_DEFAULT_MAX_DELAY_SECONDS, maxProbe ?? WRITER_DEFAULT_MAX_PROBE_SECONDS];
    const longestWait = Math.max(...caps);
    if (resolved(...caps, maxReceiveCount) && maxReceiveCount * longestWait >= retentionHours * 3_600) {
      throw new Error(
        `TypesenseSync: maxReceiveCount (${maxReceiveCount}) × the longest backoff (${longestWait} s) must stay ` +
          `below the changes queue retention (${retentionHours} h), or a retried message could expire first`,
      );
    }

    const env: Record<string, string> = {};
    const set = (name: string, value: number | undefined) => {
      if (value !== undefined) env[name] = Token.isUnresolved(value) ? Token.asString(value) : String(value);
    };
    set('RETRY_BASE_SECONDS', baseDelay);
    set('RETRY_MAX_SECONDS', maxDelay);
    set('RETRY_BUDGET_HOURS', budget);
    set('CIRCUIT_FAILURE_THRESHOLD', threshold);
    set('CIRCUIT_PROBE_SECONDS', probe);
    set('CIRCUIT_MAX_PROBE_SECONDS', maxProbe);
    return env;
  }

  private resolveTable(
    props: TypesenseSyncProps,
    lagCheckScheduled: boolean,
  ): { table: dynamodb.ITable; keyAttributes: string[] } {
    const { existingTableObj, tableProps } = props;
    if (existingTableObj !== undefined && tableProps !== undefined) {
      throw new Error('TypesenseSync: pass either existingTableObj or tableProps, not both');
    }
    if (props.keyAttributes !== undefined) {
      const names = props.keyAttributes;
      if (
        names.length < 1 ||
        names.length > 2 ||
        names.some((name) => name.length === 0 || name.includes(','))
      ) {
        throw new Error(
          'TypesenseSync: keyAttributes must be one or two non-empty attribute names: partition key first, then sort key',
        );
      }
    }

    // An Atlas source mirrors MongoDB documents keyed by their `_id` (as a string).
    const atlas = props.mongoAtlas;
    if (atlas !== undefined) {
      checkAtlasSourceProps(atlas);
      const keys = props.keyAttributes ?? (existingTableObj === undefined ? undefined : []);
      const partitionKey = tableProps?.partitionKey;
      if (
        (keys !== undefined && !sameNames(keys, ['_id'])) ||
        (partitionKey !== undefined && partitionKey.name !== '_id') ||
        (partitionKey !== undefined && partitionKey.type !== dynamodb.AttributeType.STRING) ||
        tableProps?.sortKey !== undefined
      ) {
        throw new Error(
          "TypesenseSync: with mongoAtlas the table must be keyed by '_id' (string) alone: keyAttributes ['_id']",
        );
      }
    }

    if (existingTableObj !== undefined) {
      if (existingTableObj.tableStreamArn === undefined) {
        throw new Error(
          'TypesenseSync: existingTableObj has no stream ARN; enable a DynamoDB stream (NEW_AND_OLD_IMAGES) on the table ' +
            'and import it with Table.fromTableAttributes({ tableName, tableStreamArn })',
        );
      }
      if (props.keyAttributes === undefined) {
        throw new Error(
          'TypesenseSync: keyAttributes is required with existingTableObj (the key schema of an imported table is unknown)',
        );
      }
      return { table: existingTableObj, keyAttributes: [...props.keyAttributes] };
    }

    const partitionKey = tableProps?.partitionKey ?? {
      name: atlas === undefined ? 'pk' : '_id',
      type: dynamodb.AttributeType.STRING,
    };
    const derived = [partitionKey.name, ...(tableProps?.sortKey ? [tableProps.sortKey.name] : [])];
    // The canary's key attributes are strings (functions/core/canary.ts): a key of another type would
    // make every canary write fail, and the lag alarm fire forever. An imported table's key types are
    // unknown here: the README says so.
    if (lagCheckScheduled) {
      for (const key of [partitionKey, ...(tableProps?.sortKey ? [tableProps.sortKey] : [])]) {
        if (key.type !== dynamodb.AttributeType.STRING) {
          throw new Error(
            `TypesenseSync: the lag check's canary item needs string key attributes, but ${key.name} is ` +
              `${ATTRIBUTE_TYPE_NAMES[key.type]}: use string keys, or set lagCheck.schedule: false`,
          );
        }
      }
    }
    if (props.keyAttributes !== undefined && !sameNames(props.keyAttributes, derived)) {
      throw new Error(
        `TypesenseSync: keyAttributes ${JSON.stringify(props.keyAttributes)} do not match the table key schema ${JSON.stringify(derived)}`,
      );
    }
    // The construct's key, unless the table props choose their own encryption.
    const encryptionKey =
      tableProps?.encryptionKey ?? (tableProps?.encryption === undefined ? props.encryptionKey : undefined);
    // `??` instead of spreading defaults: a key present with the value undefined must not erase a default.
    const table = new dynamodb.Table(this, 'Table', {
      ...tableProps,
      partitionKey,
      billingMode: tableProps?.billingMode ?? dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: tableProps?.stream ?? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      // The deprecated boolean and the specification cannot both be set.
      ...(tableProps?.pointInTimeRecovery === undefined && {
        pointInTimeRecoverySpecification: tableProps?.pointInTimeRecoverySpecification ?? {
          pointInTimeRecoveryEnabled: true,
        },
      }),
      encryption:
        tableProps?.encryption ??
        (encryptionKey !== undefined
          ? dynamodb.TableEncryption.CUSTOMER_MANAGED
          : dynamodb.TableEncryption.AWS_MANAGED),
      encryptionKey,
      // The table is the source of truth; the index can always be rebuilt from it, not the reverse.
      removalPolicy: tableProps?.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    return { table, keyAttributes: derived };
  }
}
