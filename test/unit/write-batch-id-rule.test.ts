import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { CANARY_KEY_VALUE, canaryItem, canaryKey } from '../../functions/core/canary.ts';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import { documentId } from '../../functions/core/keys.ts';
import type { DeletedKey } from '../../functions/core/resync.ts';
import { processChangeMessages, type WriterOptions } from '../../functions/core/write-batch.ts';
import { canaryPorts } from '../../functions/shared/lag-check-adapters.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

/*
 * The writer with an id rule (projection.id): single-table customers `pk = CUSTOMER#123, sk = PROFILE`
 * indexed as `123`. Other items of the partition (orders) are never in this index, so their changes must
 * not touch the customer's document; two keys with one id in a batch are dead-lettered, the rest flows.
 */

type Item = Record<string, AttributeValue>;
const KEYS = ['pk', 'sk'];
const options: WriterOptions = {
  keyAttributes: KEYS,
  projection: {
    filter: { attribute: 'sk', equals: 'PROFILE' },
    id: { attributes: ['pk'], stripPrefix: { pk: 'CUSTOMER#' } },
  },
};
const keyOf = (pk: string, sk: string): MarshalledKey => ({ pk: { S: pk }, sk: { S: sk } });
const idOf = (pk: string, sk: string) => documentId(keyOf(pk, sk), KEYS);

function world() {
  const table = new Map<string, Item>();
  const index = new Map<string, Record<string, unknown>>();
  const resyncIndex = new Map<string, Record<string, unknown>>();
  const tombstones: DeletedKey[] = [];
  const canaries: string[] = [];
  const deadLetters: DeadLetter[] = [];
  const deleted: string[] = [];
  const upsertInto = (target: Map<string, Record<string, unknown>>, lines: string[]) =>
    lines.map((line) => {
      const document = JSON.parse(line) as { id: string };
      target.set(document.id, document);
      return { success: true } as const;
    });
  const ports = {
    readItems: async (keys: MarshalledKey[]) =>
      keys.flatMap((key) => {
        const stored = table.get(documentId(key, KEYS));
        return stored === undefined ? [] : [structuredClone(stored)];
      }),
    importDocuments: async (lines: string[]) => upsertInto(index, lines),
    deleteDocuments: async (ids: string[]) => {
      deleted.push(...ids);
      return ids.filter((id) => index.delete(id)).length;
    },
    sendDeadLetters: async (letters: DeadLetter[]) => {
      deadLetters.push(...letters);
    },
    importCanaries: async (lines: string[]) => {
      canaries.push(...lines);
    },
    now: () => 1_700_000_010_000,
    resync: {
      active: async () => ({ jobId: 'j1', collection: 'customers_v2' }),
      importDocuments: async (_: string, lines: string[]) => upsertInto(resyncIndex, lines),
      deleteDocuments: async (_: string, ids: string[]) => ids.filter((id) => resyncIndex.delete(id)).length,
      recordDeletes: async (_: string, keys: DeletedKey[]) => {
        tombstones.push(...keys);
      },
      recordRejections: async () => undefined,
      clearRejections: async () => 0,
    },
  };
  const put = (pk: string, sk: string, name: string) =>
    table.set(idOf(pk, sk), { ...keyOf(pk, sk), name: { S: name } });
  let messages = 0;
  /** One message carrying a change of each key, processed by the writer. */
  const write = (...keys: [string, string][]) =>
    processChangeMessages(
      [
        sqsRecord({
          messageId: `m${++messages}`,
          groupId: 'g1',
          changes: keys.map(([pk, sk]) => change(idOf(pk, sk), { key: keyOf(pk, sk) })),
        }),
      ],
      ports,
      options,
    );
  return { table, index, resyncIndex, tombstones, canaries, deadLetters, deleted, put, write };
}

describe('the writer with an id rule', () => {
  it('writes and deletes the document by its id; a change to another item of the partition touches nothing', async () => {
    const { table, index, resyncIndex, tombstones, deleted, put, write } = world();
    put('CUSTOMER#123', 'PROFILE', 'Ada');
    put('CUSTOMER#123', 'ORDER#1', 'kettle');
    await write(['CUSTOMER#123', 'PROFILE']);
    expect(index.get('123')).toEqual({ id: '123', pk: 'CUSTOMER#123', sk: 'PROFILE', name: 'Ada' });
    expect(resyncIndex.has('123')).toBe(true);

    // The order is never in this index: neither its upsert nor its delete may remove the customer.
    const order = await write(['CUSTOMER#123', 'ORDER#1']);
    table.delete(idOf('CUSTOMER#123', 'ORDER#1'));
    await write(['CUSTOMER#123', 'ORDER#1']);
    expect(order.batchItemFailures).toEqual([]);
    expect(index.has('123')).toBe(true);
    expect(deleted).toEqual([]);

    table.delete(idOf('CUSTOMER#123', 'PROFILE'));
    await write(['CUSTOMER#123', 'PROFILE']);
    expect(index.has('123')).toBe(false);
    expect(resyncIndex.has('123')).toBe(false);
    // The re-sync's re-check looks the document up by the id it has in the index.
    expect(tombstones).toEqual([{ id: '123', key: keyOf('CUSTOMER#123', 'PROFILE') }]);
  });

  it('dead-letters two keys with one id in a batch (id-collision, naming both keys); the rest of the batch flows', async () => {
    const { index, deadLetters, put, write } = world();
    put('CUSTOMER#7', 'PROFILE', 'prefixed');
    put('7', 'PROFILE', 'bare');
    put('CUSTOMER#8', 'PROFILE', 'Bo');
    const result = await write(['CUSTOMER#7', 'PROFILE'], ['7', 'PROFILE'], ['CUSTOMER#8', 'PROFILE']);
    expect([...index.keys()]).toEqual(['8']);
    expect(
      deadLetters.map(({ id, change: letterChange, reason }) => [id, letterChange?.key, reason.code]),
    ).toEqual([
      [idOf('CUSTOMER#7', 'PROFILE'), keyOf('CUSTOMER#7', 'PROFILE'), 'id-collision'],
      [idOf('7', 'PROFILE'), keyOf('7', 'PROFILE'), 'id-collision'],
    ]);
    expect(deadLetters[0]?.reason.message).toBe(
      "keys 'CUSTOMER#7|PROFILE' and '7|PROFILE' have the same document id '7' (projection.id): only one key may make a document",
    );
    expect(result.summary).toMatchObject({ upserted: 1, deadLettered: 2 });
    expect(result.batchItemFailures).toEqual([]);
  });

  it('a gone key beside a present one with the same id deletes nothing: the present one is written', async () => {
    const { index, deleted, deadLetters, put, write } = world();
    put('9', 'PROFILE', 'bare');
    const result = await write(['CUSTOMER#9', 'PROFILE'], ['9', 'PROFILE']);
    expect(index.get('9')).toMatchObject({ name: 'bare' });
    expect(deleted).toEqual([]);
    expect(deadLetters).toEqual([]);
    expect(result.batchItemFailures).toEqual([]);
  });

  it("indexes the lag check's canary under the id the lag check reads", async () => {
    const { table, canaries, write } = world();
    table.set(idOf(CANARY_KEY_VALUE, CANARY_KEY_VALUE), canaryItem(KEYS, 1_700_000_009_000));
    await write([CANARY_KEY_VALUE, CANARY_KEY_VALUE]);
    const read: string[] = [];
    const typesense = {
      getDocument: async (_: string, id: string) => {
        read.push(id);
        return undefined;
      },
    };
    await canaryPorts({
      dynamodb: {} as never,
      typesense: typesense as never,
      tableName: 'items',
      keyAttributes: KEYS,
      alias: 'customers',
    }).readCanary();
    expect(canaries.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(read);
    expect(read).toEqual([documentId(canaryKey(KEYS), KEYS)]);
  });
});
