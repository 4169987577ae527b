import type { MarshalledKey } from './change.ts';
import { isRetryableAnswer } from './classify.ts';
import { SyncError } from './errors.ts';
import { documentId, pickKey } from './keys.ts';
import type { DeletedKey, RecheckProgress, ResyncJob, ResyncPorts } from './resync.ts';

/*
 * The two long-running steps of a re-sync, bounded so that neither can stall silently:
 * - a page import that rides out Typesense's transient failures inside the task, and
 * - the finisher's re-check of deleted keys, in saved chunks, handed on before the invocation ends.
 */

type ImportLine = Awaited<ReturnType<ResyncPorts['typesense']['importDocuments']>>[number];

/** Tombstones re-checked per chunk (one BatchGetItem) and saved as progress after each. */
export const RECHECK_CHUNK = 100;
/** Typesense look-ups in flight while a chunk is re-checked. */
export const RECHECK_CONCURRENCY = 8;
/** A task hands on to a fresh one when less than this much of its invocation is left. */
export const TASK_RESERVE_MS = 20_000;
/** Attempts of one page import before the task fails (and SQS redelivers it from its checkpoint). */
export const IMPORT_ATTEMPTS = 8;
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5_000;

/** Thrown when a page's import still fails transiently after every attempt the task can afford. */
export class ResyncImportError extends SyncError {
  override name = 'ResyncImportError';
}

export const timeLeft = (ports: ResyncPorts): number => ports.remainingTimeMs?.() ?? Number.POSITIVE_INFINITY;

const sleepOf = (ports: ResyncPorts) =>
  ports.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

/** 408/429/5xx lines and the 422s of a node that cannot take writes for now (classify.ts, the writer's rule). */
const isTransientLine = (line: ImportLine) => !line.success && isRetryableAnswer(line.code, line.error);

/** Network errors and the answers above: the client marks them `retryable` by the same rule. */
const isTransientError = (error: unknown): boolean =>
  (error as { retryable?: unknown } | undefined)?.retryable === true;

/**
 * A page import's bound: it must answer while half the task's reserve is left, so the task can still
 * save its checkpoint and hand on; at least a second. Unbounded (the client's default) without a clock.
 */
export const importCallWithin = (remainingMs: number): { timeoutMs?: number } =>
  Number.isFinite(remainingMs)
    ? { timeoutMs: Math.max(1_000, Math.floor(remainingMs - TASK_RESERVE_MS / 2)) }
    : {};

/** Exponential backoff with equal jitter: half fixed, half random, so parallel tasks spread out. */
const backoffMs = (attempt: number) => {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
};

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
): Promise<ImportLine[]> {
  const results: (ImportLine | undefined)[] = new Array(lines.length);
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
        if (line === undefined || isTransientLine(line)) retry.push(index);
        else results[index] = line;
      });
      if (retry.length === 0) return results as ImportLine[];
      const first = answered[pending.indexOf(retry[0] as number)];
      reason = first === undefined || first.success ? 'no answer line' : `${first.code}: ${first.error}`;
      pending = retry;
    } catch (error) {
      if (!isTransientError(error)) throw error;
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

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The chunk's keys that the table lacks but the new collection holds: deleted, then resurrected. */
async function resurrectedIn(
  job: ResyncJob,
  chunk: readonly DeletedKey[],
  ports: ResyncPorts,
  keyAttributes: readonly string[],
): Promise<MarshalledKey[]> {
  if (chunk.length === 0) return [];
  const present = new Set(
    (await ports.readItems(chunk.map(({ key }) => key))).map((item) =>
      documentId(pickKey(item, keyAttributes), keyAttributes),
    ),
  );
  const absent = chunk.filter(({ id }) => !present.has(id));
  const held = await inParallel(
    absent,
    RECHECK_CONCURRENCY,
    async ({ id }) => (await ports.typesense.getDocument(job.collection, id)) !== undefined,
  );
  return absent.filter((_, index) => held[index]).map(({ key }) => key);
}

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
  options: { keyAttributes: readonly string[]; maxPasses: number; recheckDelaySeconds: number },
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
    const back = await resurrectedIn(job, chunk, ports, options.keyAttributes);
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
