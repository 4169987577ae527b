import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { CircuitBreaker } from '../breaker.ts';
import { canaryDocument, isCanaryId } from '../canary.ts';
import { ProjectionError } from '../errors.ts';
import { documentId } from '../keys.ts';
import { documentJson } from '../project.ts';
import type { ActiveResync } from '../resync/model.ts';
import { buildDocument } from '../transform.ts';
import type { WriterOptions, WriterPorts } from '../write-batch.ts';
import { type BatchLedger, type Pending, reasonOf } from './ledger.ts';

/**
 * Whether the batch may write to Typesense: not through an open circuit, nor through a half-open one
 * whose health probe fails. Without it every change fails, to be retried after the circuit's wait.
 */
export async function circuitAllows(
  pending: readonly Pending[],
  ports: WriterPorts,
  breaker: CircuitBreaker | undefined,
  ledger: BatchLedger,
): Promise<boolean> {
  let mayWrite = pending.length > 0;
  if (mayWrite && breaker !== undefined && !breaker.allowRequest()) mayWrite = false;
  else if (mayWrite && breaker?.state === 'half-open' && ports.health !== undefined) {
    // The health answer tells an outage from a lossy but working server (see CircuitBreaker).
    const healthy = await ports.health();
    breaker.recordHealth(healthy);
    if (!healthy) mayWrite = false;
  }
  if (!mayWrite)
    ledger.fail(pending, 'circuit open: Typesense is unavailable, waiting for the next health probe');
  return mayWrite;
}

export interface CurrentState {
  /** The items as they are now, by document id; a key without an item was deleted. */
  current: Map<string, Record<string, AttributeValue>>;
  resync: ActiveResync | undefined;
}

/** Re-reads the items of every changed key (strongly consistent) and the running re-sync, if any. */
export async function readCurrent(
  pending: readonly Pending[],
  ports: WriterPorts,
  keyAttributes: readonly string[],
  ledger: BatchLedger,
): Promise<CurrentState | undefined> {
  try {
    // The re-sync pointer is read after these messages were received, so any change newer than
    // what a re-sync scanned is also written to its collection (see functions/core/resync.ts).
    const [items, active] = await Promise.all([
      ports.readItems(pending.map(({ change }) => change.key)),
      ports.resync?.active(),
    ]);
    return { current: new Map(items.map((item) => [documentId(item, keyAttributes), item])), resync: active };
  } catch (error) {
    ledger.fail(pending, `reading the source or the re-sync state failed: ${reasonOf(error)}`);
    return undefined;
  }
}

export type DocumentLine = { entry: Pending; line: string };

export interface PlannedWrites {
  upserts: DocumentLine[];
  deletes: Pending[];
  /** The lag check's heartbeats, for its own collection. */
  canaries: DocumentLine[];
}

/**
 * What each changed key becomes: its item's document (upsert), a delete when the item is gone or the
 * projection's filter or the app's transform leaves it out, or a heartbeat. An item the projection or the
 * transform refuses is dead-lettered with the reason (`projection`, `transform-error`).
 */
export function planWrites(
  pending: readonly Pending[],
  current: CurrentState['current'],
  options: Pick<WriterOptions, 'keyAttributes' | 'projection' | 'transform'>,
  ledger: BatchLedger,
): PlannedWrites {
  const plan: PlannedWrites = { upserts: [], deletes: [], canaries: [] };
  for (const entry of pending) {
    const item = current.get(entry.change.id);
    if (isCanaryId(entry.change.id)) {
      const document = item === undefined ? undefined : canaryDocument(item, options.keyAttributes);
      if (document !== undefined) plan.canaries.push({ entry, line: JSON.stringify(document) });
      continue;
    }
    if (item === undefined) {
      plan.deletes.push(entry);
      continue;
    }
    try {
      const document = buildDocument(item, options.keyAttributes, options.projection, options.transform);
      // An item the filter leaves out is not in the index: deleting its id (a no-op where absent) takes
      // out an item that stopped matching.
      if (document === undefined) plan.deletes.push(entry);
      else plan.upserts.push({ entry, line: documentJson(document) });
    } catch (error) {
      if (!(error instanceof ProjectionError)) throw error;
      ledger.deadLetter(entry, error.code, error.message);
    }
  }
  return plan;
}
