import type { AggregateConfig } from './aggregate.ts';
import type { Conversion, ItemFilter, NestedMode } from './projection.ts';

/**
 * Typed builders of every function's environment. Each takes the function's variables by their names, with
 * every variable the function cannot run without as a required key: a missing or misspelt variable fails
 * `tsc` where the environment is written (the construct, the Atlas source, the local stack), not at the
 * function's first cold start. The values are rendered as the schemas in env.ts parse them.
 */

/** A number, or a string for a CDK token standing for one (`Token.asString`). */
type Count = number | string;

/** The changes' projection, as the PROJECTION variable holds it. */
export interface ProjectionEnv {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly filter?: ItemFilter;
  readonly rename?: Readonly<Record<string, string>>;
  readonly nested?: NestedMode;
  readonly convert?: Readonly<Record<string, Conversion>>;
}

/** Every function publishing EMF metrics reads its namespace from here (Powertools). */
interface MetricsEnv {
  readonly POWERTOOLS_METRICS_NAMESPACE?: string;
}

/** Deployed functions read the API key from Secrets Manager; a local stack passes the key itself. */
type ApiKeyEnv = { readonly TYPESENSE_API_KEY_SECRET_ARN: string } | { readonly TYPESENSE_API_KEY: string };

/** How a function reaches Typesense (writer, re-sync, lag check). */
export type TypesenseEnv = ApiKeyEnv & {
  readonly TYPESENSE_NODES: readonly string[];
  readonly TYPESENSE_NEAREST_NODE?: string;
  readonly TYPESENSE_COLLECTION: string;
  readonly TYPESENSE_TIMEOUT_MS?: Count;
  readonly TYPESENSE_IMPORT_TIMEOUT_MS?: Count;
  /** Partition key first, then the sort key if any. */
  readonly KEY_ATTRIBUTES: readonly string[];
  readonly PROJECTION?: ProjectionEnv;
  /** An aggregated index: one document per partition key. */
  readonly AGGREGATE?: AggregateConfig;
};

/** One changes queue the batcher feeds (an index's). */
export interface ChangesQueueTargetEnv {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** @default the table's key (KEY_ATTRIBUTES) */
  readonly keyAttributes?: readonly string[];
}

export interface BatcherEnv extends MetricsEnv {
  /** Every index's changes queue: rendered as JSON. */
  readonly QUEUES: readonly ChangesQueueTargetEnv[];
  readonly DLQ_URL: string;
  readonly KEY_ATTRIBUTES: readonly string[];
  /** Must equal what the re-sync uses, or one key's changes could land in two groups. */
  readonly MESSAGE_GROUP_BUCKETS: Count;
  /** Must equal the changes queue's `maximumMessageSize`. */
  readonly MAX_MESSAGE_BYTES: Count;
  readonly SOURCE_TIMESTAMP_ATTRIBUTE?: string;
}

export type WriterEnv = TypesenseEnv &
  MetricsEnv & {
    readonly TABLE_NAME: string;
    readonly QUEUE_URL: string;
    readonly DLQ_URL: string;
    /** Must equal the changes queue's redrive `maxReceiveCount`. */
    readonly MAX_RECEIVE_COUNT: Count;
    /** Must equal the changes queue's `maximumMessageSize`. */
    readonly MAX_MESSAGE_BYTES: Count;
    readonly RETRY_BASE_SECONDS?: Count;
    readonly RETRY_MAX_SECONDS?: Count;
    readonly RETRY_BUDGET_HOURS?: Count;
    readonly CIRCUIT_FAILURE_THRESHOLD?: Count;
    readonly CIRCUIT_PROBE_SECONDS?: Count;
    readonly CIRCUIT_MAX_PROBE_SECONDS?: Count;
    /** The cap of the adaptive import limit: N − 2 on a Typesense node of N cores. */
    readonly TYPESENSE_MAX_CONCURRENT_IMPORTS?: Count;
    readonly TYPESENSE_IMPORT_LATENCY_TARGET_MS?: Count;
    /** The writer's visibility lease, s: far below the queue's visibility timeout. */
    readonly VISIBILITY_LEASE_SECONDS?: Count;
    readonly RESYNC_STATE_TABLE?: string;
  };

/** The Typesense schema of the collections a re-sync creates. */
export interface CollectionSchemaEnv {
  readonly fields: ReadonlyArray<{ name: string; type: string; [k: string]: unknown }>;
  readonly [k: string]: unknown;
}

export type ResyncEnv = TypesenseEnv &
  MetricsEnv & {
    readonly TABLE_NAME: string;
    readonly RESYNC_STATE_TABLE: string;
    readonly RESYNC_QUEUE_URL: string;
    readonly QUEUE_URL: string;
    readonly MESSAGE_GROUP_BUCKETS: Count;
    readonly MAX_MESSAGE_BYTES: Count;
    readonly COLLECTION_SCHEMA?: CollectionSchemaEnv;
    readonly RESYNC_TOTAL_SEGMENTS?: Count;
    readonly RESYNC_PAGE_SIZE?: Count;
    readonly RESYNC_PAGES_PER_TASK?: Count;
    readonly RESYNC_KEEP_COLLECTIONS?: Count;
  };

export type LagCheckEnv = TypesenseEnv &
  MetricsEnv & {
    readonly TABLE_NAME: string;
    readonly RESYNC_STATE_TABLE: string;
    readonly QUEUE_URL: string;
    readonly DLQ_URL: string;
    readonly BATCHER_FUNCTION_NAME: string;
    /** The writer's POWERTOOLS_SERVICE_NAME: the dimension of its CircuitOpen metric. */
    readonly WRITER_SERVICE_NAME: string;
    /** The indexes after the first: rendered as JSON. */
    readonly FURTHER_INDEXES?: ReadonlyArray<{ alias: string; queueUrl: string; dlqUrl: string }>;
    readonly CANARY_TIMEOUT_SECONDS?: Count;
    readonly SOURCE_TIMESTAMP_ATTRIBUTE?: string;
  };

export interface IngestionDelayEnv extends MetricsEnv {
  readonly RESYNC_STATE_TABLE: string;
  readonly DLQ_URL: string;
  /** How often the lag check runs: tells a fresh reading from a stale one. */
  readonly LAG_CHECK_INTERVAL_SECONDS: Count;
}

export interface AtlasIngestEnv extends MetricsEnv {
  readonly TABLE_NAME: string;
  readonly ATLAS_VERSIONS_TABLE: string;
  readonly DLQ_URL: string;
  readonly ATLAS_VERSION_TTL_DAYS?: Count;
}

type EnvValue = string | number | readonly string[] | object | undefined;

/**
 * The variables as strings: a list of strings comma-separated (node URLs, key attributes), an object or a list
 * of objects as JSON (projection, collection schema, the batcher's queues), a number in decimal; unset variables are left out.
 */
function render(values: Readonly<Record<string, EnvValue>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (typeof value === 'string') env[name] = value;
    else if (typeof value === 'number') env[name] = String(value);
    else if (Array.isArray(value) && value.every((each) => typeof each === 'string'))
      env[name] = value.join(',');
    else env[name] = JSON.stringify(value);
  }
  return env;
}

export const batcherEnvironment = (values: BatcherEnv): Record<string, string> => render({ ...values });
export const writerEnvironment = (values: WriterEnv): Record<string, string> => render({ ...values });
export const resyncEnvironment = (values: ResyncEnv): Record<string, string> => render({ ...values });
export const lagCheckEnvironment = (values: LagCheckEnv): Record<string, string> => render({ ...values });
export const ingestionDelayEnvironment = (values: IngestionDelayEnv): Record<string, string> =>
  render({ ...values });
export const atlasIngestEnvironment = (values: AtlasIngestEnv): Record<string, string> =>
  render({ ...values });
