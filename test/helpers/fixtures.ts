import { readFileSync } from 'node:fs';
import type { DynamoDBRecord, DynamoDBStreamEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import type { ImportOutcome } from '../../functions/core/write-batch.ts';

/** Event shapes as AWS delivers them to Lambda (JSON: binary is base64 text, numbers are strings). */
export type StreamFixture =
  | 'dynamodb-stream-insert-modify-remove.json'
  | 'dynamodb-stream-ttl-remove.json'
  | 'dynamodb-stream-local-unknown.json'
  | 'dynamodb-stream-composite-key.json'
  | 'dynamodb-stream-malformed.json';

const fixturesDir = new URL('../fixtures/', import.meta.url);

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, fixturesDir), 'utf8');
}

/** A fresh parse on every call, so a test may mutate what it gets without affecting another. */
export function loadJson<T>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}

export function streamRecords(name: StreamFixture): DynamoDBRecord[] {
  return loadJson<DynamoDBStreamEvent>(name).Records;
}

export function streamRecord(name: StreamFixture, index: number): DynamoDBRecord {
  const record = streamRecords(name)[index];
  if (record === undefined) throw new Error(`fixture ${name} has no record ${index}`);
  return record;
}

export function sqsRecords(): SQSRecord[] {
  return loadJson<SQSEvent>('sqs-fifo-event.json').Records;
}

/** Typesense's import answer: one JSON object per line, reduced to what the writer's port returns. */
export function importOutcomes(): ImportOutcome[] {
  return fixtureText('typesense-import-response.jsonl')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as { success: boolean; code?: number; error?: string };
      if (parsed.success) return { success: true } as const;
      if (typeof parsed.code !== 'number' || typeof parsed.error !== 'string')
        throw new Error(`unexpected import line: ${line}`);
      return { success: false, code: parsed.code, error: parsed.error } as const;
    });
}
