/**
 * How the batcher's DynamoDB stream event source gathers records: shared by the construct (the event
 * source mapping's `BatchSize` and `MaximumBatchingWindowInSeconds`) and the embedded stack's stream
 * poller, so both deliver the same batches. No CDK imports: the local stack loads this too.
 */

/** Lambda's limits for a DynamoDB stream event source: `BatchSize` 1–10,000 records. */
export const STREAM_BATCH_SIZE_RANGE = [1, 10_000] as const;
/** `MaximumBatchingWindowInSeconds`: whole seconds, 0–300. */
export const STREAM_BATCHING_WINDOW_SECONDS_RANGE = [0, 300] as const;

/**
 * Records per batcher invocation, at most. The maximum: the batching window and Lambda's 6 MB invocation
 * payload decide how full a batch gets (about 1,100 records of 1–10 KB items with both images), and a
 * fuller batch packs more changes per SQS message (bench P1).
 */
export const DEFAULT_STREAM_BATCH_SIZE = 10_000;
/** Seconds the event source gathers records before invoking the batcher, unless a batch fills first. */
export const DEFAULT_STREAM_BATCHING_WINDOW_SECONDS = 1;

/**
 * FIFO message groups keys are hashed into (the construct's `messageGroupBuckets` default). A stream
 * batch becomes at least one message per group it touches, so fewer groups make fuller messages; 4 is
 * the knee of bench P1 (16 → 8 → 4 → 2 groups: 1.9×, 1.5×, 1.3×, 1.2× the lower bound of billed SQS
 * requests on full batches) and still lets 4 writer invocations run at once, what Typesense's "at
 * most N − 2 concurrent imports" allows a 6-core node.
 */
export const DEFAULT_MESSAGE_GROUP_BUCKETS = 4;

/**
 * Lambda's payload limit for a synchronous invocation (6 MB, counted here as 6 MiB): the event source
 * invokes with fewer records than `BatchSize` when more would not fit.
 */
export const STREAM_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024;
