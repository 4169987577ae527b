import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { changeKeyAttributes } from '../functions/contract/aggregate.ts';
import {
  batcherEnvironment,
  ingestionDelayEnvironment,
  lagCheckEnvironment,
} from '../functions/contract/env-builders.ts';
import { CANARY_KEY_VALUE } from '../functions/core/canary.ts';
import { allowCloudWatchAlarms, createAlarmTopic, type SyncRule } from './alarms.ts';
import { AtlasSource } from './atlas-source.ts';
import { FailureBucketDestination, failureBucket } from './builders/failure-bucket.ts';
import { grantSecretRead, grantSendMessage, grantTable, grantTableKey } from './builders/grants.ts';
import { resyncTriggers } from './builders/resync-triggers.ts';
import { sourceTable } from './builders/sync-stores.ts';
import { syncWiring, type Wiring } from './builders/wiring.ts';
import { IndexPipeline } from './index-pipeline.ts';
import type { IndexResource } from './index-resource.ts';
import { SyncObservability, type TypesenseSyncAlarms } from './observability.ts';
import type { SyncFunction, SyncFunctionKind } from './sync-function.ts';
import type { TypesenseSyncProps } from './typesense-sync-props.ts';
import { operatorTargetOf } from './typesense-sync-target.ts';
import {
  DEFAULT_LAG_CHECK_INTERVAL,
  type TypesenseSyncSettings,
  validateTypesenseSyncProps,
} from './validate-props.ts';
import { indexConstructId } from './validation/indexes.ts';

export type * from './typesense-sync-props.ts';

/** What the lag check needs beyond waiting for the canary: the CloudWatch, SQS and state table reads. */
const LAG_CHECK_OVERHEAD_SECONDS = 20;

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
   * The ready stack publishes it as the `OperatorTarget` output; see functions/contract/target.ts.
   */
  public readonly operatorTarget: Record<string, unknown>;
  /** With `mongoAtlas`: the partner bus, rule, ingest queue and function writing the mirror table. */
  public readonly atlasSource?: AtlasSource;
  /**
   * The index custom resource: on every deploy it converges Typesense to `typesense.schema` (first load,
   * migration, or nothing when unchanged). `index.collection` is the collection the alias serves or will serve.
   */
  public readonly index: IndexResource;
  /**
   * Every index's pipeline and custom resource, the first first (its resources are also the fields above:
   * `changesQueue`, `writer`, `index`…). The lag check watches every index; the ingestion-delay endpoint's
   * live DLQ depth is the first's.
   */
  public readonly indexes: ReadonlyArray<{ readonly pipeline: IndexPipeline; readonly index: IndexResource }>;

  constructor(scope: Construct, id: string, props: TypesenseSyncProps) {
    super(scope, id);
    // Validate: every prop before any resource, so a bad prop costs no bundling; every problem at once.
    const settings = validateTypesenseSyncProps(props);
    const key = props.encryptionKey;

    // Build the stores shared by every index (the source table, the failure bucket), then each index's
    // pipeline: the first in this scope (a single-index sync's ids), each further one in a child construct.
    this.table = sourceTable(this, props, settings);
    this.failureBucket =
      props.existingFailureBucketObj ??
      failureBucket(this, { encryptionKey: key, retention: settings.failureRetention });
    const wirings = settings.indexes.map((index, position) =>
      position === 0
        ? syncWiring(this, props, settings, index)
        : syncWiring(
            new Construct(this, indexConstructId(index.collection, position)),
            props,
            withGeneratedQueueNames(settings),
            index,
          ),
    );
    const pipelines = wirings.map((indexWiring) => new IndexPipeline(indexWiring, this.table));
    const [wiring, first] = [wirings[0] as Wiring, pipelines[0] as IndexPipeline];
    this.changesQueue = first.changesQueue;
    this.deadLetterQueue = first.deadLetterQueue;
    this.writer = first.writer;
    this.resyncStateTable = first.resyncStateTable;
    this.resyncQueue = first.resyncQueue;
    this.resyncDeadLetterQueue = first.resyncDeadLetterQueue;
    this.resync = first.resync;

    // The batcher feeds every index; each index resource starts its load once the batcher runs.
    this.batcher = this.addBatcher(wiring, pipelines);
    this.indexes = pipelines.map((pipeline) => ({ pipeline, index: pipeline.addIndex(this.batcher) }));
    this.index = (this.indexes[0] as { index: IndexResource }).index;
    // Every rule gets delivery alarms (lib/alarms.ts): a rule failing to deliver is otherwise silent.
    const rules: SyncRule[] = [];
    const streamGapAlarm = resyncTriggers(
      this,
      { resyncQueues: pipelines.map((pipeline) => pipeline.resyncQueue), batcher: this.batcher, settings },
      rules,
    );
    this.lagCheck = this.addLagCheck(wiring, rules);
    this.ingestionDelay = this.addIngestionDelay(wiring);
    // The function URL ends with a slash.
    this.ingestionDelayUrl = `${this.ingestionDelay.addFunctionUrl({ authType: settings.ingestionDelayEndpoint.authType }).url}v1/ingestion-delay`;
    if (props.mongoAtlas !== undefined) {
      this.atlasSource = new AtlasSource(this, 'MongoAtlas', {
        ...props.mongoAtlas,
        table: this.table,
        deadLetterQueue: this.deadLetterQueue,
        serviceName: wiring.serviceName('atlasIngest'),
        metricsNamespace: settings.metricsNamespace,
        encryptionKey: key,
        logRetention: props.logRetention,
      });
      rules.push({
        role: 'atlas',
        rule: this.atlasSource.rule,
        eventBusName: props.mongoAtlas.eventSourceName,
        hasDeadLetterQueue: true,
      });
    }

    // Observe: the alarms topic, the dashboard and every alarm.
    this.alarmTopic =
      props.alarms?.topic ?? (props.alarms?.createTopic === true ? createAlarmTopic(this, key) : undefined);
    if (this.alarmTopic !== undefined) allowCloudWatchAlarms(this, this.alarmTopic);
    const observability = this.observe(wiring, rules, streamGapAlarm);
    this.dashboard = observability.dashboard;
    this.alarms = observability.alarms;

    this.operatorTarget = operatorTargetOf(this, props, settings, wiring.keyAttributes);
  }

  /**
   * Lets `grantee` call the ingestion-delay endpoint (with `AWS_IAM` auth): `lambda:InvokeFunctionUrl`
   * and, which a Function URL created since October 2025 also needs, `lambda:InvokeFunction` conditioned on
   * `lambda:InvokedViaFunctionUrl` (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html).
   */
  public grantIngestionDelayRead(grantee: iam.IGrantable): iam.Grant {
    return this.ingestionDelay.grantInvokeUrl(grantee);
  }

  /** The batcher: every stream change to every index's changes queue (each writer applies its routing). */
  private addBatcher(
    { props, settings, keyAttributes, fn }: Wiring,
    pipelines: IndexPipeline[],
  ): SyncFunction {
    const batcher = fn('batcher', {
      timeout: Duration.seconds(60),
      reservedConcurrentExecutions: props.batcher?.reservedConcurrentExecutions,
      environment: batcherEnvironment({
        QUEUES: pipelines.map((pipeline) => ({
          queueUrl: pipeline.changesQueue.queueUrl,
          deadLetterQueueUrl: pipeline.deadLetterQueue.queueUrl,
          // An aggregated index's changes name partitions: one FIFO group and one write per partition.
          ...(pipeline.index.aggregate !== undefined && {
            keyAttributes: changeKeyAttributes(keyAttributes, pipeline.index.aggregate),
          }),
        })),
        DLQ_URL: this.deadLetterQueue.queueUrl,
        KEY_ATTRIBUTES: keyAttributes,
        MESSAGE_GROUP_BUCKETS: settings.messageGroupBuckets,
        MAX_MESSAGE_BYTES: settings.maxMessageBytes,
        SOURCE_TIMESTAMP_ATTRIBUTE: props.sourceTimestampAttribute,
        POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
      }),
    });
    batcher.addEventSource(
      new DynamoEventSource(this.table, {
        // Start from the oldest retained record so nothing written before deployment is skipped.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: settings.streamBatchSize,
        maxBatchingWindow: settings.streamMaxBatchingWindow,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        maxRecordAge: settings.streamMaxRecordAge,
        retryAttempts: props.streamRetryAttempts ?? 10,
        parallelizationFactor: settings.parallelizationFactor,
        // An SQS or SNS destination would only receive the batch's metadata (shard and sequence
        // numbers), useless once the stream's 24 h retention has passed; S3 receives the records too.
        onFailure: new FailureBucketDestination(this.failureBucket),
      }),
    );
    NagSuppressions.addResourceSuppressions(
      batcher.role as iam.IRole,
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
    for (const pipeline of pipelines) {
      grantSendMessage(pipeline.changesQueue, batcher);
      grantSendMessage(pipeline.deadLetterQueue, batcher);
    }
    return batcher;
  }

  private addLagCheck(wiring: Wiring, rules: SyncRule[]): SyncFunction {
    const { props, settings, fn, typesenseNetwork, typesenseEnv, serviceName } = wiring;
    const furtherIndexes = this.indexes.slice(1).map(({ pipeline }) => ({
      alias: pipeline.index.collection,
      queueUrl: pipeline.changesQueue.queueUrl,
      dlqUrl: pipeline.deadLetterQueue.queueUrl,
      resyncStateTable: pipeline.resyncStateTable.tableName,
    }));
    const lagCheck = fn('lagCheck', {
      timeout: Duration.seconds(settings.lagCheck.canaryTimeoutSeconds + LAG_CHECK_OVERHEAD_SECONDS),
      // A failed check is not retried: the next scheduled one replaces it, and a retry would overlap it.
      retryAttempts: 0,
      ...typesenseNetwork,
      environment: lagCheckEnvironment({
        ...typesenseEnv,
        TABLE_NAME: this.table.tableName,
        QUEUE_URL: this.changesQueue.queueUrl,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
        BATCHER_FUNCTION_NAME: this.batcher.functionName,
        WRITER_SERVICE_NAME: serviceName('writer'),
        // The canary is waited for in every index and each one's re-sync read; the first's queues are QUEUE_URL
        // and DLQ_URL, its state table RESYNC_STATE_TABLE.
        FURTHER_INDEXES: furtherIndexes.length === 0 ? undefined : furtherIndexes,
        CANARY_TIMEOUT_SECONDS: settings.lagCheck.canaryTimeoutSeconds,
        SOURCE_TIMESTAMP_ATTRIBUTE: props.sourceTimestampAttribute,
        POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
      }),
    });
    // The canary's own partition only: the check can never overwrite an application item.
    lagCheck.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [CANARY_KEY_VALUE] } },
      }),
    );
    grantTableKey(this.table, lagCheck, 'write');
    // Publishes the latest figures for the ingestion-delay endpoint; reads the re-sync progress.
    grantTable(this.resyncStateTable, lagCheck, ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem']);
    // Reads each further index's re-sync progress: its state table, read only (the reading lives in the first's).
    for (const { pipeline } of this.indexes.slice(1))
      grantTable(pipeline.resyncStateTable, lagCheck, ['dynamodb:GetItem', 'dynamodb:Query']);
    // Every index's DLQ depth (and queue attributes): the lag check reports them per index.
    for (const { pipeline } of this.indexes) {
      pipeline.changesQueue.grant(lagCheck, 'sqs:GetQueueAttributes');
      pipeline.deadLetterQueue.grant(lagCheck, 'sqs:GetQueueAttributes');
    }
    // The batcher's IteratorAge and the writer's CircuitOpen. GetMetricData has no resource-level
    // permissions: `*` is the only resource it accepts.
    lagCheck.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
    NagSuppressions.addResourceSuppressions(
      lagCheck.role as iam.IRole,
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
    grantSecretRead(props.typesense.apiKeySecret, props.typesense.apiKeySecretKey, lagCheck);
    if (settings.lagCheck.schedule !== undefined) {
      const rule = new events.Rule(this, 'LagCheckSchedule', {
        description: 'Runs the Typesense sync lag check',
        schedule: settings.lagCheck.schedule,
        targets: [new targets.LambdaFunction(lagCheck)],
      });
      rules.push({ role: 'lagCheckSchedule', rule });
    }
    return lagCheck;
  }

  private addIngestionDelay({ settings, fn }: Wiring): SyncFunction {
    const ingestionDelay = fn('ingestionDelay', {
      timeout: Duration.seconds(10),
      reservedConcurrentExecutions: settings.ingestionDelayEndpoint.reservedConcurrentExecutions,
      environment: ingestionDelayEnvironment({
        RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        // Tells a fresh reading from a stale one. Without a schedule, whoever runs the check is expected
        // to run it as often as the default schedule would.
        LAG_CHECK_INTERVAL_SECONDS:
          settings.lagCheck.intervalSeconds ?? DEFAULT_LAG_CHECK_INTERVAL.toSeconds(),
        POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
      }),
    });
    grantTable(this.resyncStateTable, ingestionDelay, ['dynamodb:GetItem']);
    this.deadLetterQueue.grant(ingestionDelay, 'sqs:GetQueueAttributes');
    return ingestionDelay;
  }

  /** The dashboard and every alarm (lib/observability.ts, lib/alarms.ts). */
  private observe(
    { props, settings, serviceName }: Wiring,
    rules: SyncRule[],
    streamGapAlarm: cloudwatch.Alarm | undefined,
  ): SyncObservability {
    const functionOf = (fn: SyncFunction, kind: SyncFunctionKind) => ({ fn, serviceName: serviceName(kind) });
    return new SyncObservability(this, 'Observability', {
      namespace: settings.metricsNamespace,
      functions: {
        batcher: functionOf(this.batcher, 'batcher'),
        writer: functionOf(this.writer, 'writer'),
        resync: functionOf(this.resync, 'resync'),
        lagCheck: functionOf(this.lagCheck, 'lagCheck'),
        ingestionDelay: functionOf(this.ingestionDelay, 'ingestionDelay'),
      },
      changesQueue: this.changesQueue,
      deadLetterQueue: this.deadLetterQueue,
      lagCheckInterval:
        settings.lagCheck.intervalSeconds === undefined
          ? undefined
          : Duration.seconds(settings.lagCheck.intervalSeconds),
      lagThreshold: props.alarms?.lagThreshold ?? Duration.seconds(60),
      iteratorAgeThreshold: props.alarms?.iteratorAgeThreshold ?? Duration.minutes(5),
      topic: this.alarmTopic,
      dashboardName: props.dashboardName,
      atlas: this.atlasSource,
      stall: {
        resyncDeadLetterQueue: this.resyncDeadLetterQueue,
        stallAfter: settings.resync.stallAlarmAfter,
        rules,
      },
      streamGapAlarm,
      furtherIndexes: this.indexes.slice(1).map(({ pipeline }) => pipeline.watched()),
    });
  }
}

/**
 * The settings of a further index: its queues' names are generated, since a `queueProps.queueName` (or the
 * DLQ's) can name one queue only, the first index's.
 */
function withGeneratedQueueNames(settings: TypesenseSyncSettings): TypesenseSyncSettings {
  const { queueName: _changes, ...queueOverrides } = settings.queueOverrides;
  const { queueName: _deadLetters, ...deadLetterQueueOverrides } = settings.deadLetterQueueOverrides;
  return { ...settings, queueOverrides, deadLetterQueueOverrides };
}
