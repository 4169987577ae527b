import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AggregateConfig, changeKeyAttributes } from '../../functions/contract/aggregate.ts';
import { aggregationOf } from '../../functions/core/aggregate.ts';
import { CANARY_KEY_VALUE, canaryItem } from '../../functions/core/canary.ts';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import { normaliseRecords } from '../../functions/core/normalise.ts';
import { packChanges } from '../../functions/core/pack.ts';
import { processChangeMessages, type WriterOptions } from '../../functions/core/write-batch.ts';
import { seq } from '../helpers/factories.ts';

/*
 * The writer on an aggregated index, through the whole chain a change takes: stream record → normalised
 * with the partition key alone → packed into FIFO messages → applied by the writer core, whose ports
 * are a table and an index in memory.
 */

type Item = Record<string, AttributeValue>;
const TABLE_KEY = ['pk', 'sk'];
const AGGREGATE: AggregateConfig = { parent: { prefix: 'ORDER#' }, children: { lines: { prefix: 'LINE#' } } };
const KEY_ATTRIBUTES = changeKeyAttributes(TABLE_KEY, AGGREGATE);

function world(aggregate: AggregateConfig = AGGREGATE) {
  const aggregation = aggregationOf(TABLE_KEY, aggregate);
  const options: WriterOptions = { keyAttributes: KEY_ATTRIBUTES, ...(aggregation && { aggregation }) };
  /** partition → sort key → item. */
  const table = new Map<string, Map<string, Item>>();
  const index = new Map<string, Record<string, unknown>>();
  const canaries: string[] = [];
  const deadLetters: DeadLetter[] = [];
  const queries: { key: MarshalledKey; limit: number }[] = [];
  let version = 0;
  let messageId = 0;
  /** Stream records of the writes not yet turned into messages. */
  let stream: DynamoDBRecord[] = [];
  const ports = {
    readItems: async (): Promise<Item[]> => {
      throw new Error('an aggregated index reads partitions, never single items');
    },
    // Newest first: the builder must not rely on the order it is given the items in.
    readPartition: async (key: MarshalledKey, limit: number) => {
      queries.push({ key, limit });
      const items = [...(table.get(String(key.pk?.S))?.values() ?? [])].reverse();
      return structuredClone(items.slice(0, limit));
    },
    importDocuments: async (lines: string[]) =>
      lines.map((line) => {
        const document = JSON.parse(line) as { id: string };
        index.set(document.id, document);
        return { success: true } as const;
      }),
    deleteDocuments: async (ids: string[]) => ids.filter((id) => index.delete(id)).length,
    sendDeadLetters: async (letters: DeadLetter[]) => {
      deadLetters.push(...letters);
    },
    importCanaries: async (lines: string[]) => {
      canaries.push(...lines);
    },
    now: () => 1_700_000_010_000,
  };
  const write = (pk: string, sk: string, fields: Item | undefined) => {
    const partition = table.get(pk) ?? new Map<string, Item>();
    table.set(pk, partition);
    if (fields === undefined) partition.delete(sk);
    else partition.set(sk, { pk: { S: pk }, sk: { S: sk }, ...fields });
    stream.push({
      eventName: fields === undefined ? 'REMOVE' : 'MODIFY',
      dynamodb: { Keys: { pk: { S: pk }, sk: { S: sk } }, SequenceNumber: seq(++version) },
    } as DynamoDBRecord);
  };
  /** What the batcher makes of the stream so far: FIFO messages, as SQS records. */
  const enqueue = (): SQSRecord[] => {
    const { changes } = normaliseRecords(stream, { keyAttributes: KEY_ATTRIBUTES });
    stream = [];
    const { messages } = packChanges(
      changes.map(({ change }) => change),
      4,
      262_144,
    );
    return messages.map((message) => ({
      messageId: `m${++messageId}`,
      receiptHandle: `r${messageId}`,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1700000001000',
        SenderId: 'batcher',
        ApproximateFirstReceiveTimestamp: '1700000001500',
        MessageGroupId: message.groupId,
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:changes.fifo',
      awsRegion: 'eu-west-1',
    }));
  };
  const deliver = (records: SQSRecord[]) => processChangeMessages(records, ports, options);
  return { table, index, canaries, deadLetters, queries, write, enqueue, deliver };
}

/** The aggregate of a partition, as the docs define it, computed apart from the builder. */
function expectedAggregate(partition: ReadonlyMap<string, Item> | undefined) {
  const items = [...(partition?.values() ?? [])].sort((a, b) => (String(a.sk?.S) < String(b.sk?.S) ? -1 : 1));
  const plain = (item: Item) =>
    Object.fromEntries(Object.entries(item).map(([name, value]) => [name, value.S ?? Number(value.N)]));
  const parent = items.find((item) => item.sk?.S?.startsWith('ORDER#'));
  if (parent === undefined) return undefined;
  return {
    id: parent.pk?.S,
    ...plain(parent),
    lines: items
      .filter((item) => item.sk?.S?.startsWith('LINE#'))
      .map((item) => ({ id: `${item.pk?.S}|${item.sk?.S}`, ...plain(item) })),
  };
}

describe('the writer on an aggregated index', () => {
  it('writes each changed partition’s aggregate from one Query, and deletes a partition left without parent', async () => {
    const { index, write, enqueue, deliver, queries } = world();
    write('o1', 'ORDER#o1', { customer: { S: 'ada' } });
    write('o1', 'LINE#1', { qty: { N: '1' } });
    write('o1', 'LINE#2', { qty: { N: '2' } });
    write('o2', 'LINE#1', { qty: { N: '5' } });
    await deliver(enqueue());
    expect(index.get('o1')).toEqual({
      id: 'o1',
      pk: 'o1',
      sk: 'ORDER#o1',
      customer: 'ada',
      lines: [
        { id: 'o1|LINE#1', pk: 'o1', sk: 'LINE#1', qty: 1 },
        { id: 'o1|LINE#2', pk: 'o1', sk: 'LINE#2', qty: 2 },
      ],
    });
    expect(index.has('o2')).toBe(false);
    // One Query per changed partition, asking one item more than the limit.
    expect(queries).toEqual([
      { key: { pk: { S: 'o1' } }, limit: 1_001 },
      { key: { pk: { S: 'o2' } }, limit: 1_001 },
    ]);
    write('o1', 'ORDER#o1', undefined);
    await deliver(enqueue());
    expect(index.has('o1')).toBe(false);
  });

  it('dead-letters an oversized partition with its key, code and reason, and lets the rest of the batch flow', async () => {
    const { index, deadLetters, write, enqueue, deliver } = world({ ...AGGREGATE, maxItems: 2 });
    write('big', 'ORDER#big', {});
    write('big', 'LINE#1', {});
    write('big', 'LINE#2', {});
    write('ok', 'ORDER#ok', {});
    write('ok', 'LINE#1', {});
    const result = await deliver(enqueue());
    expect(index.has('ok')).toBe(true);
    expect(index.has('big')).toBe(false);
    expect(deadLetters.map((letter) => [letter.id, letter.change?.key, letter.reason.code])).toEqual([
      ['big', { pk: { S: 'big' } }, 'aggregate-too-large'],
    ]);
    expect(deadLetters[0]?.reason.message).toBe('the partition holds more than 2 items (aggregate.maxItems)');
    expect(result.batchItemFailures).toEqual([]);
  });

  it('indexes the lag check’s canary under the table’s whole key, apart from the aggregates', async () => {
    const { index, canaries, table, deliver, enqueue, write } = world();
    const canary = canaryItem(TABLE_KEY, 1_700_000_000_000);
    table.set(CANARY_KEY_VALUE, new Map([[CANARY_KEY_VALUE, canary]]));
    write(CANARY_KEY_VALUE, CANARY_KEY_VALUE, { sentAt: { N: '1700000000000' } });
    await deliver(enqueue());
    expect(index.size).toBe(0);
    expect(canaries.map((line) => JSON.parse(line).id)).toEqual([`${CANARY_KEY_VALUE}|${CANARY_KEY_VALUE}`]);
  });

  it('property: any order and duplication of item changes ends at the aggregate of each partition’s final items', async () => {
    const write = fc.record({
      pk: fc.constantFrom('o1', 'o2', 'o3'),
      sk: fc.constantFrom('ORDER#', 'LINE#1', 'LINE#2', 'LINE#3', 'NOTE#1'),
      // undefined: the item is deleted.
      qty: fc.option(fc.nat({ max: 9 }), { nil: undefined }),
    });
    // Writes, interleaved with deliveries of messages picked from those queued, duplicates included.
    const step = fc.oneof(
      { arbitrary: write.map((w) => ({ write: w })), weight: 3 },
      {
        arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }).map((picks) => ({ picks })),
        weight: 1,
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat()),
        async (steps, tail) => {
          const w = world();
          const queued: SQSRecord[] = [];
          for (const next of steps) {
            if ('write' in next) {
              const { pk, sk, qty } = next.write;
              w.write(pk, sk, qty === undefined ? undefined : { qty: { N: String(qty) } });
              queued.push(...w.enqueue());
            } else if (queued.length > 0) {
              // Any queued message, maybe one delivered before (a duplicate) or one newer than others left.
              await w.deliver(next.picks.map((pick) => queued[pick % queued.length] as SQSRecord));
            }
          }
          // Everything queued is delivered at last, in an order of the run's choosing.
          const rest = [...queued];
          for (const pick of tail) rest.push(queued[pick % Math.max(1, queued.length)] as SQSRecord);
          for (const record of rest.filter(Boolean).reverse()) await w.deliver([record]);
          expect(w.deadLetters).toEqual([]);
          for (const pk of ['o1', 'o2', 'o3']) {
            const expected = expectedAggregate(w.table.get(pk));
            if (w.table.has(pk)) expect(w.index.get(pk)).toEqual(expected);
            else expect(w.index.has(pk)).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
