import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../functions/core/change.ts';
import type { RetryPolicy } from '../../functions/core/retry.ts';
import { processChangeMessages, type WriterPorts } from '../../functions/core/write-batch.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

const retry: RetryPolicy = {
  baseSeconds: 2,
  maxSeconds: 300,
  maxReceiveCount: 10,
  budgetMs: 3_600_000,
  random: () => 0,
};

/**
 * A writer whose deletes are slow: each id costs `msPerId` of a fake clock (ids Typesense cannot
 * delete by filter go one request each). The invocation has `invocationMs` in all.
 */
function slowDeletes(msPerId: number, invocationMs: number) {
  const clock = { now: 1_700_000_010_000 };
  const start = clock.now;
  const deleted: string[] = [];
  const visibility: { receiptHandle: string; seconds: number }[] = [];
  const deadLetters: DeadLetter[] = [];
  const ports: WriterPorts = {
    readItems: async () => [],
    importDocuments: async (lines) => lines.map(() => ({ success: true as const })),
    async deleteDocuments(ids) {
      clock.now += ids.length * msPerId;
      deleted.push(...ids);
      return ids.length;
    },
    async sendDeadLetters(letters) {
      deadLetters.push(...letters);
    },
    async changeVisibility(entries) {
      visibility.push(...entries);
    },
    now: () => clock.now,
  };
  const remainingMs = () => invocationMs - (clock.now - start);
  return { ports, deleted, visibility, deadLetters, remainingMs, clock, start };
}

const messages = (count: number, perMessage: number) =>
  Array.from({ length: count }, (_, m) =>
    sqsRecord({
      messageId: `m${m}`,
      groupId: `b${m}`,
      changes: Array.from({ length: perMessage }, (_, n) => change(`m${m}-${n}`, { op: 'delete' })),
    }),
  );

describe('processChangeMessages: a time budget from the remaining invocation time', () => {
  it('stops deleting before the invocation runs out and leaves the rest to SQS redelivery, unpunished', async () => {
    const writer = slowDeletes(100, 30_000);
    const records = messages(10, 30); // 300 deletes × 100 ms = 30 s: more than the invocation has.
    const result = await processChangeMessages(records, writer.ports, {
      keyAttributes: ['pk'],
      retry,
      remainingMs: writer.remainingMs,
    });
    // Finished with time to spare for acknowledging and reporting.
    expect(writer.remainingMs()).toBeGreaterThan(0);
    expect(writer.deleted.length).toBeGreaterThan(0);
    expect(writer.deleted.length).toBeLessThan(300);
    const deferred = result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier);
    expect(deferred.length).toBeGreaterThan(0);
    // A message is acknowledged only if every one of its deletes was done.
    const done = new Set(writer.deleted);
    for (const record of records) {
      const complete = Array.from({ length: 30 }, (_, n) => `${record.messageId}-${n}`).every((id) =>
        done.has(id),
      );
      expect(deferred.includes(record.messageId)).toBe(!complete);
    }
    // Not dead-lettered, and back at once: no backoff for running out of time.
    expect(writer.deadLetters).toEqual([]);
    for (const { seconds } of writer.visibility) expect(seconds).toBe(0);
    expect(result.summary.deferred).toBe(deferred.length);
  });

  it('does everything when the time allows', async () => {
    const writer = slowDeletes(10, 30_000);
    const result = await processChangeMessages(messages(10, 30), writer.ports, {
      keyAttributes: ['pk'],
      retry,
      remainingMs: writer.remainingMs,
    });
    expect(result.batchItemFailures).toEqual([]);
    expect(new Set(writer.deleted).size).toBe(300);
  });
});
