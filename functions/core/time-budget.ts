/**
 * A writer batch's share of the invocation: work that would not finish before Lambda's timeout is
 * left to SQS redelivery instead of being cut off mid-way (a timed-out batch fails every message,
 * burning a receive of each, and its completed work is redone).
 */
export interface TimeBudget {
  /** Milliseconds the invocation has left (Lambda's `context.getRemainingTimeInMillis()`). */
  remainingMs(): number;
  /** Kept for what follows the writes: dead letters, re-sends, visibility changes, the answer. */
  reserveMs: number;
}

/** Ids per delete call: small enough that one call fits a budget, large enough to batch filter deletes. */
export const DELETE_CHUNK = 50;

export interface BudgetedRun<T> {
  done: T[];
  /** Not started: the time left would not cover it. */
  deferred: T[];
  /** Set when a call failed: `done` holds what went before, `deferred` stays empty, the rest failed. */
  error?: unknown;
  failed: T[];
}

/**
 * Runs `work` over `items` in chunks, one chunk at a time, starting a chunk only while the time left
 * (less the reserve) still covers the slowest chunk so far. Without a budget everything is one chunk.
 */
export async function runWithinBudget<T>(
  items: readonly T[],
  work: (chunk: T[]) => Promise<unknown>,
  budget: TimeBudget | undefined,
  now: () => number,
  chunkSize = DELETE_CHUNK,
): Promise<BudgetedRun<T>> {
  const run: BudgetedRun<T> = { done: [], deferred: [], failed: [] };
  const size = budget === undefined ? Math.max(1, items.length) : chunkSize;
  let slowestMs = 0;
  for (let start = 0; start < items.length; start += size) {
    const chunk = items.slice(start, start + size);
    if (budget !== undefined && budget.remainingMs() - budget.reserveMs < slowestMs) {
      run.deferred = items.slice(start);
      return run;
    }
    const began = now();
    try {
      await work(chunk);
    } catch (error) {
      run.error = error;
      run.failed = items.slice(start);
      return run;
    }
    slowestMs = Math.max(slowestMs, now() - began);
    run.done.push(...chunk);
  }
  return run;
}
