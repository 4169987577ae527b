/**
 * Read your writes: after an application writes an item to DynamoDB, wait (bounded) until the index has
 * applied that write, or learn that it has not, so the screen that shows the write can read the item from
 * DynamoDB instead.
 *
 * Imported by applications as `typesense-sync/read-your-writes`: it must stay free of aws-cdk-lib and of
 * the AWS SDK clients, so only the Typesense client, the id derivation and the key marshaller come in.
 */
import { marshall, type NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import type { MarshalledKey } from '../functions/core/change.ts';
import { type IdRuleSource, indexDocumentId } from '../functions/core/document-id.ts';
import { SyncError } from '../functions/core/errors.ts';
import {
  TypesenseClient,
  type TypesenseClientOptions,
  type TypesenseDocument,
  TypesenseError,
} from '../functions/shared/typesense.ts';

/** What "applied" means for one write, checked against the document the index holds (or its absence). */
export type IndexCondition<Applied extends TypesenseDocument | undefined> = {
  /** Names the condition in `detail` when the wait ends without it, e.g. `revision >= 7`. */
  readonly description: string;
  matches(document: TypesenseDocument | undefined): document is Applied;
};

/** The index holds a document with this id, whatever its content: for an item's first write. */
export function present(): IndexCondition<TypesenseDocument> {
  return {
    description: 'present',
    matches: (document): document is TypesenseDocument => document !== undefined,
  };
}

/** The index holds the document with `field` equal to `value`: e.g. the `updatedAt` the write set. */
export function fieldEquals(
  field: string,
  value: string | number | boolean,
): IndexCondition<TypesenseDocument> {
  return {
    description: `${field} = ${JSON.stringify(value)}`,
    matches: (document): document is TypesenseDocument => document?.[field] === value,
  };
}

/**
 * The index holds the document with the number `field` at or above `minimum`: for a revision counter or
 * timestamp the write raised. "At least" rather than "equal", so a later write by someone else also counts.
 */
export function fieldAtLeast(field: string, minimum: number): IndexCondition<TypesenseDocument> {
  return {
    description: `${field} >= ${minimum}`,
    matches: (document): document is TypesenseDocument => {
      const value = document?.[field];
      return typeof value === 'number' && value >= minimum;
    },
  };
}

/** The index holds no document with this id: for a delete. */
export function deleted(): IndexCondition<undefined> {
  return {
    description: 'deleted',
    matches: (document): document is undefined => document === undefined,
  };
}

/** A DynamoDB key (or a whole item) in the plain form the DocumentClient uses: `{ pk: 'p-1', sk: 3 }`. */
export type NativeKey = Record<string, NativeAttributeValue>;

type WaitTarget =
  | { id: string; key?: never; keyAttributes?: never }
  | {
      /** Derived to the document id exactly as the writer does; extra attributes are ignored. */
      key: NativeKey;
      /** The pipeline's `KEY_ATTRIBUTES`, partition key first. */
      keyAttributes: readonly string[];
      /**
       * The index's projection as the construct was given it, when it has an id rule (`projection.id`, with
       * the `filter` that pins what the rule leaves out): the id is derived by that rule.
       */
      projection?: IdRuleSource;
      id?: never;
    };

export type WaitForIndexedOptions<Applied extends TypesenseDocument | undefined> = WaitTarget & {
  /** A shared client (preferred: it keeps its node rotation), or the settings to make one for this call. */
  typesense: TypesenseClient | TypesenseClientOptions;
  /** The alias (or collection) the application searches. */
  collection: string;
  until: IndexCondition<Applied>;
  /** Upper bound on the whole wait, 1 to 30,000 ms. Default 2000: above the pipeline's p99 lag. */
  timeoutMs?: number;
  /** Pause between two checks, at least 20 ms. Default 100. */
  intervalMs?: number;
  signal?: AbortSignal;
};

export type Indexed<Applied extends TypesenseDocument | undefined> = {
  indexed: true;
  /** What the index now holds; undefined for `deleted()`. */
  document: Applied;
  waitedMs: number;
  requests: number;
};

/**
 * - `timeout`: the index answered, but had not applied the write when the time was up.
 * - `unavailable`: no usable answer (connection refused or reset, request timeout, 429/5xx).
 * - `failed`: an answer that waiting will not change (e.g. HTTP 404: no such collection; 401).
 * - `aborted`: the caller's signal fired.
 */
export type NotIndexedReason = 'timeout' | 'unavailable' | 'failed' | 'aborted';

export type NotIndexed = {
  indexed: false;
  reason: NotIndexedReason;
  /** For logs: what was last seen or which failure ended the wait. Names the document id, never content. */
  detail: string;
  waitedMs: number;
  requests: number;
};

/** Thrown (as a rejection) for arguments no wait could succeed with; runtime conditions are results instead. */
export class WaitForIndexedArgumentError extends SyncError {
  override name = 'WaitForIndexedArgumentError';
}

const DEFAULT_TIMEOUT_MS = 2000;
const MAX_TIMEOUT_MS = 30_000;
const DEFAULT_INTERVAL_MS = 100;
const MIN_INTERVAL_MS = 20;
/**
 * Failures that may pass (no connection, 429, 5xx) end the wait after this many in a row, not at the timeout:
 * the fallback is the same either way, and an outage is exactly when every screen would otherwise stall.
 * More than one, because the client rotates over nodes and the next one may answer.
 */
const MAX_CONSECUTIVE_FAILURES = 3;

/**
 * Polls the index for the document until `until` holds, the timeout passes, the index fails or `signal`
 * fires. Never rejects for any of those (the caller's fallback is the same: read DynamoDB); rejects only
 * with `WaitForIndexedArgumentError`.
 */
export async function waitForIndexed<Applied extends TypesenseDocument | undefined>(
  options: WaitForIndexedOptions<Applied>,
): Promise<Indexed<Applied> | NotIndexed> {
  const { client, id, timeoutMs, intervalMs } = validate(options);
  const { collection, until, signal } = options;
  const startedAt = performance.now();
  const deadline = startedAt + timeoutMs;
  let requests = 0;
  let consecutiveFailures = 0;
  let lastSeen: 'nothing' | 'absent' | 'other' | { failure: unknown } = 'nothing';

  const waitedMs = () => Math.round(performance.now() - startedAt);
  const notIndexed = (reason: NotIndexedReason, detail: string): NotIndexed => ({
    indexed: false,
    reason,
    detail,
    waitedMs: waitedMs(),
    requests,
  });
  const aborted = () => notIndexed('aborted', `stopped by the caller while waiting for '${id}'`);
  const timedOut = (): NotIndexed => {
    if (lastSeen === 'absent' || lastSeen === 'other') {
      const seen = lastSeen === 'absent' ? `no document '${id}'` : `document '${id}' found`;
      return notIndexed(
        'timeout',
        `${seen} (waiting for: ${until.description}) after ${requests} requests in ${timeoutMs} ms`,
      );
    }
    if (lastSeen === 'nothing')
      return notIndexed('unavailable', `no answer from Typesense within ${timeoutMs} ms`);
    return notIndexed('unavailable', describe(lastSeen.failure));
  };

  if (signal?.aborted) return aborted();
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) return timedOut();
    requests += 1;
    // A request still running at the deadline is left to finish in the background: it is a read.
    const outcome = await settle(client.getDocument(collection, id), remaining, signal);
    if (outcome.kind === 'aborted') return aborted();
    if (outcome.kind === 'elapsed') return timedOut();
    if (outcome.kind === 'value') {
      if (until.matches(outcome.value)) {
        return { indexed: true, document: outcome.value, waitedMs: waitedMs(), requests };
      }
      lastSeen = outcome.value === undefined ? 'absent' : 'other';
      consecutiveFailures = 0;
    } else {
      if (!(outcome.error instanceof TypesenseError && outcome.error.retryable)) {
        return notIndexed('failed', describe(outcome.error));
      }
      lastSeen = { failure: outcome.error };
      consecutiveFailures += 1;
      if (consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) {
        return notIndexed('unavailable', describe(outcome.error));
      }
    }
    const pause = await settle(undefined, Math.min(intervalMs, deadline - performance.now()), signal);
    if (pause.kind === 'aborted') return aborted();
  }
}

type Settled<T> =
  | { kind: 'value'; value: T }
  | { kind: 'error'; error: unknown }
  | { kind: 'elapsed' }
  | { kind: 'aborted' };

/** How `work` ends within `ms` (just the pause when there is no work), or that `signal` fired first. */
function settle<T>(work: Promise<T> | undefined, ms: number, signal: AbortSignal | undefined) {
  return new Promise<Settled<T>>((resolve) => {
    const finish = (result: Settled<T>) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = () => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'elapsed' }), Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
    work?.then(
      (value) => finish({ kind: 'value', value }),
      (error: unknown) => finish({ kind: 'error', error }),
    );
  });
}

function validate<Applied extends TypesenseDocument | undefined>(options: WaitForIndexedOptions<Applied>) {
  const fail = (message: string, cause?: unknown): never => {
    throw new WaitForIndexedArgumentError(`waitForIndexed: ${message}`, { cause });
  };
  const { collection, until, typesense } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;

  if (typeof collection !== 'string' || collection === '') fail('collection must be a non-empty string');
  if (typeof until?.matches !== 'function') {
    fail('until must be a condition such as fieldAtLeast(), fieldEquals(), present() or deleted()');
  }
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    fail(`timeoutMs must be a number of ms above 0 and at most ${MAX_TIMEOUT_MS}, got ${timeoutMs}`);
  }
  if (!(Number.isFinite(intervalMs) && intervalMs >= MIN_INTERVAL_MS)) {
    fail(`intervalMs must be at least ${MIN_INTERVAL_MS} ms, got ${intervalMs}`);
  }

  let id: string;
  if (options.key !== undefined) {
    if (options.id !== undefined) fail('pass either id or key, not both');
    id = idOfKey(options.key, options.keyAttributes, options.projection, fail);
  } else {
    if (typeof options.id !== 'string') fail('pass the document id, or key with keyAttributes');
    id = options.id;
  }
  if (id === '') fail('the document id is empty');

  let client: TypesenseClient;
  if (typesense instanceof TypesenseClient) client = typesense;
  else {
    if (!Array.isArray(typesense?.nodes) || typesense.nodes.length === 0) {
      fail('typesense must be a TypesenseClient or { nodes, apiKey } with at least one node');
    }
    // No single request should outlive the wait it belongs to.
    client = new TypesenseClient({ timeoutMs, ...typesense });
  }
  return { client, id, timeoutMs, intervalMs };
}

function idOfKey(
  key: NativeKey,
  keyAttributes: readonly string[] | undefined,
  projection: IdRuleSource | undefined,
  fail: (message: string, cause?: unknown) => never,
): string {
  if (!Array.isArray(keyAttributes) || keyAttributes.length < 1 || keyAttributes.length > 2) {
    return fail('keyAttributes must name the partition key, and the sort key if the table has one');
  }
  // Only the key attributes are marshalled, so an item with attributes the marshaller refuses still works.
  const keyOnly = Object.fromEntries(
    keyAttributes.filter((name) => key[name] !== undefined).map((name) => [name, key[name]]),
  );
  try {
    const marshalled: MarshalledKey = marshall(keyOnly);
    for (const [name, value] of Object.entries(marshalled)) {
      // The stream carries DynamoDB's canonical decimal text (1e-7 arrives as 0.0000001), which JS prints differently.
      if (value.N?.includes('e'))
        fail(`key attribute '${name}' is ${value.N}: pass it as its decimal string`);
    }
    const id = indexDocumentId(marshalled, keyAttributes, projection);
    return (
      id ?? fail("key: the projection's id rule leaves this key out of the index: it is never indexed there")
    );
  } catch (error) {
    if (error instanceof WaitForIndexedArgumentError) throw error;
    return fail(`key: ${(error as Error).message}`, error);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
