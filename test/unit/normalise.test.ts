import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { RecordError } from '../../functions/core/errors.ts';
import { normaliseRecord, normaliseRecords } from '../../functions/core/normalise.ts';
import { streamRecord, streamRecords } from '../helpers/fixtures.ts';

const simple = { keyAttributes: ['pk'], sourceTimestampAttribute: 'updatedAt' } as const;
const composite = { keyAttributes: ['pk', 'sk'] } as const;

function rejection(record: DynamoDBRecord, options: Parameters<typeof normaliseRecord>[1]): RecordError {
  try {
    normaliseRecord(record, options);
  } catch (error) {
    expect(error).toBeInstanceOf(RecordError);
    return error as RecordError;
  }
  throw new Error('expected normaliseRecord to throw');
}

describe('normaliseRecord: operations', () => {
  const [insert, modify, remove] = streamRecords('dynamodb-stream-insert-modify-remove.json');

  it('turns INSERT into an upsert of the record key, versioned by its sequence number', () => {
    expect(normaliseRecord(insert as DynamoDBRecord, simple)).toEqual({
      id: 'order-1',
      key: { pk: { S: 'order-1' } },
      op: 'upsert',
      version: '1100000000000136137170',
      sourceTs: 1_700_000_000_123,
      clock: 'item',
    });
  });

  it('turns MODIFY into an upsert', () => {
    const change = normaliseRecord(modify as DynamoDBRecord, simple);
    expect(change.op).toBe('upsert');
    expect(change.id).toBe('order-1');
    expect(change.version).toBe('1200000000000136158523');
  });

  it('turns REMOVE into a delete', () => {
    const change = normaliseRecord(remove as DynamoDBRecord, simple);
    expect(change).toMatchObject({ id: 'order-2', op: 'delete', key: { pk: { S: 'order-2' } } });
  });

  it('turns a TTL expiry (REMOVE by dynamodb.amazonaws.com) into a delete like any other', () => {
    const ttl = streamRecord('dynamodb-stream-ttl-remove.json', 0);
    expect(ttl.userIdentity).toEqual({ type: 'Service', principalId: 'dynamodb.amazonaws.com' });
    expect(normaliseRecord(ttl, simple)).toEqual({
      id: 'session-77',
      key: { pk: { S: 'session-77' } },
      op: 'delete',
      version: '4400000000000136199977',
      sourceTs: 1_700_003_600_000,
      clock: 'stream',
    });
  });

  it('decides an UNKNOWN_TO_SDK_VERSION event (DynamoDB Local) by the presence of NewImage', () => {
    const [withNew, withoutNew] = streamRecords('dynamodb-stream-local-unknown.json');
    expect(withNew?.eventName as string).toBe('UNKNOWN_TO_SDK_VERSION');
    expect(withoutNew?.eventName as string).toBe('UNKNOWN_TO_SDK_VERSION');
    expect(normaliseRecord(withNew as DynamoDBRecord, simple).op).toBe('upsert');
    expect(normaliseRecord(withoutNew as DynamoDBRecord, simple).op).toBe('delete');
  });

  it('keeps a zero-padded sequence number verbatim as the version', () => {
    const [withNew] = streamRecords('dynamodb-stream-local-unknown.json');
    expect(normaliseRecord(withNew as DynamoDBRecord, simple).version).toBe('000000000000000000021');
  });

  it('does not look at the images for a known event name', () => {
    const record = streamRecord('dynamodb-stream-insert-modify-remove.json', 2);
    // A REMOVE that (unusually) carries a NewImage is still a delete.
    (record.dynamodb as NonNullable<DynamoDBRecord['dynamodb']>).NewImage = { pk: { S: 'order-2' } };
    expect(normaliseRecord(record, simple).op).toBe('delete');
  });
});

describe('normaliseRecord: source time', () => {
  it('reads a precise N timestamp (ms since epoch) from NewImage with clock "item"', () => {
    const insert = streamRecord('dynamodb-stream-insert-modify-remove.json', 0);
    expect(normaliseRecord(insert, simple)).toMatchObject({ sourceTs: 1_700_000_000_123, clock: 'item' });
  });

  it('reads a precise ISO-8601 S timestamp with clock "item"', () => {
    const modify = streamRecord('dynamodb-stream-insert-modify-remove.json', 1);
    expect(normaliseRecord(modify, simple)).toMatchObject({
      sourceTs: Date.UTC(2023, 10, 14, 22, 14, 20, 456),
      clock: 'item',
    });
  });

  it('falls back to ApproximateCreationDateTime × 1000 with clock "stream" when no attribute is configured', () => {
    const insert = streamRecord('dynamodb-stream-insert-modify-remove.json', 0);
    expect(normaliseRecord(insert, { keyAttributes: ['pk'] })).toMatchObject({
      sourceTs: 1_700_000_000_000,
      clock: 'stream',
    });
  });

  it('falls back to the stream clock when the image lacks the attribute (REMOVE has no NewImage)', () => {
    const remove = streamRecord('dynamodb-stream-insert-modify-remove.json', 2);
    expect(remove.dynamodb?.OldImage?.updatedAt).toBeDefined();
    expect(normaliseRecord(remove, simple)).toMatchObject({ sourceTs: 1_700_000_120_000, clock: 'stream' });
  });

  it('falls back to the stream clock when the attribute is not a time', () => {
    const insert = streamRecord('dynamodb-stream-insert-modify-remove.json', 0);
    const image = insert.dynamodb?.NewImage as Record<string, { S?: string }>;
    image.updatedAt = { S: 'yesterday-ish' };
    expect(normaliseRecord(insert, simple)).toMatchObject({ sourceTs: 1_700_000_000_000, clock: 'stream' });
  });

  it('uses the injected clock only when the record has no creation time at all', () => {
    const insert = streamRecord('dynamodb-stream-insert-modify-remove.json', 0);
    delete insert.dynamodb?.ApproximateCreationDateTime;
    const change = normaliseRecord(insert, { keyAttributes: ['pk'], now: () => 42_000 });
    expect(change).toMatchObject({ sourceTs: 42_000, clock: 'stream' });
  });
});

describe('normaliseRecord: keys', () => {
  const [blobKeyed, numberKeyed, numberSorted] = streamRecords('dynamodb-stream-composite-key.json');

  it('joins a composite key with "|" and keeps a binary sort key as its base64 text', () => {
    const change = normaliseRecord(blobKeyed as DynamoDBRecord, composite);
    expect(change.id).toBe('tenant-1|Af98');
    expect(change.key).toEqual({ pk: { S: 'tenant-1' }, sk: { B: 'Af98' } });
    expect(Buffer.from('Af98', 'base64')).toEqual(Buffer.from([0x01, 0xff, 0x7c]));
  });

  it('uses the text of a number key and escapes "|" and "\\" in the other part', () => {
    const change = normaliseRecord(numberKeyed as DynamoDBRecord, composite);
    expect(change.id).toBe('42|shelf\\|a\\\\b');
    expect(change.key).toEqual({ pk: { N: '42' }, sk: { S: 'shelf|a\\b' } });
  });

  it('accepts a number sort key on a delete', () => {
    expect(normaliseRecord(numberSorted as DynamoDBRecord, composite)).toMatchObject({
      id: 'tenant-1|-3.5',
      op: 'delete',
    });
  });

  it('carries only the key attributes in the key, never image attributes', () => {
    const change = normaliseRecord(blobKeyed as DynamoDBRecord, composite);
    expect(Object.keys(change.key).sort()).toEqual(['pk', 'sk']);
    expect(JSON.stringify(change)).not.toContain('blob-keyed row');
  });
});

describe('normaliseRecord: malformed records', () => {
  const records = streamRecords('dynamodb-stream-malformed.json');
  const at = (index: number) => records[index] as DynamoDBRecord;

  it('rejects a record without a dynamodb section', () => {
    const error = rejection(at(0), simple);
    expect(error.message).toMatch(/no dynamodb section/);
    expect(error.sequenceNumber).toBeUndefined();
  });

  it('rejects a record without Keys, naming dynamodb.Keys and carrying the sequence number', () => {
    const error = rejection(at(1), simple);
    expect(error.message).toMatch(/dynamodb\.Keys/);
    expect(error.sequenceNumber).toBe('6600000000000136300001');
  });

  it('rejects a record whose Keys lack the configured key attribute, naming it', () => {
    const error = rejection(at(3), simple);
    expect(error.message).toMatch(/'pk' is missing/);
    expect(error.sequenceNumber).toBe('6600000000000136300003');
  });

  it('rejects a non-numeric SequenceNumber', () => {
    const error = rejection(at(4), simple);
    expect(error.message).toMatch(/SequenceNumber/);
    expect(error.sequenceNumber).toBe('66000000000001363000x4');
  });

  it('rejects a key attribute of type BOOL, naming the attribute and the allowed types', () => {
    const error = rejection(at(5), simple);
    expect(error.message).toMatch(/'pk'/);
    expect(error.message).toMatch(/S, N or B/);
  });

  it('rejects a composite-key record that has only the partition key', () => {
    const record = streamRecord('dynamodb-stream-insert-modify-remove.json', 0);
    expect(rejection(record, composite).message).toMatch(/'sk' is missing/);
  });
});

describe('normaliseRecords', () => {
  it('keeps going past bad records and reports each by its index with its own reason', () => {
    const records = streamRecords('dynamodb-stream-malformed.json');
    const batch = normaliseRecords(records, simple);

    expect(batch.changes.map(({ index }) => index)).toEqual([2]);
    expect(batch.changes[0]?.change).toMatchObject({ id: 'order-10', op: 'upsert' });
    expect(batch.rejected.map(({ index }) => index)).toEqual([0, 1, 3, 4, 5]);
    for (const { index, record, error } of batch.rejected) {
      expect(record).toBe(records[index]);
      expect(error).toBeInstanceOf(RecordError);
    }
    const reasons = batch.rejected.map(({ error }) => error.message);
    expect(reasons[0]).toMatch(/dynamodb section/);
    expect(reasons[1]).toMatch(/Keys/);
    expect(reasons[2]).toMatch(/missing/);
    expect(reasons[3]).toMatch(/SequenceNumber/);
    expect(reasons[4]).toMatch(/S, N or B/);
  });

  it('returns every record of a clean batch as a change, in order', () => {
    const records = streamRecords('dynamodb-stream-insert-modify-remove.json');
    const batch = normaliseRecords(records, simple);
    expect(batch.rejected).toEqual([]);
    expect(batch.changes.map(({ index, change }) => [index, change.op])).toEqual([
      [0, 'upsert'],
      [1, 'upsert'],
      [2, 'delete'],
    ]);
  });

  it('does not swallow errors that are not about the record', () => {
    const record = streamRecord('dynamodb-stream-insert-modify-remove.json', 0);
    delete record.dynamodb?.ApproximateCreationDateTime;
    const now = () => {
      throw new TypeError('clock broke');
    };
    expect(() => normaliseRecords([record], { keyAttributes: ['pk'], now })).toThrow(TypeError);
  });
});
