import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { resyncEnvironment, writerEnvironment } from '../functions/contract/env-builders.ts';
import { grantSecretRead, grantSendMessage, grantTable } from './builders/grants.ts';
import { changesQueuePair, resyncQueuePair, resyncStateTable } from './builders/sync-stores.ts';
import type { Wiring } from './builders/wiring.ts';
import type { WatchedIndex } from './index-observability.ts';
import { INDEX_HANDLER_TIMEOUT, IndexResource } from './index-resource.ts';
import type { SyncFunction } from './sync-function.ts';
import type { TypesenseSyncIndex } from './typesense-sync-props.ts';

/**
 * One index's pipeline: its changes queue and DLQ, writer, re-sync (state table, work queue and DLQ,
 * function) and index custom resource, built in the wiring's scope. The `TypesenseSync` builds one per
 * index: the first in its own scope (the construct ids of a single-index sync), each further one in a child.
 */
export class IndexPipeline {
  public readonly changesQueue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly writer: SyncFunction;
  public readonly resyncStateTable: dynamodb.Table;
  public readonly resyncQueue: sqs.Queue;
  public readonly resyncDeadLetterQueue: sqs.Queue;
  public readonly resync: SyncFunction;

  constructor(
    private readonly wiring: Wiring,
    private readonly table: dynamodb.ITable,
  ) {
    const { scope, settings, props } = wiring;
    const key = props.encryptionKey;
    const changes = changesQueuePair(scope, settings, key);
    this.changesQueue = changes.queue;
    this.deadLetterQueue = changes.deadLetterQueue;
    this.resyncStateTable = resyncStateTable(scope, key);
    const resyncQueues = resyncQueuePair(scope, settings, key);
    this.resyncQueue = resyncQueues.queue;
    this.resyncDeadLetterQueue = resyncQueues.deadLetterQueue;
    this.writer = this.addWriter();
    this.resync = this.addResync();
  }

  /** What the dashboard and the alarms watch of this index (lib/index-observability.ts). */
  watched(): WatchedIndex {
    return {
      alias: this.wiring.index.collection,
      id: this.wiring.scope.node.id,
      writer: { fn: this.writer, serviceName: this.wiring.serviceName('writer') },
      changesQueue: this.changesQueue,
      deadLetterQueue: this.deadLetterQueue,
      resyncDeadLetterQueue: this.resyncDeadLetterQueue,
    };
  }

  /** The index this pipeline serves: its alias, schema, projection and transform. */
  get index(): TypesenseSyncIndex {
    return this.wiring.index;
  }

  private addWriter(): SyncFunction {
    const { props, settings, fn, typesenseNetwork, typesenseEnv } = this.wiring;
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
        // Its ChangeMessageVisibility calls come with the event source's consume grant, as the backoff's do.
        VISIBILITY_LEASE_SECONDS: settings.writer.visibilityLeaseSeconds,
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
      this.index.aggregate === undefined ? 'dynamodb:BatchGetItem' : 'dynamodb:Query',
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
  private resyncEnvironment(): Record<string, string> {
    const { props, settings, typesenseEnv, adminKey, index } = this.wiring;
    return resyncEnvironment({
      ...typesenseEnv,
      TYPESENSE_API_KEY_SECRET_ARN: adminKey.secret.secretArn,
      TABLE_NAME: this.table.tableName,
      RESYNC_STATE_TABLE: this.resyncStateTable.tableName,
      RESYNC_QUEUE_URL: this.resyncQueue.queueUrl,
      QUEUE_URL: this.changesQueue.queueUrl,
      MESSAGE_GROUP_BUCKETS: settings.messageGroupBuckets,
      MAX_MESSAGE_BYTES: settings.maxMessageBytes,
      COLLECTION_SCHEMA: index.schema ?? props.collectionSchema,
      ...settings.resync.env,
      POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
    });
  }

  private addResync(): SyncFunction {
    const { settings, fn, typesenseNetwork, adminKey } = this.wiring;
    const resync = fn('resync', {
      timeout: Duration.seconds(settings.resync.timeoutSeconds),
      memorySize: 1024,
      reservedConcurrentExecutions: settings.resync.reservedConcurrentExecutions,
      ...typesenseNetwork,
      environment: this.resyncEnvironment(),
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
      this.index.aggregate === undefined ? 'dynamodb:BatchGetItem' : 'dynamodb:Query',
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
  addIndex(batcher: SyncFunction): IndexResource {
    const { scope, props, index, fn, typesenseNetwork, adminKey } = this.wiring;
    const handler = fn('indexResource', {
      timeout: INDEX_HANDLER_TIMEOUT,
      ...typesenseNetwork,
      environment: this.resyncEnvironment(),
    });
    const mappings = [batcher, this.writer, this.resync].flatMap((each) =>
      each.node.children.filter((child) => child instanceof lambda.EventSourceMapping),
    );
    return new IndexResource(scope, 'Index', {
      handler,
      alias: index.collection,
      schema: index.schema,
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
}
