import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import type { Change, ChangeMessage, MarshalledKey } from '../../functions/core/change.ts';

/** A change for a simple `pk` (S) key. */
export function change(id: string, overrides: Partial<Change> = {}): Change {
  return {
    id,
    key: { pk: { S: id } },
    op: 'upsert',
    version: '100000000000000000001',
    sourceTs: 1_700_000_000_000,
    clock: 'stream',
    ...overrides,
  };
}

export interface StreamRecordSpec {
  sequenceNumber: string;
  id: string;
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE';
  newImage?: Record<string, AttributeValue>;
  approximateCreationDateTime?: number;
}

/** A Lambda DynamoDB stream record (JSON form) for a table keyed by `pk` (S). */
export function streamRecord(spec: StreamRecordSpec): DynamoDBRecord {
  const eventName = spec.eventName ?? 'MODIFY';
  const keys = { pk: { S: spec.id } };
  const newImage = spec.newImage ?? { pk: { S: spec.id }, title: { S: `title of ${spec.id}` } };
  return {
    eventID: `event-${spec.sequenceNumber}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2023-11-14T22:13:20.000',
    dynamodb: {
      ApproximateCreationDateTime: spec.approximateCreationDateTime ?? 1_700_000_000,
      Keys: keys,
      ...(eventName === 'REMOVE' ? { OldImage: newImage } : { NewImage: newImage }),
      SequenceNumber: spec.sequenceNumber,
      SizeBytes: 64,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  } as DynamoDBRecord;
}

/** A stream sequence number of the usual 22 digits for position `n` in a shard. */
export const seq = (n: number): string => `11000000000001361${String(n).padStart(5, '0')}`;

export interface SqsRecordSpec {
  messageId: string;
  groupId?: string | undefined;
  changes?: Change[];
  /** A raw body, instead of a change message built from `changes`. */
  body?: string;
  receiveCount?: number;
  firstReceive?: number;
}

/** An SQS FIFO record as the Lambda event source delivers it. */
export function sqsRecord(spec: SqsRecordSpec): SQSRecord {
  const message: ChangeMessage = { v: 1, changes: spec.changes ?? [] };
  const body = spec.body ?? JSON.stringify(message);
  return {
    messageId: spec.messageId,
    receiptHandle: `AQEB-${spec.messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(spec.receiveCount ?? 1),
      SentTimestamp: '1700000001000',
      SenderId: 'AROAEXAMPLE123456789:typesense-sync-batcher',
      ApproximateFirstReceiveTimestamp: String(spec.firstReceive ?? 1_700_000_001_500),
      ...(spec.groupId === undefined
        ? {}
        : { MessageGroupId: spec.groupId, MessageDeduplicationId: `dedup-${spec.messageId}` }),
    },
    messageAttributes: {},
    md5OfBody: '00000000000000000000000000000000',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:typesense-sync-changes.fifo',
    awsRegion: 'eu-west-1',
  };
}

/** The `pk` string of a simple key, for fakes keyed by it. */
export function pkOf(key: MarshalledKey): string {
  const value = key.pk?.S;
  if (value === undefined) throw new Error(`not a simple S key: ${JSON.stringify(key)}`);
  return value;
}
