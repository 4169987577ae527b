import { equalJitter } from '../retry.ts';
import type { ImportOutcome, WriterOptions, WriterPorts } from '../write-batch.ts';
import { LOSSY_RETRY_PAUSE_MS, sleepOf } from './retry-lines.ts';

/**
 * The live import under the writer's adaptive limit (adaptive-limit.ts). An import waits for a slot;
 * when Typesense answers the whole request 503 "Not Ready or Lagging" or 429, the limit halves and the
 * import is sent again after a pause, while the invocation has time for it: the batch keeps its
 * message group instead of going back to SQS for a backoff of seconds behind a server that only asked
 * to slow down. A server that never takes the import (an outage answering 503) still fails the batch
 * after the last attempt, so the circuit breaker sees the outage as before.
 *
 * Consistent by construction, as the line retries (retry-lines.ts): every attempt sends the same lines,
 * the state read once in this invocation, while the batch holds its message group.
 */

/** Attempts of one import after an overload answer, at most (the first one not counted). */
export const OVERLOAD_RETRIES = 4;
/** The first pause after an overload answer; each next one doubles, jittered within [½, 1], ms. */
export const OVERLOAD_PAUSE_MS = 100;
/** The longest pause, ms. */
export const OVERLOAD_MAX_PAUSE_MS = 1_600;

/** Typesense asked the writer to slow down: 503 (lagging) or 429 (rate limited) for the whole request. */
export function isOverloadAnswer(error: unknown): boolean {
  const status = (error as { status?: unknown } | null | undefined)?.status;
  return status === 503 || status === 429;
}

/** The live import of `ports` under the writer's adaptive limit, when it has one. */
export function withinImportLimit(
  ports: WriterPorts,
  options: WriterOptions,
): { importDocuments(lines: string[]): Promise<ImportOutcome[]> } {
  return { importDocuments: (lines) => importWithinLimit(lines, ports, options) };
}

async function importWithinLimit(
  lines: string[],
  ports: WriterPorts,
  options: WriterOptions,
): Promise<ImportOutcome[]> {
  const limit = options.importLimit;
  if (limit === undefined) return ports.importDocuments(lines, options.remainingMs?.());
  let slowestMs = 0;
  for (let retries = 0; ; retries++) {
    const startedAt = await limit.acquire();
    try {
      const outcomes = await ports.importDocuments(lines, options.remainingMs?.());
      limit.release({ startedAt, overloaded: false });
      return outcomes;
    } catch (error) {
      const overloaded = isOverloadAnswer(error);
      limit.release({ startedAt, overloaded });
      slowestMs = Math.max(slowestMs, ports.now() - startedAt);
      const pauseMs = overloadPauseMs(retries, options);
      if (!overloaded || !mayRetryOverload(retries, slowestMs, pauseMs, options)) throw error;
      await sleepOf(ports)(pauseMs);
    }
  }
}

/**
 * The pause after the `retries`-th overload answer. The first is short while the breaker sees a lossy
 * but working server: one 503/429 among successes is mostly a random loss, and the halved limit already
 * holds the retry back if it is not; the next ones back off as from a server that asks for it.
 */
function overloadPauseMs(retries: number, options: WriterOptions): number {
  const random = options.retry?.random ?? Math.random;
  if (retries === 0 && options.breaker?.looksWorking === true)
    return Math.round(equalJitter(LOSSY_RETRY_PAUSE_MS, random()));
  return Math.round(equalJitter(Math.min(OVERLOAD_MAX_PAUSE_MS, OVERLOAD_PAUSE_MS * 2 ** retries), random()));
}

/** Another attempt only with the invocation's clock, and while the pause and one more attempt fit it. */
function mayRetryOverload(retries: number, slowestMs: number, pauseMs: number, options: WriterOptions) {
  if (retries >= OVERLOAD_RETRIES || options.remainingMs === undefined) return false;
  const reserveMs = options.timeReserveMs ?? 3_000;
  return options.remainingMs() - reserveMs >= pauseMs + slowestMs;
}
