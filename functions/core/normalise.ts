import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { Change, MarshalledKey } from './change.ts';
import { RecordError } from './errors.ts';
import { documentId, KeyError, pickKey } from './keys.ts';

export interface NormaliseOptions {
  keyAttributes: readonly string[];
  /** Item attribute with a precise change time (ms epoch number or ISO-8601 string). */
  sourceTimestampAttribute?: string | undefined;
  /** Clock used only when a record carries no creation time at all. */
  now?: () => number;
}

function preciseTimestamp(image: Record<string, AttributeValue> | undefined, attribute: string | undefined) {
  if (image === undefined || attribute === undefined) return undefined;
  const value = image[attribute];
  const ms =
    value?.N !== undefined ? Number(value.N) : value?.S !== undefined ? Date.parse(value.S) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

function operation(record: DynamoDBRecord): Change['op'] {
  switch (record.eventName) {
    case 'INSERT':
    case 'MODIFY':
      return 'upsert';
    case 'REMOVE':
      // TTL expiry arrives as REMOVE with userIdentity dynamodb.amazonaws.com: a delete like any other.
      return 'delete';
    default:
      // DynamoDB Local and newer stream versions can report names this SDK does not know
      // (`UNKNOWN_TO_SDK_VERSION`). The image tells what happened; the writer re-reads anyway.
      return record.dynamodb?.NewImage === undefined ? 'delete' : 'upsert';
  }
}

/** One DynamoDB stream record → one change. Throws `RecordError` naming what is wrong. */
export function normaliseRecord(record: DynamoDBRecord, options: NormaliseOptions): Change {
  const stream = record.dynamodb;
  const sequenceNumber = stream?.SequenceNumber;
  if (stream === undefined) throw new RecordError('record has no dynamodb section', sequenceNumber);
  if (sequenceNumber === undefined || !/^\d+$/.test(sequenceNumber)) {
    throw new RecordError('record has no numeric dynamodb.SequenceNumber', sequenceNumber);
  }
  const keys = stream.Keys as MarshalledKey | undefined;
  if (keys === undefined) throw new RecordError('record has no dynamodb.Keys', sequenceNumber);
  let key: MarshalledKey;
  let id: string;
  try {
    key = pickKey(keys, options.keyAttributes);
    id = documentId(key, options.keyAttributes);
  } catch (error) {
    if (error instanceof KeyError) throw new RecordError(`record key: ${error.message}`, sequenceNumber);
    throw error;
  }
  const precise = preciseTimestamp(
    stream.NewImage as Record<string, AttributeValue> | undefined,
    options.sourceTimestampAttribute,
  );
  const approximateSeconds = stream.ApproximateCreationDateTime;
  const sourceTs =
    precise ?? (approximateSeconds !== undefined ? approximateSeconds * 1000 : (options.now ?? Date.now)());
  return {
    id,
    key,
    op: operation(record),
    version: sequenceNumber,
    sourceTs,
    clock: precise === undefined ? 'stream' : 'item',
  };
}

export interface NormalisedBatch {
  /** Each change with the index of its record in the batch. */
  changes: { index: number; change: Change }[];
  /** Records that could not be normalised, with the reason, by their index in the batch. */
  rejected: { index: number; record: DynamoDBRecord; error: RecordError }[];
}

export function normaliseRecords(
  records: readonly DynamoDBRecord[],
  options: NormaliseOptions,
): NormalisedBatch {
  const batch: NormalisedBatch = { changes: [], rejected: [] };
  records.forEach((record, index) => {
    try {
      batch.changes.push({ index, change: normaliseRecord(record, options) });
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      batch.rejected.push({ index, record, error });
    }
  });
  return batch;
}
