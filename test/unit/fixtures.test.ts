import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { messageGroupOf, parseChangeMessage } from '../../functions/core/pack.ts';
import { fixtureText, importOutcomes, sqsRecords, streamRecords } from '../helpers/fixtures.ts';

/** The fixtures are inputs to many tests: check they are the shapes AWS and Typesense produce. */
describe('fixtures', () => {
  it('stream fixtures are Lambda DynamoDB events (eventVersion 1.1, NEW_AND_OLD_IMAGES)', () => {
    const names = [
      'dynamodb-stream-insert-modify-remove.json',
      'dynamodb-stream-ttl-remove.json',
      'dynamodb-stream-local-unknown.json',
      'dynamodb-stream-composite-key.json',
    ] as const;
    for (const name of names)
      for (const record of streamRecords(name)) {
        expect(record).toMatchObject({ eventVersion: '1.1', eventSource: 'aws:dynamodb' });
        expect(record.eventSourceARN).toMatch(/^arn:aws:dynamodb:[^:]+:\d{12}:table\/[^/]+\/stream\//);
        expect(record.dynamodb?.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
        expect(record.dynamodb?.SequenceNumber).toMatch(/^\d{21,40}$/);
        expect(record.dynamodb?.SizeBytes).toBeGreaterThan(0);
      }
    expect(streamRecords('dynamodb-stream-insert-modify-remove.json').map((r) => r.eventName)).toEqual([
      'INSERT',
      'MODIFY',
      'REMOVE',
    ]);
  });

  it('the SQS fixture is a FIFO event of 3 messages in 2 groups, consistent with how the batcher sends', () => {
    const records = sqsRecords();
    expect(records).toHaveLength(3);
    expect(new Set(records.map((r) => r.attributes.MessageGroupId)).size).toBe(2);
    for (const record of records) {
      expect(record.eventSourceARN).toMatch(/\.fifo$/);
      expect(record.md5OfBody).toBe(createHash('md5').update(record.body).digest('hex'));
      const group = record.attributes.MessageGroupId as string;
      expect(record.attributes.MessageDeduplicationId).toBe(
        createHash('sha256').update(group).update(record.body).digest('hex'),
      );
      expect(record.attributes.ApproximateReceiveCount).toMatch(/^\d+$/);
      const message = parseChangeMessage(record.body);
      expect(message).toBeDefined();
      for (const change of message?.changes ?? []) expect(messageGroupOf(change.id, 16)).toBe(group);
    }
  });

  it('the import answer has one JSON object per line in Typesense format', () => {
    const lines = fixtureText('typesense-import-response.jsonl').trim().split('\n');
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.success === false) {
        expect(Object.keys(parsed).sort()).toEqual(['code', 'document', 'error', 'success']);
        expect(JSON.parse(parsed.document as string)).toHaveProperty('id');
      } else expect(parsed).toEqual({ success: true });
    }
    expect(importOutcomes()).toHaveLength(lines.length);
  });
});
