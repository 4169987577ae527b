import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { Change, DeadLetter } from '../../functions/core/change.ts';
import { messageGroupOf, type PackedMessage, parseChangeMessage } from '../../functions/core/pack.ts';
import {
  type BatcherOptions,
  type BatcherPorts,
  type BatcherTarget,
  processStreamRecords,
} from '../../functions/core/stream-batch.ts';
import { seq, streamRecord } from '../helpers/factories.ts';
import { streamRecords } from '../helpers/fixtures.ts';

const NOW = 1_700_000_999_000;
const options: BatcherOptions = { keyAttributes: ['pk'], buckets: 16, maxMessageBytes: 262_144 };

interface FakeBatcherPorts extends BatcherPorts {
  sendCalls: PackedMessage[][];
  deadLetterCalls: DeadLetter[][];
}

/**
 * Ports that record every call. `refuse(message, attempt)` decides per entry whether SQS refuses it
 * (attempt counts calls that carried this message); `throwOnCall(n)` makes the n-th call throw.
 */
function fakePorts(
  behaviour: {
    refuse?: (message: PackedMessage, attempt: number) => boolean;
    throwOnCall?: (call: number) => boolean;
    deadLettersFail?: boolean;
  } = {},
): FakeBatcherPorts {
  const attempts = new Map<string, number>();
  const sendCalls: PackedMessage[][] = [];
  const deadLetterCalls: DeadLetter[][] = [];
  const sendDeadLetters = async (letters: DeadLetter[]) => {
    deadLetterCalls.push(structuredClone(letters));
    if (behaviour.deadLettersFail === true) throw new Error('DLQ unavailable');
  };
  return {
    sendCalls,
    deadLetterCalls,
    targets: [
      {
        async sendMessages(messages) {
          sendCalls.push([...messages]);
          if (behaviour.throwOnCall?.(sendCalls.length) === true) throw new Error('ThrottlingException');
          return messages.filter((message) => {
            const attempt = (attempts.get(message.deduplicationId) ?? 0) + 1;
            attempts.set(message.deduplicationId, attempt);
            return behaviour.refuse?.(message, attempt) ?? false;
          });
        },
        sendDeadLetters,
      },
    ],
    sendDeadLetters,
    now: () => NOW,
  };
}

const sentChanges = (ports: FakeBatcherPorts): Change[] =>
  ports.sendCalls.flat().flatMap((message) => parseChangeMessage(message.body)?.changes ?? []);

/** Ids `${prefix}-n` whose message group differs from that of `avoid`. */
function idsOutsideGroupOf(avoid: string, prefix: string, count: number): string[] {
  const group = messageGroupOf(avoid, options.buckets);
  const ids: string[] = [];
  for (let n = 0; ids.length < count; n++)
    if (messageGroupOf(`${prefix}-${n}`, options.buckets) !== group) ids.push(`${prefix}-${n}`);
  return ids;
}

describe('processStreamRecords: sending', () => {
  it('packs the fixture batch into messages and sends them; nothing fails', async () => {
    const records = streamRecords('dynamodb-stream-insert-modify-remove.json');
    const ports = fakePorts();
    const result = await processStreamRecords(records, ports, options);

    expect(result.batchItemFailures).toEqual([]);
    expect(ports.deadLetterCalls).toEqual([]);
    // order-1 changed twice: only its latest change (the MODIFY) is sent.
    const changes = sentChanges(ports);
    expect(changes.map(({ id, op, version }) => [id, op, version]).sort()).toEqual([
      ['order-1', 'upsert', '1200000000000136158523'],
      ['order-2', 'delete', '1300000000000136170918'],
    ]);
    for (const message of ports.sendCalls.flat()) {
      const parsed = parseChangeMessage(message.body);
      for (const change of parsed?.changes ?? []) expect(message.groupId).toBe(messageGroupOf(change.id, 16));
    }
    expect(result.summary).toEqual({
      records: 3,
      changes: 2,
      messages: ports.sendCalls.flat().length,
      deadLettered: 0,
      failedChanges: 0,
    });
  });

  it('sends the latest change per id even when records arrive out of order', async () => {
    const records = [
      streamRecord({ sequenceNumber: seq(5), id: 'x', eventName: 'REMOVE' }),
      streamRecord({ sequenceNumber: seq(3), id: 'x', eventName: 'INSERT' }),
    ];
    const ports = fakePorts();
    await processStreamRecords(records, ports, options);
    expect(sentChanges(ports).map(({ version, op }) => [version, op])).toEqual([[seq(5), 'delete']]);
  });

  it('sends in SendMessageBatch calls of at most 10 entries, each change once', async () => {
    const records = Array.from({ length: 40 }, (_, n) =>
      streamRecord({ sequenceNumber: seq(n), id: `item-${n}` }),
    );
    const ports = fakePorts();
    // Small messages (one change each) so that there are more than 10 of them.
    const result = await processStreamRecords(records, ports, {
      ...options,
      buckets: 64,
      maxMessageBytes: 400,
    });

    expect(result.batchItemFailures).toEqual([]);
    expect(ports.sendCalls.length).toBeGreaterThan(1);
    for (const call of ports.sendCalls) expect(call.length).toBeLessThanOrEqual(10);
    const ids = sentChanges(ports).map(({ id }) => id);
    expect(ids.sort()).toEqual(records.map((_, n) => `item-${n}`).sort());
    expect(result.summary.messages).toBe(ports.sendCalls.flat().length);
  });

  it('retries a refused entry, and when it then succeeds reports no failure', async () => {
    const records = [
      streamRecord({ sequenceNumber: seq(1), id: 'a' }),
      streamRecord({ sequenceNumber: seq(2), id: 'b' }),
    ];
    const refusedOnce = messageGroupOf('a', 16);
    const ports = fakePorts({
      refuse: (message, attempt) => message.groupId === refusedOnce && attempt === 1,
    });
    const result = await processStreamRecords(records, ports, options);

    expect(result.batchItemFailures).toEqual([]);
    expect(result.summary.failedChanges).toBe(0);
    expect(ports.sendCalls).toHaveLength(2);
    // The retry carries only the refused entry.
    expect(ports.sendCalls[1]?.map((m) => m.groupId)).toEqual([refusedOnce]);
    expect(ports.sendCalls[1]?.[0]).toBe(ports.sendCalls[0]?.find((m) => m.groupId === refusedOnce));
  });

  it('reports the EARLIEST record of a permanently refused id, not its latest', async () => {
    const [ok, ...fillers] = idsOutsideGroupOf('bad', 'other', 6);
    const ids = [ok, fillers[0], 'bad', fillers[1], fillers[2], fillers[3], fillers[4], 'bad'] as string[];
    const records = ids.map((id, n) => streamRecord({ sequenceNumber: seq(100 + n), id }));
    const badGroup = messageGroupOf('bad', 16);
    const ports = fakePorts({ refuse: (message) => message.groupId === badGroup });
    const result = await processStreamRecords(records, ports, options);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: seq(102) }]);
    expect(result.summary.failedChanges).toBe(1);
    // Three attempts (the default) for the refused message, one for the rest.
    const carriedBad = ports.sendCalls.filter((call) => call.some((m) => m.groupId === badGroup));
    expect(carriedBad).toHaveLength(3);
  });

  it('honours maxSendAttempts', async () => {
    const records = [streamRecord({ sequenceNumber: seq(1), id: 'a' })];
    const ports = fakePorts({ refuse: () => true });
    const result = await processStreamRecords(records, ports, { ...options, maxSendAttempts: 5 });
    expect(ports.sendCalls).toHaveLength(5);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: seq(1) }]);
  });

  it('counts a thrown sendMessages as every entry refused', async () => {
    const records = [
      streamRecord({ sequenceNumber: seq(1), id: 'a' }),
      streamRecord({ sequenceNumber: seq(2), id: 'b' }),
      streamRecord({ sequenceNumber: seq(3), id: 'c' }),
    ];
    const ports = fakePorts({ throwOnCall: () => true });
    const result = await processStreamRecords(records, ports, options);
    expect(ports.sendCalls).toHaveLength(3);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: seq(1) }]);
    expect(result.summary.failedChanges).toBe(3);
  });

  it('recovers when only the first call throws', async () => {
    const records = [
      streamRecord({ sequenceNumber: seq(1), id: 'a' }),
      streamRecord({ sequenceNumber: seq(2), id: 'b' }),
    ];
    const ports = fakePorts({ throwOnCall: (call) => call === 1 });
    const result = await processStreamRecords(records, ports, options);
    expect(result.batchItemFailures).toEqual([]);
    expect(ports.sendCalls).toHaveLength(2);
    expect(ports.sendCalls[1]).toEqual(ports.sendCalls[0]);
  });

  it('does not call the queue for an empty batch', async () => {
    const ports = fakePorts();
    const result = await processStreamRecords([], ports, options);
    expect(ports.sendCalls).toEqual([]);
    expect(result).toEqual({
      batchItemFailures: [],
      summary: { records: 0, changes: 0, messages: 0, deadLettered: 0, failedChanges: 0 },
    });
  });
});

describe('processStreamRecords: dead letters', () => {
  it('dead-letters malformed records as stage "batcher", reason "bad-record", without any image', async () => {
    const records = streamRecords('dynamodb-stream-malformed.json');
    const ports = fakePorts();
    const result = await processStreamRecords(records, ports, options);

    expect(result.batchItemFailures).toEqual([]);
    expect(ports.deadLetterCalls).toHaveLength(1);
    const letters = ports.deadLetterCalls[0] as DeadLetter[];
    expect(letters).toHaveLength(5);
    for (const letter of letters) {
      expect(letter).toMatchObject({
        v: 1,
        kind: 'dead-letter',
        stage: 'batcher',
        reason: { code: 'bad-record' },
        firstSeen: NOW,
        attempts: 1,
      });
      expect(letter.change).toBeUndefined();
    }
    expect(letters.map((letter) => (letter.record as { eventID: string }).eventID)).toEqual([
      'bad-no-dynamodb',
      'bad-no-keys',
      'bad-missing-key-attribute',
      'bad-sequence-number',
      'bad-bool-key',
    ]);
    expect(letters[1]?.record).toMatchObject({
      sequenceNumber: '6600000000000136300001',
      eventName: 'MODIFY',
    });
    expect(letters[1]?.reason.message).toMatch(/Keys/);
    expect(letters[4]?.record).toMatchObject({ keys: { pk: { BOOL: true } } });
    const text = JSON.stringify(letters);
    expect(text).not.toContain('do-not-leak');
    expect(text).not.toContain('NewImage');
    expect(text).not.toContain('OldImage');

    // The good record in the middle still went out.
    expect(sentChanges(ports).map(({ id }) => id)).toEqual(['order-10']);
    expect(result.summary).toMatchObject({ records: 6, changes: 1, deadLettered: 5, failedChanges: 0 });
  });

  it('reports the record whose dead letter could not be stored', async () => {
    const malformed = streamRecords('dynamodb-stream-malformed.json')[1] as DynamoDBRecord;
    const records = [
      streamRecord({ sequenceNumber: seq(1), id: 'a' }),
      streamRecord({ sequenceNumber: seq(2), id: 'b' }),
      malformed,
      streamRecord({ sequenceNumber: '6600000000000136300009', id: 'c' }),
    ];
    const ports = fakePorts({ deadLettersFail: true });
    const result = await processStreamRecords(records, ports, options);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '6600000000000136300001' }]);
    expect(
      sentChanges(ports)
        .map(({ id }) => id)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
  });

  it('still fails the batch when the dead letter of a record without a sequence number cannot be stored', async () => {
    const records = [
      streamRecord({ sequenceNumber: seq(1), id: 'a' }),
      streamRecords('dynamodb-stream-malformed.json')[0] as DynamoDBRecord,
    ];
    const ports = fakePorts({ deadLettersFail: true });
    const result = await processStreamRecords(records, ports, options);
    expect(result.batchItemFailures).toHaveLength(1);
    expect(result.batchItemFailures[0]?.itemIdentifier).not.toBe(seq(1));
  });

  it('dead-letters a change too big for any message, with the change and reason "oversize"', async () => {
    const records = [
      streamRecord({ sequenceNumber: seq(1), id: 'x'.repeat(300) }),
      streamRecord({ sequenceNumber: seq(2), id: 'small' }),
    ];
    const ports = fakePorts();
    const result = await processStreamRecords(records, ports, { ...options, maxMessageBytes: 400 });

    expect(result.batchItemFailures).toEqual([]);
    const letters = ports.deadLetterCalls.flat();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      stage: 'batcher',
      id: 'x'.repeat(300),
      reason: { code: 'oversize' },
      change: { id: 'x'.repeat(300), version: seq(1) },
    });
    expect(sentChanges(ports).map(({ id }) => id)).toEqual(['small']);
    expect(result.summary).toMatchObject({ deadLettered: 1, failedChanges: 0 });
  });

  it('reports the earliest record of an oversize change whose dead letter could not be stored', async () => {
    const big = 'y'.repeat(300);
    const records = [
      streamRecord({ sequenceNumber: seq(1), id: 'small' }),
      streamRecord({ sequenceNumber: seq(2), id: big }),
      streamRecord({ sequenceNumber: seq(3), id: big }),
    ];
    const ports = fakePorts({ deadLettersFail: true });
    const result = await processStreamRecords(records, ports, { ...options, maxMessageBytes: 400 });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: seq(2) }]);
    expect(result.summary.failedChanges).toBe(1);
  });
});

describe('processStreamRecords: full batches (issue 23)', () => {
  const groups = 4;
  const full: BatcherOptions = { keyAttributes: ['pk'], buckets: groups, maxMessageBytes: 262_144 };
  /** `count` records in stream order over `keys` keys, several changes per key. */
  const records = (count: number, keys: number, from = 0) =>
    Array.from({ length: count }, (_, n) =>
      streamRecord({ id: `k${(from + n) % keys}`, sequenceNumber: seq(from + n) }),
    );

  it('packs a batch of 10,000 records into one message per group, each key once with its latest change', async () => {
    const ports = fakePorts();
    const batch = records(10_000, 3_000);
    const { summary, batchItemFailures } = await processStreamRecords(batch, ports, full);
    expect(batchItemFailures).toEqual([]);
    const messages = ports.sendCalls.flat();
    // 3,000 keys-only changes fit one message per group: as few messages as there are groups.
    expect(messages).toHaveLength(groups);
    expect(new Set(messages.map(({ groupId }) => groupId)).size).toBe(groups);
    expect(summary).toMatchObject({ records: 10_000, changes: 3_000, messages: groups });
    const seen = new Map<string, string>();
    for (const message of messages) {
      for (const change of parseChangeMessage(message.body)?.changes ?? []) {
        expect(message.groupId).toBe(messageGroupOf(change.id, groups));
        expect(seen.has(change.id)).toBe(false);
        seen.set(change.id, change.version);
      }
    }
    expect(seen.size).toBe(3_000);
    // The last record of key k<n> is record 9,000 + n for n < 1,000, else 6,000 + n.
    expect(seen.get('k5')).toBe(seq(9_005));
    expect(seen.get('k2999')).toBe(seq(8_999));
  });

  it('fills messages: every message of a group but its last has no room for another change', async () => {
    const ports = fakePorts();
    const small: BatcherOptions = { ...full, maxMessageBytes: 8_192 };
    await processStreamRecords(records(2_000, 2_000), ports, small);
    const byGroup = new Map<string, PackedMessage[]>();
    for (const message of ports.sendCalls.flat()) {
      byGroup.set(message.groupId, [...(byGroup.get(message.groupId) ?? []), message]);
    }
    expect(byGroup.size).toBe(groups);
    const { packingLimit } = await import('../../functions/core/pack.ts');
    for (const messages of byGroup.values()) {
      expect(messages.length).toBeGreaterThan(1);
      for (const [index, message] of messages.entries()) {
        expect(message.bytes).toBeLessThanOrEqual(packingLimit(small.maxMessageBytes));
        const next = messages[index + 1]?.changes[0];
        if (next === undefined) continue;
        // The next message's first change (and its comma) would not have fitted in this one.
        expect(message.bytes + 1 + Buffer.byteLength(JSON.stringify(next))).toBeGreaterThan(
          packingLimit(small.maxMessageBytes),
        );
      }
    }
  });

  it('keeps per-key order across batches: a key always goes to the same group, later batches after earlier ones', async () => {
    const ports = fakePorts();
    await processStreamRecords(records(1_000, 50), ports, full);
    await processStreamRecords(records(1_000, 50, 1_000), ports, full);
    const versions = new Map<string, { group: string; version: string }[]>();
    for (const message of ports.sendCalls.flat()) {
      for (const change of parseChangeMessage(message.body)?.changes ?? []) {
        versions.set(change.id, [
          ...(versions.get(change.id) ?? []),
          { group: message.groupId, version: change.version },
        ]);
      }
    }
    expect(versions.size).toBe(50);
    for (const [id, sent] of versions) {
      expect(sent.map(({ group }) => group)).toEqual([
        messageGroupOf(id, groups),
        messageGroupOf(id, groups),
      ]);
      const [first, second] = sent.map(({ version }) => BigInt(version));
      expect((first as bigint) < (second as bigint)).toBe(true);
    }
  });
});

describe('processStreamRecords: several indexes (issue 20)', () => {
  /** A changes queue that records what it took; `refusing()` says whether it refuses every send now. */
  function fakeTarget(refusing: () => boolean = () => false, keyAttributes?: string[]) {
    const took: Change[] = [];
    const letters: DeadLetter[] = [];
    const target: BatcherTarget = {
      keyAttributes,
      async sendMessages(messages) {
        if (refusing()) throw new Error('AWS.SimpleQueueService.NonExistentQueue');
        for (const message of messages) took.push(...(parseChangeMessage(message.body)?.changes ?? []));
        return [];
      },
      async sendDeadLetters(sent) {
        letters.push(...sent);
      },
    };
    return { target, took, letters };
  }
  const portsOf = (...targets: BatcherTarget[]): BatcherPorts => ({
    targets,
    sendDeadLetters: async () => undefined,
    now: () => NOW,
  });
  const ids = (changes: Change[]) => changes.map(({ id }) => id).sort();

  it('sends every change to every target', async () => {
    const records = [1, 2, 3].map((n) => streamRecord({ sequenceNumber: seq(n), id: `item-${n}` }));
    const [customers, orders] = [fakeTarget(), fakeTarget()];
    const result = await processStreamRecords(records, portsOf(customers.target, orders.target), options);

    expect(result.batchItemFailures).toEqual([]);
    expect(ids(customers.took)).toEqual(['item-1', 'item-2', 'item-3']);
    expect(orders.took).toEqual(customers.took);
    expect(result.summary).toMatchObject({ changes: 3, failedChanges: 0 });
  });

  it('fails the record when one target refuses it, though the other took it; the retry re-sends to both', async () => {
    const records = [1, 2].map((n) => streamRecord({ sequenceNumber: seq(n), id: `item-${n}` }));
    let ordersDown = true;
    const [customers, orders] = [fakeTarget(), fakeTarget(() => ordersDown)];
    const ports = portsOf(customers.target, orders.target);

    const failed = await processStreamRecords(records, ports, { ...options, maxSendAttempts: 2 });
    // The stream retries from the first record: nothing counts as enqueued until every index has it.
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: seq(1) }]);
    expect(failed.summary.failedChanges).toBe(2);
    expect(ids(customers.took)).toEqual(['item-1', 'item-2']);
    expect(orders.took).toEqual([]);

    ordersDown = false;
    const retried = await processStreamRecords(records, ports, options);
    expect(retried.batchItemFailures).toEqual([]);
    // The index that already took the changes gets them again: harmless, its writer re-reads each key.
    expect(ids(customers.took)).toEqual(['item-1', 'item-1', 'item-2', 'item-2']);
    expect(ids(orders.took)).toEqual(['item-1', 'item-2']);
  });

  it("dead-letters a change one target refuses alone to that target's DLQ only", async () => {
    const records = [1, 2].map((n) => streamRecord({ sequenceNumber: seq(n), id: `item-${n}` }));
    const customers = fakeTarget();
    const refusing: BatcherTarget = {
      ...customers.target,
      async sendMessages(messages) {
        return messages.map((message) => ({
          ...message,
          refusal: { code: 'InvalidMessageContents', message: 'refused', senderFault: true },
        }));
      },
    };
    const orders = fakeTarget();
    const ordersLetters: DeadLetter[] = [];
    const result = await processStreamRecords(
      records,
      portsOf(orders.target, {
        ...refusing,
        sendDeadLetters: async (sent) => void ordersLetters.push(...sent),
      }),
      options,
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(ids(orders.took)).toEqual(['item-1', 'item-2']);
    expect(orders.letters).toEqual([]);
    expect(ordersLetters.map(({ id }) => id).sort()).toEqual(['item-1', 'item-2']);
  });

  it('gives a partition-level target one change per partition, packing once per key form', async () => {
    const itemOf = (n: number, pk: string, sk: string) => {
      const record = streamRecord({ sequenceNumber: seq(n), id: pk });
      (record.dynamodb as { Keys: unknown }).Keys = { pk: { S: pk }, sk: { S: sk } };
      return record;
    };
    const records = [
      itemOf(1, 'CUST#1', 'PROFILE'),
      itemOf(2, 'CUST#1', 'ORDER#1'),
      itemOf(3, 'CUST#2', 'PROFILE'),
    ];
    const table = { ...options, keyAttributes: ['pk', 'sk'] };
    const [items, alsoItems, partitions] = [fakeTarget(), fakeTarget(), fakeTarget(undefined, ['pk'])];
    const result = await processStreamRecords(
      records,
      portsOf(items.target, alsoItems.target, partitions.target),
      table,
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(items.took.map(({ key }) => key)).toHaveLength(3);
    expect(alsoItems.took).toEqual(items.took);
    expect(partitions.took.map(({ key }) => key)).toEqual(
      expect.arrayContaining([{ pk: { S: 'CUST#1' } }, { pk: { S: 'CUST#2' } }]),
    );
    expect(partitions.took).toHaveLength(2);
    // 3 item changes (one packing for both item-level targets) + 2 partition changes.
    expect(result.summary.changes).toBe(5);
  });
});
