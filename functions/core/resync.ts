import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { isCanaryItem } from './canary.ts';
import type { MarshalledKey } from './change.ts';
import { OperatorError, ProjectionError } from './errors.ts';
import { type Projection, projectItem } from './project.ts';
import { importWithRetries, recheckDeletes, TASK_RESERVE_MS, timeLeft } from './resync-steps.ts';

export { RECHECK_CHUNK, TASK_RESERVE_MS } from './resync-steps.ts';

/*
 * Zero-downtime full re-sync. How it stays consistent with the stream (README, "Full re-sync"):
 * 1. The new collection is created, then the job is recorded as *active*. From then on every writer
 *    batch (which reads the active pointer after receiving its messages) writes each change to the
 *    live alias and to the new collection.
 * 2. Segments scan the table (consistent reads) and import with `action=create`: a document the
 *    writer already put there is newer than the scanned copy, and `create` refuses to overwrite it
 *    (409, counted as `skipped`); a scanned copy imported first is overwritten by the writer's later
 *    upsert.
 * 3. The one race `create` cannot close is a delete applied before the import of an older scanned
 *    copy. The writer records every key it deletes during a re-sync (a tombstone); before the swap
 *    the finisher re-checks those keys and re-applies any that came back through the changes queue,
 *    in the key's own message group, so the fix is serialised with the key's later changes.
 * 4. The alias is swapped in one request, then the pointer is released.
 */

/** Anything wrong with a re-sync request or its state: says what, and what to do. */
export class ResyncError extends OperatorError {
  override name = 'ResyncError';
}

export type ResyncPhase = 'backfilling' | 'finishing' | 'swapping' | 'done' | 'failed' | 'cancelled';
export type ResyncTrigger = 'schedule' | 'operator' | 'stream-gap' | 'drift';

/** Phases a job never leaves. */
export const FINISHED_PHASES: ReadonlySet<ResyncPhase> = new Set(['done', 'failed', 'cancelled']);

/** What the writer needs to know while a re-sync runs. */
export interface ActiveResync {
  jobId: string;
  collection: string;
}

export interface ResyncJob {
  jobId: string;
  alias: string;
  /** The new, versioned collection. */
  collection: string;
  phase: ResyncPhase;
  trigger: ResyncTrigger;
  totalSegments: number;
  /** DescribeTable's item count at the start (updated by DynamoDB about every 6 hours). */
  estimatedItems?: number;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** The collection the alias pointed at before the swap: the rollback target. */
  previous?: string;
  swappedAt?: number;
  rolledBackAt?: number;
  /** Times the finisher found deleted keys back in the new collection and waited for their fix. */
  finishChecks?: number;
  /** The finisher's re-check of deleted keys, saved after every chunk so a follow-up task resumes it. */
  recheck?: RecheckProgress;
  /** When a segment page, a re-check chunk or a finish step last completed: a stall shows as its age. */
  lastProgressAt?: number;
  /** Why the job failed or was cancelled. */
  message?: string;
  /** Set when this start lost the claim to that running job (a duplicate start): it never ran. */
  duplicateOf?: string;
}

export interface RecheckProgress {
  /** 1 for the first look at the tombstones; each look after re-applying found keys is a new pass. */
  pass: number;
  /** Counts saved chunks: the guard that keeps two finish tasks from both moving the re-check on. */
  step: number;
  /** The last tombstone id checked in this pass; absent at its start. */
  after?: string;
  checked: number;
  /** Tombstones when the pass began (the writer may add more; those came after the backfill). */
  total: number;
  /** Deleted keys found back in the new collection in this pass, and re-applied. */
  found: number;
}

export interface SegmentState {
  segment: number;
  /** Where the next page starts (the Scan's LastEvaluatedKey); absent before the first page. */
  lastKey?: MarshalledKey;
  done: boolean;
  pages: number;
  scanned: number;
  indexed: number;
  /** Scanned items the stream had already written to the new collection (a newer state). */
  skipped: number;
}

export interface Rejection {
  id: string;
  reason: string;
  /** When the rejected state was written (ms): only a later successful write of the id clears it. */
  at?: number;
}

/** Extra conditions of a `transition`, for writers that may race (finish tasks, cancel). */
export interface TransitionGuard {
  /** The job's `updatedAt` must still be this (a swap claim nobody renewed). */
  updatedAt?: number;
  /** The saved re-check must still be at this step; null: none saved yet. */
  recheckStep?: number | null;
}

export interface DeletedKey {
  id: string;
  key: MarshalledKey;
}

/** The re-sync's bookkeeping (a small DynamoDB table in production). */
export interface ResyncStore {
  active(): Promise<ActiveResync | undefined>;
  /** Makes `active` the one running re-sync; returns the holder instead when another one is. */
  claim(active: ActiveResync): Promise<ActiveResync | undefined>;
  release(jobId: string): Promise<void>;
  putJob(job: ResyncJob): Promise<void>;
  getJob(jobId: string): Promise<ResyncJob | undefined>;
  /** Newest first. */
  latestJobs(limit: number): Promise<ResyncJob[]>;
  /** Sets `fields` only when the job is in one of `from` (and `guard` holds); false when not. */
  transition(
    jobId: string,
    from: readonly ResyncPhase[],
    fields: Partial<ResyncJob>,
    guard?: TransitionGuard,
  ): Promise<boolean>;
  /**
   * Writes a segment's checkpoint. With `previousPages`, only if the stored checkpoint is still at
   * that page (false otherwise): a duplicate delivery of a segment task then stops instead of
   * running the segment twice.
   */
  putSegment(jobId: string, segment: SegmentState, previousPages?: number): Promise<boolean>;
  getSegment(jobId: string, segment: number): Promise<SegmentState | undefined>;
  listSegments(jobId: string): Promise<SegmentState[]>;
  recordDeletes(jobId: string, keys: readonly DeletedKey[]): Promise<void>;
  /** In id order; `after` and `limit` page through them. */
  listDeletes(jobId: string, page?: { after?: string; limit?: number }): Promise<DeletedKey[]>;
  countDeletes(jobId: string): Promise<number>;
  recordRejections(jobId: string, rejections: readonly Rejection[]): Promise<void>;
  listRejections(jobId: string, limit: number): Promise<Rejection[]>;
  /**
   * Drops the rejections of these ids recorded before `before` (ms): a later successful write of the
   * id replaced the rejected state. Returns how many it dropped.
   */
  clearRejections(jobId: string, ids: readonly string[], before: number): Promise<number>;
}

type ImportLine = { success: true } | { success: false; code: number; error: string };

export interface CollectionDefinition {
  fields: Record<string, unknown>[];
  [key: string]: unknown;
}

/** The Typesense calls a re-sync makes (a subset of `TypesenseClient`). */
export interface ResyncTypesense {
  createCollection(schema: CollectionDefinition & { name: string }): Promise<unknown>;
  getCollection(name: string): Promise<(CollectionDefinition & { name: string }) | undefined>;
  deleteCollection(name: string): Promise<unknown>;
  listCollections(): Promise<{ name: string }[]>;
  getAlias(alias: string): Promise<{ collection_name: string } | undefined>;
  upsertAlias(alias: string, collection: string): Promise<unknown>;
  /** Synonyms and overrides (or, on v30, set references) of the live collection onto the new one. */
  copySearchSettings?(from: string, to: string): Promise<unknown>;
  /** `call.timeoutMs` bounds the import (a page must end before its invocation does). */
  importDocuments(
    collection: string,
    lines: string[],
    action: 'create',
    call?: { timeoutMs?: number },
  ): Promise<ImportLine[]>;
  getDocument(collection: string, id: string): Promise<Record<string, unknown> | undefined>;
}

export interface ResyncPorts {
  store: ResyncStore;
  typesense: ResyncTypesense;
  /** One page of a parallel Scan with consistent reads. */
  scanPage(
    segment: number,
    totalSegments: number,
    limit: number,
    startKey: MarshalledKey | undefined,
  ): Promise<{ items: Record<string, AttributeValue>[]; lastKey?: MarshalledKey }>;
  /** Strongly consistent reads; absent keys are missing from the result. */
  readItems(keys: MarshalledKey[]): Promise<Record<string, AttributeValue>[]>;
  estimateItemCount(): Promise<number | undefined>;
  sendTasks(tasks: readonly ResyncTask[], delaySeconds?: number): Promise<void>;
  /** Puts keys on the changes queue, each in its message group, for the writer to re-apply. */
  enqueueKeys(keys: readonly MarshalledKey[]): Promise<void>;
  now(): number;
  /** What is left of this invocation (Lambda's `getRemainingTimeInMillis`); absent: no limit. */
  remainingTimeMs?: () => number;
  /** Waits between retries; real time when absent. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ResyncOptions {
  alias: string;
  keyAttributes: readonly string[];
  projection?: Projection;
  /** The new collection's schema; default: the live collection's. */
  schema?: CollectionDefinition;
  totalSegments: number;
  pageSize: number;
  pagesPerTask: number;
  keepCollections: number;
}

const triggerSchema = z.enum(['schedule', 'operator', 'stream-gap', 'drift']);
const taskSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('start'), trigger: triggerSchema }).strict(),
  z
    .object({ action: z.literal('segment'), jobId: z.string().min(1), segment: z.number().int().min(0) })
    .strict(),
  z.object({ action: z.literal('finish'), jobId: z.string().min(1) }).strict(),
]);
export type ResyncTask = z.infer<typeof taskSchema>;

/** Parses a work-queue message; the error says what is wrong with it. */
export function parseResyncTask(body: string): ResyncTask {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ResyncError('re-sync task is not JSON');
  }
  const result = taskSchema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(task)'}: ${issue.message}`,
  );
  throw new ResyncError(`not a re-sync task: ${problems.join('; ')}`);
}

/** Sortable, readable and valid in a collection name: `r` + UTC yyyyMMddHHmmssSSS. */
export function jobIdAt(now: number): string {
  return `r${new Date(now).toISOString().replace(/\D/g, '').slice(0, 17)}`;
}

const versionedPattern = (alias: string) =>
  new RegExp(`^${alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_r\\d{17}$`);

/** How long the finisher waits for re-applied deletes before looking again, and how often. */
export const FINISH_RECHECK_SECONDS = 5;
export const MAX_FINISH_CHECKS = 60;
/** A finisher that claimed the swap and then went silent this long is presumed dead. */
export const SWAP_LEASE_MS = 60_000;

/** A live collection's schema as a new collection's: without its name and its statistics. */
export function schemaOf(info: CollectionDefinition & { name: string }): CollectionDefinition {
  const { name: _name, num_documents: _count, created_at: _created, ...schema } = info;
  return schema as CollectionDefinition;
}

export type StartResult =
  | { started: ResyncJob }
  /** Another re-sync holds the pointer; nothing was started. */
  | { running: ActiveResync };

/**
 * Starts a re-sync: the new collection, the job and its segments, the active pointer (only one
 * re-sync at a time), then one task per segment.
 */
export async function startResync(
  trigger: ResyncTrigger,
  ports: ResyncPorts,
  options: ResyncOptions,
): Promise<StartResult> {
  const { store, typesense } = ports;
  const running = await store.active();
  if (running !== undefined) return { running };

  const live = await typesense.getAlias(options.alias);
  if (live === undefined)
    throw new ResyncError(
      `alias ${options.alias} does not exist: a re-sync builds a new collection and swaps the alias to it`,
    );
  const schema = options.schema ?? (await liveSchema(typesense, live.collection_name));
  const now = ports.now();
  const jobId = jobIdAt(now);
  const collection = `${options.alias}_${jobId}`;
  await typesense.createCollection({ ...schema, name: collection });

  const estimatedItems = await ports.estimateItemCount();
  const job: ResyncJob = {
    jobId,
    alias: options.alias,
    collection,
    phase: 'backfilling',
    trigger,
    totalSegments: options.totalSegments,
    ...(estimatedItems === undefined ? {} : { estimatedItems }),
    startedAt: now,
    updatedAt: now,
  };
  await store.putJob(job);
  const segments = Array.from({ length: options.totalSegments }, (_, segment) => segment);
  for (const segment of segments)
    await store.putSegment(jobId, { segment, done: false, pages: 0, scanned: 0, indexed: 0, skipped: 0 });

  const holder = await store.claim({ jobId, collection });
  if (holder !== undefined) {
    await abandon(ports, job, 'cancelled', `re-sync ${holder.jobId} was already running`);
    // Marked so `resync status` shows the job that runs, not this one that never did.
    await store.transition(jobId, ['cancelled'], { duplicateOf: holder.jobId });
    return { running: holder };
  }
  try {
    await ports.sendTasks(segments.map((segment) => ({ action: 'segment', jobId, segment })));
  } catch (error) {
    await abandon(ports, job, 'failed', `could not queue the segments: ${(error as Error).message}`);
    throw error;
  }
  return { started: job };
}

async function liveSchema(typesense: ResyncTypesense, name: string): Promise<CollectionDefinition> {
  const info = await typesense.getCollection(name);
  if (info === undefined) throw new ResyncError(`the alias points at ${name}, which does not exist`);
  return schemaOf(info);
}

/** Ends a job that will not swap: its phase and why, the pointer released, its collection dropped. */
async function abandon(
  ports: ResyncPorts,
  job: ResyncJob,
  phase: 'failed' | 'cancelled',
  message: string,
  from: readonly ResyncPhase[] = ['backfilling', 'finishing'],
  guard?: TransitionGuard,
): Promise<boolean> {
  const now = ports.now();
  const moved = await ports.store.transition(
    job.jobId,
    from,
    { phase, message, finishedAt: now, updatedAt: now, lastProgressAt: now },
    guard,
  );
  if (!moved) return false;
  await ports.store.release(job.jobId);
  await ports.typesense.deleteCollection(job.collection).catch(() => undefined); // Already gone is fine.
  return true;
}

export type SegmentOutcome = 'continued' | 'segment-done' | 'stopped' | 'failed';

/**
 * Backfills one segment from its checkpoint, page by page: scan, project, import with `create`,
 * checkpoint. A page's checkpoint is written while the next page is imported, so a crash or timeout
 * re-runs at most those two pages (the task is redelivered; `create` makes that safe). When the
 * invocation's remaining time falls below a reserve (or after `pagesPerTask` pages) the segment
 * continues in a fresh task. Transient import failures are retried inside the task. The last
 * segment to finish queues the finish task.
 */
export async function runSegment(
  task: { jobId: string; segment: number },
  ports: ResyncPorts,
  options: ResyncOptions,
): Promise<SegmentOutcome> {
  const { store } = ports;
  let job = await store.getJob(task.jobId);
  let state = await store.getSegment(task.jobId, task.segment);
  if (job === undefined || state === undefined) return 'stopped';

  const { totalSegments } = job;
  type ScannedPage = Awaited<ReturnType<ResyncPorts['scanPage']>> & { scannedAt: number };
  const scan = (startKey: MarshalledKey | undefined): Promise<ScannedPage> => {
    const scannedAt = ports.now();
    const scanning = ports
      .scanPage(task.segment, totalSegments, options.pageSize, startKey)
      .then((page) => ({ ...page, scannedAt }));
    // A prefetched page may be abandoned when the task stops early; its failure is not news then.
    scanning.catch(() => undefined);
    return scanning;
  };
  let prefetched: Promise<ScannedPage> | undefined;
  // The previous page's checkpoint: false when another delivery of this task had moved it on.
  let checkpointed: Promise<boolean> = Promise.resolve(true);
  // The slowest page so far: the reserve must cover one more of those and its checkpoint.
  let slowestPageMs = 0;
  for (let page = 0; !state.done; page++) {
    if (job?.phase !== 'backfilling') return 'stopped';
    if (page === options.pagesPerTask || timeLeft(ports) < TASK_RESERVE_MS + 2 * slowestPageMs) {
      if (!(await checkpointed)) return 'stopped';
      await ports.sendTasks([{ action: 'segment', ...task }]);
      return 'continued';
    }
    const pageStarted = ports.now();
    const scanned: ScannedPage = await (prefetched ?? scan(state.lastKey));
    const { lastKey } = scanned;
    // The lag check's heartbeat is indexed into its own collection, never into the application's.
    const items = scanned.items.filter((item) => !isCanaryItem(item, options.keyAttributes));
    // The next page's scan overlaps this page's import and checkpoint: the scan is the slower side,
    // so this keeps it busy. It is only data; nothing is written before this page's checkpoint.
    prefetched = lastKey !== undefined && page + 1 < options.pagesPerTask ? scan(lastKey) : undefined;
    const lines: string[] = [];
    const ids: string[] = [];
    const rejections: Rejection[] = [];
    for (const item of items) {
      try {
        const document = projectItem(item, options.keyAttributes, options.projection);
        lines.push(JSON.stringify(document));
        ids.push(document.id);
      } catch (error) {
        if (!(error instanceof ProjectionError)) throw error;
        rejections.push({ id: error.id, reason: error.message, at: ports.now() });
      }
    }
    let outcomes: ImportLine[];
    let latest: ResyncJob | undefined;
    let moved: boolean;
    try {
      // The job is re-read alongside the import so a cancel is seen by the next page.
      [outcomes, latest, moved] = await Promise.all([
        lines.length === 0 ? [] : importWithRetries(job.collection, lines, ports),
        store.getJob(task.jobId),
        checkpointed,
      ]);
    } catch (error) {
      // A cancelled job's collection is gone: stop quietly rather than retry the task.
      if ((await store.getJob(task.jobId))?.phase !== 'backfilling') return 'stopped';
      throw error;
    }
    // Another delivery of this task moved the segment on: it carries on, this one stops.
    if (!moved) return 'stopped';
    let skipped = 0;
    const imported: string[] = [];
    outcomes.forEach((outcome, index) => {
      if (outcome.success) imported.push(ids[index] as string);
      else if (outcome.code === 409) skipped++;
      else
        rejections.push({
          id: ids[index] as string,
          reason: `${outcome.code}: ${outcome.error}`,
          at: ports.now(),
        });
    });
    const indexed = imported.length;
    // A rejection of an earlier state of these items (by the writer) is fixed by this import, as
    // long as it was recorded before this page was scanned: the scan then read a later state.
    if (imported.length > 0) await store.clearRejections(task.jobId, imported, scanned.scannedAt);
    if (rejections.length > 0) {
      await store.recordRejections(task.jobId, rejections.slice(0, 10));
      await abandon(
        ports,
        job,
        'failed',
        `${rejections.length} items of one page do not fit the collection schema; first: ${rejections[0]?.id}: ${rejections[0]?.reason}`,
      );
      return 'failed';
    }
    const previousPages = state.pages;
    state = {
      segment: task.segment,
      ...(lastKey === undefined ? {} : { lastKey }),
      done: lastKey === undefined,
      pages: state.pages + 1,
      scanned: state.scanned + items.length,
      indexed: state.indexed + indexed,
      skipped: state.skipped + skipped,
    };
    // Off the page's critical path: a DynamoDB round trip per page that the next import overlaps.
    // Checkpoints stay in order: each is written after the one before it was.
    const progressAt = ports.now();
    checkpointed = store.putSegment(task.jobId, state, previousPages).then(async (saved) => {
      if (saved) await store.transition(task.jobId, ['backfilling'], { lastProgressAt: progressAt });
      return saved;
    });
    slowestPageMs = Math.max(slowestPageMs, progressAt - pageStarted);
    // Awaited with the next page; not at all when the task stops early, which needs no checkpoint.
    checkpointed.catch(() => undefined);
    job = latest;
  }
  if (!(await checkpointed)) return 'stopped';

  const segments = await store.listSegments(task.jobId);
  if (segments.every((segment) => segment.done))
    await ports.sendTasks([{ action: 'finish', jobId: task.jobId }]);
  return 'segment-done';
}

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

export interface CancelOutcome {
  /**
   * `cancelled`: stopped before its swap; `released`: it had already ended, and only the active
   * pointer it left behind was released; `completed`: its swap had already happened.
   */
  action: 'cancelled' | 'released' | 'completed';
  job: ResyncJob;
}

/**
 * Cancels the running re-sync in any unfinished phase: the live alias is untouched and the partial
 * collection dropped. Every step is a conditional write, so a finish task running at the same time
 * either claimed the swap first (then cancel refuses, or completes the job if the alias already
 * moved) or never swaps. A pointer left behind by a job that already ended is released.
 */
export async function cancelResync(ports: ResyncPorts): Promise<CancelOutcome | undefined> {
  const { store } = ports;
  const active = await store.active();
  if (active === undefined) return undefined;
  const job = await store.getJob(active.jobId);
  if (job === undefined) {
    await store.release(active.jobId);
    return undefined;
  }
  const cancelled = async (from: readonly ResyncPhase[], guard?: TransitionGuard) =>
    (await abandon(ports, job, 'cancelled', 'cancelled by the operator', from, guard))
      ? { action: 'cancelled' as const, job: (await store.getJob(job.jobId)) ?? job }
      : undefined;
  if (!FINISHED_PHASES.has(job.phase)) {
    const done = await cancelled(['backfilling', 'finishing']);
    if (done !== undefined) return done;
  }
  const current = (await store.getJob(job.jobId)) ?? job;
  if (FINISHED_PHASES.has(current.phase)) return releaseLeftover(ports, current);
  // Swapping: a finish task holds the claim.
  const live = await ports.typesense.getAlias(current.alias);
  if (live?.collection_name === current.collection) {
    const now = ports.now();
    await store.transition(current.jobId, ['swapping'], {
      phase: 'done',
      swappedAt: now,
      finishedAt: now,
      updatedAt: now,
    });
    await store.release(current.jobId);
    return { action: 'completed', job: (await store.getJob(current.jobId)) ?? current };
  }
  const held = ports.now() - current.updatedAt;
  if (held < SWAP_LEASE_MS)
    throw new ResyncError(
      `re-sync ${current.jobId} is swapping the alias right now: try again in ${Math.ceil((SWAP_LEASE_MS - held) / 1000)} s`,
    );
  const taken = await cancelled(['swapping'], { updatedAt: current.updatedAt });
  if (taken === undefined)
    throw new ResyncError(`re-sync ${current.jobId} changed while it was being cancelled: try again`);
  return taken;
}

/** A job that ended but still holds the pointer (a crash between the two): release it. */
async function releaseLeftover(ports: ResyncPorts, job: ResyncJob): Promise<CancelOutcome> {
  await ports.store.release(job.jobId);
  if (job.phase !== 'done') {
    // Its collection may have survived the crash too; never drop what the alias serves.
    const live = await ports.typesense.getAlias(job.alias);
    if (live?.collection_name !== job.collection)
      await ports.typesense.deleteCollection(job.collection).catch(() => undefined);
  }
  return { action: 'released', job };
}

/**
 * Points the alias back at the collection the last swap replaced. That collection missed every
 * change since the swap: the caller must then repair it (the CLI runs a full `verify --repair`).
 */
export async function rollbackResync(ports: ResyncPorts, alias: string): Promise<ResyncJob> {
  const active = await ports.store.active();
  if (active !== undefined)
    throw new ResyncError(`re-sync ${active.jobId} is running: cancel it before rolling back`);
  const job = (await ports.store.latestJobs(20)).find(
    (candidate) => candidate.phase === 'done' && candidate.rolledBackAt === undefined,
  );
  if (job?.previous === undefined) throw new ResyncError('no swapped re-sync to roll back');
  const live = await ports.typesense.getAlias(alias);
  if (live?.collection_name !== job.collection)
    throw new ResyncError(
      `alias ${alias} points at ${live?.collection_name ?? 'nothing'}, not at re-sync ${job.jobId}'s ${job.collection}`,
    );
  if ((await ports.typesense.getCollection(job.previous)) === undefined)
    throw new ResyncError(`the previous collection ${job.previous} no longer exists`);
  await ports.typesense.upsertAlias(alias, job.previous);
  const now = ports.now();
  await ports.store.transition(job.jobId, ['done'], { rolledBackAt: now, updatedAt: now });
  return { ...job, rolledBackAt: now };
}

export interface ResyncProgress {
  job: ResyncJob;
  segmentsDone: number;
  scanned: number;
  indexed: number;
  skipped: number;
  /** Items scanned per second since the start. */
  itemsPerSecond: number | undefined;
  /** From the table's approximate item count; undefined when unknown or finished. */
  etaSeconds: number | undefined;
  /** The first rejected documents, with reasons. */
  rejections: Rejection[];
  /** What an unfinished job is waiting for, e.g. "segments 3/8 backfilling"; else its phase. */
  waitingFor: string;
  /**
   * Ms since its last progress (`lastProgressAt`, else its start); undefined once finished, unless
   * the finished job still holds the active pointer.
   */
  progressAgeMs: number | undefined;
}

const count = (value: number) => value.toLocaleString('en-US');

/** A running job's current wait, in the words `resync status` prints. */
function waitingFor(job: ResyncJob, segmentsDone: number): string {
  switch (job.phase) {
    case 'backfilling':
      return `segments ${segmentsDone}/${job.totalSegments} backfilling`;
    case 'finishing': {
      const { recheck } = job;
      if (recheck === undefined) return 'waiting for the finish task to re-check deleted keys';
      const pass = recheck.pass > 1 ? ` (pass ${recheck.pass}, after re-applying resurrected keys)` : '';
      return `re-checking ${count(recheck.checked)}/${count(recheck.total)} deleted keys${pass}`;
    }
    case 'swapping':
      return 'waiting for the swap claim';
    default:
      return job.phase;
  }
}

/**
 * A job's progress: the given one, else the running one, else the latest; undefined when there is
 * none.
 */
export async function resyncProgress(
  store: ResyncStore,
  now: number,
  jobId?: string,
): Promise<ResyncProgress | undefined> {
  const active = jobId === undefined ? await store.active() : { jobId };
  const latest = active === undefined ? await store.latestJobs(5) : [];
  const job =
    active === undefined
      ? (latest.find(({ duplicateOf }) => duplicateOf === undefined) ?? latest[0])
      : await store.getJob(active.jobId);
  if (job === undefined) return undefined;
  const leaked = jobId === undefined && active !== undefined && FINISHED_PHASES.has(job.phase);
  const [segments, rejections] = await Promise.all([
    store.listSegments(job.jobId),
    store.listRejections(job.jobId, 10),
  ]);
  const sum = (field: 'scanned' | 'indexed' | 'skipped') =>
    segments.reduce((total, segment) => total + segment[field], 0);
  const scanned = sum('scanned');
  const elapsedSeconds = ((job.finishedAt ?? now) - job.startedAt) / 1000;
  const itemsPerSecond = elapsedSeconds > 0 && scanned > 0 ? scanned / elapsedSeconds : undefined;
  const running = job.phase === 'backfilling';
  const segmentsDone = segments.filter((segment) => segment.done).length;
  return {
    job,
    segmentsDone,
    scanned,
    indexed: sum('indexed'),
    skipped: sum('skipped'),
    itemsPerSecond,
    etaSeconds:
      running && itemsPerSecond !== undefined && job.estimatedItems !== undefined
        ? Math.max(0, (job.estimatedItems - scanned) / itemsPerSecond)
        : undefined,
    rejections,
    waitingFor: leaked
      ? `ended (${job.phase}) but still holds the active pointer: run resync cancel`
      : waitingFor(job, segmentsDone),
    // A finished job that still holds the pointer blocks every later re-sync: a stall too.
    progressAgeMs:
      FINISHED_PHASES.has(job.phase) && !leaked
        ? undefined
        : Math.max(0, now - (job.lastProgressAt ?? job.finishedAt ?? job.startedAt)),
  };
}

/** Runs one work-queue task. */
export async function runResyncTask(
  task: ResyncTask,
  ports: ResyncPorts,
  options: ResyncOptions,
): Promise<string> {
  switch (task.action) {
    case 'start': {
      const result = await startResync(task.trigger, ports, options);
      return 'started' in result
        ? `started ${result.started.jobId}`
        : `not started: re-sync ${result.running.jobId} is running`;
    }
    case 'segment':
      return runSegment(task, ports, options);
    case 'finish':
      return finishResync(task.jobId, ports, options);
  }
}
