import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { buildAggregate, PARTITION_READS } from '../aggregate.ts';
import type { CircuitBreaker } from '../breaker.ts';
import { canaryDocument, isCanaryId } from '../canary.ts';
import { idCollision, indexDocumentId } from '../document-id.ts';
import { ProjectionError } from '../errors.ts';
import { documentId } from '../keys.ts';
import { inParallel } from '../parallel.ts';
import { documentJson, type TypesenseDocument } from '../project.ts';
import type { ActiveResync } from '../resync/model.ts';
import { buildDocument } from '../transform.ts';
import type { WriterOptions, WriterPorts } from '../write-batch.ts';
import { type BatchLedger, type Pending, type Placed, reasonOf } from './ledger.ts';

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

export type DocumentLine = { entry: Placed; line: string };

export interface PlannedWrites {
  upserts: DocumentLine[];
  deletes: Placed[];
  /** The lag check's heartbeats, for its own collection. */
  canaries: DocumentLine[];
}

type PlanOptions = Pick<WriterOptions, 'keyAttributes' | 'projection' | 'transform' | 'aggregation'>;

/** What one changed key becomes: its document, or undefined (a delete); throws what the build throws. */
function documentOf(entry: Pending, state: Omit<CurrentState, 'resync'>, options: PlanOptions) {
  const { aggregation } = options;
  if (aggregation === undefined) {
    const item = state.current.get(entry.change.id);
    return item === undefined
      ? undefined
      : buildDocument(item, options.keyAttributes, options.projection, options.transform);
  }
  const items = state.partitions?.get(entry.change.id) ?? [];
  return items.length === 0
    ? undefined
    : buildAggregate(items, aggregation, options.projection, options.transform);
}

/** A heartbeat's line for the lag check's collection, named by the table's whole key whatever the changes' key. */
function canaryLine(entry: Pending, state: Omit<CurrentState, 'resync'>, options: PlanOptions) {
  const { aggregation } = options;
  const item =
    aggregation === undefined
      ? state.current.get(entry.change.id)
      : state.partitions?.get(entry.change.id)?.[0];
  const canaryKeys =
    aggregation === undefined ? options.keyAttributes : [aggregation.partitionKey, aggregation.sortKey];
  const document = item === undefined ? undefined : canaryDocument(item, canaryKeys);
  return document === undefined
    ? undefined
    : { entry: { ...entry, documentId: document.id }, line: JSON.stringify(document) };
}

type Built = { entry: Placed; document: TypesenseDocument | undefined };

/**
 * The changed keys that share one document id (the projection's id rule), built: one key's document is
 * written, or the id deleted when no key has one. Two or more keys with a document collide: each is
 * dead-lettered (`id-collision`, naming every key) and the document left as it is. A key without a document
 * beside one with a document owns nothing there: its change is done without a write.
 */
function planDocumentId(built: readonly Built[], plan: PlannedWrites, ledger: BatchLedger): void {
  const withDocument = built.filter(
    (each): each is Built & { document: TypesenseDocument } => each.document !== undefined,
  );
  const [first] = withDocument;
  if (first === undefined) {
    plan.deletes.push(...built.map(({ entry }) => entry));
    return;
  }
  if (withDocument.length === 1)
    plan.upserts.push({ entry: first.entry, line: documentJson(first.document) });
  else {
    const collision = idCollision(
      first.entry.documentId,
      withDocument.map(({ entry }) => entry.change.id),
    );
    for (const { entry } of withDocument) ledger.deadLetter(entry, collision.code, collision.message);
  }
  ledger.applied.push(...built.filter(({ document }) => document === undefined).map(({ entry }) => entry));
}

/**
 * What each changed key becomes: its item's document (upsert), a delete when the item is gone or the
 * projection's filter or the app's transform leaves it out, or a heartbeat; for an aggregated index, the
 * partition's aggregate (functions/core/aggregate.ts). An item the projection or the transform refuses is
 * dead-lettered with the reason (`projection`, `transform-error`), and so is a partition the aggregation
 * refuses (`aggregate-too-large`, `aggregate-invalid`), and keys whose documents share one id
 * (`id-collision`, see planDocumentId). A key the id rule leaves out of the index is done without a write.
 */
export function planWrites(
  pending: readonly Pending[],
  state: Omit<CurrentState, 'resync'>,
  options: PlanOptions,
  ledger: BatchLedger,
): PlannedWrites {
  const plan: PlannedWrites = { upserts: [], deletes: [], canaries: [] };
  const byDocumentId = new Map<string, Built[]>();
  for (const entry of pending) {
    if (isCanaryId(entry.change.id)) {
      const canary = canaryLine(entry, state, options);
      if (canary !== undefined) plan.canaries.push(canary);
      continue;
    }
    const documentId = indexDocumentId(entry.change.key, options.keyAttributes, options.projection);
    if (documentId === undefined) {
      ledger.applied.push(entry);
      continue;
    }
    try {
      // An item the filter leaves out is not in the index: deleting its id (a no-op where absent) takes
      // out an item that stopped matching; so is a partition without its parent.
      const built = { entry: { ...entry, documentId }, document: documentOf(entry, state, options) };
      byDocumentId.set(documentId, [...(byDocumentId.get(documentId) ?? []), built]);
    } catch (error) {
      if (!(error instanceof ProjectionError)) throw error;
      ledger.deadLetter(entry, error.code, error.message);
    }
  }
  for (const built of byDocumentId.values()) planDocumentId(built, plan, ledger);
  return plan;
}
