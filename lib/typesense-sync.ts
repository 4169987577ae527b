import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
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
  resyncEnvironment,
  writerEnvironment,
} from '../functions/contract/env-builders.ts';
import { CANARY_KEY_VALUE } from '../functions/core/canary.ts';
import { allowCloudWatchAlarms, createAlarmTopic, type SyncRule } from './alarms.ts';
import { AtlasSource } from './atlas-source.ts';
import { FailureBucketDestination, failureBucket } from './builders/failure-bucket.ts';
import { grantSecretRead, grantSendMessage, grantTable, grantTableKey } from './builders/grants.ts';
import { resyncTriggers } from './builders/resync-triggers.ts';
import { changesQueuePair, resyncQueuePair, resyncStateTable, sourceTable } from './builders/sync-stores.ts';
import { syncWiring, type Wiring } from './builders/wiring.ts';
import { INDEX_HANDLER_TIMEOUT, IndexResource } from './index-resource.ts';
import { SyncObservability, type TypesenseSyncAlarms } from './observability.ts';
import type { SyncFunction, SyncFunctionKind } from './sync-function.ts';
import type { TypesenseSyncProps } from './typesense-sync-props.ts';
import { operatorTargetOf } from './typesense-sync-target.ts';
import { DEFAULT_LAG_CHECK_INTERVAL, validateTypesenseSyncProps } from './validate-props.ts';

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

  constructor(scope: Construct, id: string, props: TypesenseSyncProps) {
    super(scope, id);
    // Validate: every prop before any resource, so a bad prop costs no bundling; every problem at once.
    const settings = validateTypesenseSyncProps(props);
    const key = props.encryptionKey;

    // Build the stores: the source table, the changes queue and its DLQ, the failure bucket, the re-sync's.
    this.table = sourceTable(this, props, settings);
    const changes = changesQueuePair(this, settings, key);
    this.changesQueue = changes.queue;
    this.deadLetterQueue = changes.deadLetterQueue;
    this.failureBucket =
      props.existingFailureBucketObj ??
      failureBucket(this, { encryptionKey: key, retention: settings.failureRetention });
    this.resyncStateTable = resyncStateTable(this, props.encryptionKey);
    const resyncQueues = resyncQueuePair(this, settings, key);
    this.resyncQueue = resyncQueues.queue;
    this.resyncDeadLetterQueue = resyncQueues.deadLetterQueue;

    // Build and wire the functions, each with exactly the grants its code needs.
    const wiring = syncWiring(this, props, settings);
    this.batcher = this.addBatcher(wiring);
    this.writer = this.addWriter(wiring);
    this.resync = this.addResync(wiring);
    this.index = this.addIndex(wiring);
    // Every rule gets delivery alarms (lib/alarms.ts): a rule failing to deliver is otherwise silent.
    const rules: SyncRule[] = [];
    const streamGapAlarm = resyncTriggers(
      this,
      { resyncQueue: this.resyncQueue, batcher: this.batcher, settings },
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

  private addBatcher({ props, settings, keyAttributes, fn }: Wiring): SyncFunction {
    const batcher = fn('batcher', {
      timeout: Duration.seconds(60),
      reservedConcurrentExecutions: props.batcher?.reservedConcurrentExecutions,
      environment: batcherEnvironment({
        QUEUE_URL: this.changesQueue.queueUrl,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        // An aggregated index's changes name partitions: one FIFO group and one write per partition.
        KEY_ATTRIBUTES: changeKeyAttributes(keyAttributes, props.aggregate),
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
    grantSendMessage(this.changesQueue, batcher);
    grantSendMessage(this.deadLetterQueue, batcher);
    return batcher;
  }

  private addWriter({ props, settings, fn, typesenseNetwork, typesenseEnv }: Wiring): SyncFunction {
    const writer = fn('writer', {
      timeout: settings.writerTimeout,
      reservedConcurrentExecutions: settings.writer.reservedConcurrentExecutions,
      ...typesenseNetwork,
      environment: writerEnvironment({
        TABLE_NAME: this.table.tableName,
        QUEUE_URL: this.changesQueue.queueUrl,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        // The same number as the redrive policy: one source of truth.
        MAX_RECEIVE_COUNT: settings.maxReceiveCount,
        // Re-sends at the receive limit are packed to fit the queue's message size.
        MAX_MESSAGE_BYTES: settings.maxMessageBytes,
        ...settings.writerTuning,
        // The cap of the adaptive import limit; unset, the function's default (contract DEFAULTS).
        TYPESENSE_MAX_CONCURRENT_IMPORTS: settings.writer.maxConcurrentImports,
        ...typesenseEnv,
        // While a re-sync runs, the writer also applies changes to its new collection.
        RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
        POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
      }),
    });
    writer.addEventSource(
      new SqsEventSource(this.changesQueue, {
        // The maximum for FIFO queues.
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: settings.writer.maxConcurrency,
      }),
    );
    // The strongly consistent re-read, and nothing else: the writer never scans or writes the table. An
    // aggregated index re-reads whole partitions (Query), never single items.
    grantTable(this.table, writer, [
      props.aggregate === undefined ? 'dynamodb:BatchGetItem' : 'dynamodb:Query',
    ]);
    // Re-sends of retryable messages near the receive limit. ChangeMessageVisibility (the backoff)
    // is already part of the event source's consume grant.
    grantSendMessage(this.changesQueue, writer);
    grantSendMessage(this.deadLetterQueue, writer);
    grantSecretRead(props.typesense.apiKeySecret, props.typesense.apiKeySecretKey, writer);
    // Reads the active re-sync; writes tombstones of deletes and rejections of the new collection;
    // a successful write clears that id's earlier rejection (Query, DeleteItem).
    grantTable(this.resyncStateTable, writer, [
      'dynamodb:GetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:Query',
      'dynamodb:DeleteItem',
    ]);
    return writer;
  }

  /** The re-sync's variables, which the index handler shares: it starts re-syncs. With the admin key. */
  private resyncEnvironmentOf({ props, settings, typesenseEnv, adminKey }: Wiring): Record<string, string> {
    return resyncEnvironment({
      ...typesenseEnv,
      TYPESENSE_API_KEY_SECRET_ARN: adminKey.secret.secretArn,
      TABLE_NAME: this.table.tableName,
      RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
      RESYNC_QUEUE_URL: this.resyncQueue.queueUrl,
      QUEUE_URL: this.changesQueue.queueUrl,
      MESSAGE_GROUP_BUCKETS: settings.messageGroupBuckets,
      MAX_MESSAGE_BYTES: settings.maxMessageBytes,
      COLLECTION_SCHEMA: props.typesense.schema ?? props.collectionSchema,
      ...settings.resync.env,
      POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
    });
  }

  private addResync(wiring: Wiring): SyncFunction {
    const { settings, fn, typesenseNetwork, adminKey } = wiring;
    const resync = fn('resync', {
      timeout: Duration.seconds(settings.resync.timeoutSeconds),
      memorySize: 1024,
      reservedConcurrentExecutions: settings.resync.reservedConcurrentExecutions,
      ...typesenseNetwork,
      environment: this.resyncEnvironmentOf(wiring),
    });
    resync.addEventSource(
      new SqsEventSource(this.resyncQueue, {
        // One task per invocation: a task already runs for up to the whole timeout.
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: settings.resync.maxConcurrency,
      }),
    );
    // The re-sync never writes to the source table. BatchGetItem: the finisher re-reads the keys deleted
    // during the backfill (strongly consistent) before deciding to delete them from the new collection. An
    // aggregated index reads partitions instead (Query): the backfill builds each from one, and so does the re-check.
    grantTable(this.table, resync, [
      'dynamodb:Scan',
      'dynamodb:DescribeTable',
      wiring.props.aggregate === undefined ? 'dynamodb:BatchGetItem' : 'dynamodb:Query',
    ]);
    // Jobs, the active pointer, segment checkpoints, tombstones and rejections (functions/shared/resync-store.ts).
    grantTable(this.resyncStateTable, resync, [
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ]);
    // Continuations: the next page range of a segment, and the finish task.
    grantSendMessage(this.resyncQueue, resync);
    // Keys deleted during the backfill are re-applied through the changes queue, in their group.
    grantSendMessage(this.changesQueue, resync);
    grantSecretRead(adminKey.secret, adminKey.key, resync);
    return resync;
  }

  /**
   * The index custom resource (lib/index-resource.ts). Created after the functions its started load relies
   * on: the re-sync consuming its queue, and the batcher and writer applying the changes made meanwhile.
   */
  private addIndex(wiring: Wiring): IndexResource {
    const { props, fn, typesenseNetwork, adminKey } = wiring;
    const handler = fn('indexResource', {
      timeout: INDEX_HANDLER_TIMEOUT,
      ...typesenseNetwork,
      environment: this.resyncEnvironmentOf(wiring),
    });
    const mappings = [this.batcher, this.writer, this.resync].flatMap((each) =>
      each.node.children.filter((child) => child instanceof lambda.EventSourceMapping),
    );
    return new IndexResource(this, 'Index', {
      handler,
      alias: props.typesense.collection,
      schema: props.typesense.schema,
      checkNodes: props.typesense.checkNodes,
      onDelete: props.typesense.onDelete,
      table: this.table,
      resyncStateTable: this.resyncStateTable,
      resyncQueue: this.resyncQueue,
      adminApiKeySecret: adminKey.secret,
      adminApiKeySecretKey: adminKey.key,
      logRetention: props.logRetention,
      logEncryptionKey: props.encryptionKey,
      runsAfter: [this.resyncStateTable, this.resyncQueue, ...mappings],
    });
  }

  private addLagCheck(wiring: Wiring, rules: SyncRule[]): SyncFunction {
    const { props, settings, fn, typesenseNetwork, typesenseEnv, serviceName } = wiring;
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
    this.changesQueue.grant(lagCheck, 'sqs:GetQueueAttributes');
    this.deadLetterQueue.grant(lagCheck, 'sqs:GetQueueAttributes');
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
    });
  }
}
