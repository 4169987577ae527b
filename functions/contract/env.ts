import { z } from 'zod';
import { aggregateSchema } from './aggregate.ts';
import { DEFAULTS, LIMITS } from './limits.ts';
import { projectionSchema } from './projection.ts';

/**
 * Every function's environment contract: one zod schema per function. Deploy time (the construct in lib/,
 * the local stack) writes these variables through the builders in env-builders.ts; run time parses them
 * with functions/shared/config.ts. Imports nothing but zod, so `cdk synth` loads no runtime code for it.
 */

const keyAttributes = z
  .string()
  .min(1)
  .transform((value) => value.split(',').map((name) => name.trim()))
  .refine((names) => names.length >= 1 && names.length <= 2 && names.every((name) => name.length > 0), {
    message: 'must be one or two attribute names separated by a comma: partition key first, then sort key',
  });

const positiveInt = (defaultValue: number) => z.coerce.number().int().positive().default(defaultValue);

/** Must equal the changes queue's `maximumMessageSize` (SQS allows 1 KiB to 1 MiB). */
const maxMessageBytes = positiveInt(DEFAULTS.maxMessageBytes).pipe(
  z.number().min(LIMITS.maxMessageBytes.min).max(LIMITS.maxMessageBytes.max),
);

/** An optional variable holding JSON: `whenEmpty` when unset or empty, else the parsed value. */
const jsonText = <T>(whenEmpty: T) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === '') return whenEmpty as unknown;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is not valid JSON' });
        return z.NEVER;
      }
    });

const projection = jsonText({}).pipe(projectionSchema);

/**
 * The changes queues the batcher sends every change to, one per index: each with its DLQ (where a change
 * that queue refuses alone is dead-lettered) and the key attributes its changes carry (default the table's
 * key; a partition key alone makes that index's changes partition-level).
 */
const changesQueueTargets = jsonText(undefined).pipe(
  z
    .array(
      z
        .object({
          queueUrl: z.string().url(),
          deadLetterQueueUrl: z.string().url(),
          keyAttributes: z.array(z.string().min(1)).min(1).max(2).optional(),
        })
        .strict(),
    )
    .min(1, 'must list at least one changes queue'),
);

export const batcherConfigSchema = z.object({
  /** JSON: `[{ queueUrl, deadLetterQueueUrl, keyAttributes? }]`, one entry per index. */
  QUEUES: changesQueueTargets,
  /** Where records that are no change at all (no key, no sequence number) are dead-lettered: the first index's DLQ. */
  DLQ_URL: z.string().url(),
  KEY_ATTRIBUTES: keyAttributes,
  /** Number of FIFO message groups keys are hashed into: the writer's maximum parallelism. */
  MESSAGE_GROUP_BUCKETS: positiveInt(DEFAULTS.messageGroupBuckets).pipe(
    z.number().max(LIMITS.messageGroupBuckets.max),
  ),
  MAX_MESSAGE_BYTES: maxMessageBytes,
  /** Optional item attribute holding a precise change time (ms epoch number or ISO string). */
  SOURCE_TIMESTAMP_ATTRIBUTE: z.string().min(1).optional(),
});
export type BatcherConfig = z.infer<typeof batcherConfigSchema>;

const API_KEY_SOURCE = 'TYPESENSE_API_KEY_SECRET_ARN or TYPESENSE_API_KEY';

/** How a function reaches Typesense; shared by every function that writes to it. */
const typesenseFields = {
  /** Comma-separated node URLs, e.g. `https://xyz.a1.typesense.net:443`. */
  TYPESENSE_NODES: z
    .string()
    .min(1)
    .transform((value) => value.split(',').map((url) => url.trim()))
    .pipe(z.array(z.string().url()).min(1)),
  /** Optional node tried first while healthy (e.g. a Typesense Cloud load-balanced or same-region node). */
  TYPESENSE_NEAREST_NODE: z.string().url().optional(),
  /** Production: the Secrets Manager secret holding the API key. */
  TYPESENSE_API_KEY_SECRET_ARN: z.string().min(1).optional(),
  /** Local stacks only: the API key itself. Never set this in a deployed function. */
  TYPESENSE_API_KEY: z.string().min(1).optional(),
  /** The alias (or collection) the writer writes to. */
  TYPESENSE_COLLECTION: z.string().min(1),
  TYPESENSE_TIMEOUT_MS: positiveInt(DEFAULTS.typesenseTimeoutMs),
  /**
   * A cap on the writer's import timeout, which is otherwise what remains of the invocation less 5 s.
   * Deployed, that is safe (the queue's visibility is 6 × the function timeout); a runtime whose
   * visibility timeout is shorter than its invocations (the embedded stack's 2 s) must cap it below.
   */
  TYPESENSE_IMPORT_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
  KEY_ATTRIBUTES: keyAttributes,
  PROJECTION: projection,
  /** Set for an aggregated index: one document per partition key (contract/aggregate.ts). */
  AGGREGATE: jsonText(undefined).pipe(aggregateSchema),
  /** The re-sync state table: while a re-sync runs, the writer also writes to its new collection. */
  RESYNC_STATE_TABLE: z.string().min(1).optional(),
};

/**
 * Adds the check that one API key source is set. It is checked as a field of its own (not an
 * object-level refine, which zod runs only when every field parsed), so a missing key is reported
 * together with every other problem.
 */
function withApiKeySource<T extends z.ZodRawShape>(shape: T) {
  return z.preprocess(
    (env) => {
      const vars = env as Record<string, string | undefined>;
      return { ...vars, [API_KEY_SOURCE]: vars.TYPESENSE_API_KEY_SECRET_ARN ?? vars.TYPESENSE_API_KEY };
    },
    z
      .object({
        ...shape,
        [API_KEY_SOURCE]: z.string({ required_error: 'one of them must be set' }).min(1),
      })
      .transform(({ [API_KEY_SOURCE]: _checked, ...config }) => config as z.infer<z.ZodObject<T>>),
  );
}

export const writerConfigSchema = withApiKeySource({
  ...typesenseFields,
  TABLE_NAME: z.string().min(1),
  /** The changes queue itself: retryable messages near the receive limit are re-sent to it. */
  QUEUE_URL: z.string().url(),
  DLQ_URL: z.string().url(),
  /** Must equal the changes queue's redrive `maxReceiveCount`. */
  MAX_RECEIVE_COUNT: positiveInt(DEFAULTS.maxReceiveCount),
  /** The changes queue's `maximumMessageSize`: re-sent messages are packed to fit it. */
  MAX_MESSAGE_BYTES: maxMessageBytes,
  /** Backoff of a retried message: base × 2^(receives−1), capped, with jitter (SQS allows ≤ 12 h). */
  RETRY_BASE_SECONDS: positiveInt(DEFAULTS.retryBaseSeconds),
  RETRY_MAX_SECONDS: positiveInt(DEFAULTS.retryMaxSeconds).pipe(z.number().max(LIMITS.retryMaxSeconds.max)),
  /** How long a change may keep failing retryably before it is dead-lettered anyway. */
  RETRY_BUDGET_HOURS: positiveInt(DEFAULTS.retryBudgetHours),
  /** Consecutive batches failing for outage reasons that open the circuit. */
  CIRCUIT_FAILURE_THRESHOLD: positiveInt(DEFAULTS.circuitFailureThreshold),
  /** First wait before probing Typesense's health while open; doubles up to the max. */
  CIRCUIT_PROBE_SECONDS: positiveInt(DEFAULTS.circuitProbeSeconds),
  CIRCUIT_MAX_PROBE_SECONDS: positiveInt(DEFAULTS.circuitMaxProbeSeconds).pipe(
    z.number().max(LIMITS.circuitMaxProbeSeconds.max),
  ),
  /**
   * The cap of the writer instance's adaptive import limit (AIMD: halved on 503/429, grown on good
   * answers): Typesense's N − 2 concurrent imports on a node of N cores.
   */
  TYPESENSE_MAX_CONCURRENT_IMPORTS: positiveInt(DEFAULTS.maxConcurrentImports),
  /** An import slower than this halves the adaptive limit too. Default: only 503/429 do. */
  TYPESENSE_IMPORT_LATENCY_TARGET_MS: z.coerce.number().int().positive().optional(),
  /**
   * The visibility lease, s (core/write-batch/lease.ts): how long a batch's messages stay invisible
   * while it runs, renewed while it runs and extended as its writes need; an invocation that dies holds
   * its message groups about this long instead of the queue's visibility timeout. Unset: no lease; the
   * construct sets a sixth of the changes queue's visibility timeout (`defaultVisibilityLeaseSeconds`).
   */
  VISIBILITY_LEASE_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .max(LIMITS.visibilityLeaseSeconds.max)
    .optional(),
});
export type WriterConfig = z.infer<typeof writerConfigSchema>;

const collectionSchema = jsonText(undefined).pipe(
  z
    .object({
      fields: z.array(z.object({ name: z.string().min(1), type: z.string().min(1) }).passthrough()),
    })
    .passthrough()
    .optional(),
);

export const resyncConfigSchema = withApiKeySource({
  ...typesenseFields,
  RESYNC_STATE_TABLE: z.string().min(1),
  TABLE_NAME: z.string().min(1),
  /** The re-sync's own work queue: start, segment and finish tasks. */
  RESYNC_QUEUE_URL: z.string().url(),
  /** The changes queue: keys deleted during the backfill are re-applied through it, in their group. */
  QUEUE_URL: z.string().url(),
  MESSAGE_GROUP_BUCKETS: positiveInt(DEFAULTS.messageGroupBuckets).pipe(
    z.number().max(LIMITS.messageGroupBuckets.max),
  ),
  MAX_MESSAGE_BYTES: maxMessageBytes,
  /** Schema of the new collection (its name is generated). Default: the live collection's. */
  COLLECTION_SCHEMA: collectionSchema,
  /** Parallel Scan segments, each a task of its own. */
  RESYNC_TOTAL_SEGMENTS: positiveInt(DEFAULTS.resyncTotalSegments).pipe(
    z.number().max(LIMITS.resyncTotalSegments.max),
  ),
  /** Items per Scan page: one import request each (a checkpoint records whole pages). */
  RESYNC_PAGE_SIZE: positiveInt(DEFAULTS.resyncPageSize).pipe(z.number().max(LIMITS.resyncPageSize.max)),
  /** Pages one task scans before handing its segment on to a fresh task (bounds a Lambda run). */
  RESYNC_PAGES_PER_TASK: positiveInt(DEFAULTS.resyncPagesPerTask),
  /** Older versioned collections kept for rollback after a swap. */
  RESYNC_KEEP_COLLECTIONS: positiveInt(DEFAULTS.resyncKeepCollections).pipe(
    z.number().max(LIMITS.resyncKeepCollections.max),
  ),
});
export type ResyncConfig = z.infer<typeof resyncConfigSchema>;

export const lagCheckConfigSchema = withApiKeySource({
  ...typesenseFields,
  TABLE_NAME: z.string().min(1),
  /** Where the latest reading is kept for the ingestion-delay endpoint. */
  RESYNC_STATE_TABLE: z.string().min(1),
  QUEUE_URL: z.string().url(),
  DLQ_URL: z.string().url(),
  /** The batcher, whose Lambda IteratorAge metric says how far behind the stream it reads. */
  BATCHER_FUNCTION_NAME: z.string().min(1),
  /** The writer's POWERTOOLS_SERVICE_NAME: the dimension of its CircuitOpen metric. */
  WRITER_SERVICE_NAME: z.string().min(1),
  /**
   * JSON: `[{ alias, queueUrl, dlqUrl, resyncStateTable }]`, the indexes after the first (whose alias, queue,
   * DLQ and re-sync state table are TYPESENSE_COLLECTION, QUEUE_URL, DLQ_URL and RESYNC_STATE_TABLE): the
   * canary is waited for in each, and each one's re-sync progress read. Default: none.
   */
  FURTHER_INDEXES: jsonText([]).pipe(
    z.array(
      z
        .object({
          alias: z.string().min(1),
          queueUrl: z.string().url(),
          dlqUrl: z.string().url(),
          resyncStateTable: z.string().min(1),
        })
        .strict(),
    ),
  ),
  /** How long to wait for the canary to become searchable. */
  CANARY_TIMEOUT_SECONDS: positiveInt(DEFAULTS.canaryTimeoutSeconds).pipe(
    z.number().max(LIMITS.canaryTimeoutSeconds.max),
  ),
  SOURCE_TIMESTAMP_ATTRIBUTE: z.string().min(1).optional(),
  POWERTOOLS_METRICS_NAMESPACE: z.string().min(1).default(DEFAULTS.metricsNamespace),
});
export type LagCheckConfig = z.infer<typeof lagCheckConfigSchema>;

export const ingestionDelayConfigSchema = z.object({
  RESYNC_STATE_TABLE: z.string().min(1),
  DLQ_URL: z.string().url(),
  /** How often the lag check runs: a reading older than three intervals is stale. */
  LAG_CHECK_INTERVAL_SECONDS: positiveInt(DEFAULTS.lagCheckIntervalSeconds),
});

export const atlasIngestConfigSchema = z.object({
  /** The mirror table: the pipeline's source table, keyed by `_id`. */
  TABLE_NAME: z.string().min(1),
  /** The last applied version (cluster time) of each document id. */
  ATLAS_VERSIONS_TABLE: z.string().min(1),
  /** The changes DLQ (FIFO): events that can never be mirrored go there, with the reason. */
  DLQ_URL: z.string().url(),
  /**
   * How long a document's version outlives its last event: longer than any event can be in flight
   * (EventBridge retries for 24 h, the ingest queue and its DLQ keep messages 14 days each).
   */
  ATLAS_VERSION_TTL_DAYS: positiveInt(DEFAULTS.atlasVersionTtlDays).pipe(
    z.number().max(LIMITS.atlasVersionTtlDays.max),
  ),
});
export type AtlasIngestConfig = z.infer<typeof atlasIngestConfigSchema>;
