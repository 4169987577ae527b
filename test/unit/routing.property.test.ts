import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ItemFilter } from '../../functions/contract/projection.ts';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import type { PackedMessage } from '../../functions/core/pack.ts';
import { processStreamRecords } from '../../functions/core/stream-batch.ts';
import { processChangeMessages } from '../../functions/core/write-batch.ts';
import { seq, sqsRecord, streamRecord } from '../helpers/factories.ts';

/*
 * The routing rule (issue 20, item 1), end to end over the pure cores: a table whose items change type
 * (A, B, C) and get deleted, one batcher feeding a changes queue per index, and each index's writer
 * applying its queue with its own filter. Whatever the order of writes, batcher runs and deliveries (each
 * index's messages consumed in order, in batches of any size, at any time), once everything is delivered
 * every index holds exactly the items whose final version its filter matches, as they are now: an item
 * that changes type leaves the indexes it no longer matches, a deleted item leaves every index.
 */

type Item = Record<string, AttributeValue>;
type Document = Record<string, unknown>;

const INDEXES: Record<string, ItemFilter> = {
  a: { attribute: 'type', equals: 'A' },
  bc: { attribute: 'type', in: ['B', 'C'] },
  notC: { not: { attribute: 'type', equals: 'C' } },
};
/** The same selections written independently of the filter code: the oracle. */
const SELECTS: Record<string, (type: string | undefined) => boolean> = {
  a: (type) => type === 'A',
  bc: (type) => type === 'B' || type === 'C',
  notC: (type) => type !== 'C',
};
const ALIASES = Object.keys(INDEXES);
const IDS = ['k1', 'k2', 'k3', 'k4'];

type Command =
  | { kind: 'put'; id: string; type: 'A' | 'B' | 'C'; n: number }
  | { kind: 'delete'; id: string }
  | { kind: 'batch' }
  | { kind: 'deliver'; alias: string; count: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant('put' as const),
    id: fc.constantFrom(...IDS),
    type: fc.constantFrom('A' as const, 'B' as const, 'C' as const),
    n: fc.integer({ min: 0, max: 99 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...IDS) }),
  fc.record({ kind: fc.constant('batch' as const) }),
  fc.record({
    kind: fc.constant('deliver' as const),
    alias: fc.constantFrom(...ALIASES),
    count: fc.integer({ min: 1, max: 4 }),
  }),
);

/** The table, its stream, one changes queue per index and the index itself, all in memory. */
function world() {
  const table = new Map<string, Item>();
  let stream: DynamoDBRecord[] = [];
  let sequence = 0;
  const queues = new Map(ALIASES.map((alias) => [alias, [] as PackedMessage[]]));
  const indexes = new Map(ALIASES.map((alias) => [alias, new Map<string, Document>()]));
  const deadLetters: DeadLetter[] = [];
  const record = (id: string, eventName: 'MODIFY' | 'REMOVE', image: Item) =>
    stream.push(streamRecord({ sequenceNumber: seq(++sequence), id, eventName, newImage: image }));

  const write = (next: Command) => {
    if (next.kind === 'put') {
      const item = { pk: { S: next.id }, type: { S: next.type }, n: { N: String(next.n) } };
      table.set(next.id, item);
      record(next.id, 'MODIFY', item);
    } else if (next.kind === 'delete') {
      const old = table.get(next.id);
      table.delete(next.id);
      record(next.id, 'REMOVE', old ?? { pk: { S: next.id } });
    }
  };

  const batch = async () => {
    const records = stream;
    stream = [];
    const result = await processStreamRecords(
      records,
      {
        targets: ALIASES.map((alias) => ({
          sendMessages: async (messages: PackedMessage[]) => {
            queues.get(alias)?.push(...messages);
            return [];
          },
          sendDeadLetters: async (letters: DeadLetter[]) => void deadLetters.push(...letters),
        })),
        sendDeadLetters: async (letters) => void deadLetters.push(...letters),
        now: () => 1_700_000_000_000,
      },
      { keyAttributes: ['pk'], buckets: 2, maxMessageBytes: 262_144 },
    );
    expect(result.batchItemFailures).toEqual([]);
  };

  let received = 0;
  const deliver = async (alias: string, count: number) => {
    const queue = queues.get(alias) ?? [];
    const index = indexes.get(alias) ?? new Map<string, Document>();
    const taken = queue.splice(0, count);
    if (taken.length === 0) return;
    const records = taken.map((message) =>
      sqsRecord({ messageId: `m${++received}`, groupId: message.groupId, body: message.body }),
    );
    const result = await processChangeMessages(
      records,
      {
        readItems: async (keys: MarshalledKey[]) =>
          keys.flatMap((key) => {
            const stored = table.get(String(key.pk?.S));
            return stored === undefined ? [] : [structuredClone(stored)];
          }),
        importDocuments: async (lines: string[]) =>
          lines.map((line) => {
            const document = JSON.parse(line) as Document & { id: string };
            index.set(document.id, document);
            return { success: true } as const;
          }),
        deleteDocuments: async (ids: string[]) => ids.filter((id) => index.delete(id)).length,
        sendDeadLetters: async (letters: DeadLetter[]) => void deadLetters.push(...letters),
        importCanaries: async () => undefined,
        now: () => 1_700_000_010_000,
      },
      { keyAttributes: ['pk'], projection: { filter: INDEXES[alias] as ItemFilter } },
    );
    expect(result.batchItemFailures).toEqual([]);
  };

  const run = async (commands: Command[]) => {
    for (const next of commands) {
      if (next.kind === 'batch') await batch();
      else if (next.kind === 'deliver') await deliver(next.alias, next.count);
      else write(next);
    }
    await batch();
    for (const alias of ALIASES) await deliver(alias, Number.POSITIVE_INFINITY);
  };

  /** What index `alias` must hold: each item of the table its filter matches, as it is now. */
  const expected = (alias: string) =>
    new Map(
      [...table]
        .filter(([, item]) => SELECTS[alias]?.(item.type?.S) === true)
        .map(([id, item]) => [id, { id, pk: id, type: item.type?.S, n: Number(item.n?.N) }]),
    );
  return { run, indexes, expected, deadLetters };
}

describe('routing: each index holds exactly the items whose final version its filter matches', () => {
  it('property: over any sequence of type changes, deletes, batcher runs and deliveries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
        const { run, indexes, expected, deadLetters } = world();
        await run(commands);
        for (const alias of ALIASES) expect(indexes.get(alias), alias).toEqual(expected(alias));
        expect(deadLetters).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('an item that changes from A to C leaves a and notC and enters bc', async () => {
    const { run, indexes } = world();
    await run([
      { kind: 'put', id: 'k1', type: 'A', n: 1 },
      { kind: 'batch' },
      { kind: 'deliver', alias: 'a', count: 1 },
      { kind: 'deliver', alias: 'notC', count: 1 },
      { kind: 'put', id: 'k1', type: 'C', n: 2 },
    ]);
    expect([...(indexes.get('a')?.keys() ?? [])]).toEqual([]);
    expect([...(indexes.get('notC')?.keys() ?? [])]).toEqual([]);
    expect(indexes.get('bc')?.get('k1')).toEqual({ id: 'k1', pk: 'k1', type: 'C', n: 2 });
  });
});
