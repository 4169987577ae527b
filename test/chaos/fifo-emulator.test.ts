import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The embedded stack's SQS must deliver a FIFO backlog the way SQS does, never slower: as many
// messages of one group as a receive allows, the group locked while any is in flight, and a batch
// that comes back (visibility timeout) in its original order. See bench/CONVERGENCE.md.
let server: Awaited<ReturnType<typeof startFauxqs>>;
let sqs: SQSClient;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  sqs = new SQSClient({
    endpoint: server.address,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
});
afterAll(async () => {
  sqs.destroy();
  await server.stop();
});

async function fifoQueue(name: string, bodies: { group: string; body: string }[]): Promise<string> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}.fifo`,
      Attributes: { FifoQueue: 'true', VisibilityTimeout: '1' },
    }),
  );
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: bodies.map(({ group, body }, index) => ({
        Id: String(index),
        MessageBody: body,
        MessageGroupId: group,
        MessageDeduplicationId: `${name}-${index}`,
      })),
    }),
  );
  return QueueUrl as string;
}

const receive = async (QueueUrl: string) =>
  (
    await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    )
  ).Messages ?? [];

describe('embedded SQS FIFO delivery (fauxqs, patched)', () => {
  it('returns several messages of one group in one receive, then locks the group while they are in flight', async () => {
    const url = await fifoQueue('same-group', [
      ...['a1', 'a2', 'a3', 'a4'].map((body) => ({ group: 'a', body })),
      { group: 'b', body: 'b1' },
    ]);
    const first = await receive(url);
    expect(first.map(({ Body }) => Body)).toEqual(['a1', 'a2', 'a3', 'a4', 'b1']);
    expect(await receive(url)).toEqual([]);
  });

  it('gives a batch that comes back after its visibility timeout in its original order', async () => {
    const url = await fifoQueue(
      'order',
      ['m1', 'm2', 'm3', 'm4', 'm5'].map((body) => ({ group: 'g', body })),
    );
    const first = await receive(url);
    expect(first.map(({ Body }) => Body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    // Two come back at once (visibility 0, as the writer does for deferred messages), the rest time out.
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: first.slice(0, 2).map(({ ReceiptHandle }, index) => ({
          Id: String(index),
          ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const again = await receive(url);
    expect(again.map(({ Body }) => Body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: again.map(({ ReceiptHandle }, index) => ({ Id: String(index), ReceiptHandle })),
      }),
    );
    expect(await receive(url)).toEqual([]);
  });
});
