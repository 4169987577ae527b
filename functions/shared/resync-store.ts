import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { MarshalledKey } from '../core/change.ts';
import { SyncError } from '../core/errors.ts';
import {
  type ActiveResync,
  type DeletedKey,
  fixedBeforeOf,
  type Rejection,
  type ResyncJob,
  type ResyncPhase,
  type ResyncStore,
  type SegmentState,
} from '../core/resync.ts';
import { sleep } from './aws.ts';

/*
 * Layout of the state table (partition key `pk`, sort key `sk`):
 *   active / active           the running re-sync: { jobId, collection } (at most one)
 *   job / <jobId>             a job (job ids sort by start time)
 *   segment#<jobId> / <nnnnn> a segment's checkpoint; one item each, so segments never contend
 *   deleted#<jobId> / <id>    a key the writer deleted during the backfill (tombstone)
 *   rejected#<jobId> / <id>   a document the new collection rejected, with the reason
 * Keys of the source table are kept as native maps, exactly as DynamoDB returned them.
 */

const ACTIVE = { pk: { S: 'active' }, sk: { S: 'active' } };
const segmentSk = (segment: number) => String(segment).padStart(5, '0');

export class ResyncStoreError extends SyncError {
  override name = 'ResyncStoreError';
}

/**
 * The re-sync's state in one DynamoDB table. Its methods are closures, not class methods: adapters pass
 * them on unbound (e.g. the writer's `recordDeletes: store.recordDeletes`).
 */
export function dynamoResyncStore(dynamodb: DynamoDBClient, tableName: string): ResyncStore {
  const table = stateTable(dynamodb, tableName);
  return { ...activePointer(table), ...jobs(table), ...segments(table), ...keyLists(table) };
}

/** The state table's requests that every part of the store shares. */
type StateTable = ReturnType<typeof stateTable>;

function stateTable(dynamodb: DynamoDBClient, tableName: string) {
  const get = async (pk: string, sk: string) =>
    (
      await dynamodb.send(
        new GetItemCommand({
          TableName: tableName,
          Key: { pk: { S: pk }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      )
    ).Item;

  const query = async (
    pk: string,
    options: { limit?: number; newestFirst?: boolean; after?: string; count?: boolean } = {},
  ) => {
    const items: Record<string, AttributeValue>[] = [];
    let counted = 0;
    let startKey: Record<string, AttributeValue> | undefined =
      options.after === undefined ? undefined : { pk: { S: pk }, sk: { S: options.after } };
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: pk } },
          ConsistentRead: true,
          ScanIndexForward: options.newestFirst !== true,
          ...(options.count === true ? { Select: 'COUNT' as const } : {}),
          ...(options.limit === undefined ? {} : { Limit: options.limit - items.length }),
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      items.push(...(page.Items ?? []));
      counted += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && (options.limit === undefined || items.length < options.limit));
    return Object.assign(items, { counted });
  };

  const writeAll = async (requests: WriteRequest[]) => {
    for (let start = 0; start < requests.length; start += 25) {
      let pending = requests.slice(start, start + 25);
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > 5)
          throw new ResyncStoreError(`${pending.length} state writes unprocessed after 5 tries`);
        if (attempt > 1) await sleep(Math.min(1_000, 25 * 2 ** attempt));
        const result = await dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }),
        );
        pending = result.UnprocessedItems?.[tableName] ?? [];
      }
    }
  };

  return { dynamodb, tableName, get, query, writeAll };
}

const activeOf = (item: Record<string, AttributeValue>): ActiveResync => {
  const { jobId, collection, firstLoad } = unmarshall(item) as ActiveResync;
  return firstLoad === true ? { jobId, collection, firstLoad } : { jobId, collection };
};

/** The active pointer: at most one running re-sync. */
function activePointer(table: StateTable): Pick<ResyncStore, 'active' | 'claim' | 'release'> {
  const { dynamodb, tableName, get } = table;
  return {
    async active() {
      const item = await get('active', 'active');
      if (item === undefined) return undefined;
      return activeOf(item);
    },
    async claim(active) {
      for (;;) {
        try {
          await dynamodb.send(
            new PutItemCommand({
              TableName: tableName,
              Item: { ...ACTIVE, ...marshall(active, { removeUndefinedValues: true }) },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          return undefined;
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
        const holder = await get('active', 'active');
        // Released between the two requests: try again.
        if (holder !== undefined) {
          return activeOf(holder);
        }
      }
    },
    async release(jobId) {
      try {
        await dynamodb.send(
          new DeleteItemCommand({
            TableName: tableName,
            Key: ACTIVE,
            ConditionExpression: 'jobId = :jobId',
            ExpressionAttributeValues: { ':jobId': { S: jobId } },
          }),
        );
      } catch (error) {
        // Held by another job, or already released: nothing of ours to release.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },
  };
}

/** Jobs, and their conditional transitions. */
function jobs(table: StateTable): Pick<ResyncStore, 'putJob' | 'getJob' | 'latestJobs' | 'transition'> {
  const { dynamodb, tableName, get, query } = table;
  const jobOf = (item: Record<string, AttributeValue>): ResyncJob => {
    const { pk: _pk, sk: _sk, ...job } = unmarshall(item);
    return job as ResyncJob;
  };

  return {
    async putJob(job) {
      await dynamodb.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { pk: { S: 'job' }, sk: { S: job.jobId }, ...marshall(job, { removeUndefinedValues: true }) },
        }),
      );
    },
    async getJob(jobId) {
      const item = await get('job', jobId);
      return item === undefined ? undefined : jobOf(item);
    },
    async latestJobs(limit) {
      return (await query('job', { limit, newestFirst: true })).map(jobOf);
    },
    async transition(jobId, from: readonly ResyncPhase[], fields, guard) {
      const entries = Object.entries(fields).filter(([, value]) => value !== undefined);
      const names = Object.fromEntries(entries.map(([name], index) => [`#f${index}`, name]));
      const values = marshall(
        {
          ...Object.fromEntries(entries.map(([, value], index) => [`:f${index}`, value])),
          ...Object.fromEntries(from.map((phase, index) => [`:from${index}`, phase])),
        },
        { removeUndefinedValues: true },
      );
      const conditions = [`#phase IN (${from.map((_, index) => `:from${index}`).join(', ')})`];
      const guardNames: Record<string, string> = {};
      if (guard?.updatedAt !== undefined) {
        conditions.push('#gUpdatedAt = :gUpdatedAt');
        guardNames['#gUpdatedAt'] = 'updatedAt';
        values[':gUpdatedAt'] = { N: String(guard.updatedAt) };
      }
      if (guard?.recheckStep !== undefined) {
        guardNames['#gRecheck'] = 'recheck';
        if (guard.recheckStep === null) conditions.push('attribute_not_exists(#gRecheck)');
        else {
          conditions.push('#gRecheck.#gStep = :gStep');
          guardNames['#gStep'] = 'step';
          values[':gStep'] = { N: String(guard.recheckStep) };
        }
      }
      try {
        await dynamodb.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: { pk: { S: 'job' }, sk: { S: jobId } },
            UpdateExpression: `SET ${entries.map((_, index) => `#f${index} = :f${index}`).join(', ')}`,
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeNames: { ...names, ...guardNames, '#phase': 'phase' },
            ExpressionAttributeValues: values,
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
  };
}

/** Segment checkpoints. */
function segments(table: StateTable): Pick<ResyncStore, 'putSegment' | 'getSegment' | 'listSegments'> {
  const { dynamodb, tableName, get, query } = table;
  return {
    async putSegment(jobId, { lastKey, ...segment }, previousPages) {
      try {
        await dynamodb.send(
          new PutItemCommand({
            TableName: tableName,
            Item: {
              pk: { S: `segment#${jobId}` },
              sk: { S: segmentSk(segment.segment) },
              ...marshall(segment),
              ...(lastKey === undefined ? {} : { lastKey: { M: lastKey } }),
            },
            ...(previousPages === undefined
              ? {}
              : {
                  ConditionExpression: 'pages = :previous',
                  ExpressionAttributeValues: { ':previous': { N: String(previousPages) } },
                }),
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
    async getSegment(jobId, segment) {
      const item = await get(`segment#${jobId}`, segmentSk(segment));
      return item === undefined ? undefined : segmentOf(item);
    },
    async listSegments(jobId) {
      return (await query(`segment#${jobId}`)).map(segmentOf);
    },
  };
}

/** Tombstones of deleted keys, and rejected documents. */
function keyLists(
  table: StateTable,
): Pick<
  ResyncStore,
  'recordDeletes' | 'listDeletes' | 'countDeletes' | 'recordRejections' | 'listRejections' | 'clearRejections'
> {
  const { dynamodb, tableName, query, writeAll } = table;
  return {
    async recordDeletes(jobId, keys) {
      await writeAll(
        keys.map(({ id, key }) => ({
          PutRequest: { Item: { pk: { S: `deleted#${jobId}` }, sk: { S: id }, key: { M: key } } },
        })),
      );
    },
    async listDeletes(jobId, page = {}) {
      return (await query(`deleted#${jobId}`, page)).map(
        (item): DeletedKey => ({ id: item.sk?.S as string, key: item.key?.M as MarshalledKey }),
      );
    },
    async countDeletes(jobId) {
      return (await query(`deleted#${jobId}`, { count: true })).counted;
    },
    async recordRejections(jobId, rejections) {
      await writeAll(
        rejections.map(({ id, reason, at }) => ({
          PutRequest: {
            Item: {
              pk: { S: `rejected#${jobId}` },
              sk: { S: id },
              reason: { S: reason.slice(0, 1_000) },
              at: { N: String(at ?? Date.now()) },
            },
          },
        })),
      );
    },
    async listRejections(jobId, limit) {
      return (await query(`rejected#${jobId}`, { limit })).map(({ sk, reason }) => ({
        id: sk?.S as string,
        reason: reason?.S as string,
      }));
    },
    async clearRejections(jobId, writes) {
      // Rejections are rare: one small Query per call, and a delete only for an id that has one.
      const fixedBefore = fixedBeforeOf(writes);
      const stale = (await query(`rejected#${jobId}`))
        .map(rejectionOf)
        .filter(({ id, at }) => (at ?? 0) < (fixedBefore.get(id) ?? Number.NEGATIVE_INFINITY));
      let cleared = 0;
      for (const { id } of stale) {
        const before = fixedBefore.get(id) as number;
        try {
          await dynamodb.send(
            new DeleteItemCommand({
              TableName: tableName,
              Key: { pk: { S: `rejected#${jobId}` }, sk: { S: id } },
              // A rejection recorded again meanwhile (a later state) stays.
              ConditionExpression: 'attribute_not_exists(#at) OR #at < :before',
              ExpressionAttributeNames: { '#at': 'at' },
              ExpressionAttributeValues: { ':before': { N: String(before) } },
            }),
          );
          cleared++;
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }
      return cleared;
    },
  };
}

function rejectionOf(item: Record<string, AttributeValue>): Rejection {
  const at = item.at?.N === undefined ? undefined : Number(item.at.N);
  return {
    id: item.sk?.S as string,
    reason: item.reason?.S as string,
    ...(at === undefined ? {} : { at }),
  };
}

function segmentOf(item: Record<string, AttributeValue>): SegmentState {
  const { pk: _pk, sk: _sk, lastKey, ...rest } = item;
  const segment = unmarshall(rest) as SegmentState;
  return lastKey?.M === undefined ? segment : { ...segment, lastKey: lastKey.M };
}
