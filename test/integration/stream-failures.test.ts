import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamFailureRecord } from '../../bin/cli/operations/replay.ts';
import { compareVersions } from '../../functions/core/coalesce.ts';
import { waitFor } from '../../infra/local/processes.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ schema: productSchema, logLevel: 'ERROR' });
});

afterAll(async () => {
  await stack?.stop();
});

describe('stream batches the batcher cannot enqueue', () => {
  it('land after the retries in the S3 failure bucket with their full records, ready to replay', async () => {
    // The changes queue disappears: every SendMessageBatch fails, so the batcher reports its batch failed.
    await stack.sqs.send(new DeleteQueueCommand({ QueueUrl: stack.queueUrl }));
    const random = seededRandom(3);
    for (const n of [1, 2, 3]) {
      await stack.dynamodb.send(
        new PutItemCommand({
          TableName: stack.tableName,
          Item: productItem(random, stack.keyAttributes, n, 1, Date.now()),
        }),
      );
    }
    await waitFor(
      'the stream poller to give up on the batch',
      async () => stack.streamPoller.stats.recordsGivenUp >= 3,
      60_000,
    );

    let keys: string[] = [];
    await waitFor(
      'the failure record in S3',
      async () => {
        const listing = await stack.s3.send(new ListObjectsV2Command({ Bucket: stack.failureBucket }));
        keys = (listing.Contents ?? []).map(({ Key }) => Key as string);
        return keys.length > 0;
      },
      10_000,
    );
    const records: StreamFailureRecord[] = await Promise.all(
      keys.map(async (Key) => {
        const object = await stack.s3.send(new GetObjectCommand({ Bucket: stack.failureBucket, Key }));
        return JSON.parse(await (object.Body?.transformToString() ?? '{}')) as StreamFailureRecord;
      }),
    );
    // A batch may be abandoned in several pieces (one object each); a replay orders by sequence number.
    const replayable = records
      .flatMap((record) => (JSON.parse(record.payload) as DynamoDBStreamEvent).Records)
      .sort((a, b) => compareVersions(a.dynamodb?.SequenceNumber ?? '0', b.dynamodb?.SequenceNumber ?? '0'));
    expect(replayable.map((record) => record.dynamodb?.Keys?.pk?.S)).toEqual([
      'p-000001',
      'p-000002',
      'p-000003',
    ]);
    // Full records, not just metadata: the new image is there to replay.
    expect(replayable[0]?.dynamodb?.NewImage?.name?.S).toMatch(/#1$/);
    for (const record of records) {
      const batch = (JSON.parse(record.payload) as DynamoDBStreamEvent).Records;
      expect(record).toMatchObject({
        requestContext: { condition: 'RetryAttemptsExhausted' },
        DDBStreamBatchInfo: {
          batchSize: batch.length,
          startSequenceNumber: batch[0]?.dynamodb?.SequenceNumber,
          endSequenceNumber: batch.at(-1)?.dynamodb?.SequenceNumber,
        },
      });
    }
    expect(keys[0]).toMatch(/^aws\/lambda\//);
  });
});
