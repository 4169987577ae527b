/**
 * The ranges and defaults deploy time and run time must agree on. The functions' env schemas (env.ts) reject
 * values outside LIMITS and fall back to DEFAULTS; the construct (lib/) validates its props against the same
 * numbers, so a value it accepts never fails only at a function's first cold start.
 */

/** An inclusive integer range. */
export interface Limit {
  readonly min: number;
  readonly max: number;
}

/** SQS's maximum visibility timeout (12 h), which bounds every backoff a message waits. */
export const MAX_VISIBILITY_SECONDS = 43_200;

export const LIMITS = {
  /** The changes queue's `maximumMessageSize`: SQS allows 1 KiB to 1 MiB; the batcher needs 8 KiB. */
  maxMessageBytes: { min: 8_192, max: 1_048_576 },
  /** FIFO message groups keys are hashed into. */
  messageGroupBuckets: { min: 1, max: 10_000 },
  retryMaxSeconds: { min: 1, max: MAX_VISIBILITY_SECONDS },
  visibilityLeaseSeconds: { min: 1, max: MAX_VISIBILITY_SECONDS },
  circuitMaxProbeSeconds: { min: 1, max: MAX_VISIBILITY_SECONDS },
  resyncTotalSegments: { min: 1, max: 1_000 },
  resyncPageSize: { min: 1, max: 10_000 },
  resyncKeepCollections: { min: 1, max: 100 },
  canaryTimeoutSeconds: { min: 1, max: 600 },
  atlasVersionTtlDays: { min: 1, max: 365 },
  /** Lambda's limit for a DynamoDB stream event source's `BatchSize`. */
  streamBatchSize: { min: 1, max: 10_000 },
  /** `MaximumBatchingWindowInSeconds`: whole seconds. */
  streamBatchingWindowSeconds: { min: 0, max: 300 },
  /** Items of one aggregated partition (docs/configuration.md "Aggregation"). */
  aggregateMaxItems: { min: 1, max: 10_000 },
  /** The JSON of one aggregated document. */
  aggregateMaxDocumentBytes: { min: 1_024, max: 10_485_760 },
} as const satisfies Record<string, Limit>;

/**
 * Lambda's payload limit for a synchronous invocation (6 MB, counted here as 6 MiB): the stream event
 * source invokes the batcher with fewer records than `BatchSize` when more would not fit.
 */
export const STREAM_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024;

export const DEFAULTS = {
  /**
   * FIFO message groups keys are hashed into. A stream batch becomes at least one message per group it
   * touches, so fewer groups make fuller messages; 4 is the knee of bench P1 (16 → 8 → 4 → 2 groups:
   * 1.9×, 1.5×, 1.3×, 1.2× the lower bound of billed SQS requests on full batches) and still lets 4
   * writer invocations run at once, what Typesense's "at most N − 2 concurrent imports" allows a
   * 6-core node.
   */
  messageGroupBuckets: 4,
  /**
   * Records per batcher invocation, at most: the batching window and Lambda's 6 MB invocation payload
   * decide how full a batch gets, and a fuller batch packs more changes per SQS message (bench P1).
   */
  streamBatchSize: 10_000,
  /**
   * Seconds the stream event source gathers records before invoking the batcher, unless a batch fills
   * first. None: a 1 s window put lag p99 at 1,000 writes/s at ~2.0 s (goal ≤ 1.5 s) while, with no
   * window, that rate still fills batches of ~250 records (2.3× the byte-count bound of billed SQS
   * requests; 1.3× on a backlog); below ~500 writes/s a window cuts SQS requests up to 4× (bench P1).
   */
  streamBatchingWindowSeconds: 0,
  maxMessageBytes: 262_144,
  typesenseTimeoutMs: 5_000,
  maxReceiveCount: 10,
  retryBaseSeconds: 2,
  retryMaxSeconds: 300,
  retryBudgetHours: 72,
  circuitFailureThreshold: 3,
  circuitProbeSeconds: 15,
  circuitMaxProbeSeconds: 300,
  /**
   * Cores of one Typesense node when the props do not say: Typesense asks for at most N − 2
   * concurrent imports on N cores (docs/configuration.md, "Write concurrency"), so 6 cores allow the
   * 4 concurrent writer batches that the 4 default message groups allow.
   */
  typesenseNodeCores: 6,
  /** A writer instance's imports in flight, at most: `typesenseNodeCores` − 2. */
  maxConcurrentImports: 4,
  resyncTotalSegments: 8,
  resyncPageSize: 500,
  resyncPagesPerTask: 200,
  resyncKeepCollections: 2,
  canaryTimeoutSeconds: 45,
  lagCheckIntervalSeconds: 60,
  atlasVersionTtlDays: 30,
  /**
   * An aggregated partition's items, at most: each change of the partition reads them all with one
   * strongly consistent Query (RCU ∝ the partition's size), and its document holds them all.
   */
  aggregateMaxItems: 1_000,
  /**
   * An aggregated document's JSON, at most: Typesense sets no size limit on a document, but holds every
   * document in memory and re-indexes the whole of it on each change of the partition.
   */
  aggregateMaxDocumentBytes: 1_048_576,
  /** The CloudWatch namespace of every function's EMF metrics when POWERTOOLS_METRICS_NAMESPACE is unset. */
  metricsNamespace: 'TypesenseSync',
} as const;

/**
 * The writer's visibility lease when none is chosen, s: a sixth of the changes queue's visibility timeout.
 * Lambda's guide sets that timeout to 6 × the function's, so the lease is about the writer's timeout: a
 * writer that dies holds its message groups about that long instead of six times as long, and each write
 * is still sent at least half a timeout before another invocation can take its messages
 * (docs/configuration.md, "Visibility lease"). None under a second: leases are whole seconds.
 */
export function defaultVisibilityLeaseSeconds(queueVisibilitySeconds: number): number | undefined {
  const seconds = Math.floor(queueVisibilitySeconds / 6);
  return seconds >= LIMITS.visibilityLeaseSeconds.min ? seconds : undefined;
}
