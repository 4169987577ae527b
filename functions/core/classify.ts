import type { ImportLineResult } from './typesense-port.ts';

/**
 * Whether a failure is worth retrying. Typesense answers 503 when healthy but lagging
 * (backpressure), 429 when rate limited, 408/5xx for transient trouble: all retry later.
 * Every other per-document code (400 schema/type, 404 update of a missing doc, 409, 413, 422)
 * will fail the same way next time: the change is dead-lettered with its reason.
 */
export function isRetryableStatus(code: number): boolean {
  return code === 408 || code === 429 || code >= 500;
}

/**
 * The 422s that describe the node, not the request: a node short of disk or memory rejects every
 * write with `Rejecting write: running out of resource type: OUT_OF_DISK|OUT_OF_MEMORY`, and one put
 * in maintenance with `skip-writes` answers `Skipping write(s).` (typesense src/raft_server.cpp
 * ReplicationState::write, src/batched_indexer.cpp). Both pass once an operator acts: an outage, like 503.
 */
const NODE_CONDITION_422 = /^(?:Rejecting write: running out of resource type|Skipping writes?\.)/;

/** `isRetryableStatus`, plus the 422s that mean the node cannot take writes for now. */
export function isRetryableAnswer(code: number, message: string): boolean {
  return isRetryableStatus(code) || (code === 422 && NODE_CONDITION_422.test(message));
}

/** An import answer line that failed for a passing reason: retried, never dead-lettered or rejected. */
export function isRetryableLine(line: ImportLineResult): boolean {
  return !line.success && isRetryableAnswer(line.code, line.error);
}

/**
 * A thrown error that may pass: no answer at all (connection refused, reset, timeout) or one of the
 * answers above. The Typesense client marks its errors `retryable` by `isRetryableAnswer`, so the
 * callers need not know its error classes.
 */
export function isRetryableError(error: unknown): boolean {
  return (error as { retryable?: unknown } | null | undefined)?.retryable === true;
}

/**
 * Whether a failed write was never sent (`notSent`: its time or its batch's visibility lease ran out
 * first): it says nothing of Typesense's health, so the circuit breaker does not count it.
 */
export function wasNotSent(error: unknown): boolean {
  return (error as { notSent?: unknown } | null | undefined)?.notSent === true;
}
