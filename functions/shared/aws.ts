import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  BatchGetItemCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetter, MarshalledKey } from '../core/change.ts';
import { SyncError } from '../core/errors.ts';
import { toSdkKey } from '../core/keys.ts';
import { messageGroupOf, type PackedMessage, type RefusedMessage, sqsJson } from '../core/pack.ts';

/** Adapters from the cores' ports to the AWS SDK. Kept tiny: the logic lives in `functions/core`. */

/**
 * An SQS client. With a custom endpoint (local emulators, LocalStack) the queue URLs' host
 * (`sqs.<region>.localhost`) may not resolve, so requests go to the configured endpoint instead.
 */
export function createSqsClient(env: Record<string, string | undefined> = process.env): SQSClient {
  const customEndpoint = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  return new SQSClient(customEndpoint === undefined ? {} : { useQueueUrlAsEndpoint: false });
}

/**
 * A DynamoDB client without the SDK's logger middleware: it copies every response through its
 * sensitive-data filter even for the default logger, which logs nothing; on 500-item Scan pages that
 * copy cost about as much CPU as parsing them. Nothing here logs SDK calls.
 */
export function createDynamoDbClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  const dynamodb = new DynamoDBClient(config);
  dynamodb.middlewareStack.remove('loggerMiddleware');
  return dynamodb;
}

/**
 * JSON message bodies to a standard queue, 10 per SendMessageBatch; entries SQS refuses are sent again,
 * up to `attempts` sends in all. Resolves with how many were still refused (0 when all went).
 */
export async function sendJsonMessages(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly unknown[],
  options: { attempts: number; delaySeconds?: number | undefined },
): Promise<number> {
  let refusedInAll = 0;
  for (let start = 0; start < bodies.length; start += 10) {
    let entries = bodies.slice(start, start + 10).map((body, index) => ({
      Id: String(index),
      MessageBody: sqsJson(body),
      ...(options.delaySeconds === undefined ? {} : { DelaySeconds: options.delaySeconds }),
    }));
    for (let attempt = 1; attempt <= options.attempts && entries.length > 0; attempt++) {
      const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const refused = new Set((result.Failed ?? []).map(({ Id }) => Id));
      entries = entries.filter(({ Id }) => refused.has(Id));
    }
    refusedInAll += entries.length;
  }
  return refusedInAll;
}

/** One SendMessageBatch to a FIFO queue; resolves with the entries SQS refused, each with SQS's reason. */
export function sendPackedMessages(sqs: SQSClient, queueUrl: string) {
  return async (messages: PackedMessage[]): Promise<RefusedMessage[]> => {
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          MessageBody: message.body,
          MessageGroupId: message.groupId,
          MessageDeduplicationId: message.deduplicationId,
        })),
      }),
    );
    return (result.Failed ?? []).map((failure) => ({
      ...(messages[Number(failure.Id)] as PackedMessage),
      refusal: {
        code: failure.Code ?? 'unknown',
        message: failure.Message ?? '',
        senderFault: failure.SenderFault === true,
      },
    }));
  };
}

/** Thrown when SQS refused to change some messages' visibility: theirs stays as it was. */
export class VisibilityChangeError extends SyncError {
  override name = 'VisibilityChangeError';
}

/**
 * Keeps received messages invisible for the given time (a backoff, the writer's visibility lease), 10
 * per call; rejects when SQS refused an entry (a batch call answers per entry).
 */
export function changeVisibility(sqs: SQSClient, queueUrl: string) {
  return async (entries: { receiptHandle: string; seconds: number }[]): Promise<void> => {
    for (let start = 0; start < entries.length; start += 10) {
      const { Failed: failed = [] } = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.slice(start, start + 10).map(({ receiptHandle, seconds }, index) => ({
            Id: String(index),
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: seconds,
          })),
        }),
      );
      if (failed.length > 0)
        throw new VisibilityChangeError(
          `ChangeMessageVisibility refused ${failed.length} of ${Math.min(10, entries.length - start)} messages: ${failed[0]?.Code ?? 'unknown'}`,
        );
    }
  };
}

/** Thrown when dead letters could not all be stored: the caller must not acknowledge their source. */
export class DeadLetterError extends SyncError {
  override name = 'DeadLetterError';
}

/** Sends dead letters to the FIFO DLQ, 10 per call, retrying refused entries a few times. */
export function sendDeadLetters(sqs: SQSClient, dlqUrl: string, attempts = 3) {
  return async (letters: DeadLetter[]): Promise<void> => {
    for (let start = 0; start < letters.length; start += 10) {
      let entries = letters.slice(start, start + 10).map((letter, index) => {
        const body = sqsJson(letter);
        return {
          Id: String(index),
          MessageBody: body,
          // One group per key (near enough): a key's letters stay in order in the DLQ without
          // serialising unrelated keys. A redrive re-sends to the changes queue's own group.
          MessageGroupId: messageGroupOf(letter.id ?? 'dead-letters', 1_000_000),
          MessageDeduplicationId: createHash('sha256').update(body).digest('hex'),
        };
      });
      for (let attempt = 1; attempt <= attempts && entries.length > 0; attempt++) {
        const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: dlqUrl, Entries: entries }));
        const refused = new Set((result.Failed ?? []).map((failure) => failure.Id));
        entries = entries.filter((entry) => refused.has(entry.Id));
      }
      if (entries.length > 0)
        throw new DeadLetterError(`${entries.length} dead letters were refused by the DLQ`);
    }
  };
}

/** Thrown when DynamoDB keeps returning unprocessed keys (throttling) past the attempts allowed. */
export class SourceReadError extends SyncError {
  override name = 'SourceReadError';
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Strongly consistent BatchGetItem, 100 keys per call, unprocessed keys retried with backoff. */
export function readItemsConsistently(dynamodb: DynamoDBClient, tableName: string, attempts = 5) {
  return async (keys: MarshalledKey[]): Promise<Record<string, AttributeValue>[]> => {
    const items: Record<string, AttributeValue>[] = [];
    for (let start = 0; start < keys.length; start += 100) {
      // Keys from messages carry B as base64 text; the SDK needs the bytes.
      let pending: MarshalledKey[] = keys.slice(start, start + 100).map(toSdkKey);
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > attempts)
          throw new SourceReadError(`${pending.length} keys still unprocessed after ${attempts} reads`);
        if (attempt > 1) await sleep(Math.min(1_000, 25 * 2 ** attempt));
        const result = await dynamodb.send(
          new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        items.push(...(result.Responses?.[tableName] ?? []));
        pending = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
      }
    }
    return items;
  };
}

/**
 * The items of one partition (`key` holds the partition key alone), with a strongly consistent, paged Query
 * in sort-key order, up to `limit` items: what an aggregated index is built from.
 */
export function readPartitionConsistently(dynamodb: DynamoDBClient, tableName: string) {
  return async (key: MarshalledKey, limit: number): Promise<Record<string, AttributeValue>[]> => {
    const [partition, ...others] = Object.entries(toSdkKey(key));
    if (partition === undefined || others.length > 0)
      throw new SourceReadError('a partition is read by its partition key alone');
    const items: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#partition = :partition',
          ExpressionAttributeNames: { '#partition': partition[0] },
          ExpressionAttributeValues: { ':partition': partition[1] },
          ConsistentRead: true,
          Limit: limit - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && items.length < limit);
    return items;
  };
}

/**
 * The Typesense API key from Secrets Manager, cached for `ttlMs` so a rotated key is picked up.
 * `invalidate()` drops the cached value, so the next call fetches the current one: the Typesense client
 * calls it on a 401, which makes a rotated key work at once instead of after the TTL.
 */
export function cachedSecret(secrets: SecretsManagerClient, secretId: string, ttlMs = 300_000) {
  let cached: { value: string; expires: number } | undefined;
  const get = async (): Promise<string> => {
    if (cached !== undefined && cached.expires > Date.now()) return cached.value;
    const result = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (result.SecretString === undefined) throw new Error(`secret ${secretId} has no SecretString`);
    cached = { value: result.SecretString, expires: Date.now() + ttlMs };
    return cached.value;
  };
  return Object.assign(get, {
    invalidate: () => {
      cached = undefined;
    },
  });
}

/** Messages on a queue: visible, in flight and delayed (approximate, as SQS counts them). */
export async function queueDepth(sqs: SQSClient, queueUrl: string) {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const visible = Number(Attributes?.ApproximateNumberOfMessages ?? 0);
  const inFlight = Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  const delayed = Number(Attributes?.ApproximateNumberOfMessagesDelayed ?? 0);
  return { visible, inFlight, delayed, total: visible + inFlight + delayed };
}
