import { isRetryableAnswer } from '../core/classify.ts';
import { SyncError } from '../core/errors.ts';

/** The Typesense client's errors: each says whether retrying may help (`retryable`, see classify.ts). */

export abstract class TypesenseError extends SyncError {
  abstract readonly retryable: boolean;
}

/** Typesense answered with an HTTP error status. */
export class TypesenseHttpError extends TypesenseError {
  override name = 'TypesenseHttpError';
  readonly retryable: boolean;

  constructor(
    readonly status: number,
    readonly serverMessage: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(`Typesense ${method} ${path} failed with HTTP ${status}: ${serverMessage}`);
    // 408/429/5xx are load or leadership conditions (e.g. 503 "Not Ready or Lagging") that pass, and so is a
    // 422 for a node out of disk or memory; the rest won't.
    this.retryable = isRetryableAnswer(status, serverMessage);
  }
}

/** No usable answer: connection refused/reset, DNS failure or timeout. The request may or may not have been applied. */
export class TypesenseUnavailableError extends TypesenseError {
  override name = 'TypesenseUnavailableError';
  readonly retryable = true;
}

/**
 * The call's time ran out before this request was sent (its `sendBy`, e.g. a visibility lease's): nothing
 * reached Typesense. Retryable, and no sign of Typesense's health: the circuit breaker does not count it.
 */
export class TypesenseNotSentError extends TypesenseError {
  override name = 'TypesenseNotSentError';
  readonly retryable = true;
  readonly notSent = true;
}

/** The request was given up at its timeout (the client's `AbortSignal.timeout`), not refused or reset. */
export function isTimeout(error: unknown): boolean {
  const cause = error instanceof TypesenseUnavailableError ? error.cause : undefined;
  return cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
}

/** Typesense answered 2xx with something this client cannot interpret: retrying will not help. */
export class TypesenseProtocolError extends TypesenseError {
  override name = 'TypesenseProtocolError';
  readonly retryable = false;
}
