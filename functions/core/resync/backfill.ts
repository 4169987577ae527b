import { type Aggregation, buildAggregate, PARTITION_READS, partitionKeysOf } from '../aggregate.ts';
import { isCanaryItem } from '../canary.ts';
import type { MarshalledKey } from '../change.ts';
import { isRetryableError, isRetryableLine } from '../classify.ts';
import { idCollision } from '../document-id.ts';
import { ProjectionError, SyncError } from '../errors.ts';
import { documentId } from '../keys.ts';
import { inParallel } from '../parallel.ts';
import { documentJson, type TypesenseDocument } from '../project.ts';
import { equalJitter } from '../retry.ts';
import { buildDocument } from '../transform.ts';
import type { ImportLineResult } from '../typesense-port.ts';
import {
  abandon,
  type FixingWrite,
  type Rejection,
  type ResyncJob,
  type ResyncOptions,
  type ResyncPorts,
  type SegmentState,
  sleepOf,
  TASK_RESERVE_MS,
  timeLeft,
} from './model.ts';

/*
 * The backfill: each segment of the table is scanned page by page and imported with `create`, from
 * a checkpoint, within the invocation's time; a page import rides out Typesense's transient failures
 * inside the task, so that it cannot stall silently.
 */

/** Attempts of one page import before the task fails (and SQS redelivers it from its checkpoint). */
export const IMPORT_ATTEMPTS = 8;
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5_000;

/** Thrown when a page's import still fails transiently after every attempt the task can afford. */
export class ResyncImportError extends SyncError {
  override name = 'ResyncImportError';
}

/**
 * A page import's bound: it must answer while half the task's reserve is left, so the task can still
 * save its checkpoint and hand on; at least a second. Unbounded (the client's default) without a clock.
 */
export const importCallWithin = (remainingMs: number): { timeoutMs?: number } =>
  Number.isFinite(remainingMs)
    ? { timeoutMs: Math.max(1_000, Math.floor(remainingMs - TASK_RESERVE_MS / 2)) }
    : {};

/** Exponential backoff with equal jitter (retry.ts), so parallel tasks spread out. */
const backoffMs = (attempt: number) =>
  equalJitter(Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)), Math.random());

/**
 * Imports a page with `create`, re-sending only the lines that failed transiently (a line that went
 * in would answer 409 the second time and be miscounted as "already newer"). Answers one line per
 * input line. Gives up with `ResyncImportError` after `IMPORT_ATTEMPTS` or when the invocation has
 * no time left for the next wait; a non-transient error is thrown as is.
 */
export async function importWithRetries(
  collection: string,
  lines: readonly string[],
  ports: ResyncPorts,
): Promise<ImportLineResult[]> {
  const results: (ImportLineResult | undefined)[] = new Array(lines.length);
  let pending = lines.map((_, index) => index);
  for (let attempt = 1; ; attempt++) {
    let reason: string;
    try {
      const answered = await ports.typesense.importDocuments(
        collection,
        pending.map((index) => lines[index] as string),
        'create',
        importCallWithin(timeLeft(ports)),
      );
      const retry: number[] = [];
      pending.forEach((index, n) => {
        const line = answered[n];
        // 408/429/5xx lines and the 422s of a node that cannot take writes for now: the writer's rule.
        if (line === undefined || isRetryableLine(line)) retry.push(index);
        else results[index] = line;
      });
      if (retry.length === 0) return results as ImportLineResult[];
      const first = answered[pending.indexOf(retry[0] as number)];
      reason = first === undefined || first.success ? 'no answer line' : `${first.code}: ${first.error}`;
      pending = retry;
    } catch (error) {
      // Network errors and the answers above: the client marks them `retryable` by the same rule.
      if (!isRetryableError(error)) throw error;
      reason = error instanceof Error ? error.message : String(error);
    }
    const wait = backoffMs(attempt);
    if (attempt >= IMPORT_ATTEMPTS || timeLeft(ports) - wait < TASK_RESERVE_MS / 2)
      throw new ResyncImportError(
        `import into ${collection}: ${pending.length} documents still failing after ${attempt} attempts (${reason})`,
      );
    await sleepOf(ports)(wait);
  }
}

/**
 * How often a segment task writes its checkpoint: after its first page, then at most this often, and
 * after its last page and before it hands on. Each checkpoint clears the fixed rejections of the pages
 * since the one before (a Query) and saves the segment (a PutItem): at every page these two round
 * trips cost the state table more CPU than a page's Scan (bench P4). A crash re-runs the pages since
 * the last checkpoint: about this long, plus the page in flight and the one read ahead.
 */
export const CHECKPOINT_EVERY_MS = 1_000;

/**
 * How often a segment task refreshes the job's `lastProgressAt` (what the stall alarm watches, in
 * minutes), with a checkpoint: its first, then at most this often, and its last.
 */
export const PROGRESS_EVERY_MS = 5_000;

/**
 * How often a segment task re-reads its job, alongside a page's import, to stop when the job left the
 * backfill. Not every page: a read costs the state table about what a page's checkpoint does, and a
 * job that failed or was cancelled loses its collection (`abandon`), so the next import fails and the
 * task stops anyway; a duplicate delivery stops at its checkpoint. The re-read only ends a task sooner.
 */
export const JOB_REREAD_MS = 1_000;

export type SegmentOutcome = 'continued' | 'segment-done' | 'stopped' | 'failed';

type SegmentTask = { jobId: string; segment: number };
type ScannedPage = Awaited<ReturnType<ResyncPorts['scanPage']>>;
/** A page scanned (stamped with when its scan began) and projected, ready to import. */
type ReadPage = {
  lastKey?: ScannedPage['lastKey'];
  scannedAt: number;
  /** The page's items without the lag check's canary. */
  scanned: number;
  projected: ReturnType<typeof projectPage>;
};

/**
 * Backfills one segment from its checkpoint, page by page: scan, project, import with `create`,
 * checkpoint. The next page is read ahead (scanned and projected) while this one imports, and a
 * checkpoint is written while the next page is imported, at most every `CHECKPOINT_EVERY_MS`, so a
 * crash or timeout re-runs the pages since the last one (the task is redelivered; `create` makes that
 * safe); a checkpoint only ever records pages whose import succeeded. When the invocation's remaining
 * time falls below a reserve (or after `pagesPerTask` pages) the segment checkpoints and continues in a
 * fresh task; a page read ahead is then dropped, to be read again by that task. Transient import
 * failures are retried inside the task. The last segment to finish queues the finish task.
 */
export async function runSegment(
  task: SegmentTask,
  ports: ResyncPorts,
  options: ResyncOptions,
): Promise<SegmentOutcome> {
  const { store } = ports;
  let job = await store.getJob(task.jobId);
  let state = await store.getSegment(task.jobId, task.segment);
  if (job === undefined || state === undefined) return 'stopped';

  const read = pageReader(task, job.totalSegments, ports, options);
  const checkpoints = segmentCheckpoints(task, state, ports);
  let prefetched: Promise<ReadPage> | undefined;
  // The slowest page so far: the reserve must cover one more of those and its checkpoint.
  let slowestPageMs = 0;
  let jobReadAt = ports.now();
  for (let page = 0; !state.done; page++) {
    if (job?.phase !== 'backfilling') return 'stopped';
    if (page === options.pagesPerTask || timeLeft(ports) < TASK_RESERVE_MS + 2 * slowestPageMs) {
      if (!(await checkpoints.save(state))) return 'stopped';
      await ports.sendTasks([{ action: 'segment', ...task }]);
      return 'continued';
    }
    const pageStarted = ports.now();
    const current: ReadPage = await (prefetched ?? read(state.lastKey));
    const { lastKey } = current;
    // The next page's scan and projection overlap this page's import and checkpoint: the scan is
    // the slower side, so this keeps it busy. It is only data; nothing is written before this
    // page's checkpoint.
    prefetched = lastKey !== undefined && page + 1 < options.pagesPerTask ? read(lastKey) : undefined;
    const readDueAt = ports.now();
    const reread = readDueAt - jobReadAt >= JOB_REREAD_MS;
    if (reread) jobReadAt = readDueAt;
    const imported = await importPage(job, current, checkpoints.written, reread, ports);
    if (typeof imported === 'string') return imported;
    state = {
      segment: task.segment,
      ...(lastKey === undefined ? {} : { lastKey }),
      done: lastKey === undefined,
      pages: state.pages + 1,
      scanned: state.scanned + current.scanned,
      indexed: state.indexed + imported.ids.length,
      skipped: state.skipped + imported.skipped,
      filtered: (state.filtered ?? 0) + current.projected.filtered,
    };
    checkpoints.imported({ ids: imported.ids, before: current.scannedAt });
    const importedAt = ports.now();
    if (state.done || checkpoints.due(importedAt)) checkpoints.save(state);
    slowestPageMs = Math.max(slowestPageMs, importedAt - pageStarted);
    job = imported.latest;
  }
  if (!(await checkpoints.written)) return 'stopped';

  const segments = await store.listSegments(task.jobId);
  if (segments.every((segment) => segment.done))
    await ports.sendTasks([{ action: 'finish', jobId: task.jobId }]);
  return 'segment-done';
}

/**
 * A segment task's checkpoints, off the pages' critical path: the next import overlaps each one's
 * DynamoDB round trips. They stay in order: each is written after the one before it was, and after
 * the fixed rejections of the pages it records are cleared (a crash in between re-imports those pages
 * and clears them again). `written` answers the last one started: false when another delivery of
 * this task had moved the segment on.
 */
function segmentCheckpoints(task: SegmentTask, start: SegmentState, ports: ResyncPorts) {
  const { store } = ports;
  let written: Promise<boolean> = Promise.resolve(true);
  let savedPages = start.pages;
  let savedAt = Number.NEGATIVE_INFINITY;
  let progressRecordedAt = Number.NEGATIVE_INFINITY;
  // The pages imported since the last checkpoint started: each fixed the rejections recorded before its scan.
  let unsaved: FixingWrite[] = [];
  return {
    get written() {
      return written;
    },
    /** A page went in: its ids fixed their rejections recorded before it was scanned. */
    imported(page: FixingWrite) {
      unsaved.push(page);
    },
    due: (now: number) => now - savedAt >= CHECKPOINT_EVERY_MS,
    /** Starts writing `state` (if it records pages not saved yet); answers `written`. */
    save(state: SegmentState): Promise<boolean> {
      if (state.pages === savedPages) return written;
      const now = ports.now();
      const recordProgress = state.done || now - progressRecordedAt >= PROGRESS_EVERY_MS;
      if (recordProgress) progressRecordedAt = now;
      const previous = written;
      const previousPages = savedPages;
      const fixed = unsaved.filter(({ ids }) => ids.length > 0);
      unsaved = [];
      savedPages = state.pages;
      savedAt = now;
      written = (async () => {
        if (!(await previous)) return false;
        if (fixed.length > 0) await store.clearRejections(task.jobId, fixed);
        if (!(await store.putSegment(task.jobId, state, previousPages))) return false;
        if (recordProgress) await store.transition(task.jobId, ['backfilling'], { lastProgressAt: now });
        return true;
      })();
      // Awaited with the next page; not at all when the task stops early, which needs no checkpoint.
      written.catch(() => undefined);
      return written;
    },
  };
}

/** Reads pages of the task's segment: scans one (stamped with when its scan began) and projects it. */
function pageReader(task: SegmentTask, totalSegments: number, ports: ResyncPorts, options: ResyncOptions) {
  return (startKey: MarshalledKey | undefined): Promise<ReadPage> => {
    const scannedAt = ports.now();
    const reading = ports
      .scanPage(task.segment, totalSegments, options.pageSize, startKey)
      .then(async ({ items, lastKey }) => {
        // The lag check's heartbeat is indexed into its own collection, never into the application's.
        const kept = items.filter((item) => !isCanaryItem(item, options.keyAttributes));
        const projected = await projectedPage(kept, options, ports);
        return { ...(lastKey === undefined ? {} : { lastKey }), scannedAt, scanned: kept.length, projected };
      });
    // A page read ahead may be dropped when the task stops early; its failure is not news then.
    reading.catch(() => undefined);
    return reading;
  };
}

/**
 * A page's documents: one per item; for an aggregated index, one per partition the page touches, each
 * from a consistent Query of the whole partition. A partition may span pages and segments: each page
 * that meets it builds it again from its current items, which is harmless (`create` answers 409 to the
 * second), and none builds it from a part.
 */
async function projectedPage(items: ScannedPage['items'], options: ResyncOptions, ports: ResyncPorts) {
  const { aggregation, keyAttributes, projection, transform } = options;
  // Two functions over the page's sources, not two closures per item: the re-sync builds every item.
  if (aggregation === undefined)
    return projectPage(
      {
        sources: items,
        build: (item) => buildDocument(item, keyAttributes, projection, transform),
        keyOf: (item) => documentId(item, keyAttributes),
      },
      ports,
    );
  const keys = partitionKeysOf(items, aggregation.partitionKey);
  const partitions = await readPartitions(keys, aggregation, ports);
  return projectPage(
    {
      sources: partitions.map((members, at) => ({ members, key: keys[at] as MarshalledKey })),
      build: ({ members }) => buildAggregate(members, aggregation, projection, transform),
      keyOf: ({ key }) => documentId(key, [aggregation.partitionKey]),
    },
    ports,
  );
}

/** The current items of each partition (one Query each, a few at a time), up to one over the limit. */
export function readPartitions(keys: readonly MarshalledKey[], aggregation: Aggregation, ports: ResyncPorts) {
  const { readPartition } = ports;
  if (readPartition === undefined)
    throw new SyncError('an aggregated index needs the re-sync port readPartition');
  return inParallel(keys, PARTITION_READS, (key) => readPartition(key, aggregation.maxItems + 1));
}

/**
 * How to build a page's documents: one per source (an item; for an aggregated index, a partition's
 * items), and the key (its encoding) each is built from, to name in a collision.
 */
interface DocumentBuilders<Source> {
  sources: readonly Source[];
  build: (source: Source) => TypesenseDocument | undefined;
  keyOf: (source: Source) => string;
}

/**
 * A page's documents as import lines; the items the projection refuses are rejections, and those its
 * filter (or the transform's null) leaves out are only counted. Two keys whose documents have one id (the
 * projection's id rule) are a rejection too (`id-collision`, naming both): the page imports the first.
 * Across pages `create` answers 409 to the second, which the re-sync cannot tell from a stream write:
 * `verify` finds those.
 */
function projectPage<Source>({ sources, build, keyOf }: DocumentBuilders<Source>, ports: ResyncPorts) {
  const lines: string[] = [];
  const ids: string[] = [];
  const rejections: PageRejection[] = [];
  const built = new Map<string, Source>();
  let filtered = 0;
  for (const source of sources) {
    try {
      const document = build(source);
      if (document === undefined) {
        filtered++;
        continue;
      }
      const first = built.get(document.id);
      if (first !== undefined) throw idCollision(document.id, [keyOf(first), keyOf(source)]);
      built.set(document.id, source);
      lines.push(documentJson(document));
      ids.push(document.id);
    } catch (error) {
      if (!(error instanceof ProjectionError)) throw error;
      rejections.push({ id: error.id, reason: error.message, at: ports.now(), code: error.code });
    }
  }
  return { lines, ids, rejections, filtered };
}

/** A rejection with its reason code: a ProjectionError's, or the HTTP code of Typesense's answer. */
type PageRejection = Rejection & { code: string | number };

/** What each kind of rejection means to an operator, so the failed job points at the right cause. */
function rejectionKind(code: string | number): string {
  if (typeof code === 'number') return `Typesense ${code} (does not fit the collection schema)`;
  if (code === 'id-collision') return `${code} (keys with one document id under projection.id)`;
  if (code === 'transform-error') return `${code} (refused by the transform)`;
  return `${code} (refused by the projection)`;
}

/** The failed job's message: how many of each kind of rejection the page had, and the first of them. */
function rejectionsMessage(rejections: readonly PageRejection[]): string {
  const counts = new Map<string, number>();
  for (const kind of rejections.map(({ code }) => rejectionKind(code)))
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const kinds = [...counts].map(([kind, count]) => `${count} ${kind}`).join(', ');
  const [first] = rejections as [PageRejection];
  const refused =
    rejections.length === 1 ? '1 item of one page was' : `${rejections.length} items of one page were`;
  return `${refused} refused: ${kinds}; first: ${first.id}: ${first.reason}`;
}

/** A page imported: the ids that went in, and the items the stream had already written (409). */
type PageImported = { latest: ResyncJob | undefined; ids: string[]; skipped: number };

/**
 * Imports one projected page, and settles its rejections: any fails the job. Stops when the job
 * left the backfill or another delivery of this task moved the segment on (`moved` false). With
 * `reread`, the job is read again alongside the import, so a cancel is seen by the next page.
 */
async function importPage(
  job: ResyncJob,
  page: ReadPage,
  checkpointed: Promise<boolean>,
  reread: boolean,
  ports: ResyncPorts,
): Promise<PageImported | 'stopped' | 'failed'> {
  const { store } = ports;
  const { lines, ids } = page.projected;
  const rejections = [...page.projected.rejections];
  let outcomes: ImportLineResult[];
  let latest: ResyncJob | undefined;
  let moved: boolean;
  try {
    [outcomes, latest, moved] = await Promise.all([
      lines.length === 0 ? [] : importWithRetries(job.collection, lines, ports),
      reread ? store.getJob(job.jobId) : job,
      checkpointed,
    ]);
  } catch (error) {
    // A cancelled job's collection is gone: stop quietly rather than retry the task.
    if ((await store.getJob(job.jobId))?.phase !== 'backfilling') return 'stopped';
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
        code: outcome.code,
      });
  });
  if (rejections.length > 0) {
    const recorded = rejections.slice(0, 10).map(({ id, reason, at }) => ({ id, reason, at }));
    await store.recordRejections(job.jobId, recorded);
    await abandon(ports, job, 'failed', rejectionsMessage(rejections));
    return 'failed';
  }
  return { latest, ids: imported, skipped };
}
