import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, it } from 'vitest';
import { StreamPoller } from '../../infra/local/stream-poller.ts';

/**
 * A poller that has not yet described its stream has read nothing: it must not call itself caught up.
 * Under load, DynamoDB Local can fail the first DescribeStream; a poller that then reported caught up
 * let waitForIdle (and a test waiting for the first poll) go on before any iterator existed.
 */
describe('StreamPoller before its first successful stream description', () => {
  it('is not caught up while DescribeStream fails, and is once the stream is described', async () => {
    let describeFails = true;
    const streams = {
      send: async (command: { constructor: { name: string } }) => {
        if (command.constructor.name !== 'DescribeStreamCommand') throw new Error('unexpected call');
        if (describeFails) throw new Error('ECONNRESET');
        return { StreamDescription: { Shards: [] } };
      },
    } as unknown as DynamoDBStreamsClient;
    const poller = new StreamPoller({
      streams,
      streamArn: 'arn:aws:dynamodb:eu-west-1:000000000000:table/t/stream/1',
      region: 'eu-west-1',
      pollIntervalMs: 10,
      handler: async () => ({ batchItemFailures: [] }),
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
