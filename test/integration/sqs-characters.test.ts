import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The embedded SQS must accept exactly the characters AWS accepts:
 * `#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF`. fauxqs 1.9 checks with a regular
 * expression without the `u` flag, which refuses every astral character (emoji); patches/ fixes that.
 */
let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
let sqs: SQSClient;
let queueUrl: string;

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, logger: false });
  sqs = new SQSClient({
    endpoint: fauxqs.address,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'characters' }))).QueueUrl as string;
});

afterAll(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
});

const ACCEPTED = {
  emoji: 'key-\u{1F600}-end',
  astralMax: 'max-\u{10FFFF}',
  bmpTop: 'top-\uFFFD',
  whitespace: 'tab\there\nnew\rline',
};
const REFUSED = {
  control: 'ctl-\u0001',
  nonCharacter: 'nc-\uFFFF',
  nonCharacterFffe: 'nc-\uFFFE',
  loneSurrogate: 'lone-\uD83D-x',
};

describe('the embedded SQS checks message characters as AWS does', () => {
  it('accepts emoji and every other allowed character, and delivers them unchanged', async () => {
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Object.entries(ACCEPTED).map(([id, body]) => ({ Id: id, MessageBody: body })),
      }),
    );
    expect(result.Failed ?? []).toEqual([]);
    expect(result.Successful).toHaveLength(Object.keys(ACCEPTED).length);
    const single = await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: ACCEPTED.emoji }),
    );
    expect(single.MessageId).toBeDefined();

    const bodies: string[] = [];
    for (let round = 0; round < 5 && bodies.length < 5; round++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      bodies.push(...Messages.map(({ Body }) => Body as string));
    }
    expect(bodies.sort()).toEqual([...Object.values(ACCEPTED), ACCEPTED.emoji].sort());
  });

  it('refuses a control character, U+FFFE/U+FFFF and a lone surrogate with InvalidMessageContents', async () => {
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          ...Object.entries(REFUSED).map(([id, body]) => ({ Id: id, MessageBody: body })),
          { Id: 'fine', MessageBody: ACCEPTED.emoji },
        ],
      }),
    );
    expect(result.Successful?.map(({ Id }) => Id)).toEqual(['fine']);
    expect((result.Failed ?? []).map(({ Id, Code, SenderFault }) => ({ Id, Code, SenderFault }))).toEqual(
      Object.keys(REFUSED).map((id) => ({ Id: id, Code: 'InvalidMessageContents', SenderFault: true })),
    );
    await expect(
      sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: REFUSED.control })),
    ).rejects.toMatchObject({ name: expect.stringMatching(/InvalidMessageContents$/) });
  });
});
