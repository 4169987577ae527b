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
  circuitMaxProbeSeconds: { min: 1, max: MAX_VISIBILITY_SECONDS },
  resyncTotalSegments: { min: 1, max: 1_000 },
  resyncPageSize: { min: 1, max: 10_000 },
  resyncKeepCollections: { min: 1, max: 100 },
  canaryTimeoutSeconds: { min: 1, max: 600 },
  atlasVersionTtlDays: { min: 1, max: 365 },
} as const satisfies Record<string, Limit>;

export const DEFAULTS = {
  messageGroupBuckets: 16,
  maxMessageBytes: 262_144,
  typesenseTimeoutMs: 5_000,
  maxReceiveCount: 10,
  retryBaseSeconds: 2,
  retryMaxSeconds: 300,
  retryBudgetHours: 72,
  circuitFailureThreshold: 3,
  circuitProbeSeconds: 15,
  circuitMaxProbeSeconds: 300,
  resyncTotalSegments: 8,
  resyncPageSize: 500,
  resyncPagesPerTask: 200,
  resyncKeepCollections: 2,
  canaryTimeoutSeconds: 45,
  lagCheckIntervalSeconds: 60,
  atlasVersionTtlDays: 30,
  /** The CloudWatch namespace of every function's EMF metrics when POWERTOOLS_METRICS_NAMESPACE is unset. */
  metricsNamespace: 'TypesenseSync',
} as const;
