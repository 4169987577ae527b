import type { MarshalledKey } from '../../../functions/core/change.ts';
import type { Drift } from '../../../functions/core/diff.ts';
import { keysOfDocumentId } from '../../../functions/core/document-id.ts';
import { documentId, KeyError, type KeyType, keyOfDocumentId } from '../../../functions/core/keys.ts';
import { inParallel } from '../../../functions/core/parallel.ts';
import { readItemsConsistently, readPartitionConsistently } from '../../../functions/shared/aws.ts';
import { changeOfKey, enqueueChanges } from '../../../functions/shared/enqueue.ts';
import { type Settlement, waitForSettlement } from './redrive.ts';
import { type Connection, changeKeysOf } from './target.ts';
import { tableKeyTypes } from './verify.ts';

export interface RepairReport {
  /** Keys put back through the pipeline. */
  enqueued: number;
  /** Extra documents deleted by id: no key of the table has that id under the index's id rule. */
  deletedById: string[];
  failed: { id: string; reason: string }[];
  settlement: Settlement | undefined;
}

/** The keys among `keys` (change keys: the partition key alone for an aggregated index) the table holds now. */
async function heldKeys(
  connection: Connection,
  keys: readonly MarshalledKey[],
  keyAttributes: readonly string[],
) {
  const { dynamodb, target } = connection;
  if (target.aggregate !== undefined) {
    const readPartition = readPartitionConsistently(dynamodb, target.tableName);
    const read = await inParallel(keys, 8, (key) => readPartition(key, 1));
    return new Set(
      keys.filter((_, at) => (read[at] ?? []).length > 0).map((key) => documentId(key, keyAttributes)),
    );
  }
  const items = await readItemsConsistently(dynamodb, target.tableName)([...keys]);
  return new Set(items.map((item) => documentId(item, keyAttributes)));
}

/**
 * The keys whose changes repair these document ids. Under the default id rule, each id's key. Under
 * `projection.id` an id may come from several keys (keysOfDocumentId): those the table holds are
 * enqueued (the writer rewrites or, for two, reports their collision); when it holds none, one of them,
 * whose change deletes the id. An id no key of the table can have (written under another rule, or by
 * hand) is `unrecoverable`.
 */
export async function keysToRepair(
  connection: Connection,
  ids: readonly string[],
  keyAttributes: readonly string[],
  keyTypes: readonly KeyType[],
): Promise<{ keys: MarshalledKey[]; unrecoverable: string[] }> {
  const { projection } = connection.target;
  if (projection?.id === undefined)
    return { keys: ids.map((id) => keyOfDocumentId(id, keyAttributes, keyTypes)), unrecoverable: [] };
  const candidates = ids.map((id) => {
    try {
      return keysOfDocumentId(id, keyAttributes, keyTypes, projection);
    } catch (error) {
      if (error instanceof KeyError) return [];
      throw error;
    }
  });
  const held = await heldKeys(connection, candidates.flat(), keyAttributes);
  const keys: MarshalledKey[] = [];
  const unrecoverable: string[] = [];
  candidates.forEach((each, at) => {
    const present = each.filter((key) => held.has(documentId(key, keyAttributes)));
    if (present.length > 0) keys.push(...present);
    else if (each[0] !== undefined) keys.push(each[0]);
    else unrecoverable.push(ids[at] as string);
  });
  return { keys, unrecoverable };
}

/**
 * Repairs drift through the pipeline, never by writing the index directly: every drifting key goes
 * on the changes queue like a stream change, so the writer re-reads it in its serialised group and
 * writes its current state (an extra document whose item is gone is deleted the same way). The one
 * exception: an extra document whose id no key can have under the index's id rule (keysToRepair) has no
 * key to serialise with; it is deleted by id.
 */
export async function repairDrift(
  connection: Connection,
  drift: Drift,
  waitMs: number,
): Promise<RepairReport> {
  const { target } = connection;
  // An aggregate's id is its partition's: its change names the partition, as the batcher's do.
  const keyAttributes = changeKeysOf(target);
  const keyTypes = await tableKeyTypes(connection.dynamodb, target.tableName, keyAttributes);
  const now = Date.now();
  const ids = [...drift.missing, ...drift.stale.map(({ id }) => id), ...drift.extra];
  const { keys, unrecoverable } = await keysToRepair(connection, ids, keyAttributes, keyTypes);
  const extra = new Set(drift.extra);
  const deletedById = unrecoverable.filter((id) => extra.has(id));
  if (deletedById.length > 0)
    await connection.typesense.deleteByIds(target.typesense.collection, deletedById);
  const changes = keys.map((key) => changeOfKey(key, keyAttributes, now));
  const result = await enqueueChanges(connection.sqs, target, changes, now);
  const settlement =
    waitMs > 0 && result.enqueued.length > 0
      ? await waitForSettlement(connection, result.enqueued, waitMs)
      : undefined;
  return {
    enqueued: result.enqueued.length,
    deletedById,
    failed: [
      ...result.failed,
      ...unrecoverable
        .filter((id) => !extra.has(id))
        .map((id) => ({ id, reason: 'no key of the table has this document id under projection.id' })),
    ],
    settlement,
  };
}
