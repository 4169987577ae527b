/**
 * Whether a failure is worth retrying. Typesense answers 503 when healthy but lagging
 * (backpressure), 429 when rate limited, 408/5xx for transient trouble: all retry later.
 * Every other per-document code (400 schema/type, 404 update of a missing doc, 409, 413, 422)
 * will fail the same way next time: the change is dead-lettered with its reason.
 */
export function isRetryableStatus(code: number): boolean {
  return code === 408 || code === 429 || code >= 500;
}
