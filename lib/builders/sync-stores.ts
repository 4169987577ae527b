import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';
import { tableEncryptionOf } from '../encryption.ts';
import type { TypesenseSyncProps } from '../typesense-sync-props.ts';
import { CHANGES_QUEUE_RETENTION, type TypesenseSyncSettings } from '../validate-props.ts';
import { secureQueueWithDeadLetterQueue } from './queues.ts';

/** The stores of one TypesenseSync: its tables and queues, built from the validated settings. */

const RESYNC_QUEUE_RETENTION = Duration.days(7);

/** The changes queue (FIFO, high throughput) and its DLQ, with the prop overrides the validation allowed. */
export function changesQueuePair(
  scope: Construct,
  settings: TypesenseSyncSettings,
  key: kms.IKey | undefined,
): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  return secureQueueWithDeadLetterQueue(scope, {
    role: 'changes',
    queueId: 'ChangesQueue',
    deadLetterQueueId: 'DeadLetterQueue',
    fifo: true,
    queueName: settings.queueOverrides.queueName,
    deadLetterQueueProps: {
      // A FIFO source queue can only redrive into a FIFO DLQ.
      fifo: true,
      // The functions send their own dead letters; this keeps a SendMessage without an explicit
      // deduplication id valid, while an explicit id still takes precedence.
      contentBasedDeduplication: true,
      retentionPeriod: Duration.days(14),
      ...settings.deadLetterQueueOverrides,
    },
    queueProps: {
      contentBasedDeduplication: false,
      // High-throughput FIFO: limits apply per message group, so buckets scale throughput.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      // AWS guidance for SQS event sources: at least six times the function timeout, so batches
      // retried after throttling are not made visible again while still in flight.
      visibilityTimeout: Duration.seconds(settings.writerTimeout.toSeconds() * 6),
      ...settings.queueOverrides,
      fifo: true,
      maxMessageSizeBytes: settings.maxMessageBytes,
      // Outlive a long indexing outage rather than silently expiring unapplied changes.
      retentionPeriod: CHANGES_QUEUE_RETENTION,
    },
    maxReceiveCount: settings.maxReceiveCount,
    encryptionKey: key,
  });
}

/** The re-sync's work queue (start, segment and finish tasks) and its DLQ. */
export function resyncQueuePair(
  scope: Construct,
  settings: TypesenseSyncSettings,
  key: kms.IKey | undefined,
): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  return secureQueueWithDeadLetterQueue(scope, {
    role: 'resync',
    queueId: 'ResyncQueue',
    deadLetterQueueId: 'ResyncDeadLetterQueue',
    // Standard, not FIFO: segments must run in parallel, and tasks are idempotent against their
    // checkpoints, so neither ordering nor exactly-once delivery is needed.
    fifo: false,
    deadLetterQueueProps: { retentionPeriod: Duration.days(14) },
    queueProps: {
      // Six times the function timeout, as for the changes queue.
      visibilityTimeout: Duration.seconds(settings.resync.timeoutSeconds * 6),
      // Explicit, not SQS's 4-day default: a week outlives a long weekend's outage, and stays below the
      // DLQ's 14 days, because a standard queue's message keeps its first enqueue time in the DLQ.
      retentionPeriod: RESYNC_QUEUE_RETENTION,
    },
    maxReceiveCount: 5,
    encryptionKey: key,
  });
}

/** The source table: the existing one, or one created with a stream, point-in-time recovery and retention. */
export function sourceTable(
  scope: Construct,
  props: TypesenseSyncProps,
  settings: TypesenseSyncSettings,
): dynamodb.ITable {
  if (settings.table.existing !== undefined) return settings.table.existing;
  const { tableProps } = props;
  // The construct's key, unless the table props choose their own encryption.
  const encryptionKey =
    tableProps?.encryptionKey ?? (tableProps?.encryption === undefined ? props.encryptionKey : undefined);
  // `??` instead of spreading defaults: a key present with the value undefined must not erase a default.
  return new dynamodb.Table(scope, 'Table', {
    ...tableProps,
    partitionKey: settings.table.partitionKey,
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
}

export function resyncStateTable(scope: Construct, encryptionKey: kms.IKey | undefined): dynamodb.Table {
  const table = new dynamodb.Table(scope, 'ResyncStateTable', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    ...tableEncryptionOf(encryptionKey),
    // Derived bookkeeping (job state, checkpoints, tombstones), worthless once the stack is gone:
    // a re-sync can always start over from the source table.
    removalPolicy: RemovalPolicy.DESTROY,
  });
  NagSuppressions.addResourceSuppressions(table, [
    {
      id: 'AwsSolutions-DDB3',
      reason:
        'The re-sync state table holds derived bookkeeping only (job state, segment checkpoints, tombstones, the ' +
        'latest lag reading): after a loss, a new re-sync rebuilds everything from the source table, so ' +
        'point-in-time recovery would cost without protecting anything.',
    },
  ]);
  return table;
}
