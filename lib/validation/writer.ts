import type { Duration } from 'aws-cdk-lib';
import { DEFAULTS, defaultVisibilityLeaseSeconds, LIMITS } from '../../functions/contract/limits.ts';
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
  /** VISIBILITY_LEASE_SECONDS: the props', or a sixth of the queue's visibility; none when the props give 0 s. */
  readonly visibilityLeaseSeconds?: number;
}

/**
 * The writer props. Typesense asks for at most N − 2 concurrent imports on a node of N cores
 * (docs/configuration.md, "Write concurrency"); every writer batch has one live import in flight, and
 * a FIFO queue runs at most one batch per message group. So across Lambda instances the imports in
 * flight are bounded by min(`messageGroupBuckets`, `maxConcurrency`): when the cap the props give is
 * below the message groups and `maxConcurrency` is not set, the event source gets max(2, cap), 2
 * being its minimum.
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
  const visibilityLeaseSeconds = visibilityLeaseOf(writer.visibilityLease, queueVisibilitySeconds, problems);
  return {
    ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
    ...(reservedConcurrentExecutions === undefined ? {} : { reservedConcurrentExecutions }),
    ...(maxConcurrentImports === undefined ? {} : { maxConcurrentImports }),
    ...(visibilityLeaseSeconds === undefined ? {} : { visibilityLeaseSeconds }),
  };
}

/**
 * The writer's visibility lease, s: by default a sixth of the changes queue's visibility timeout (about
 * `writerTimeout`), none for 0 s. A chosen lease must be shorter than the queue's visibility timeout
 * (`queueVisibilitySeconds`): it exists to hold a dying invocation's message groups for less.
 */
function visibilityLeaseOf(
  lease: Duration | undefined,
  queueVisibilitySeconds: number,
  problems: Problems,
): number | undefined {
  if (lease === undefined)
    return resolved(queueVisibilitySeconds)
      ? defaultVisibilityLeaseSeconds(queueVisibilitySeconds)
      : undefined;
  const asked = lease.toSeconds({ integral: false });
  if (resolved(asked) && asked === 0) return undefined;
  const seconds = problems.wholeUnits(
    'writer.visibilityLease',
    lease,
    'seconds',
    VISIBILITY_LEASE_SECONDS_RANGE,
  );
  if (seconds !== undefined && resolved(seconds, queueVisibilitySeconds) && seconds >= queueVisibilitySeconds)
    problems.add(
      `writer.visibilityLease (${seconds} s) must be shorter than the changes queue's ` +
        `visibility timeout (${queueVisibilitySeconds} s): a dying invocation holds its message groups ` +
        'for the lease, which is only worth taking when shorter',
    );
  return seconds;
}
