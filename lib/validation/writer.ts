import { DEFAULTS, LIMITS } from '../../functions/contract/limits.ts';
import type { TypesenseSyncWriterProps } from '../typesense-sync-props.ts';
import { EVENT_SOURCE_CONCURRENCY_RANGE, type Problems, type Range, resolved } from './problems.ts';

/** Cores of a Typesense node: 3 is the least for which N − 2 leaves an import. */
const TYPESENSE_CORES_RANGE: Range = [3, 1_024];
const MAX_CONCURRENT_IMPORTS_RANGE: Range = [1, 1_000];
const VISIBILITY_LEASE_SECONDS_RANGE: Range = [
  LIMITS.visibilityLeaseSeconds.min,
  LIMITS.visibilityLeaseSeconds.max,
];

/** The writer's concurrency settings, with the defaults the write concurrency design gives them. */
export interface WriterSettings {
  /** The event source's `maxConcurrency`: the bound across Lambda instances. */
  readonly maxConcurrency?: number;
  readonly reservedConcurrentExecutions?: number;
  /** TYPESENSE_MAX_CONCURRENT_IMPORTS, set only when the props say (the function defaults it). */
  readonly maxConcurrentImports?: number;
  /** VISIBILITY_LEASE_SECONDS, set only when the props say. */
  readonly visibilityLeaseSeconds?: number;
}

/**
 * The writer props. Typesense asks for at most N − 2 concurrent imports on a node of N cores
 * (docs/configuration.md, "Write concurrency"); every writer batch has one live import in flight, and
 * a FIFO queue runs at most one batch per message group. So across Lambda instances the imports in
 * flight are bounded by min(`messageGroupBuckets`, `maxConcurrency`): when the cap the props give is
 * below the message groups and `maxConcurrency` is not set, the event source gets max(2, cap), 2
 * being its minimum. A visibility lease must be shorter than the changes queue's visibility timeout
 * (`queueVisibilitySeconds`): it exists to hold a dying invocation's message groups for less.
 */
export function writerSettings(
  writer: TypesenseSyncWriterProps,
  messageGroupBuckets: number,
  queueVisibilitySeconds: number,
  problems: Problems,
): WriterSettings {
  const { typesenseCores, reservedConcurrentExecutions } = writer;
  if (typesenseCores !== undefined)
    problems.intRange('writer.typesenseCores', typesenseCores, TYPESENSE_CORES_RANGE);
  if (writer.maxConcurrentImports !== undefined)
    problems.intRange(
      'writer.maxConcurrentImports',
      writer.maxConcurrentImports,
      MAX_CONCURRENT_IMPORTS_RANGE,
    );
  if (writer.maxConcurrency !== undefined)
    problems.intRange('writer.maxConcurrency', writer.maxConcurrency, EVENT_SOURCE_CONCURRENCY_RANGE);
  const maxConcurrentImports =
    writer.maxConcurrentImports ??
    (typesenseCores === undefined ? undefined : Math.max(1, typesenseCores - 2));
  const cap = maxConcurrentImports ?? DEFAULTS.maxConcurrentImports;
  const capBindsGroups =
    maxConcurrentImports !== undefined && resolved(cap, messageGroupBuckets) && cap < messageGroupBuckets;
  const maxConcurrency = writer.maxConcurrency ?? (capBindsGroups ? Math.max(2, cap) : undefined);
  problems.concurrency('writer', reservedConcurrentExecutions, maxConcurrency);
  const visibilityLeaseSeconds = problems.wholeUnits(
    'writer.visibilityLease',
    writer.visibilityLease,
    'seconds',
    VISIBILITY_LEASE_SECONDS_RANGE,
  );
  if (
    visibilityLeaseSeconds !== undefined &&
    resolved(visibilityLeaseSeconds, queueVisibilitySeconds) &&
    visibilityLeaseSeconds >= queueVisibilitySeconds
  )
    problems.add(
      `writer.visibilityLease (${visibilityLeaseSeconds} s) must be shorter than the changes queue's ` +
        `visibility timeout (${queueVisibilitySeconds} s): a dying invocation holds its message groups ` +
        'for the lease, which is only worth taking when shorter',
    );
  return {
    ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
    ...(reservedConcurrentExecutions === undefined ? {} : { reservedConcurrentExecutions }),
    ...(maxConcurrentImports === undefined ? {} : { maxConcurrentImports }),
    ...(visibilityLeaseSeconds === undefined ? {} : { visibilityLeaseSeconds }),
  };
}
