import { runSegment } from './backfill.ts';
import { finishResync } from './finish.ts';
import {
  type ActiveResync,
  abandon,
  type CollectionDefinition,
  FINISHED_PHASES,
  jobIdAt,
  type Rejection,
  ResyncError,
  type ResyncJob,
  type ResyncOptions,
  type ResyncPhase,
  type ResyncPorts,
  type ResyncStore,
  type ResyncTask,
  type ResyncTrigger,
  type ResyncTypesense,
  SWAP_LEASE_MS,
  schemaOf,
  type TransitionGuard,
} from './model.ts';

/*
 * The operations on a re-sync as a whole: start one, cancel it, roll its swap back, report its
 * progress, and run one work-queue task (the backfill of a segment, or the finish).
 */

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
  // Without the alias, only a given schema says what to build: the first load, whose swap creates it.
  if (live === undefined && options.schema === undefined)
    throw new ResyncError(
      `alias ${options.alias} does not exist and no schema was given: a re-sync copies the live collection's schema (deploy the index with its schema, or run init)`,
    );
  const firstLoad = live === undefined;
  const schema = options.schema ?? (await liveSchema(typesense, live?.collection_name ?? ''));
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
    ...(firstLoad ? { firstLoad } : {}),
  };
  await store.putJob(job);
  const segments = Array.from({ length: options.totalSegments }, (_, segment) => segment);
  for (const segment of segments)
    await store.putSegment(jobId, { segment, done: false, pages: 0, scanned: 0, indexed: 0, skipped: 0 });

  const holder = await store.claim({ jobId, collection, ...(firstLoad ? { firstLoad } : {}) });
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
  /** Scanned items the projection's filter leaves out of the index. */
  filtered: number;
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
  const sum = (field: 'scanned' | 'indexed' | 'skipped' | 'filtered') =>
    segments.reduce((total, segment) => total + (segment[field] ?? 0), 0);
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
    filtered: sum('filtered'),
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
