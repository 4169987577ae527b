import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { CANARY_KEY_VALUE, canaryItem } from '../../functions/core/canary.ts';
import type { Change, DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import { documentId } from '../../functions/core/keys.ts';
import type { FixingWrite } from '../../functions/core/resync.ts';
import {
  type ImportOutcome,
  processChangeMessages,
  type WriterOptions,
} from '../../functions/core/write-batch.ts';
import { change, sqsRecord } from '../helpers/factories.ts';
import { importOutcomes, sqsRecords } from '../helpers/fixtures.ts';

type Item = Record<string, AttributeValue>;
const NOW = 1_700_000_010_000;
const options: WriterOptions = { keyAttributes: ['pk'] };

interface Behaviour {
  /** What Typesense answers for one document (default: success). */
  outcome?: (document: Record<string, unknown>) => ImportOutcome;
  /** Answers for the whole import, in line order (overrides `outcome`). */
  outcomes?: ImportOutcome[];
  readFails?: boolean;
  importFails?: boolean;
  deleteFails?: boolean;
  deadLettersFail?: boolean;
}

/** Writer ports over an in-memory table; every call is recorded. */
function fakePorts(table: Item[], behaviour: Behaviour = {}, keyAttributes: readonly string[] = ['pk']) {
  const calls = {
    read: [] as MarshalledKey[][],
    import: [] as string[][],
    delete: [] as string[][],
    deadLetters: [] as DeadLetter[][],
  };
  const byId = new Map(table.map((item) => [documentId(item, keyAttributes), item]));
  const ports = {
    calls,
    async readItems(keys: MarshalledKey[]) {
      calls.read.push(structuredClone(keys));
      if (behaviour.readFails === true) throw new Error('ProvisionedThroughputExceededException');
      return keys.flatMap((key) => {
        const stored = byId.get(documentId(key, keyAttributes));
        return stored === undefined ? [] : [structuredClone(stored)];
      });
    },
    async importDocuments(lines: string[]) {
      calls.import.push([...lines]);
      if (behaviour.importFails === true) throw new Error('connect ECONNREFUSED');
      if (behaviour.outcomes !== undefined) return behaviour.outcomes;
      return lines.map(
        (line) =>
          behaviour.outcome?.(JSON.parse(line) as Record<string, unknown>) ?? ({ success: true } as const),
      );
    },
    async deleteDocuments(ids: string[]) {
      calls.delete.push([...ids]);
      if (behaviour.deleteFails === true) throw new Error('Typesense 503');
      return ids.length;
    },
    async sendDeadLetters(letters: DeadLetter[]) {
      calls.deadLetters.push(structuredClone(letters));
      if (behaviour.deadLettersFail === true) throw new Error('DLQ refused');
    },
    now: () => NOW,
  };
  return ports;
}

const ok: ImportOutcome = { success: true };
const fail = (code: number, error = `error ${code}`): ImportOutcome => ({ success: false, code, error });

const item = (id: string, extra: Item = {}): Item => ({
  pk: { S: id },
  title: { S: `title ${id}` },
  ...extra,
});
const failedIds = (result: { batchItemFailures: { itemIdentifier: string }[] }) =>
  result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier);
const importedIds = (calls: { import: string[][] }) =>
  calls.import.flat().map((line) => (JSON.parse(line) as { id: string }).id);

describe('processChangeMessages: applying the current state', () => {
  it('upserts items that exist and deletes those that do not, from the fixture event', async () => {
    const records = sqsRecords();
    const ports = fakePorts([
      item('order-1', { price: { N: '12.5' } }),
      item('order-12', { tags: { SS: ['b', 'a'] } }),
    ]);
    const result = await processChangeMessages(records, ports, options);

    expect(failedIds(result)).toEqual([]);
    expect(ports.calls.read).toEqual([
      [{ pk: { S: 'order-1' } }, { pk: { S: 'order-12' } }, { pk: { S: 'order-3' } }],
    ]);
    expect(ports.calls.import).toHaveLength(1);
    expect(ports.calls.import[0]?.map((line) => JSON.parse(line))).toEqual([
      { id: 'order-1', pk: 'order-1', title: 'title order-1', price: 12.5 },
      { id: 'order-12', pk: 'order-12', title: 'title order-12', tags: ['a', 'b'] },
    ]);
    expect(ports.calls.delete).toEqual([['order-3']]);
    expect(ports.calls.deadLetters).toEqual([]);
    expect(result.summary).toEqual({
      messages: 3,
      changes: 3,
      upserted: 2,
      deleted: 1,
      deadLettered: 0,
      retrying: 0,
      requeued: 0,
      circuit: undefined,
      // order-3's change is the oldest applied one (sourceTs 1699999989000).
      maxIngestionDelayMs: NOW - 1_699_999_989_000,
      ingestionDelaysMs: expect.any(Array),
    });
    // One delay per applied change; imports and deletes finish in either order.
    expect(result.summary.ingestionDelaysMs.toSorted((a, b) => a - b)).toEqual([
      NOW - 1_700_000_000_250,
      NOW - 1_700_000_000_000,
      NOW - 1_699_999_989_000,
    ]);
  });

  it('never trusts the op in the message: an "upsert" of a gone item deletes, a "delete" of a present item upserts', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('gone', { op: 'upsert' })] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('back', { op: 'delete' })] }),
    ];
    const ports = fakePorts([item('back')]);
    const result = await processChangeMessages(records, ports, options);
    expect(importedIds(ports.calls)).toEqual(['back']);
    expect(ports.calls.delete).toEqual([['gone']]);
    expect(result.summary).toMatchObject({ upserted: 1, deleted: 1 });
  });

  it("indexes the lag check's canary into its own collection only, and never retries it", async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change(CANARY_KEY_VALUE), change('a')] }),
    ];
    const ports = fakePorts([canaryItem(['pk'], 1_700_000_009_000), item('a', { sentAt: { N: '1' } })]);
    const canaries: string[][] = [];
    const withCanaries = {
      ...ports,
      importCanaries: async (lines: string[]) => {
        canaries.push(lines);
      },
    };
    const result = await processChangeMessages(records, withCanaries, options);
    expect(canaries).toEqual([[JSON.stringify({ id: CANARY_KEY_VALUE, sentAt: 1_700_000_009_000 })]]);
    expect(importedIds(ports.calls)).toEqual(['a']);
    expect(result.summary).toMatchObject({ upserted: 1, deleted: 0 });

    // A canary that cannot be indexed is simply lost: the next check sends another.
    const failing = {
      ...fakePorts([canaryItem(['pk'], 1_700_000_009_000)]),
      importCanaries: async () => {
        throw new Error('Typesense 404: collection not found');
      },
    };
    const lost = await processChangeMessages(records.slice(0, 1), failing, options);
    expect(failedIds(lost)).toEqual([]);
    expect(failing.calls.deadLetters).toEqual([]);
    expect(failing.calls.import).toEqual([]);
  });

  it('reads and writes an id once, however many messages carry it', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a', { version: '5' })] }),
      sqsRecord({ messageId: 'm2', groupId: 'g1', changes: [change('a', { version: '9' }), change('b')] }),
      sqsRecord({ messageId: 'm3', groupId: 'g1', changes: [change('a', { version: '7' })] }),
    ];
    const ports = fakePorts([item('a'), item('b')]);
    const result = await processChangeMessages(records, ports, options);
    expect(ports.calls.read).toEqual([[{ pk: { S: 'a' } }, { pk: { S: 'b' } }]]);
    expect(importedIds(ports.calls)).toEqual(['a', 'b']);
    expect(result.summary).toMatchObject({ messages: 3, changes: 2, upserted: 2 });
    expect(failedIds(result)).toEqual([]);
  });

  it('applies the projection', async () => {
    const records = [sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] })];
    const ports = fakePorts([item('a', { secret: { S: 'hidden' } })]);
    await processChangeMessages(records, ports, {
      keyAttributes: ['pk'],
      projection: { exclude: ['secret'] },
    });
    expect(ports.calls.import[0]?.map((line) => JSON.parse(line))).toEqual([
      { id: 'a', pk: 'a', title: 'title a' },
    ]);
  });

  it('matches re-read items to changes by composite key, binary parts included', async () => {
    const keyAttributes = ['pk', 'sk'];
    const blobKey = { pk: { S: 't1' }, sk: { B: 'Af98' as unknown as Uint8Array } };
    const changes: Change[] = [
      change('t1|Af98', { key: blobKey }),
      change('t1|x\\|y', { key: { pk: { S: 't1' }, sk: { S: 'x|y' } } }),
    ];
    const records = [sqsRecord({ messageId: 'm1', groupId: 'g1', changes })];
    // DynamoDB returns binary as bytes, not as the base64 text the stream carried.
    const stored: Item = { pk: { S: 't1' }, sk: { B: new Uint8Array([0x01, 0xff, 0x7c]) }, n: { N: '1' } };
    const ports = fakePorts([stored], {}, keyAttributes);
    const result = await processChangeMessages(records, ports, { keyAttributes });
    expect(importedIds(ports.calls)).toEqual(['t1|Af98']);
    expect(ports.calls.delete).toEqual([['t1|x\\|y']]);
    expect(failedIds(result)).toEqual([]);
  });

  it('measures the ingestion delay from the applied changes only', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a', { sourceTs: NOW - 2_000 })] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('b', { sourceTs: NOW - 9_000 })] }),
    ];
    const ports = fakePorts([item('a'), item('b')], { outcome: (doc) => (doc.id === 'b' ? fail(503) : ok) });
    const result = await processChangeMessages(records, ports, options);
    expect(result.summary.maxIngestionDelayMs).toBe(2_000);
    expect(result.summary.ingestionDelaysMs).toEqual([2_000]);
  });

  it('reports no ingestion delay when nothing was applied', async () => {
    const records = [sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] })];
    const result = await processChangeMessages(
      records,
      fakePorts([item('a')], { importFails: true }),
      options,
    );
    expect(result.summary.maxIngestionDelayMs).toBeUndefined();
    expect(result.summary.ingestionDelaysMs).toEqual([]);
  });
});

describe('processChangeMessages: Typesense answers', () => {
  it('dead-letters the permanent failures of the import answer and retries the transient ones', async () => {
    const outcomes = importOutcomes();
    expect(outcomes.map((o) => (o.success ? 200 : o.code))).toEqual([200, 400, 200, 404, 409, 503]);
    const ids = ['order-1', 'order-2', 'order-3', 'order-4', 'order-5', 'order-6'];
    const records = ids.map((id, n) =>
      sqsRecord({ messageId: `m${n}`, groupId: `g${n}`, changes: [change(id)], receiveCount: n + 1 }),
    );
    const ports = fakePorts(
      ids.map((id) => item(id)),
      { outcomes },
    );
    const result = await processChangeMessages(records, ports, options);

    expect(failedIds(result)).toEqual(['m5']);
    const letters = ports.calls.deadLetters.flat();
    expect(letters.map((letter) => [letter.id, letter.reason.code])).toEqual([
      ['order-2', 400],
      ['order-4', 404],
      ['order-5', 409],
    ]);
    expect(letters[0]).toEqual({
      v: 1,
      kind: 'dead-letter',
      stage: 'writer',
      change: change('order-2'),
      id: 'order-2',
      reason: { code: 400, message: 'Field `price` must be a float.' },
      firstSeen: 1_700_000_001_500,
      attempts: 2,
    });
    expect(result.summary).toMatchObject({ upserted: 2, deadLettered: 3, retrying: 1 });
    expect(result.summary.retryReason).toBe('import 503: Not Ready or Lagging');
  });

  it.each([503, 429, 500, 408, 502])(
    'returns the message of a change that got %i for retry',
    async (code) => {
      const records = [
        sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
        sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('b')] }),
      ];
      const ports = fakePorts([item('a'), item('b')], {
        outcome: (doc) => (doc.id === 'a' ? fail(code) : ok),
      });
      const result = await processChangeMessages(records, ports, options);
      expect(failedIds(result)).toEqual(['m1']);
      expect(ports.calls.deadLetters).toEqual([]);
      expect(result.summary.retryReason).toContain(`import ${code}`);
    },
  );

  it.each([400, 404, 409, 413, 422])(
    'dead-letters a change that got %i and acknowledges its message',
    async (code) => {
      const records = [sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] })];
      const ports = fakePorts([item('a')], { outcome: () => fail(code, 'nope') });
      const result = await processChangeMessages(records, ports, options);
      expect(failedIds(result)).toEqual([]);
      expect(ports.calls.deadLetters.flat().map((l) => l.reason)).toEqual([{ code, message: 'nope' }]);
    },
  );

  it('fails every upsert message when the import throws, and still applies the deletes', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('gone')] }),
      sqsRecord({ messageId: 'm3', groupId: 'g3', changes: [change('b')] }),
    ];
    const ports = fakePorts([item('a'), item('b')], { importFails: true });
    const result = await processChangeMessages(records, ports, options);
    expect(failedIds(result)).toEqual(['m1', 'm3']);
    expect(ports.calls.delete).toEqual([['gone']]);
    expect(result.summary).toMatchObject({ upserted: 0, deleted: 1, retrying: 2 });
    expect(result.summary.retryReason).toMatch(/^import failed: Error: connect ECONNREFUSED/);
  });

  it('retries the messages whose lines the import answer left unanswered (regression)', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('b')] }),
    ];
    const ports = fakePorts([item('a'), item('b')], { outcomes: [ok] });
    const result = await processChangeMessages(records, ports, options);
    expect(failedIds(result)).toEqual(['m2']);
    expect(result.summary).toMatchObject({ upserted: 1, retrying: 1 });
    expect(result.summary.retryReason).toBe('import answered fewer lines than were sent');
  });

  it('fails the delete messages when deleting throws, and keeps the upserts', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('gone')] }),
    ];
    const ports = fakePorts([item('a')], { deleteFails: true });
    const result = await processChangeMessages(records, ports, options);
    expect(failedIds(result)).toEqual(['m2']);
    expect(result.summary).toMatchObject({ upserted: 1, deleted: 0 });
    expect(result.summary.retryReason).toMatch(/^delete failed/);
  });

  it('fails every message when the source cannot be read, writing nothing', async () => {
    const records = sqsRecords();
    const ports = fakePorts([item('order-1')], { readFails: true });
    const result = await processChangeMessages(records, ports, options);
    expect(failedIds(result)).toEqual(records.map((r) => r.messageId));
    expect(ports.calls.import).toEqual([]);
    expect(ports.calls.delete).toEqual([]);
    expect(result.summary.retryReason).toMatch(
      /^reading the source or the re-sync state failed: .*ProvisionedThroughputExceeded/,
    );
  });

  it('dead-letters an item that cannot be projected, with reason "projection"', async () => {
    const records = [sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] })];
    const ports = fakePorts([{ pk: { S: 'a' }, broken: {} as AttributeValue }]);
    const result = await processChangeMessages(records, ports, options);
    expect(failedIds(result)).toEqual([]);
    expect(ports.calls.import).toEqual([]);
    expect(ports.calls.deadLetters.flat()).toMatchObject([{ id: 'a', reason: { code: 'projection' } }]);
  });
});

describe('processChangeMessages: dead letters and FIFO order', () => {
  it('fails the messages whose dead letters could not be stored, and only those', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('b')] }),
    ];
    const ports = fakePorts([item('a'), item('b')], {
      outcome: (doc) => (doc.id === 'a' ? fail(400) : ok),
      deadLettersFail: true,
    });
    const result = await processChangeMessages(records, ports, options);
    expect(failedIds(result)).toEqual(['m1']);
    expect(result.summary.retryReason).toMatch(/^dead-lettering failed/);
  });

  it('fails a failed message and every later message of its group, not other groups (fixture event)', async () => {
    const records = sqsRecords();
    expect(records.map((r) => r.attributes.MessageGroupId)).toEqual(['b13', 'b13', 'b7']);
    const ports = fakePorts([item('order-1'), item('order-12'), item('order-3')], {
      outcome: (doc) => (doc.id === 'order-1' ? fail(503) : ok),
    });
    const result = await processChangeMessages(records, ports, options);
    expect(failedIds(result)).toEqual([records[0]?.messageId, records[1]?.messageId]);
    // m2 itself was written; it is returned only to keep its group in order.
    expect(importedIds(ports.calls)).toContain('order-12');
    expect(result.summary.retrying).toBe(2);
  });

  it('does not fail earlier messages of a group when a later one fails', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', groupId: 'g1', changes: [change('b')] }),
      sqsRecord({ messageId: 'm3', groupId: 'g1', changes: [change('c')] }),
    ];
    const ports = fakePorts([item('a'), item('b'), item('c')], {
      outcome: (doc) => (doc.id === 'b' ? fail(500) : ok),
    });
    expect(failedIds(await processChangeMessages(records, ports, options))).toEqual(['m2', 'm3']);
  });

  it('fails every message that carried a failed id', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a', { version: '1' })] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('b')] }),
      sqsRecord({ messageId: 'm3', groupId: 'g3', changes: [change('a', { version: '2' })] }),
    ];
    const ports = fakePorts([item('a'), item('b')], { outcome: (doc) => (doc.id === 'a' ? fail(503) : ok) });
    expect(failedIds(await processChangeMessages(records, ports, options))).toEqual(['m1', 'm3']);
  });

  it('does not block anything on a standard queue (no MessageGroupId)', async () => {
    const records = [
      sqsRecord({ messageId: 'm1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', changes: [change('b')] }),
    ];
    const ports = fakePorts([item('a'), item('b')], { outcome: (doc) => (doc.id === 'a' ? fail(503) : ok) });
    expect(failedIds(await processChangeMessages(records, ports, options))).toEqual(['m1']);
  });

  it('dead-letters an unparseable body as "bad-message" without failing it or leaking the body', async () => {
    const records: SQSRecord[] = [
      sqsRecord({ messageId: 'junk', groupId: 'g1', body: 'password=hunter2', receiveCount: 4 }),
      sqsRecord({ messageId: 'v2', groupId: 'g1', body: JSON.stringify({ v: 2, changes: [] }) }),
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
    ];
    const ports = fakePorts([item('a')]);
    const result = await processChangeMessages(records, ports, options);
    expect(failedIds(result)).toEqual([]);
    const letters = ports.calls.deadLetters.flat();
    expect(letters).toHaveLength(2);
    expect(letters[0]).toMatchObject({
      stage: 'writer',
      record: { messageId: 'junk', bodyBytes: Buffer.byteLength('password=hunter2') },
      reason: { code: 'bad-message' },
      attempts: 4,
    });
    expect(JSON.stringify(letters)).not.toContain('hunter2');
    expect(importedIds(ports.calls)).toEqual(['a']);
    expect(result.summary).toMatchObject({ messages: 3, changes: 1, deadLettered: 2, upserted: 1 });
  });

  it('fails an unparseable message (and its group after it) when its dead letter cannot be stored', async () => {
    const records = [
      sqsRecord({ messageId: 'junk', groupId: 'g1', body: '{' }),
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('b')] }),
    ];
    const ports = fakePorts([item('a'), item('b')], { deadLettersFail: true });
    expect(failedIds(await processChangeMessages(records, ports, options))).toEqual(['junk', 'm1']);
  });

  it('takes firstSeen from ApproximateFirstReceiveTimestamp, else SentTimestamp, else now', async () => {
    const withFirst = sqsRecord({ messageId: 'm1', body: 'x', firstReceive: 1_600_000_000_000 });
    const withSent = sqsRecord({ messageId: 'm2', body: 'x' });
    withSent.attributes.ApproximateFirstReceiveTimestamp = '';
    const withNone = sqsRecord({ messageId: 'm3', body: 'x' });
    withNone.attributes.ApproximateFirstReceiveTimestamp = '';
    withNone.attributes.SentTimestamp = '';
    const ports = fakePorts([]);
    await processChangeMessages([withFirst, withSent, withNone], ports, options);
    expect(ports.calls.deadLetters.flat().map((l) => l.firstSeen)).toEqual([
      1_600_000_000_000,
      1_700_000_001_000,
      NOW,
    ]);
  });
});

describe('processChangeMessages: while a re-sync runs', () => {
  /** Re-sync ports over the writer fakes; the order of their calls is logged. */
  function resyncPorts(outcome: (id: string) => ImportOutcome = () => ok, active = true) {
    const log: string[] = [];
    const rejections: { id: string; reason: string }[] = [];
    const cleared: string[] = [];
    return {
      log,
      rejections,
      cleared,
      ports: {
        active: async () => (active ? { jobId: 'r1', collection: 'products_r1' } : undefined),
        async importDocuments(collection: string, lines: string[]) {
          const ids = lines.map((line) => (JSON.parse(line) as { id: string }).id);
          log.push(`import ${collection} ${ids}`);
          return ids.map(outcome);
        },
        async deleteDocuments(collection: string, ids: string[]) {
          log.push(`delete ${collection} ${ids}`);
          return ids.length;
        },
        async recordDeletes(jobId: string, keys: { id: string }[]) {
          log.push(`tombstone ${jobId} ${keys.map(({ id }) => id)}`);
        },
        async recordRejections(jobId: string, list: { id: string; reason: string }[]) {
          log.push(`reject ${jobId}`);
          rejections.push(...list);
        },
        async clearRejections(jobId: string, writes: readonly FixingWrite[]) {
          for (const { ids, before } of writes) cleared.push(`${jobId} ${ids} before ${before}`);
          return 0;
        },
      },
    };
  }
  const records = () => [
    sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('kept')] }),
    sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('gone', { op: 'delete' })] }),
  ];

  it('writes upserts and deletes to the live alias and to the new collection, tombstone before delete', async () => {
    const resync = resyncPorts();
    const ports = { ...fakePorts([item('kept')]), resync: resync.ports };
    const result = await processChangeMessages(records(), ports, options);
    expect(failedIds(result)).toEqual([]);
    expect(importedIds(ports.calls)).toEqual(['kept']);
    expect(ports.calls.delete).toEqual([['gone']]);
    expect(resync.log).toContain('import products_r1 kept');
    expect(resync.log.filter((entry) => !entry.startsWith('import'))).toEqual([
      'tombstone r1 gone',
      'delete products_r1 gone',
    ]);
  });

  it('writes nothing extra when no re-sync is active', async () => {
    const resync = resyncPorts(() => ok, false);
    const ports = { ...fakePorts([item('kept')]), resync: resync.ports };
    await processChangeMessages(records(), ports, options);
    expect(resync.log).toEqual([]);
  });

  it('a rejection by the new collection is recorded against the re-sync, not dead-lettered', async () => {
    const resync = resyncPorts(() => fail(400, 'Field `price` must be a float.'));
    const ports = { ...fakePorts([item('kept')]), resync: resync.ports };
    const result = await processChangeMessages(records(), ports, options);
    expect(failedIds(result)).toEqual([]);
    expect(ports.calls.deadLetters).toEqual([]);
    expect(resync.rejections).toEqual([
      { id: 'kept', reason: '400: Field `price` must be a float.', at: NOW },
    ]);
  });

  it('a successful write to the new collection clears an earlier rejection of the same id', async () => {
    const resync = resyncPorts();
    const ports = { ...fakePorts([item('kept')]), resync: resync.ports };
    const result = await processChangeMessages(records().slice(0, 1), ports, options);
    expect(failedIds(result)).toEqual([]);
    // Only rejections recorded before this batch read the source: its write is of a later state.
    expect(resync.cleared).toEqual([`r1 kept before ${NOW}`]);
  });

  it('bounds every import, live and new collection, by what remains of the invocation', async () => {
    const bounds: (number | undefined)[] = [];
    const resync = resyncPorts();
    const live = fakePorts([item('kept')]);
    const ports = {
      ...live,
      importDocuments: async (lines: string[], remainingMs?: number) => {
        bounds.push(remainingMs);
        return live.importDocuments(lines);
      },
      resync: {
        ...resync.ports,
        importDocuments: async (collection: string, lines: string[], remainingMs?: number) => {
          bounds.push(remainingMs);
          return resync.ports.importDocuments(collection, lines);
        },
      },
    };
    await processChangeMessages(records().slice(0, 1), ports, { ...options, remainingMs: () => 42_000 });
    expect(bounds).toEqual([42_000, 42_000]);
  });

  it('a delete from the new collection clears an earlier rejection of the same id (nothing left to reject)', async () => {
    const resync = resyncPorts();
    const ports = { ...fakePorts([]), resync: resync.ports };
    const result = await processChangeMessages(records().slice(1), ports, options);
    expect(failedIds(result)).toEqual([]);
    expect(resync.cleared).toEqual([`r1 gone before ${NOW}`]);
  });

  it('a rejected write to the new collection clears nothing', async () => {
    const resync = resyncPorts(() => fail(400, 'Field `price` must be a float.'));
    const ports = { ...fakePorts([item('kept')]), resync: resync.ports };
    await processChangeMessages(records().slice(0, 1), ports, options);
    expect(resync.cleared).toEqual([]);
  });

  it('a passing failure of the new collection retries the message, even though the live write worked', async () => {
    const resync = resyncPorts(() => fail(503, 'Not Ready or Lagging'));
    const ports = { ...fakePorts([item('kept')]), resync: resync.ports };
    const result = await processChangeMessages(records(), ports, options);
    expect(failedIds(result)).toEqual(['m1']);
    expect(result.summary.retryReason).toBe('re-sync import 503: Not Ready or Lagging');
  });
});
