import {
  type AttributeValue,
  DescribeTableCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { changeKeyAttributes } from '../contract/aggregate.ts';
import type { MarshalledKey } from '../core/change.ts';
import { SyncError } from '../core/errors.ts';
import type { ResyncPorts, ResyncTask } from '../core/resync.ts';
import { readItemsConsistently, readPartitionConsistently, sendJsonMessages } from './aws.ts';
import type { ResyncConfig } from './config.ts';
import { type ChangesQueue, changeOfKey, enqueueChanges } from './enqueue.ts';
import { dynamoResyncStore } from './resync-store.ts';
import type { TypesenseClient } from './typesense.ts';

/** Thrown when the resync work queue or the changes queue keeps refusing messages. */
export class ResyncQueueError extends SyncError {
  override name = 'ResyncQueueError';
}

export interface ResyncResources {
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  typesense: TypesenseClient;
  tableName: string;
  /** The key attributes of the changes it enqueues (contract/aggregate.ts `changeKeyAttributes`). */
  keyAttributes: readonly string[];
  stateTable: string;
  resyncQueueUrl: string;
  changesQueue: ChangesQueue;
}

/** The re-sync's ports over AWS clients: one construction for the Lambda and the operator CLI. */
export function resyncPorts(resources: ResyncResources): ResyncPorts {
  const { dynamodb, sqs, tableName } = resources;
  return {
    store: dynamoResyncStore(dynamodb, resources.stateTable),
    typesense: resources.typesense,
    async scanPage(segment, totalSegments, limit, startKey) {
      const page = await dynamodb.send(
        new ScanCommand({
          TableName: tableName,
          Segment: segment,
          TotalSegments: totalSegments,
          Limit: limit,
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      const items: Record<string, AttributeValue>[] = page.Items ?? [];
      return page.LastEvaluatedKey === undefined ? { items } : { items, lastKey: page.LastEvaluatedKey };
    },
    readItems: readItemsConsistently(dynamodb, tableName),
    readPartition: readPartitionConsistently(dynamodb, tableName),
    async estimateItemCount() {
      const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
      return Table?.ItemCount;
    },
    async sendTasks(tasks, delaySeconds) {
      await sendTasks(sqs, resources.resyncQueueUrl, tasks, delaySeconds);
    },
    async enqueueKeys(keys: readonly MarshalledKey[]) {
      const now = Date.now();
      const changes = keys.map((key) => changeOfKey(key, resources.keyAttributes, now));
      const { failed } = await enqueueChanges(sqs, resources.changesQueue, changes, now);
      if (failed.length > 0)
        throw new ResyncQueueError(`${failed.length} keys could not be queued: ${failed[0]?.reason}`);
    },
    now: Date.now,
  };
}

/** The re-sync function's adapters, for the table, state table and queues its config names. */
export function resyncAdapters(
  clients: Pick<ResyncResources, 'dynamodb' | 'sqs' | 'typesense'>,
  config: ResyncConfig,
): ResyncPorts {
  return resyncPorts({
    ...clients,
    tableName: config.TABLE_NAME,
    keyAttributes: changeKeyAttributes(config.KEY_ATTRIBUTES, config.AGGREGATE),
    stateTable: config.RESYNC_STATE_TABLE,
    resyncQueueUrl: config.RESYNC_QUEUE_URL,
    changesQueue: {
      queueUrl: config.QUEUE_URL,
      messageGroupBuckets: config.MESSAGE_GROUP_BUCKETS,
      maxMessageBytes: config.MAX_MESSAGE_BYTES,
    },
  });
}

/** Puts tasks on the re-sync work queue (a standard queue: tasks run in parallel). */
export async function sendTasks(
  sqs: SQSClient,
  queueUrl: string,
  tasks: readonly ResyncTask[],
  delaySeconds?: number,
): Promise<void> {
  const refused = await sendJsonMessages(sqs, queueUrl, tasks, { attempts: 3, delaySeconds });
  if (refused > 0) throw new ResyncQueueError(`the re-sync queue refused ${refused} tasks`);
}
