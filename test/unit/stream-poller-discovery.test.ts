import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, it } from 'vitest';
import { StreamPoller, type StreamPollerOptions } from '../../infra/local/stream-poller.ts';

/** A poller over a fake stream client answering `send`, polling every 10 ms. */
const pollerOver = (
  send: (command: { constructor: { name: string } }) => Promise<unknown>,
  handler: StreamPollerOptions['handler'] = async () => ({ batchItemFailures: [] }),
) =>
  new StreamPoller({
    streams: { send } as unknown as DynamoDBStreamsClient,
    streamArn: 'arn:aws:dynamodb:eu-west-1:000000000000:table/t/stream/1',
    region: 'eu-west-1',
    pollIntervalMs: 10,
    handler,
  });

/** The fake stream's one shard, described and iterated; GetRecords is the test's. */
const oneShard =
  (getRecords: () => Promise<unknown>) => async (command: { constructor: { name: string } }) => {
    switch (command.constructor.name) {
      case 'DescribeStreamCommand':
        return { StreamDescription: { Shards: [{ ShardId: 'shard-1' }] } };
      case 'GetShardIteratorCommand':
        return { ShardIterator: 'iterator-1' };
      case 'GetRecordsCommand':
        return getRecords();
      default:
        throw new Error('unexpected call');
    }
  };

/**
 * A poller that has not yet described its stream has read nothing: it must not call itself caught up.
 * Under load, DynamoDB Local can fail the first DescribeStream; a poller that then reported caught up
 * let waitForIdle (and a test waiting for the first poll) go on before any iterator existed.
 */
describe('StreamPoller before its first successful stream description', () => {
  it('is not caught up while DescribeStream fails, and is once the stream is described', async () => {
    let describeFails = true;
    const poller = pollerOver(async (command) => {
      if (command.constructor.name !== 'DescribeStreamCommand') throw new Error('unexpected call');
      if (describeFails) throw new Error('ECONNRESET');
      return { StreamDescription: { Shards: [] } };
    });
    poller.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(poller.caughtUp).toBe(false);
      describeFails = false;
      // Discovery is retried at most once a second.
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      expect(poller.caughtUp).toBe(true);
    } finally {
      await poller.stop();
    }
  });
});

/**
 * A poll whose GetRecords failed read nothing, so it says nothing about the shard: under load a
 * timed-out GetRecords counted as an empty poll, and waitForIdle went on while the last changes were
 * still unread (seen as extra and stale documents after a re-sync test in CI).
 */
describe('StreamPoller whose reads fail', () => {
  it('is not caught up while GetRecords fails, and is once a read finds the shard empty', async () => {
    let readsFail = true;
    const poller = pollerOver(
      oneShard(async () => {
        if (readsFail) throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
        return { Records: [], NextShardIterator: 'iterator-1' };
      }),
    );
    poller.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(poller.caughtUp).toBe(false);
      readsFail = false;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(poller.caughtUp).toBe(true);
    } finally {
      await poller.stop();
    }
  });
});

/**
 * The last round's verdict is only as new as the round: a read in flight when the last change was
 * written can still return it. Under load a GetRecords can outlast two of waitForIdle's quiet checks,
 * so "caught up" must come from a clean round that began after the moment asked about.
 */
describe('StreamPoller asked whether it caught up since a moment', () => {
  it('waits for a clean round that began after that moment', async () => {
    let slowRead: Promise<void> | undefined;
    let delivered = 0;
    const poller = pollerOver(
      oneShard(async () => {
        const slow = slowRead;
        if (slow === undefined) return { Records: [], NextShardIterator: 'iterator-1' };
        slowRead = undefined;
        await slow;
        const record = {
          eventID: '1',
          eventName: 'INSERT',
          dynamodb: { Keys: { pk: { S: 'k' } }, SequenceNumber: '100', SizeBytes: 10 },
        };
        return { Records: [record], NextShardIterator: 'iterator-1' };
      }),
      async ({ Records }) => {
        delivered += Records.length;
        return { batchItemFailures: [] };
      },
    );
    let release: () => void = () => undefined;
    poller.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(poller.caughtUpSince(0)).toBe(true);
      slowRead = new Promise<void>((resolve) => {
        release = resolve;
      });
      // Let the slow read begin: the round before it was clean.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const asked = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(poller.caughtUpSince(asked)).toBe(false);
      release();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(delivered).toBe(1);
      expect(poller.caughtUpSince(asked)).toBe(true);
    } finally {
      release();
      await poller.stop();
    }
  });
});
