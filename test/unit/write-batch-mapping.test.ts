import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import { processChangeMessages, type WriterOptions } from '../../functions/core/write-batch.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

/*
 * The writer with a mapping projection: a value a conversion refuses dead-letters that one change with the
 * reason (the field, the conversion, the key), while the batch's other changes are written as mapped.
 */

type Item = Record<string, AttributeValue>;
const options: WriterOptions = {
  keyAttributes: ['pk'],
  projection: {
    rename: { created_at: 'createdAt' },
    nested: 'flatten',
    convert: { createdAt: 'epochSeconds', 'stock.count': 'int64' },
  },
};

function world() {
  const table = new Map<string, Item>();
  const lines: string[] = [];
  const deadLetters: DeadLetter[] = [];
  const ports = {
    readItems: async (keys: MarshalledKey[]) =>
      keys.flatMap((key) => {
        const stored = table.get(String(key.pk?.S));
        return stored === undefined ? [] : [structuredClone(stored)];
      }),
    importDocuments: async (batch: string[]) => {
      lines.push(...batch);
      return batch.map(() => ({ success: true }) as const);
    },
    deleteDocuments: async () => 0,
    sendDeadLetters: async (letters: DeadLetter[]) => {
      deadLetters.push(...letters);
    },
    now: () => 1_700_000_010_000,
  };
  const write = (...ids: string[]) =>
    processChangeMessages(
      [sqsRecord({ messageId: 'm1', groupId: 'g1', changes: ids.map((id) => change(id)) })],
      ports,
      options,
    );
  return { table, lines, deadLetters, write };
}

const order = (id: string, createdAt: string, count = '3'): Item => ({
  pk: { S: id },
  created_at: { S: createdAt },
  stock: { M: { count: { N: count }, where: { S: 'Oslo' } } },
});

describe('the writer with a mapping projection', () => {
  it('dead-letters the change whose date does not convert, with its reason; its batch-mates are written', async () => {
    const { table, lines, deadLetters, write } = world();
    table.set('o1', order('o1', '2024-03-01T12:00:00Z'));
    table.set('o2', order('o2', 'not a date'));
    table.set('o3', order('o3', '2024-03-02', '9223372036854775807'));
    const result = await write('o1', 'o2', 'o3');

    expect(lines).toEqual([
      '{"id":"o1","pk":"o1","createdAt":1709294400,"stock.count":3,"stock.where":"Oslo"}',
      // An int64 beyond 2^53 travels as its exact digits.
      '{"id":"o3","pk":"o3","createdAt":1709337600,"stock.count":9223372036854775807,"stock.where":"Oslo"}',
    ]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      stage: 'writer',
      id: 'o2',
      reason: {
        code: 'projection',
        message:
          'cannot project item: field createdAt: epochSeconds needs an ISO-8601 date/time string, got "not a date"',
      },
    });
    expect(result.summary).toMatchObject({ upserted: 2, deadLettered: 1 });
    expect(result.batchItemFailures).toEqual([]);
  });
});
