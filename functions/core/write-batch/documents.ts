import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { buildAggregate, PARTITION_READS } from '../aggregate.ts';
import type { CircuitBreaker } from '../breaker.ts';
import { canaryDocument, isCanaryId } from '../canary.ts';
import { ProjectionError } from '../errors.ts';
import { documentId } from '../keys.ts';
import { inParallel } from '../parallel.ts';
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
  /** An aggregated index's partitions as they are now, by document id (empty when gone). */
  partitions?: Map<string, Record<string, AttributeValue>[]>;
  resync: ActiveResync | undefined;
}

/** The current items of every changed key: one BatchGetItem for them all, or one Query per partition. */
async function readSource(
  pending: readonly Pending[],
  ports: WriterPorts,
  options: Pick<WriterOptions, 'keyAttributes' | 'aggregation'>,
): Promise<Omit<CurrentState, 'resync'>> {
  const { aggregation, keyAttributes } = options;
  const { readPartition } = ports;
  if (aggregation === undefined || readPartition === undefined) {
    const items = await ports.readItems(pending.map(({ change }) => change.key));
    return { current: new Map(items.map((item) => [documentId(item, keyAttributes), item])) };
  }
  // One more than the limit: enough to tell a partition over it without reading all of it.
  const read = await inParallel(pending, PARTITION_READS, ({ change }) =>
    readPartition(change.key, aggregation.maxItems + 1),
  );
  return {
    current: new Map(),
    partitions: new Map(pending.map(({ change }, at) => [change.id, read[at] ?? []])),
  };
}

/** Re-reads the items of every changed key (strongly consistent) and the running re-sync, if any. */
export async function readCurrent(
  pending: readonly Pending[],
  ports: WriterPorts,
  options: Pick<WriterOptions, 'keyAttributes' | 'aggregation'>,
  ledger: BatchLedger,
): Promise<CurrentState | undefined> {
  try {
    // The re-sync pointer is read after these messages were received, so any change newer than
    // what a re-sync scanned is also written to its collection (see functions/core/resync.ts).
    const [source, active] = await Promise.all([readSource(pending, ports, options), ports.resync?.active()]);
    return { ...source, resync: active };
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
 * projection's filter or the app's transform leaves it out, or a heartbeat; for an aggregated index, the
 * partition's aggregate (functions/core/aggregate.ts). An item the projection or the transform refuses is
 * dead-lettered with the reason (`projection`, `transform-error`), and so is a partition the aggregation
 * refuses (`aggregate-too-large`, `aggregate-invalid`).
 */
export function planWrites(
  pending: readonly Pending[],
  state: Omit<CurrentState, 'resync'>,
  options: Pick<WriterOptions, 'keyAttributes' | 'projection' | 'transform' | 'aggregation'>,
  ledger: BatchLedger,
): PlannedWrites {
  const plan: PlannedWrites = { upserts: [], deletes: [], canaries: [] };
  const { aggregation } = options;
  for (const entry of pending) {
    const items = aggregation === undefined ? undefined : (state.partitions?.get(entry.change.id) ?? []);
    const item = items === undefined ? state.current.get(entry.change.id) : items[0];
    if (isCanaryId(entry.change.id)) {
      // The lag check names its canary by the table's whole key, whatever the changes' key.
      const canaryKeys =
        aggregation === undefined ? options.keyAttributes : [aggregation.partitionKey, aggregation.sortKey];
      const document = item === undefined ? undefined : canaryDocument(item, canaryKeys);
      if (document !== undefined) plan.canaries.push({ entry, line: JSON.stringify(document) });
      continue;
    }
    if (item === undefined) {
      plan.deletes.push(entry);
      continue;
    }
    try {
      const document =
        items === undefined || aggregation === undefined
          ? buildDocument(item, options.keyAttributes, options.projection, options.transform)
          : buildAggregate(items, aggregation, options.projection, options.transform);
      // An item the filter leaves out is not in the index: deleting its id (a no-op where absent) takes
      // out an item that stopped matching; so is a partition without its parent.
      if (document === undefined) plan.deletes.push(entry);
      else plan.upserts.push({ entry, line: documentJson(document) });
    } catch (error) {
      if (!(error instanceof ProjectionError)) throw error;
      ledger.deadLetter(entry, error.code, error.message);
    }
  }
  return plan;
}
