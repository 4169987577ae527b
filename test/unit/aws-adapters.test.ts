import { createHash } from 'node:crypto';
import { type AttributeValue, BatchGetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  type ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import { messageGroupOf, type PackedMessage, packChanges } from '../../functions/core/pack.ts';
import {
  cachedSecret,
  changeVisibility,
  createSqsClient,
  DeadLetterError,
  readItemsConsistently,
  SourceReadError,
  sendDeadLetters,
  sendPackedMessages,
  VisibilityChangeError,
} from '../../functions/shared/aws.ts';
import { change } from '../helpers/factories.ts';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo';

/** A client whose `send` records each command and answers with `respond(command, callNumber)`. */
function fakeClient<C>(respond: (command: unknown, call: number) => unknown) {
  const commands: unknown[] = [];
  const client = {
    send: async (command: unknown) => {
      commands.push(command);
      return respond(command, commands.length);
    },
  };
  return { client: client as unknown as C, commands };
}

function batchInput(command: unknown) {
  expect(command).toBeInstanceOf(SendMessageBatchCommand);
  return (command as SendMessageBatchCommand).input;
}

const failed = (...ids: string[]): Partial<SendMessageBatchCommandOutput> => ({
  Successful: [],
  Failed: ids.map((Id) => ({ Id, SenderFault: false, Code: 'InternalError' })),
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('createSqsClient', () => {
  it('uses the queue URL as endpoint by default (the SDK default)', async () => {
    const client = createSqsClient({});
    expect(client.config.useQueueUrlAsEndpoint).toBe(true);
  });

  it.each([
    ['AWS_ENDPOINT_URL_SQS', 'http://localhost:9324'],
    ['AWS_ENDPOINT_URL', 'http://localhost:4566'],
  ])('sends to the configured endpoint instead when %s is set', (name, url) => {
    expect(createSqsClient({ [name]: url }).config.useQueueUrlAsEndpoint).toBe(false);
  });

  it('ignores unrelated endpoint variables', () => {
    expect(
      createSqsClient({ AWS_ENDPOINT_URL_DYNAMODB: 'http://localhost:8000' }).config.useQueueUrlAsEndpoint,
    ).toBe(true);
  });
});

describe('sendPackedMessages', () => {
  const { messages } = packChanges([change('a'), change('b'), change('c')], 1_000, 262_144);

  it('sends one entry per message with its body, group and deduplication id', async () => {
    expect(messages).toHaveLength(3);
    const { client, commands } = fakeClient<SQSClient>(() => ({ Successful: [], Failed: [] }));
    const refused = await sendPackedMessages(client, QUEUE_URL)(messages);
    expect(refused).toEqual([]);
    expect(commands).toHaveLength(1);
    const input = batchInput(commands[0]);
    expect(input.QueueUrl).toBe(QUEUE_URL);
    expect(input.Entries).toEqual(
      messages.map((message, index) => ({
        Id: String(index),
        MessageBody: message.body,
        MessageGroupId: message.groupId,
        MessageDeduplicationId: message.deduplicationId,
      })),
    );
  });

  it('maps the Failed entry ids back to the messages SQS refused', async () => {
    const { client } = fakeClient<SQSClient>(() => failed('2', '0'));
    const refused = await sendPackedMessages(client, QUEUE_URL)(messages);
    // Each refused entry is the message it stands for, plus SQS's reason (the splitter needs it).
    const refusal = { code: 'InternalError', message: '', senderFault: false };
    expect(refused).toEqual([
      { ...messages[2], refusal },
      { ...messages[0], refusal },
    ]);
  });

  it('treats a missing Failed list as all sent', async () => {
    const { client } = fakeClient<SQSClient>(() => ({}));
    expect(await sendPackedMessages(client, QUEUE_URL)(messages)).toEqual([]);
  });

  it('lets a failing call reject', async () => {
    const { client } = fakeClient<SQSClient>(() => Promise.reject(new Error('ThrottlingException')));
    await expect(sendPackedMessages(client, QUEUE_URL)(messages as PackedMessage[])).rejects.toThrow(
      'Throttling',
    );
  });
});

describe('sendDeadLetters', () => {
  const letter = (n: number, id: string | null = `id-${n}`): DeadLetter => ({
    v: 1,
    kind: 'dead-letter',
    stage: 'writer',
    ...(id === null ? {} : { id, change: change(id) }),
    reason: { code: 400, message: `reason ${n}` },
    firstSeen: 1_700_000_000_000 + n,
    attempts: 1,
  });

  it('sends 10 letters per call with content-derived deduplication ids and the letter id as group', async () => {
    const letters = Array.from({ length: 23 }, (_, n) => letter(n));
    const { client, commands } = fakeClient<SQSClient>(() => ({ Successful: [], Failed: [] }));
    await sendDeadLetters(client, DLQ_URL)(letters);

    const inputs = commands.map(batchInput);
    expect(inputs.map((input) => input.Entries?.length)).toEqual([10, 10, 3]);
    for (const input of inputs) expect(input.QueueUrl).toBe(DLQ_URL);
    const entries = inputs.flatMap((input) => input.Entries ?? []);
    expect(entries.map((entry) => JSON.parse(entry.MessageBody as string))).toEqual(letters);
    for (const [n, entry] of entries.entries()) {
      expect(entry.MessageGroupId).toBe(messageGroupOf(`id-${n}`, 1_000_000));
      expect(entry.MessageDeduplicationId).toBe(
        createHash('sha256')
          .update(entry.MessageBody as string)
          .digest('hex'),
      );
    }
    expect(inputs[2]?.Entries?.map((entry) => entry.Id)).toEqual(['0', '1', '2']);
  });

  it('puts letters without an id in one fixed group', async () => {
    const { client, commands } = fakeClient<SQSClient>(() => ({}));
    await sendDeadLetters(client, DLQ_URL)([letter(0, null), letter(1, null)]);
    const groups = batchInput(commands[0]).Entries?.map((entry) => entry.MessageGroupId);
    expect(groups).toEqual([
      messageGroupOf('dead-letters', 1_000_000),
      messageGroupOf('dead-letters', 1_000_000),
    ]);
  });

  it('retries only the refused entries', async () => {
    const letters = Array.from({ length: 10 }, (_, n) => letter(n));
    const { client, commands } = fakeClient<SQSClient>((_command, call) =>
      call === 1 ? failed('3', '7') : {},
    );
    await sendDeadLetters(client, DLQ_URL)(letters);
    expect(commands).toHaveLength(2);
    const first = batchInput(commands[0]).Entries as SendMessageBatchRequestEntry[];
    const retry = batchInput(commands[1]).Entries as SendMessageBatchRequestEntry[];
    expect(retry).toEqual([first[3], first[7]]);
  });

  it('throws DeadLetterError when entries are still refused after the attempts', async () => {
    const { client, commands } = fakeClient<SQSClient>(() => failed('1'));
    const send = sendDeadLetters(client, DLQ_URL, 4)([letter(0), letter(1)]);
    await expect(send).rejects.toBeInstanceOf(DeadLetterError);
    await expect(send).rejects.toThrow('1 dead letters were refused');
    expect(commands).toHaveLength(4);
  });

  it('does not call SQS for no letters', async () => {
    const { client, commands } = fakeClient<SQSClient>(() => ({}));
    await sendDeadLetters(client, DLQ_URL)([]);
    expect(commands).toEqual([]);
  });
});

describe('readItemsConsistently', () => {
  const TABLE = 'orders';
  const keyOf = (n: number): MarshalledKey => ({ pk: { S: `k${n}` } });
  const itemOf = (key: MarshalledKey): Record<string, AttributeValue> => ({ ...key, title: { S: 'x' } });

  function requestOf(command: unknown) {
    expect(command).toBeInstanceOf(BatchGetItemCommand);
    const request = (command as BatchGetItemCommand).input.RequestItems?.[TABLE];
    expect(request).toBeDefined();
    return request as { Keys: MarshalledKey[]; ConsistentRead?: boolean };
  }

  it('reads strongly consistently, 100 keys per call, and returns every item found', async () => {
    const keys = Array.from({ length: 250 }, (_, n) => keyOf(n));
    const { client, commands } = fakeClient<DynamoDBClient>((command) => ({
      // Every third key has no item.
      Responses: {
        [TABLE]: requestOf(command)
          .Keys.filter((key) => Number(key.pk?.S?.slice(1)) % 3 !== 0)
          .map(itemOf),
      },
    }));
    const items = await readItemsConsistently(client, TABLE)(keys);

    const requests = commands.map(requestOf);
    expect(requests.map((request) => request.Keys.length)).toEqual([100, 100, 50]);
    for (const request of requests) expect(request.ConsistentRead).toBe(true);
    expect(requests.flatMap((request) => request.Keys)).toEqual(keys);
    expect(items.map((item) => item.pk?.S).sort()).toEqual(
      keys
        .map((_, n) => n)
        .filter((n) => n % 3 !== 0)
        .map((n) => `k${n}`)
        .sort(),
    );
  });

  it('retries UnprocessedKeys until they are read', async () => {
    vi.useFakeTimers();
    const keys = [keyOf(1), keyOf(2), keyOf(3)];
    const { client, commands } = fakeClient<DynamoDBClient>((command, call) => {
      const asked = requestOf(command).Keys;
      const [first, ...rest] = asked;
      return call === 1
        ? {
            Responses: { [TABLE]: [itemOf(first as MarshalledKey)] },
            UnprocessedKeys: { [TABLE]: { Keys: rest } },
          }
        : { Responses: { [TABLE]: asked.map(itemOf) }, UnprocessedKeys: {} };
    });
    const reading = readItemsConsistently(client, TABLE)(keys);
    await vi.runAllTimersAsync();
    const items = await reading;
    expect(commands.map((command) => requestOf(command).Keys)).toEqual([keys, [keyOf(2), keyOf(3)]]);
    expect(requestOf(commands[1]).ConsistentRead).toBe(true);
    expect(items.map((item) => item.pk?.S)).toEqual(['k1', 'k2', 'k3']);
  });

  it('throws SourceReadError when keys stay unprocessed past the attempts', async () => {
    vi.useFakeTimers();
    const { client, commands } = fakeClient<DynamoDBClient>((command) => ({
      Responses: { [TABLE]: [] },
      UnprocessedKeys: { [TABLE]: { Keys: requestOf(command).Keys } },
    }));
    const reading = readItemsConsistently(client, TABLE, 3)([keyOf(1), keyOf(2)]);
    const outcome = reading.then(
      () => undefined,
      (error: unknown) => error,
    );
    await vi.runAllTimersAsync();
    const error = await outcome;
    expect(error).toBeInstanceOf(SourceReadError);
    expect((error as Error).message).toMatch(/2 keys still unprocessed after 3 reads/);
    expect(commands).toHaveLength(3);
  });

  it('does not call DynamoDB for no keys', async () => {
    const { client, commands } = fakeClient<DynamoDBClient>(() => ({}));
    expect(await readItemsConsistently(client, TABLE)([])).toEqual([]);
    expect(commands).toEqual([]);
  });
});

describe('cachedSecret', () => {
  it('fetches once within the TTL and again after it', async () => {
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    let version = 0;
    const { client, commands } = fakeClient<SecretsManagerClient>(() => ({
      SecretString: `key-${++version}`,
    }));
    const getKey = cachedSecret(client, 'arn:secret', 60_000);

    expect(await getKey()).toBe('key-1');
    now += 59_999;
    expect(await getKey()).toBe('key-1');
    expect(commands).toHaveLength(1);
    expect(commands[0]).toBeInstanceOf(GetSecretValueCommand);
    expect((commands[0] as GetSecretValueCommand).input).toEqual({ SecretId: 'arn:secret' });

    now += 1;
    expect(await getKey()).toBe('key-2');
    expect(commands).toHaveLength(2);
  });

  it('throws for a secret without a SecretString and does not cache the failure', async () => {
    let call = 0;
    const { client } = fakeClient<SecretsManagerClient>(() => (++call === 1 ? {} : { SecretString: 'k' }));
    const getKey = cachedSecret(client, 'arn:secret');
    await expect(getKey()).rejects.toThrow(/arn:secret has no SecretString/);
    expect(await getKey()).toBe('k');
  });
});

describe('changeVisibility', () => {
  const entries = (count: number) =>
    Array.from({ length: count }, (_, n) => ({ receiptHandle: `handle-${n}`, seconds: 3 }));

  it('changes 10 messages per call', async () => {
    const { client, commands } = fakeClient<SQSClient>(() => ({ Successful: [], Failed: [] }));
    await changeVisibility(client, QUEUE_URL)(entries(12));
    const inputs = commands.map((command) => (command as ChangeMessageVisibilityBatchCommand).input);
    expect(inputs.map(({ Entries }) => Entries?.length)).toEqual([10, 2]);
    expect(inputs[1]?.Entries?.[1]).toEqual({ Id: '1', ReceiptHandle: 'handle-11', VisibilityTimeout: 3 });
  });

  it('rejects when SQS refused an entry: that message keeps the visibility it had (the lease relies on it)', async () => {
    const { client } = fakeClient<SQSClient>(() => ({
      Successful: [],
      Failed: [{ Id: '0', SenderFault: true, Code: 'ReceiptHandleIsInvalid' }],
    }));
    const error = await changeVisibility(client, QUEUE_URL)(entries(2)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(VisibilityChangeError);
    expect((error as Error).message).toMatch(/refused 1 of 2 messages: ReceiptHandleIsInvalid/);
  });
});
