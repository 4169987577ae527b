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
 * Lambda's payload limit for a synchronous invocation (6 MB, counted here as 6 MiB): the event source
 * invokes with fewer records than `BatchSize` when more would not fit.
 */
export const STREAM_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024;
