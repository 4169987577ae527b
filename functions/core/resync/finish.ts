import { buildAggregate } from '../aggregate.ts';
import type { MarshalledKey } from '../change.ts';
import { indexDocumentId } from '../document-id.ts';
import { ProjectionError } from '../errors.ts';
import { inParallel } from '../parallel.ts';
import { buildDocument } from '../transform.ts';
import { readPartitions } from './backfill.ts';
import {
  abandon,
  type DeletedKey,
  FINISH_RECHECK_SECONDS,
  MAX_FINISH_CHECKS,
  type RecheckProgress,
  type Rejection,
  ResyncError,
  type ResyncJob,
  type ResyncOptions,
  type ResyncPorts,
  SWAP_LEASE_MS,
  TASK_RESERVE_MS,
  timeLeft,
  versionedPattern,
} from './model.ts';

/*
 * The finish of a backfilled job: the re-check of keys deleted during the backfill (in saved chunks,
 * handed on before the invocation ends, so it cannot stall silently), the swap of the alias, and the
 * pruning of collections beyond the ones kept for rollback.
 */

/** Tombstones re-checked per chunk (one BatchGetItem) and saved as progress after each. */
export const RECHECK_CHUNK = 100;
/** Typesense look-ups in flight while a chunk is re-checked. */
export const RECHECK_CONCURRENCY = 8;

export type FinishOutcome = 'swapped' | 'continued' | 'waiting' | 'stopped' | 'failed';

/**
 * Completes a backfilled job: waits until no key deleted during the backfill is back in the new
 * collection (a re-check in saved chunks, handed on to follow-up tasks), fails it if anything is
 * still rejected, swaps the alias, releases the pointer and drops versioned collections beyond the
 * ones kept for rollback. Safe to run twice and concurrently.
 */
export async function finishResync(
  jobId: string,
  ports: ResyncPorts,
  options: ResyncOptions,
): Promise<FinishOutcome> {
  const { store } = ports;
  const started = ports.now();
  await store.transition(jobId, ['backfilling'], {
    phase: 'finishing',
    updatedAt: started,
    lastProgressAt: started,
  });
  const job = await store.getJob(jobId);
  if (job?.phase !== 'finishing' && job?.phase !== 'swapping') return 'stopped';
  if (job.phase === 'finishing') {
    const rechecked = await recheckDeletes(job, ports, {
      keyAttributes: options.keyAttributes,
      ...(options.aggregation === undefined ? {} : { aggregation: options.aggregation }),
      projection: options.projection,
      transform: options.transform,
      maxPasses: MAX_FINISH_CHECKS,
      recheckDelaySeconds: FINISH_RECHECK_SECONDS,
    });
    if (rechecked.outcome === 'exhausted') {
      await abandon(
        ports,
        job,
        'failed',
        `${rechecked.found} keys deleted during the backfill are still in the new collection after ${MAX_FINISH_CHECKS} checks (is the writer stuck?)`,
      );
      return 'failed';
    }
    if (rechecked.outcome !== 'clear') return rechecked.outcome;
    // Checked after the re-check: a rejection fixed meanwhile (a later successful write) is gone.
    const rejections = await store.listRejections(jobId, 1);
    if (rejections.length > 0) {
      const [first] = rejections as [Rejection];
      await abandon(
        ports,
        job,
        'failed',
        `documents were rejected by the new collection; first: ${first.id}: ${first.reason}`,
      );
      return 'failed';
    }
  }
  return swap(job, ports, options);
}

/**
 * Claims the swap (exactly one finish task wins; a cancel that came first wins over all of them),
 * then points the alias at the new collection. The replaced collection is recorded with the claim,
 * so a finisher that takes over a dead one's claim still knows it.
 */
async function swap(job: ResyncJob, ports: ResyncPorts, options: ResyncOptions): Promise<FinishOutcome> {
  const { store, typesense } = ports;
  const { jobId } = job;
  const before = (await typesense.getAlias(job.alias))?.collection_name;
  const claimedAt = ports.now();
  const claim: Partial<ResyncJob> = {
    phase: 'swapping',
    updatedAt: claimedAt,
    lastProgressAt: claimedAt,
    ...(before === undefined || before === job.collection ? {} : { previous: before }),
  };
  let leaseAt = claimedAt;
  if (!(await store.transition(jobId, ['finishing'], claim))) {
    const current = await store.getJob(jobId);
    if (current?.phase !== 'swapping') return 'stopped';
    if (ports.now() - current.updatedAt < SWAP_LEASE_MS)
      throw new ResyncError(`re-sync ${jobId} is being swapped by another finish task`);
    // The claim's holder went silent: take it over, unless a cancel or another finisher did first.
    const renewed = { updatedAt: ports.now() };
    if (!(await store.transition(jobId, ['swapping'], renewed, { updatedAt: current.updatedAt })))
      return 'stopped';
    leaseAt = renewed.updatedAt;
  }
  // v27-v29 keep synonyms and overrides per collection: the new one gets the live one's before it serves.
  if (before !== undefined && before !== job.collection)
    await typesense.copySearchSettings?.(before, job.collection);
  // The lease renewed right before the swap, on condition that nobody took the claim meanwhile (the copy
  // above may outlast the lease): a cancel that took over an expired claim wins.
  if (!(await store.transition(jobId, ['swapping'], { updatedAt: ports.now() }, { updatedAt: leaseAt })))
    return 'stopped';
  const claimed = await store.getJob(jobId);
  if (claimed?.phase !== 'swapping') return 'stopped';
  await typesense.upsertAlias(job.alias, job.collection);
  const now = ports.now();
  await store.transition(jobId, ['swapping'], {
    phase: 'done',
    swappedAt: now,
    finishedAt: now,
    updatedAt: now,
    lastProgressAt: now,
  });
  await store.release(jobId);
  await pruneCollections(claimed, ports, options.keepCollections);
  return 'swapped';
}

/**
 * Drops versioned collections of the job's alias beyond the newest `keep` besides the live one. The
 * job's `previous` collection is never dropped: it is what `resync rollback` returns to, and after
 * earlier rollbacks it may be older than the ones kept.
 */
async function pruneCollections(job: ResyncJob, ports: ResyncPorts, keep: number): Promise<string[]> {
  const pattern = versionedPattern(job.alias);
  const older = (await ports.typesense.listCollections())
    .map(({ name }) => name)
    .filter((name) => pattern.test(name) && name !== job.collection)
    .sort()
    .reverse();
  const dropped = older.slice(keep).filter((name) => name !== job.previous);
  for (const name of dropped) await ports.typesense.deleteCollection(name);
  return dropped;
}

/**
 * The chunk's keys that the index should not hold but the new collection does: deleted (or left out
 * by the projection's filter or the transform), then resurrected by an older copy from the backfill.
 */
async function resurrectedIn(
  job: ResyncJob,
  chunk: readonly DeletedKey[],
  ports: ResyncPorts,
  options: RecheckOptions,
): Promise<MarshalledKey[]> {
  if (chunk.length === 0) return [];
  const present = await indexedIds(chunk, ports, options);
  const absent = chunk.filter(({ id }) => !present.has(id));
  const held = await inParallel(
    absent,
    RECHECK_CONCURRENCY,
    async ({ id }) => (await ports.typesense.getDocument(job.collection, id)) !== undefined,
  );
  return absent.filter((_, index) => held[index]).map(({ key }) => key);
}

/**
 * The document ids (tombstones are named by them: the projection's id rule) of the chunk's keys the index should hold now: from one BatchGetItem of the items, or for an
 * aggregated index from a Query of each partition (its tombstones name partitions).
 */
async function indexedIds(
  chunk: readonly DeletedKey[],
  ports: ResyncPorts,
  options: RecheckOptions,
): Promise<Set<string>> {
  const { keyAttributes, projection, transform, aggregation } = options;
  if (aggregation === undefined)
    return new Set(
      (await ports.readItems(chunk.map(({ key }) => key)))
        .filter((item) => isIndexed(() => buildDocument(item, keyAttributes, projection, transform)))
        .flatMap((item) => indexDocumentId(item, keyAttributes, projection) ?? []),
    );
  const partitions = await readPartitions(
    chunk.map(({ key }) => key),
    aggregation,
    ports,
  );
  return new Set(
    chunk
      .filter((_, at) =>
        isIndexed(() => buildAggregate(partitions[at] ?? [], aggregation, projection, transform)),
      )
      .map(({ id }) => id),
  );
}

/**
 * Whether the index should hold what `build` builds: it builds a document. An item (or partition) the
 * projection, the transform or the aggregation refuses counts as held: the writer dead-letters its change
 * and leaves its document as it was.
 */
function isIndexed(build: () => unknown): boolean {
  try {
    return build() !== undefined;
  } catch (error) {
    if (error instanceof ProjectionError) return true;
    throw error;
  }
}

type RecheckOptions = Pick<ResyncOptions, 'keyAttributes' | 'projection' | 'transform' | 'aggregation'> & {
  maxPasses: number;
  recheckDelaySeconds: number;
};

export type RecheckOutcome =
  /** A whole pass found no deleted key back: the job may swap. */
  | { outcome: 'clear' }
  /** Handed on to a follow-up task (time), or another finish task moved the re-check on. */
  | { outcome: 'continued' | 'stopped' }
  /** Keys were found and re-applied; a new pass is queued after a delay. */
  | { outcome: 'waiting'; pass: number }
  /** Keys were still found after `maxPasses` passes. */
  | { outcome: 'exhausted'; found: number };

/**
 * One finish task's share of the re-check: chunk by chunk from the saved progress, each chunk's
 * look-ups in parallel, the progress saved after each chunk (guarded by its step, so of two finish
 * tasks only one moves on). Hands on to a follow-up task before the invocation runs out.
 */
export async function recheckDeletes(
  job: ResyncJob,
  ports: ResyncPorts,
  options: RecheckOptions,
): Promise<RecheckOutcome> {
  const { store } = ports;
  let guard: number | null = job.recheck?.step ?? null;
  let recheck: RecheckProgress = job.recheck ?? {
    pass: 1,
    step: 0,
    checked: 0,
    total: await store.countDeletes(job.jobId),
    found: 0,
  };
  const save = async (next: RecheckProgress, fields: Partial<ResyncJob> = {}) => {
    const now = ports.now();
    const saved = await store.transition(
      job.jobId,
      ['finishing'],
      { ...fields, recheck: next, lastProgressAt: now, updatedAt: now },
      { recheckStep: guard },
    );
    guard = next.step;
    recheck = next;
    return saved;
  };
  for (;;) {
    if (timeLeft(ports) < TASK_RESERVE_MS) {
      await ports.sendTasks([{ action: 'finish', jobId: job.jobId }]);
      return { outcome: 'continued' };
    }
    const chunk = await store.listDeletes(job.jobId, {
      ...(recheck.after === undefined ? {} : { after: recheck.after }),
      limit: RECHECK_CHUNK,
    });
    const back = await resurrectedIn(job, chunk, ports, options);
    // Put back on the changes queue in their own message groups: serialised with later changes.
    if (back.length > 0) await ports.enqueueKeys(back);
    const found = recheck.found + back.length;
    const last = chunk.at(-1);
    if (chunk.length === RECHECK_CHUNK && last !== undefined) {
      const next = {
        ...recheck,
        step: recheck.step + 1,
        after: last.id,
        checked: recheck.checked + chunk.length,
        found,
      };
      if (!(await save(next))) return { outcome: 'stopped' };
      continue;
    }
    if (found === 0) return { outcome: 'clear' };
    if (recheck.pass >= options.maxPasses) return { outcome: 'exhausted', found };
    const next: RecheckProgress = {
      pass: recheck.pass + 1,
      step: recheck.step + 1,
      checked: 0,
      total: await store.countDeletes(job.jobId),
      found: 0,
    };
    if (!(await save(next, { finishChecks: recheck.pass }))) return { outcome: 'stopped' };
    await ports.sendTasks([{ action: 'finish', jobId: job.jobId }], options.recheckDelaySeconds);
    return { outcome: 'waiting', pass: recheck.pass };
  }
}
