import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { STREAM_INVOCATION_PAYLOAD_BYTES } from '../../functions/contract/limits.ts';
import { waitFor } from '../../infra/local/processes.ts';
import { StreamPoller } from '../../infra/local/stream-poller.ts';

/**
 * The embedded stack's stream poller batches as Lambda's DynamoDB event source does: up to BatchSize
 * records (GetRecords returns at most 1,000 per call), at most the 6 MB invocation payload, and no
 * sooner than the batching window unless the batch is full. The window runs on a clock the test
 * advances, so nothing depends on how fast this machine is.
 */

const region = 'us-east-1';
const streamArn = 'arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x';
const pkOf = (record: DynamoDBRecord) => record.dynamodb?.Keys?.pk?.S as string;

interface Shard {
  /** Records still in the stream, in order. */
  records: Record<string, unknown>[];
  /** Called on every GetRecords, before it answers (e.g. to advance the test's clock). */
  onGetRecords?: () => void;
  /** Records per GetRecords answer at most, besides the request's Limit. */
  page?: number;
}

/** One open shard answering GetRecords from `shard.records`; records every Limit asked for. */
function scriptedStream(shard: Shard) {
  const limits: number[] = [];
  const client = {
    send: async (command: { input: Record<string, unknown>; constructor: { name: string } }) => {
      switch (command.constructor.name) {
        case 'DescribeStreamCommand':
          return { StreamDescription: { Shards: [{ ShardId: 'shard-1' }] } };
        case 'GetShardIteratorCommand':
          return { ShardIterator: 'it' };
        case 'GetRecordsCommand': {
          const limit = command.input.Limit as number;
          limits.push(limit);
          shard.onGetRecords?.();
          const records = shard.records.splice(0, Math.min(limit, shard.page ?? limit));
          return { Records: records, NextShardIterator: 'it' };
        }
        default:
          throw new Error(`unexpected ${command.constructor.name}`);
      }
    },
  };
  return { client: client as unknown as DynamoDBStreamsClient, limits };
}

const record = (n: number, image?: string) => ({
  eventName: 'MODIFY' as const,
  dynamodb: {
    Keys: { pk: { S: `k${n}` } },
    SequenceNumber: String(1_000 + n),
    ...(image === undefined ? {} : { NewImage: { blob: { S: image } }, OldImage: { blob: { S: image } } }),
  },
});
const records = (count: number, image?: string) => Array.from({ length: count }, (_, n) => record(n, image));

function pollerOf(
  client: DynamoDBStreamsClient,
  options: Partial<ConstructorParameters<typeof StreamPoller>[0]>,
) {
  const batches: DynamoDBRecord[][] = [];
  const poller = new StreamPoller({
    streams: client,
    streamArn,
    region,
    pollIntervalMs: 2,
    handler: async ({ Records }) => {
      batches.push(Records);
      return { batchItemFailures: [] };
    },
    ...options,
  });
  return { poller, batches };
}

describe('StreamPoller batching (as the DynamoDB event source mapping)', () => {
  it('gathers records across reads until the batching window has passed since the first of them', async () => {
    let clock = 0;
    // 10 records per read, 100 ms of the test's clock per read: a 1 s window gathers 11 reads.
    const { client } = scriptedStream({
      records: records(300),
      page: 10,
      onGetRecords: () => {
        clock += 100;
      },
    });
    const { poller, batches } = pollerOf(client, {
      batchSize: 10_000,
      maxBatchingWindowMs: 1_000,
      now: () => clock,
    });
    poller.start();
    try {
      await waitFor('every record', async () => batches.flat().length === 300, 20_000);
    } finally {
      await poller.stop();
    }
    expect(batches.map((batch) => batch.length)).toEqual([110, 110, 80]);
    expect(batches.flat().map(pkOf)).toEqual(records(300).map((_, n) => `k${n}`));
  });

  it('delivers a full batch at once, reads at most 1,000 records per GetRecords, holds the rest for the window', async () => {
    let clock = 0;
    const { client, limits } = scriptedStream({ records: records(6_000) });
    const { poller, batches } = pollerOf(client, {
      batchSize: 2_500,
      maxBatchingWindowMs: 60_000,
      now: () => clock,
    });
    poller.start();
    try {
      await waitFor('two full batches', async () => batches.length === 2 && limits.length >= 8, 20_000);
      // The clock has not moved: the last 1,000 records wait for the window, and the poller says so.
      expect(batches.map((batch) => batch.length)).toEqual([2_500, 2_500]);
      expect(poller.caughtUp).toBe(false);
      clock = 60_000;
      await waitFor('the window to deliver the rest', async () => poller.caughtUp, 20_000);
    } finally {
      await poller.stop();
    }
    expect(batches.map((batch) => batch.length)).toEqual([2_500, 2_500, 1_000]);
    expect(batches.flat().map(pkOf)).toEqual(records(6_000).map((_, n) => `k${n}`));
    expect(Math.max(...limits)).toBe(1_000);
    expect(limits.slice(0, 6)).toEqual([1_000, 1_000, 500, 1_000, 1_000, 500]);
  });

  it('never delivers more than the 6 MB invocation payload, and fills each batch up to it', async () => {
    // Items near DynamoDB's 400 KB limit, both images: about 0.8 MB per record.
    const { client } = scriptedStream({ records: records(20, 'x'.repeat(390_000)) });
    const { poller, batches } = pollerOf(client, { batchSize: 100, maxBatchingWindowMs: 0 });
    poller.start();
    try {
      await waitFor('every record', async () => batches.flat().length === 20, 20_000);
    } finally {
      await poller.stop();
    }
    const payload = (batch: DynamoDBRecord[]) => Buffer.byteLength(JSON.stringify({ Records: batch }));
    for (const [index, batch] of batches.entries()) {
      expect(payload(batch)).toBeLessThanOrEqual(STREAM_INVOCATION_PAYLOAD_BYTES);
      const next = batches[index + 1]?.[0];
      // Full: the next record would not have fitted.
      if (next !== undefined)
        expect(payload([...batch, next])).toBeGreaterThan(STREAM_INVOCATION_PAYLOAD_BYTES);
    }
    expect(batches.map((batch) => batch.length)).toEqual([8, 8, 4]);
    expect(batches.flat().map(pkOf)).toEqual(records(20).map((_, n) => `k${n}`));
  });

  it('with no window (the API default) delivers each read at once, as before', async () => {
    const { client } = scriptedStream({ records: records(25), page: 10 });
    const { poller, batches } = pollerOf(client, { batchSize: 100, now: () => 0 });
    poller.start();
    try {
      await waitFor('every record', async () => batches.flat().length === 25, 20_000);
    } finally {
      await poller.stop();
    }
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 5]);
  });
});
