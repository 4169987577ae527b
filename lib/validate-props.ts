import { Duration, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { INDEX_ON_DELETE } from '../functions/contract/index-resource.ts';
import { DEFAULTS, LIMITS, MAX_VISIBILITY_SECONDS } from '../functions/contract/limits.ts';
import { atlasSourcePropsProblems } from './atlas-source.ts';
import type { TypesenseSyncIndex, TypesenseSyncProps } from './typesense-sync-props.ts';
import { indexesOf, indexProblems } from './validation/indexes.ts';
import {
  EVENT_SOURCE_CONCURRENCY_RANGE,
  Problems,
  type Range,
  RESERVED_CONCURRENCY_RANGE,
  rateSeconds,
  resolved,
} from './validation/problems.ts';
import { type TableSettings, tableSettings } from './validation/table.ts';
import { type WriterSettings, writerSettings } from './validation/writer.ts';

/**
 * The validation of `TypesenseSync`'s props, pure (it creates nothing), in the Solutions Constructs shape:
 * every problem is collected and reported at once, in one error with one line per problem. Ranges and
 * defaults come from the functions' env contract (functions/contract/), so a value accepted here never
 * fails only at a function's first cold start.
 */

const MAX_MESSAGE_BYTES_RANGE: Range = [LIMITS.maxMessageBytes.min, LIMITS.maxMessageBytes.max];
const MESSAGE_GROUP_BUCKETS_RANGE: Range = [LIMITS.messageGroupBuckets.min, LIMITS.messageGroupBuckets.max];
const PARALLELIZATION_FACTOR_RANGE: Range = [1, 10];
const STREAM_BATCH_SIZE_RANGE: Range = [LIMITS.streamBatchSize.min, LIMITS.streamBatchSize.max];
const STREAM_BATCHING_WINDOW_SECONDS_RANGE: Range = [
  LIMITS.streamBatchingWindowSeconds.min,
  LIMITS.streamBatchingWindowSeconds.max,
];
/** The changes queue keeps messages 14 days, the SQS maximum: the retry budget is validated against it. */
export const CHANGES_QUEUE_RETENTION = Duration.days(14);
/** Concurrency reserved for a public (`authType: NONE`) ingestion-delay endpoint. */
const PUBLIC_ENDPOINT_RESERVED_CONCURRENCY = 2;
export const DEFAULT_LAG_CHECK_INTERVAL = Duration.seconds(DEFAULTS.lagCheckIntervalSeconds);
const LAG_CHECK_INTERVAL_RANGE: Range = [60, 3_600];
const DEFAULT_RESYNC_TIMEOUT = Duration.minutes(5);
/**
 * How much one re-sync task is budgeted to scan and import within its timeout: the re-sync contract's
 * defaults (pages per task of the default page size) in the default timeout.
 */
const RESYNC_TASK_BUDGET = {
  items: DEFAULTS.resyncPagesPerTask * DEFAULTS.resyncPageSize,
  seconds: DEFAULT_RESYNC_TIMEOUT.toSeconds(),
} as const;

/** A number for an env variable, or the token standing for it. */
const envCount = (value: number) => (Token.isUnresolved(value) ? Token.asString(value) : value);

/** What the construct builds from, with every default applied. */
export interface TypesenseSyncSettings {
  readonly messageGroupBuckets: number;
  readonly maxMessageBytes: number;
  readonly writerTimeout: Duration;
  readonly maxReceiveCount: number;
  readonly parallelizationFactor: number;
  readonly streamMaxRecordAge: Duration;
  /** The stream event source's `BatchSize` and `MaximumBatchingWindowInSeconds` (issue 23: fuller messages). */
  readonly streamBatchSize: number;
  readonly streamMaxBatchingWindow: Duration;
  readonly failureRetention: Duration;
  readonly metricsNamespace: string;
  /** The writer's retry and circuit breaker variables that the props set. */
  readonly writerTuning: ReturnType<typeof writerTuning>;
  readonly resync: ReturnType<typeof resyncSettings>;
  readonly lagCheck: ReturnType<typeof lagCheckSettings>;
  readonly queueOverrides: Partial<sqs.QueueProps>;
  readonly deadLetterQueueOverrides: Partial<sqs.QueueProps>;
  readonly writer: WriterSettings;
  readonly ingestionDelayEndpoint: ReturnType<typeof ingestionDelayEndpointSettings>;
  readonly table: TableSettings;
  /** The indexes, the first first (lib/validation/indexes.ts). */
  readonly indexes: readonly TypesenseSyncIndex[];
}

/**
 * Validates every prop of `TypesenseSync` before anything is created (a bad prop then costs no bundling);
 * throws one error listing every problem, one per line. Returns the settings with their defaults.
 */
export function validateTypesenseSyncProps(props: TypesenseSyncProps): TypesenseSyncSettings {
  const problems = new Problems('TypesenseSync');
  const messageGroupBuckets = props.messageGroupBuckets ?? DEFAULTS.messageGroupBuckets;
  const maxMessageBytes = props.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
  const writerTimeout = props.writerTimeout ?? Duration.seconds(30);
  const maxReceiveCount = props.maxReceiveCount ?? DEFAULTS.maxReceiveCount;
  const parallelizationFactor = props.parallelizationFactor ?? 1;
  problems.intRange('maxMessageBytes', maxMessageBytes, MAX_MESSAGE_BYTES_RANGE);
  problems.intRange('messageGroupBuckets', messageGroupBuckets, MESSAGE_GROUP_BUCKETS_RANGE);
  problems.intRange('parallelizationFactor', parallelizationFactor, PARALLELIZATION_FACTOR_RANGE);
  const streamBatchSize = props.streamBatchSize ?? DEFAULTS.streamBatchSize;
  problems.intRange('streamBatchSize', streamBatchSize, STREAM_BATCH_SIZE_RANGE);
  const streamMaxBatchingWindow =
    props.streamMaxBatchingWindow ?? Duration.seconds(DEFAULTS.streamBatchingWindowSeconds);
  problems.wholeUnits(
    'streamMaxBatchingWindow',
    streamMaxBatchingWindow,
    'seconds',
    STREAM_BATCHING_WINDOW_SECONDS_RANGE,
  );
  // At least 3: the writer re-sends a retryably failing message at maxReceiveCount − 1 receives, so
  // below 3 every failure would be re-sent at once, a tight loop instead of a backoff.
  problems.intRange('maxReceiveCount', maxReceiveCount, [3, 1_000]);
  checkTypesense(props, problems);
  if (props.alarms?.topic !== undefined && props.alarms.createTopic === true) {
    problems.add('pass alarms.topic or alarms.createTopic, not both');
  }
  const tuning = writerTuning(props, maxReceiveCount, problems);
  if (props.existingFailureBucketObj !== undefined && props.failureRetention !== undefined) {
    problems.add(
      'failureRetention applies only to the created failure bucket, not to existingFailureBucketObj',
    );
  }
  const failureRetention = props.failureRetention ?? Duration.days(30);
  problems.wholeUnits('failureRetention', failureRetention, 'days', [1, 36_500]);
  const resync = resyncSettings(props, problems);
  const lagCheck = lagCheckSettings(props, problems);
  const metricsNamespace = props.metricsNamespace ?? DEFAULTS.metricsNamespace;
  problems.metricsNamespace(metricsNamespace);
  const queueOverrides = changesQueueOverrides(props, writerTimeout, problems);
  const deadLetterQueueOverrides = props.deadLetterQueueProps ?? {};
  problems.queueOverrides('deadLetterQueueProps', deadLetterQueueOverrides);
  const writer = writerSettings(
    props.writer ?? {},
    messageGroupBuckets,
    queueOverrides.visibilityTimeout?.toSeconds() ?? writerTimeout.toSeconds() * 6,
    problems,
  );
  problems.concurrency('batcher', props.batcher?.reservedConcurrentExecutions, undefined);
  const ingestionDelayEndpoint = ingestionDelayEndpointSettings(props, problems);
  if (props.mongoAtlas !== undefined) problems.addWorded(atlasSourcePropsProblems(props.mongoAtlas));
  const table = tableSettings(props, lagCheck.schedule !== undefined, problems);
  indexProblems(props, table.keyAttributes, problems);
  problems.throwIfAny();
  return {
    messageGroupBuckets,
    maxMessageBytes,
    writerTimeout,
    maxReceiveCount,
    parallelizationFactor,
    streamMaxRecordAge: props.streamMaxRecordAge ?? Duration.days(1),
    streamBatchSize,
    streamMaxBatchingWindow,
    failureRetention,
    metricsNamespace,
    writerTuning: tuning,
    resync,
    lagCheck,
    queueOverrides,
    deadLetterQueueOverrides,
    writer,
    ingestionDelayEndpoint,
    table,
    indexes: indexesOf(props),
  };
}

/** The Typesense nodes (URLs, https unless allowed otherwise) and the collection. */
function checkTypesense(props: TypesenseSyncProps, problems: Problems): void {
  if (props.typesense.nodes.length === 0) {
    problems.add('typesense.nodes must name at least one Typesense node URL');
  }
  for (const node of props.typesense.nodes) {
    if (Token.isUnresolved(node)) continue;
    if (!URL.canParse(node) || node.includes(',')) {
      problems.add(`typesense.nodes entry is not a URL: ${JSON.stringify(node)}`);
    } else if (new URL(node).protocol === 'http:' && props.typesense.allowInsecureHttp !== true) {
      problems.add(
        `typesense.nodes entry ${JSON.stringify(node)} uses http://, which sends the API key in clear ` +
          'text: use https://, or set typesense.allowInsecureHttp: true (local stacks only)',
      );
    }
  }
  checkIndexProps(props, problems);
}

/** The index as code: the schema Typesense must accept, and the props that go with it. */
function checkIndexProps(props: TypesenseSyncProps, problems: Problems): void {
  const { schema, onDelete, adminApiKeySecret, adminApiKeySecretKey } = props.typesense;
  if (schema !== undefined && props.collectionSchema !== undefined) {
    problems.add(
      'pass typesense.schema or collectionSchema, not both: typesense.schema is the schema of every collection',
    );
  }
  if (onDelete !== undefined && !(INDEX_ON_DELETE as readonly string[]).includes(onDelete)) {
    problems.add(
      `typesense.onDelete must be one of ${INDEX_ON_DELETE.join(', ')}, got ${JSON.stringify(onDelete)}`,
    );
  }
  if (adminApiKeySecretKey !== undefined && adminApiKeySecret === undefined) {
    problems.add(
      'typesense.adminApiKeySecretKey needs typesense.adminApiKeySecret: it is the key of that secret',
    );
  }
}

/** The retry and circuit breaker props; returns the writer variables of those that are set. */
function writerTuning(props: TypesenseSyncProps, maxReceiveCount: number, problems: Problems) {
  const { retry = {}, circuitBreaker = {} } = props;
  const retentionHours = CHANGES_QUEUE_RETENTION.toHours();
  const visibility: Range = [1, MAX_VISIBILITY_SECONDS];
  const baseDelay = problems.wholeUnits('retry.baseDelay', retry.baseDelay, 'seconds', visibility);
  const maxDelay = problems.wholeUnits('retry.maxDelay', retry.maxDelay, 'seconds', [
    LIMITS.retryMaxSeconds.min,
    LIMITS.retryMaxSeconds.max,
  ]);
  // Below the queue retention, so a change still retrying is dead-lettered before it can expire.
  const budget = problems.wholeUnits('retry.budget', retry.budget, 'hours', [1, retentionHours - 1]);
  const probe = problems.wholeUnits(
    'circuitBreaker.probeInterval',
    circuitBreaker.probeInterval,
    'seconds',
    visibility,
  );
  const maxProbe = problems.wholeUnits(
    'circuitBreaker.maxProbeInterval',
    circuitBreaker.maxProbeInterval,
    'seconds',
    [LIMITS.circuitMaxProbeSeconds.min, LIMITS.circuitMaxProbeSeconds.max],
  );
  const threshold = circuitBreaker.failureThreshold;
  if (threshold !== undefined) problems.intRange('circuitBreaker.failureThreshold', threshold, [1, 1_000]);

  if (
    baseDelay !== undefined &&
    maxDelay !== undefined &&
    resolved(baseDelay, maxDelay) &&
    baseDelay > maxDelay
  ) {
    problems.add('retry.baseDelay must not exceed retry.maxDelay');
  }
  if (probe !== undefined && maxProbe !== undefined && resolved(probe, maxProbe) && probe > maxProbe) {
    problems.add('circuitBreaker.probeInterval must not exceed circuitBreaker.maxProbeInterval');
  }
  // Each receive of one message waits at most the larger cap; all receives of it must fit in the
  // queue retention, or a message still backing off could expire before reaching the limit.
  const caps = [maxDelay ?? DEFAULTS.retryMaxSeconds, maxProbe ?? DEFAULTS.circuitMaxProbeSeconds];
  const longestWait = Math.max(...caps);
  if (resolved(...caps, maxReceiveCount) && maxReceiveCount * longestWait >= retentionHours * 3_600) {
    problems.add(
      `maxReceiveCount (${maxReceiveCount}) × the longest backoff (${longestWait} s) must stay ` +
        `below the changes queue retention (${retentionHours} h), or a retried message could expire first`,
    );
  }
  const env = (value: number | undefined) => (value === undefined ? undefined : envCount(value));
  return {
    RETRY_BASE_SECONDS: env(baseDelay),
    RETRY_MAX_SECONDS: env(maxDelay),
    RETRY_BUDGET_HOURS: env(budget),
    CIRCUIT_FAILURE_THRESHOLD: env(threshold),
    CIRCUIT_PROBE_SECONDS: env(probe),
    CIRCUIT_MAX_PROBE_SECONDS: env(maxProbe),
  };
}

/** The re-sync props and the collection schema; returns the settings and the re-sync's tuning variables. */
function resyncSettings(props: TypesenseSyncProps, problems: Problems) {
  const {
    schedule,
    totalSegments = DEFAULTS.resyncTotalSegments,
    pageSize = DEFAULTS.resyncPageSize,
    keepCollections = DEFAULTS.resyncKeepCollections,
    timeout = DEFAULT_RESYNC_TIMEOUT,
    onStreamGap = true,
    maxConcurrency = Math.max(2, totalSegments),
    reservedConcurrentExecutions,
    stallAlarmAfter = Duration.minutes(30),
  } = props.resync ?? {};
  const limit = ({ min, max }: { min: number; max: number }): Range => [min, max];
  problems.wholeUnits('resync.stallAlarmAfter', stallAlarmAfter, 'minutes', [5, 1_440]);
  problems.intRange('resync.totalSegments', totalSegments, limit(LIMITS.resyncTotalSegments));
  problems.intRange('resync.pageSize', pageSize, limit(LIMITS.resyncPageSize));
  problems.intRange('resync.keepCollections', keepCollections, limit(LIMITS.resyncKeepCollections));
  problems.intRange('resync.maxConcurrency', maxConcurrency, EVENT_SOURCE_CONCURRENCY_RANGE);
  problems.concurrency('resync', reservedConcurrentExecutions, maxConcurrency);
  const timeoutSeconds =
    problems.wholeUnits('resync.timeout', timeout, 'seconds', [1, 900]) ?? DEFAULT_RESYNC_TIMEOUT.toSeconds();
  if (props.collectionSchema !== undefined && props.collectionSchema.fields.length === 0) {
    problems.add('collectionSchema.fields must list at least one field');
  }
  // A task hands its segment on after this many pages; scaling it with the timeout and the page
  // size keeps one task's work inside its timeout when either is tuned.
  const pagesPerTask = resolved(timeoutSeconds, pageSize)
    ? Math.max(
        1,
        Math.floor((timeoutSeconds * RESYNC_TASK_BUDGET.items) / (RESYNC_TASK_BUDGET.seconds * pageSize)),
      )
    : undefined;
  return {
    schedule,
    onStreamGap,
    maxConcurrency,
    reservedConcurrentExecutions,
    timeoutSeconds,
    stallAlarmAfter,
    env: {
      RESYNC_TOTAL_SEGMENTS: totalSegments,
      RESYNC_PAGE_SIZE: pageSize,
      RESYNC_KEEP_COLLECTIONS: keepCollections,
      RESYNC_PAGES_PER_TASK: pagesPerTask,
    },
  };
}

/** The lag check props; returns its schedule, interval and canary timeout. */
function lagCheckSettings(props: TypesenseSyncProps, problems: Problems) {
  const {
    schedule = events.Schedule.rate(DEFAULT_LAG_CHECK_INTERVAL),
    canaryTimeout = Duration.seconds(DEFAULTS.canaryTimeoutSeconds),
  } = props.lagCheck ?? {};
  const canaryTimeoutSeconds =
    problems.wholeUnits('lagCheck.canaryTimeout', canaryTimeout, 'seconds', [
      5,
      LIMITS.canaryTimeoutSeconds.max,
    ]) ?? DEFAULTS.canaryTimeoutSeconds;
  if (schedule === false) return { schedule: undefined, intervalSeconds: undefined, canaryTimeoutSeconds };
  const intervalSeconds = rateSeconds(schedule.expressionString);
  const [min, max] = LAG_CHECK_INTERVAL_RANGE;
  if (intervalSeconds === undefined || intervalSeconds < min || intervalSeconds > max) {
    problems.add(
      `lagCheck.schedule must be a rate from 1 minute to 1 hour (the alarms and the ingestion-delay endpoint need its interval), got ${schedule.expressionString}`,
    );
  }
  return { schedule, intervalSeconds, canaryTimeoutSeconds };
}

/** The changes queue overrides. */
function changesQueueOverrides(props: TypesenseSyncProps, writerTimeout: Duration, problems: Problems) {
  const overrides = props.queueProps ?? {};
  problems.queueOverrides('queueProps', overrides);
  if (overrides.maxMessageSizeBytes !== undefined) {
    problems.add(
      'queueProps.maxMessageSizeBytes is not supported: use maxMessageBytes, which the batcher packs messages to',
    );
  }
  const retentionSeconds = overrides.retentionPeriod?.toSeconds();
  if (
    retentionSeconds !== undefined &&
    resolved(retentionSeconds) &&
    retentionSeconds !== CHANGES_QUEUE_RETENTION.toSeconds()
  ) {
    problems.add(
      'queueProps.retentionPeriod must stay 14 days (the SQS maximum): unapplied changes must ' +
        'outlive an outage, and the retry budget is validated against it',
    );
  }
  const visibilitySeconds = overrides.visibilityTimeout?.toSeconds();
  const minimumSeconds = writerTimeout.toSeconds() * 6;
  if (
    visibilitySeconds !== undefined &&
    resolved(visibilitySeconds, minimumSeconds) &&
    visibilitySeconds < minimumSeconds
  ) {
    problems.add(
      `queueProps.visibilityTimeout must be at least 6 × writerTimeout (${minimumSeconds} s), ` +
        `got ${overrides.visibilityTimeout?.toHumanString()}: a shorter one redelivers batches still in flight`,
    );
  }
  return overrides;
}

/** The ingestion-delay endpoint props; returns its auth type and reserved concurrency. */
function ingestionDelayEndpointSettings(props: TypesenseSyncProps, problems: Problems) {
  const authType = props.ingestionDelayEndpoint?.authType ?? lambda.FunctionUrlAuthType.AWS_IAM;
  const configured = props.ingestionDelayEndpoint?.reservedConcurrentExecutions;
  if (typeof configured === 'number') {
    problems.intRange(
      'ingestionDelayEndpoint.reservedConcurrentExecutions',
      configured,
      RESERVED_CONCURRENCY_RANGE,
    );
  }
  // A public endpoint is capped: anyone may call it, and an uncapped function could use up the
  // account's concurrency or run up costs. Reads of one item need no more than a couple at a time.
  const reservedConcurrentExecutions =
    configured === false
      ? undefined
      : (configured ??
        (authType === lambda.FunctionUrlAuthType.NONE ? PUBLIC_ENDPOINT_RESERVED_CONCURRENCY : undefined));
  return { authType, reservedConcurrentExecutions };
}
