import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { ItemFilter } from '../../functions/contract/projection.ts';
import { CANARY_KEY_VALUE, canaryItem } from '../../functions/core/canary.ts';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import type { DeletedKey } from '../../functions/core/resync.ts';
import { processChangeMessages, type WriterOptions } from '../../functions/core/write-batch.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

/*
 * The writer with a projection filter: an item the filter leaves out is not in the index, so its id is
 * deleted (a no-op where absent). An item that stops matching leaves the index, one that starts matching
 * enters it, whatever its previous state.
 */

type Item = Record<string, AttributeValue>;
const ORDERS: ItemFilter = { attribute: 'type', equals: 'order' };
const options: WriterOptions = { keyAttributes: ['pk'], projection: { filter: ORDERS } };
const item = (id: string, type: string): Item => ({ pk: { S: id }, type: { S: type } });

/** A table and an index in memory; the writer's ports over them, with the re-sync's when asked. */
function world(withResync = false) {
  const table = new Map<string, Item>();
  const index = new Map<string, Record<string, unknown>>();
  const resyncIndex = new Map<string, Record<string, unknown>>();
  const tombstones: DeletedKey[] = [];
  const canaries: string[] = [];
  const deadLetters: DeadLetter[] = [];
  const upsertInto = (target: Map<string, Record<string, unknown>>, lines: string[]) =>
    lines.map((line) => {
      const document = JSON.parse(line) as { id: string };
      target.set(document.id, document);
      return { success: true } as const;
    });
  const ports = {
    readItems: async (keys: MarshalledKey[]) =>
      keys.flatMap((key) => {
        const stored = table.get(String(key.pk?.S));
        return stored === undefined ? [] : [structuredClone(stored)];
      }),
    importDocuments: async (lines: string[]) => upsertInto(index, lines),
    deleteDocuments: async (ids: string[]) => ids.filter((id) => index.delete(id)).length,
    sendDeadLetters: async (letters: DeadLetter[]) => {
      deadLetters.push(...letters);
    },
    importCanaries: async (lines: string[]) => {
      canaries.push(...lines);
    },
    now: () => 1_700_000_010_000,
    ...(withResync
      ? {
          resync: {
            active: async () => ({ jobId: 'j1', collection: 'orders_v2' }),
            importDocuments: async (_: string, lines: string[]) => upsertInto(resyncIndex, lines),
            deleteDocuments: async (_: string, ids: string[]) =>
              ids.filter((id) => resyncIndex.delete(id)).length,
            recordDeletes: async (_: string, keys: DeletedKey[]) => {
              tombstones.push(...keys);
            },
            recordRejections: async () => undefined,
            clearRejections: async () => 0,
          },
        }
      : {}),
  };
  let messages = 0;
  /** One message carrying a change of each id, processed by the writer. */
  const write = async (...ids: string[]) => {
    const record = sqsRecord({
      messageId: `m${++messages}`,
      groupId: 'g1',
      changes: ids.map((id) => change(id)),
    });
    return processChangeMessages([record], ports, options);
  };
  return { table, index, resyncIndex, tombstones, canaries, deadLetters, write };
}

describe('the writer with a projection filter', () => {
  it('upserts the items that match and deletes the ids of those that do not', async () => {
    const { table, index, write } = world();
    table.set('o1', item('o1', 'order'));
    table.set('c1', item('c1', 'customer'));
    index.set('c1', { id: 'c1', type: 'customer' }); // indexed before the filter was deployed
    const result = await write('o1', 'c1');
    expect([...index.keys()]).toEqual(['o1']);
    expect(result.summary).toMatchObject({ upserted: 1, deleted: 1, deadLettered: 0 });
    expect(result.batchItemFailures).toEqual([]);
  });

  it('an item that stops matching leaves the index; one that starts matching enters it', async () => {
    const { table, index, write } = world();
    table.set('k', item('k', 'order'));
    await write('k');
    expect(index.get('k')).toEqual({ id: 'k', pk: 'k', type: 'order' });

    table.set('k', item('k', 'customer'));
    await write('k');
    expect(index.has('k')).toBe(false);

    // A delete of an absent id is a no-op, not a failure.
    const again = await write('k');
    expect(again.batchItemFailures).toEqual([]);
    expect(index.has('k')).toBe(false);

    table.set('k', { ...item('k', 'order'), total: { N: '3' } });
    await write('k');
    expect(index.get('k')).toEqual({ id: 'k', pk: 'k', type: 'order', total: 3 });
  });

  it("indexes the lag check's canary whatever the filter", async () => {
    const { table, index, canaries, write } = world();
    table.set(CANARY_KEY_VALUE, canaryItem(['pk'], 1_700_000_009_000));
    await write(CANARY_KEY_VALUE);
    expect(canaries).toEqual([JSON.stringify({ id: CANARY_KEY_VALUE, sentAt: 1_700_000_009_000 })]);
    expect(index.size).toBe(0);
  });

  it("during a re-sync, an item that stops matching is deleted from the new collection and tombstoned for the finish's re-check", async () => {
    const { table, resyncIndex, tombstones, write } = world(true);
    table.set('k', item('k', 'order'));
    await write('k');
    expect(resyncIndex.has('k')).toBe(true);
    table.set('k', item('k', 'customer'));
    await write('k');
    expect(resyncIndex.has('k')).toBe(false);
    expect(tombstones).toEqual([{ id: 'k', key: { pk: { S: 'k' } } }]);
  });
});
