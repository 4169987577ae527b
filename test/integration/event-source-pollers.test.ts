import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../infra/local/dynamodb-local.ts';
import { waitFor } from '../../infra/local/processes.ts';
import { QueuePoller } from '../../infra/local/queue-poller.ts';
import { StreamPoller } from '../../infra/local/stream-poller.ts';

const region = 'us-east-1';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let dynamoDbLocal: DynamoDbLocal;
let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let sqs: SQSClient;

beforeAll(async () => {
  [dynamoDbLocal, fauxqs] = await Promise.all([
    startDynamoDbLocal(),
    startFauxqs({ port: 0, logger: false }),
  ]);
  dynamodb = new DynamoDBClient({ endpoint: dynamoDbLocal.endpoint, region, credentials });
  streams = new DynamoDBStreamsClient({ endpoint: dynamoDbLocal.endpoint, region, credentials });
  sqs = new SQSClient({ endpoint: fauxqs.address, region, credentials, useQueueUrlAsEndpoint: false });
});

afterAll(async () => {
  dynamodb?.destroy();
  streams?.destroy();
  sqs?.destroy();
  await Promise.all([dynamoDbLocal?.stop(), fauxqs?.stop()]);
});

async function tableWithItems(name: string, count: number): Promise<string> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  for (let n = 0; n < count; n++) {
    await dynamodb.send(
      new PutItemCommand({
        TableName: name,
        Item: { pk: { S: `k${n}` }, blob: { B: Buffer.from([n, 255]) } },
      }),
    );
  }
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
  return Table?.LatestStreamArn as string;
}

const pkOf = (record: DynamoDBRecord) => record.dynamodb?.Keys?.pk?.S as string;

describe('StreamPoller (Lambda DynamoDB event source)', () => {
  it('delivers Lambda-shaped records in order and batches, resuming at the first failed record', async () => {
    const streamArn = await tableWithItems('partial', 7);
    const batches: string[][] = [];
    let failedOnce = false;
    const poller = new StreamPoller({
      streams,
      streamArn,
      region,
      batchSize: 4,
      handler: async ({ Records }) => {
        batches.push(Records.map(pkOf));
        const third = Records[2];
        if (!failedOnce && third !== undefined) {
          failedOnce = true;
          return { batchItemFailures: [{ itemIdentifier: third.dynamodb?.SequenceNumber as string }] };
        }
        return { batchItemFailures: [] };
      },
    });
    poller.start();
    await waitFor(
      'the stream to drain',
      async () => poller.caughtUp && batches.flat().includes('k6'),
      30_000,
    );
    await poller.stop();
    // k2 failed in the first batch: the retry starts exactly there, k0 and k1 are not redelivered.
    expect(batches).toEqual([
      ['k0', 'k1', 'k2', 'k3'],
      ['k2', 'k3'],
      ['k4', 'k5', 'k6'],
    ]);
    expect(poller.stats.recordsGivenUp).toBe(0);
  });

  it('gives records Lambda’s JSON shape: epoch seconds, base64 binary, event source fields', async () => {
    const streamArn = await tableWithItems('shape', 1);
    let seen: DynamoDBRecord | undefined;
    const poller = new StreamPoller({
      streams,
      streamArn,
      region,
      handler: async ({ Records }) => {
        seen = Records[0];
        return { batchItemFailures: [] };
      },
    });
    poller.start();
    await waitFor('a record', async () => seen !== undefined, 30_000);
    await poller.stop();
    expect(seen).toMatchObject({
      eventSource: 'aws:dynamodb',
      eventName: 'INSERT',
      awsRegion: region,
      eventSourceARN: streamArn,
    });
    expect(seen?.dynamodb?.NewImage?.blob?.B).toBe(Buffer.from([0, 255]).toString('base64'));
    const created = seen?.dynamodb?.ApproximateCreationDateTime as number;
    expect(Number.isInteger(created)).toBe(true);
    expect(Math.abs(created - Date.now() / 1000)).toBeLessThan(3_600);
  });

  it('bisects a failing batch down to the poison record, hands it to the on-failure destination, and moves on', async () => {
    const streamArn = await tableWithItems('bisect', 8);
    const delivered = new Set<string>();
    const givenUp: string[] = [];
    const poller = new StreamPoller({
      streams,
      streamArn,
      region,
      batchSize: 8,
      retryAttempts: 2,
      handler: async ({ Records }) => {
        if (Records.some((record) => pkOf(record) === 'k5')) throw new Error('poison');
        for (const record of Records) delivered.add(pkOf(record));
        return { batchItemFailures: [] };
      },
      onFailure: (records) => givenUp.push(...records.map(pkOf)),
    });
    poller.start();
    await waitFor(
      'the poison record to be given up',
      async () => givenUp.length > 0 && poller.caughtUp,
      30_000,
    );
    await poller.stop();
    expect(givenUp).toEqual(['k5']);
    expect([...delivered].sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k6', 'k7']);
    expect(poller.stats.recordsGivenUp).toBe(1);
  });

  it('delivers the records of a shard that was empty when polling began, renewing a TRIM_HORIZON iterator that DynamoDB Local calls trimmed', async () => {
    // The poller takes its iterator while the table is empty; a write to another table then takes the
    // next stream record number, so the shard's first record is numbered past the iterator.
    const streamArn = await tableWithItems('starts-empty', 0);
    const delivered: string[] = [];
    const log: string[] = [];
    const poller = new StreamPoller({
      streams,
      streamArn,
      region,
      log: (line) => log.push(line),
      handler: async ({ Records }) => {
        delivered.push(...Records.map(pkOf));
        return { batchItemFailures: [] };
      },
    });
    poller.start();
    try {
      await waitFor('the first poll of the empty shard', async () => poller.caughtUp, 30_000);
      await tableWithItems('written-first', 1);
      for (const pk of ['a', 'b', 'c']) {
        await dynamodb.send(new PutItemCommand({ TableName: 'starts-empty', Item: { pk: { S: pk } } }));
      }
      await waitFor('the three records', async () => delivered.length >= 3, 45_000);
    } finally {
      await poller.stop();
    }
    expect(delivered).toEqual(['a', 'b', 'c']);
    // Whether DynamoDB Local calls the iterator trimmed depends on its timing: in a full run under load
    // it once did not (0 renewals, the records delivered all the same). The renewal's logic is pinned by
    // the scripted client below; here, at most the one renewal, and its log line when it happened.
    const renewed = poller.stats.iteratorsRenewed;
    expect(renewed).toBeLessThanOrEqual(1);
    expect(log).toEqual(
      renewed === 1 ? [expect.stringMatching(/TrimmedDataAccessException; resuming at TRIM_HORIZON/)] : [],
    );
  });
});

describe('StreamPoller iterator renewal (scripted streams client)', () => {
  const streamArn = 'arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x';
  const record = (n: number) => ({
    eventName: 'INSERT' as const,
    dynamodb: { Keys: { pk: { S: `k${n}` } }, SequenceNumber: String(n) },
  });
  const lost = (name: string) => Object.assign(new Error(name), { name });

  /** One shard whose GetRecords answers come from `script`, in order; then empty pages. */
  function scriptedStreams(script: Array<(iterator: string) => unknown>) {
    const iteratorRequests: Array<{ type: string; after?: string }> = [];
    const client = {
      send: async (command: { input: Record<string, unknown>; constructor: { name: string } }) => {
        const { input } = command;
        switch (command.constructor.name) {
          case 'DescribeStreamCommand':
            return { StreamDescription: { Shards: [{ ShardId: 'shard-1' }] } };
          case 'GetShardIteratorCommand': {
            const type = input.ShardIteratorType as string;
            iteratorRequests.push({
              type,
              ...(input.SequenceNumber ? { after: String(input.SequenceNumber) } : {}),
            });
            return { ShardIterator: `${type}:${input.SequenceNumber ?? ''}` };
          }
          case 'GetRecordsCommand': {
            const step = script.shift();
            if (step === undefined) return { Records: [], NextShardIterator: input.ShardIterator };
            return step(input.ShardIterator as string);
          }
          default:
            throw new Error(`unexpected ${command.constructor.name}`);
        }
      },
    };
    return { client: client as unknown as DynamoDBStreamsClient, iteratorRequests };
  }

  it.each(['ExpiredIteratorException', 'TrimmedDataAccessException'])(
    'after %s resumes right after the last record handled: nothing lost, nothing repeated',
    async (error) => {
      const { client, iteratorRequests } = scriptedStreams([
        () => ({ Records: [record(1), record(2)], NextShardIterator: 'next' }),
        () => {
          throw lost(error);
        },
        (iterator) => {
          expect(iterator).toBe('AFTER_SEQUENCE_NUMBER:2');
          return { Records: [record(3)], NextShardIterator: 'next' };
        },
      ]);
      const delivered: string[] = [];
      const log: string[] = [];
      const poller = new StreamPoller({
        streams: client,
        streamArn,
        region,
        pollIntervalMs: 5,
        log: (line) => log.push(line),
        handler: async ({ Records }) => {
          delivered.push(...Records.map(pkOf));
          return { batchItemFailures: [] };
        },
      });
      poller.start();
      try {
        await waitFor('the record after the renewal', async () => delivered.length >= 3, 10_000);
      } finally {
        await poller.stop();
      }
      expect(delivered).toEqual(['k1', 'k2', 'k3']);
      expect(iteratorRequests).toEqual([
        { type: 'TRIM_HORIZON' },
        { type: 'AFTER_SEQUENCE_NUMBER', after: '2' },
      ]);
      expect(log).toEqual([`stream poller: shard shard-1: ${error}; resuming after sequence number 2`]);
    },
  );
});

describe('QueuePoller (Lambda SQS event source, FIFO)', () => {
  async function fifoQueue(name: string, maxReceiveCount: number) {
    const dlq = await sqs.send(
      new CreateQueueCommand({ QueueName: `${name}-dlq.fifo`, Attributes: { FifoQueue: 'true' } }),
    );
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}.fifo`,
        Attributes: {
          FifoQueue: 'true',
          VisibilityTimeout: '1',
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: `arn:aws:sqs:${region}:000000000000:${name}-dlq.fifo`,
            maxReceiveCount,
          }),
        },
      }),
    );
    return { queueUrl: queue.QueueUrl as string, dlqUrl: dlq.QueueUrl as string };
  }
  const send = (queueUrl: string, body: string, group: string) =>
    sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: body,
        MessageGroupId: group,
        MessageDeduplicationId: body,
      }),
    );

  it('deletes what succeeded, redelivers what failed with a higher receive count, and redrives after maxReceiveCount', async () => {
    const { queueUrl } = await fifoQueue('partial', 3);
    for (const body of ['ok-1', 'fails-always', 'ok-2']) await send(queueUrl, body, body);
    const receives = new Map<string, number[]>();
    const done: string[] = [];
    const poller = new QueuePoller({
      sqs,
      queueUrl,
      queueArn: `arn:aws:sqs:${region}:000000000000:partial.fifo`,
      region,
      concurrency: 1,
      handler: async ({ Records }) => {
        for (const record of Records) {
          receives.set(record.body, [
            ...(receives.get(record.body) ?? []),
            Number(record.attributes.ApproximateReceiveCount),
          ]);
        }
        return {
          batchItemFailures: Records.filter((record) => record.body === 'fails-always').map((record) => ({
            itemIdentifier: record.messageId,
          })),
        };
      },
      onDone: (records: SQSRecord[]) => done.push(...records.map((record) => record.body)),
    });
    poller.start();
    await waitFor(
      'the failing message to be redriven',
      async () => (receives.get('fails-always')?.length ?? 0) >= 3 && !poller.busy,
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // one more visibility timeout: no 4th receive
    await poller.stop();
    expect(done.sort()).toEqual(['ok-1', 'ok-2']);
    expect(receives.get('ok-1')).toEqual([1]);
    expect(receives.get('fails-always')).toEqual([1, 2, 3]);
  });

  it('keeps the whole batch when the handler throws or names an unknown message', async () => {
    const { queueUrl } = await fifoQueue('whole', 10);
    await send(queueUrl, 'a', 'g');
    let calls = 0;
    const poller = new QueuePoller({
      sqs,
      queueUrl,
      queueArn: `arn:aws:sqs:${region}:000000000000:whole.fifo`,
      region,
      concurrency: 1,
      handler: async () => {
        calls++;
        if (calls === 1) throw new Error('crash');
        if (calls === 2) return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
        return { batchItemFailures: [] };
      },
    });
    poller.start();
    await waitFor('the message to be done', async () => poller.stats.messagesDone === 1, 30_000);
    await poller.stop();
    expect(calls).toBe(3);
    expect(poller.stats.failedInvocations).toBe(2);
  });

  it('hands one message group to one invocation at a time, in send order', async () => {
    const { queueUrl } = await fifoQueue('ordered', 10);
    for (let n = 0; n < 12; n++) await send(queueUrl, `g${n % 3}-${n}`, `g${n % 3}`);
    const inFlight = new Set<string>();
    const order = new Map<string, number[]>();
    let overlap = false;
    const poller = new QueuePoller({
      sqs,
      queueUrl,
      queueArn: `arn:aws:sqs:${region}:000000000000:ordered.fifo`,
      region,
      concurrency: 3,
      batchSize: 2,
      handler: async ({ Records }) => {
        const groups = new Set(Records.map((record) => record.attributes.MessageGroupId as string));
        for (const group of groups) {
          if (inFlight.has(group)) overlap = true;
          inFlight.add(group);
        }
        await new Promise((resolve) => setTimeout(resolve, 30));
        for (const record of Records) {
          const group = record.attributes.MessageGroupId as string;
          order.set(group, [...(order.get(group) ?? []), Number(record.body.split('-')[1])]);
        }
        for (const group of groups) inFlight.delete(group);
        return { batchItemFailures: [] };
      },
    });
    poller.start();
    await waitFor('all messages', async () => poller.stats.messagesDone === 12, 30_000);
    await poller.stop();
    expect(overlap).toBe(false);
    for (const [group, numbers] of order) {
      expect(numbers, group).toEqual([...numbers].sort((a, b) => a - b));
    }
  });
});
