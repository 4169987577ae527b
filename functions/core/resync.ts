import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { isCanaryItem } from './canary.ts';
import type { MarshalledKey } from './change.ts';
import { isRetryableStatus } from './classify.ts';
import { ProjectionError } from './errors.ts';
import { documentId, pickKey } from './keys.ts';
import { type Projection, projectItem } from './project.ts';

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
export class ResyncError extends Error {
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
  /** Why the job failed or was cancelled. */
  message?: string;
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
  /** Sets `fields` only when the job is in one of `from`; false when it was not. */
  transition(jobId: string, from: readonly ResyncPhase[], fields: Partial<ResyncJob>): Promise<boolean>;
  /**
   * Writes a segment's checkpoint. With `previousPages`, only if the stored checkpoint is still at
   * that page (false otherwise): a duplicate delivery of a segment task then stops instead of
   * running the segment twice.
   */
  putSegment(jobId: string, segment: SegmentState, previousPages?: number): Promise<boolean>;
  getSegment(jobId: string, segment: number): Promise<SegmentState | undefined>;
  listSegments(jobId: string): Promise<SegmentState[]>;
  recordDeletes(jobId: string, keys: readonly DeletedKey[]): Promise<void>;
  listDeletes(jobId: string): Promise<DeletedKey[]>;
  recordRejections(jobId: string, rejections: readonly Rejection[]): Promise<void>;
  listRejections(jobId: string, limit: number): Promise<Rejection[]>;
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
  importDocuments(collection: string, lines: string[], action: 'create'): Promise<ImportLine[]>;
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
): Promise<boolean> {
  const now = ports.now();
  const moved = await ports.store.transition(job.jobId, from, {
    phase,
    message,
    finishedAt: now,
    updatedAt: now,
  });
  if (!moved) return false;
  await ports.store.release(job.jobId);
  await ports.typesense.deleteCollection(job.collection).catch(() => undefined); // Already gone is fine.
  return true;
}

export type SegmentOutcome = 'continued' | 'segment-done' | 'stopped' | 'failed';

/**
 * Backfills one segment from its checkpoint, page by page: scan, project, import with `create`,
 * checkpoint. A page's checkpoint is written while the next page is imported, so a crash or timeout
 * re-runs at most those two pages (the task is redelivered; `create` makes that safe). After
 * `pagesPerTask` pages the segment continues in a fresh task, which keeps each run well inside
 * the Lambda timeout. The last segment to finish queues the finish task.
 */
export async function runSegment(
  task: { jobId: string; segment: number },
  ports: ResyncPorts,
  options: ResyncOptions,
): Promise<SegmentOutcome> {
  const { store, typesense } = ports;
  let job = await store.getJob(task.jobId);
  let state = await store.getSegment(task.jobId, task.segment);
  if (job === undefined || state === undefined) return 'stopped';

  const { totalSegments } = job;
  type ScannedPage = Awaited<ReturnType<ResyncPorts['scanPage']>>;
  const scan = (startKey: MarshalledKey | undefined): Promise<ScannedPage> => {
    const scanning = ports.scanPage(task.segment, totalSegments, options.pageSize, startKey);
    // A prefetched page may be abandoned when the task stops early; its failure is not news then.
    scanning.catch(() => undefined);
    return scanning;
  };
  let prefetched: Promise<ScannedPage> | undefined;
  // The previous page's checkpoint: false when another delivery of this task had moved it on.
  let checkpointed: Promise<boolean> = Promise.resolve(true);
  for (let page = 0; !state.done; page++) {
    if (job?.phase !== 'backfilling') return 'stopped';
    if (page === options.pagesPerTask) {
      if (!(await checkpointed)) return 'stopped';
      await ports.sendTasks([{ action: 'segment', ...task }]);
      return 'continued';
    }
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
        rejections.push({ id: error.id, reason: error.message });
      }
    }
    let outcomes: ImportLine[];
    let latest: ResyncJob | undefined;
    let moved: boolean;
    try {
      // The job is re-read alongside the import so a cancel is seen by the next page.
      [outcomes, latest, moved] = await Promise.all([
        lines.length === 0 ? [] : typesense.importDocuments(job.collection, lines, 'create'),
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
    const { collection } = job;
    let indexed = 0;
    let skipped = 0;
    outcomes.forEach((outcome, index) => {
      if (outcome.success) indexed++;
      else if (outcome.code === 409) skipped++;
      else if (isRetryableStatus(outcome.code))
        // The page is re-run from its checkpoint when the task is redelivered; `create` makes that safe.
        throw new ResyncError(`import into ${collection} answered ${outcome.code}: ${outcome.error}`);
      else rejections.push({ id: ids[index] as string, reason: `${outcome.code}: ${outcome.error}` });
    });
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
    checkpointed = store.putSegment(task.jobId, state, previousPages);
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

export type FinishOutcome = 'swapped' | 'waiting' | 'stopped' | 'failed';

/**
 * Completes a backfilled job: fails it if anything was rejected, waits until no key deleted during
 * the backfill is back in the new collection, swaps the alias, releases the pointer and drops
 * versioned collections beyond the ones kept for rollback. Safe to run twice.
 */
export async function finishResync(
  jobId: string,
  ports: ResyncPorts,
  options: ResyncOptions,
): Promise<FinishOutcome> {
  const { store, typesense } = ports;
  await store.transition(jobId, ['backfilling'], { phase: 'finishing', updatedAt: ports.now() });
  const job = await store.getJob(jobId);
  if (job?.phase !== 'finishing' && job?.phase !== 'swapping') return 'stopped';
  if (job.phase === 'finishing') {
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

    const resurrected = await resurrectedKeys(job, ports, options);
    if (resurrected.length > 0) {
      const checks = (job.finishChecks ?? 0) + 1;
      if (checks > MAX_FINISH_CHECKS) {
        await abandon(
          ports,
          job,
          'failed',
          `${resurrected.length} keys deleted during the backfill are still in the new collection after ${MAX_FINISH_CHECKS} checks (is the writer stuck?)`,
        );
        return 'failed';
      }
      await ports.enqueueKeys(resurrected);
      await store.transition(jobId, ['finishing'], { finishChecks: checks, updatedAt: ports.now() });
      await ports.sendTasks([{ action: 'finish', jobId }], FINISH_RECHECK_SECONDS);
      return 'waiting';
    }
  }

  // Several finish tasks may run at once (every segment that ends last sends one; SQS may deliver
  // twice): exactly one claims the swap. The others retry until it is done, or take over a claim
  // whose finisher died.
  if (!(await store.transition(jobId, ['finishing'], { phase: 'swapping', updatedAt: ports.now() }))) {
    const current = await store.getJob(jobId);
    if (current?.phase !== 'swapping') return 'stopped';
    if (ports.now() - current.updatedAt < SWAP_LEASE_MS)
      throw new ResyncError(`re-sync ${jobId} is being swapped by another finish task`);
  }
  const live = await typesense.getAlias(job.alias);
  if (live !== undefined && live.collection_name !== job.collection)
    await typesense.copySearchSettings?.(live.collection_name, job.collection);
  await typesense.upsertAlias(job.alias, job.collection);
  const now = ports.now();
  const previous = live?.collection_name;
  await store.transition(jobId, ['swapping'], {
    phase: 'done',
    swappedAt: now,
    finishedAt: now,
    updatedAt: now,
    ...(previous === undefined || previous === job.collection ? {} : { previous }),
  });
  await store.release(jobId);
  await pruneCollections(job.alias, job.collection, ports, options.keepCollections);
  return 'swapped';
}

/** Keys deleted during the backfill that the table still lacks but the new collection holds. */
async function resurrectedKeys(
  job: ResyncJob,
  ports: ResyncPorts,
  options: ResyncOptions,
): Promise<MarshalledKey[]> {
  const deletes = await ports.store.listDeletes(job.jobId);
  if (deletes.length === 0) return [];
  const present = new Set(
    (await ports.readItems(deletes.map(({ key }) => key))).map((item) =>
      documentId(pickKey(item, options.keyAttributes), options.keyAttributes),
    ),
  );
  const back: MarshalledKey[] = [];
  for (const { id, key } of deletes) {
    if (!present.has(id) && (await ports.typesense.getDocument(job.collection, id)) !== undefined)
      back.push(key);
  }
  return back;
}

/** Drops versioned collections of this alias beyond the newest `keep` besides the live one. */
async function pruneCollections(
  alias: string,
  live: string,
  ports: ResyncPorts,
  keep: number,
): Promise<string[]> {
  const pattern = versionedPattern(alias);
  const older = (await ports.typesense.listCollections())
    .map(({ name }) => name)
    .filter((name) => pattern.test(name) && name !== live)
    .sort()
    .reverse();
  const dropped = older.slice(keep);
  for (const name of dropped) await ports.typesense.deleteCollection(name);
  return dropped;
}

/** Cancels the running re-sync: the live alias is untouched and the partial collection dropped. */
export async function cancelResync(ports: ResyncPorts): Promise<ResyncJob | undefined> {
  const active = await ports.store.active();
  if (active === undefined) return undefined;
  const job = await ports.store.getJob(active.jobId);
  if (job === undefined) {
    await ports.store.release(active.jobId);
    return undefined;
  }
  if (!(await abandon(ports, job, 'cancelled', 'cancelled by the operator', ['backfilling'])))
    throw new ResyncError(`re-sync ${job.jobId} is already swapping the alias and cannot be cancelled`);
  return ports.store.getJob(job.jobId);
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
  const job = active === undefined ? (await store.latestJobs(1))[0] : await store.getJob(active.jobId);
  if (job === undefined) return undefined;
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
  return {
    job,
    segmentsDone: segments.filter((segment) => segment.done).length,
    scanned,
    indexed: sum('indexed'),
    skipped: sum('skipped'),
    itemsPerSecond,
    etaSeconds:
      running && itemsPerSecond !== undefined && job.estimatedItems !== undefined
        ? Math.max(0, (job.estimatedItems - scanned) / itemsPerSecond)
        : undefined,
    rejections,
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
