import { Annotations, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { atlasIngestEnvironment } from '../functions/contract/env-builders.ts';
import { DEFAULTS, LIMITS } from '../functions/contract/limits.ts';
import { ATLAS_EVENT_SOURCE_PREFIX } from '../functions/core/atlas-change.ts';
import { grantSendMessage, grantTableKey, queueRuleTarget } from './builders/grants.ts';
import { secureQueueWithDeadLetterQueue } from './builders/queues.ts';
import { allowLogGroupEncryption, tableEncryptionOf } from './encryption.ts';
import { type SyncFunction, syncFunction } from './sync-function.ts';

export interface AtlasSourceProps {
  /**
   * The Atlas trigger's partner event source, `aws.partner/mongodb.com/stitch.trigger/<trigger id>`
   * (EventBridge console → Partner event sources). It must exist (status Pending) before the deploy.
   */
  readonly eventSourceName: string;
  /** Only events of this database (`detail.ns.db`). @default any */
  readonly database?: string;
  /** Only events of this collection (`detail.ns.coll`). @default any */
  readonly collection?: string;
  /** The mirror: the pipeline's source table, keyed by `_id` (string). */
  readonly table: dynamodb.ITable;
  /** The changes DLQ (FIFO): events that can never be mirrored are dead-lettered there with a reason. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The ingest function's POWERTOOLS_SERVICE_NAME. */
  readonly serviceName: string;
  /** The CloudWatch namespace of the ingest function's metrics. @default the function's default */
  readonly metricsNamespace?: string;
  /**
   * How long the version of a document outlives its last event, 15..365 whole days. It must exceed
   * the longest time an event can be in flight: EventBridge retries for 24 h and the ingest queue keeps
   * messages 14 days (and a redrive from its DLQ up to 14 more). @default 30 days
   */
  readonly versionRetention?: Duration;
  /**
   * A customer managed key for the ingest queue, its DLQ and the versions table. EventBridge must be
   * allowed to use it (GenerateDataKey, Decrypt) to deliver to the queues: added to the policy of a key
   * defined in the same app, to be added by hand to an imported key's policy (a synth warning says so).
   * @default SQS-managed SSE and an AWS managed table key
   */
  readonly encryptionKey?: kms.IKey;
  /** Retention of the ingest function's log group. @default one month */
  readonly logRetention?: logs.RetentionDays;
}

/** The ingest function's timeout; the ingest queue's visibility timeout is six times it. */
const INGEST_TIMEOUT = Duration.seconds(30);
const INGEST_MAX_RECEIVE_COUNT = 5;
const QUEUE_RETENTION = Duration.days(14);
/** At least 15 days: longer than an event can be in flight (see `versionRetention`). */
const VERSION_RETENTION_DAYS = [15, LIMITS.atlasVersionTtlDays.max] as const;

/** What is wrong with the props that come from outside (the event source name, the retention), one line each. */
export function atlasSourcePropsProblems(
  props: Pick<AtlasSourceProps, 'eventSourceName' | 'versionRetention'>,
): string[] {
  const problems: string[] = [];
  const name = props.eventSourceName;
  if (!Token.isUnresolved(name) && !name.startsWith(`${ATLAS_EVENT_SOURCE_PREFIX}/`)) {
    problems.push(
      `AtlasSource: eventSourceName must be the Atlas trigger's partner event source, ` +
        `'${ATLAS_EVENT_SOURCE_PREFIX}/stitch.trigger/<trigger id>', got ${JSON.stringify(name)}`,
    );
  }
  const days = props.versionRetention?.toDays({ integral: false });
  if (days !== undefined && !Token.isUnresolved(days)) {
    const [min, max] = VERSION_RETENTION_DAYS;
    if (!Number.isInteger(days) || days < min || days > max)
      problems.push(
        `AtlasSource: versionRetention must be a whole number of days from ${min} to ${max}, got ${props.versionRetention?.toHumanString()}`,
      );
  }
  return problems;
}

/** Validates the props that come from outside: one error listing every problem. */
export function checkAtlasSourceProps(props: Pick<AtlasSourceProps, 'eventSourceName' | 'versionRetention'>) {
  const problems = atlasSourcePropsProblems(props);
  if (problems.length > 0) throw new Error(problems.join('\n'));
}

/**
 * MongoDB Atlas Database Trigger → EventBridge partner bus → rule → SQS ingest queue → ingest function
 * → the mirror table, whose stream the rest of the pipeline syncs to Typesense unchanged.
 * See README, "MongoDB Atlas source".
 */
export class AtlasSource extends Construct {
  /** The partner event bus of the Atlas trigger's event source. */
  public readonly eventBus: events.EventBus;
  public readonly rule: events.Rule;
  /** Buffers and batches the events; redelivers those whose write failed. */
  public readonly ingestQueue: sqs.Queue;
  /** Events the ingest kept failing on, and events EventBridge could not deliver to the ingest queue. */
  public readonly ingestDeadLetterQueue: sqs.Queue;
  /** The cluster time last applied to each document id: what makes a late or duplicate event stale. */
  public readonly versionsTable: dynamodb.Table;
  public readonly ingest: SyncFunction;
  /** The ingest function's POWERTOOLS_SERVICE_NAME: the `service` dimension of its metrics. */
  public readonly serviceName: string;
  /** The ingest DLQ holds a message: events are not reaching the mirror. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AtlasSourceProps) {
    super(scope, id);
    checkAtlasSourceProps(props);
    const key = props.encryptionKey;
    this.eventBus = this.partnerBus(props.eventSourceName, key);
    const queues = secureQueueWithDeadLetterQueue(this, {
      role: 'ingest',
      queueId: 'IngestQueue',
      deadLetterQueueId: 'IngestDeadLetterQueue',
      // Standard, not FIFO: EventBridge delivers in no particular order anyway; the versions table
      // restores the order per document.
      fifo: false,
      deadLetterQueueProps: { retentionPeriod: QUEUE_RETENTION },
      queueProps: {
        visibilityTimeout: Duration.seconds(INGEST_TIMEOUT.toSeconds() * 6),
        retentionPeriod: QUEUE_RETENTION,
      },
      maxReceiveCount: INGEST_MAX_RECEIVE_COUNT,
      encryptionKey: key,
    });
    this.ingestQueue = queues.queue;
    this.ingestDeadLetterQueue = queues.deadLetterQueue;

    this.rule = this.ingestRule(props);
    this.versionsTable = this.createVersionsTable(key);
    this.serviceName = props.serviceName;
    if (key !== undefined) {
      allowLogGroupEncryption(this, key);
      if (!(key instanceof kms.Key)) {
        Annotations.of(this.eventBus).addWarningV2(
          'typesense-sync:importedBusKey',
          'The encryption key is imported, so its policy cannot be changed here. Allow the service principal ' +
            'events.amazonaws.com kms:Decrypt, kms:GenerateDataKey and kms:DescribeKey on it (conditions ' +
            'aws:SourceAccount = this account, aws:SourceArn and kms:EncryptionContext:aws:events:event-bus:arn = the ' +
            'partner bus ARN), or the Atlas events cannot be stored on the encrypted partner bus',
        );
      }
    }
    this.ingest = this.createIngest(props);
    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'IngestDeadLetterAlarm', {
      alarmDescription:
        'Atlas trigger events are failing to reach the mirror table: inspect the Atlas ingest DLQ, fix the cause, redrive it to the ingest queue',
      metric: this.ingestDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * The partner bus stores the Atlas events too: encrypted with the key when there is one (EventBridge
   * encrypts custom and partner events on a bus with a customer managed key:
   * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-encryption-event-bus-cmkey.html). CDK adds
   * the key policy statement (scoped to this bus) to a key defined in the app.
   */
  private partnerBus(eventSourceName: string, key: kms.IKey | undefined): events.EventBus {
    return new events.EventBus(this, 'PartnerEventBus', {
      eventSourceName,
      ...(key !== undefined && { kmsKey: key }),
    });
  }

  /** The Atlas events of the chosen database and collection, to the ingest queue. */
  private ingestRule(props: AtlasSourceProps): events.Rule {
    const nsFilter = {
      ...(props.database !== undefined && { db: [props.database] }),
      ...(props.collection !== undefined && { coll: [props.collection] }),
    };
    return new events.Rule(this, 'Rule', {
      description: 'MongoDB Atlas trigger events -> the Typesense sync Atlas ingest queue',
      eventBus: this.eventBus,
      eventPattern: {
        source: events.Match.prefix(ATLAS_EVENT_SOURCE_PREFIX),
        ...(Object.keys(nsFilter).length > 0 && { detail: { ns: nsFilter } }),
      },
      // The ingest DLQ also keeps the events EventBridge could not deliver.
      targets: [queueRuleTarget(this.ingestQueue, { deadLetterQueue: this.ingestDeadLetterQueue })],
    });
  }

  private createVersionsTable(key: kms.IKey | undefined): dynamodb.Table {
    const table = new dynamodb.Table(this, 'VersionsTable', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      ...tableEncryptionOf(key),
      timeToLiveAttribute: 'expiresAt',
      // Ordering bookkeeping of in-flight events; the mirror and the index do not depend on it.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    NagSuppressions.addResourceSuppressions(table, [
      {
        id: 'AwsSolutions-DDB3',
        reason:
          'Versions expire after their retention (TTL); a restore would bring back nothing the mirror or the index needs',
      },
    ]);

    return table;
  }

  /** The ingest function, with exactly the writes of its transaction. */
  private createIngest(props: AtlasSourceProps): SyncFunction {
    const key = props.encryptionKey;
    const versionRetentionDays = props.versionRetention?.toDays() ?? DEFAULTS.atlasVersionTtlDays;
    // No VPC, whatever the sync's `vpc` prop: the ingest calls only AWS APIs (DynamoDB, SQS), never Typesense.
    const ingest = syncFunction(this, 'atlasIngest', {
      serviceName: props.serviceName,
      timeout: INGEST_TIMEOUT,
      logRetention: props.logRetention,
      ...(key !== undefined && { logEncryptionKey: key }),
      environment: atlasIngestEnvironment({
        TABLE_NAME: props.table.tableName,
        ATLAS_VERSIONS_TABLE: this.versionsTable.tableName,
        DLQ_URL: props.deadLetterQueue.queueUrl,
        ATLAS_VERSION_TTL_DAYS: versionRetentionDays,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
      }),
    });
    ingest.addEventSource(
      new SqsEventSource(this.ingestQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    // Exactly what the transaction does: raise a version, put or delete a mirror item (IAM checks
    // TransactWriteItems per contained operation).
    ingest.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [this.versionsTable.tableArn] }),
    );
    ingest.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [props.table.tableArn],
      }),
    );
    grantTableKey(this.versionsTable, ingest, 'write');
    grantTableKey(props.table, ingest, 'write');
    grantSendMessage(props.deadLetterQueue, ingest);

    return ingest;
  }
}
