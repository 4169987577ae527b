import type { Drift } from '../../../functions/core/diff.ts';
import { keyOfDocumentId } from '../../../functions/core/keys.ts';
import { changeOfKey, enqueueChanges } from '../../../functions/shared/enqueue.ts';
import { type Settlement, waitForSettlement } from './redrive.ts';
import { type Connection, changeKeysOf } from './target.ts';
import { tableKeyTypes } from './verify.ts';

export interface RepairReport {
  /** Keys put back through the pipeline. */
  enqueued: number;
  failed: { id: string; reason: string }[];
  settlement: Settlement | undefined;
}

/**
 * Repairs drift through the pipeline, never by writing the index directly: every drifting key goes
 * on the changes queue like a stream change, so the writer re-reads it in its serialised group and
 * writes its current state (an extra document whose item is gone is deleted the same way).
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
  const changes = [...drift.missing, ...drift.stale.map(({ id }) => id), ...drift.extra].map((id) =>
    changeOfKey(keyOfDocumentId(id, keyAttributes, keyTypes), keyAttributes, now),
  );
  const result = await enqueueChanges(connection.sqs, target, changes, now);
  const settlement =
    waitMs > 0 && result.enqueued.length > 0
      ? await waitForSettlement(connection, result.enqueued, waitMs)
      : undefined;
  return { enqueued: result.enqueued.length, failed: result.failed, settlement };
}
