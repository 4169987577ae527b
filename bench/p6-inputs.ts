/** What P6 prices besides its own counts: P1's figures, and what it assumes without AWS. */

/** What P6 reads from P1's results (its `data`). */
export interface P1Figures {
  changes: number;
  scale: number;
  invocations: number;
  rows: {
    variant: string;
    sendChunks: number;
    receiveChunks: number;
    deletes: number;
    /** The writer's visibility leases (ChangeMessageVisibilityBatch), one per receive when taken. */
    leases: number;
    receives: number;
  }[];
}

/**
 * Everything P6 cannot measure without AWS: stated, named, and used nowhere else. Latencies are
 * typical same-region round trips (not measured here); the CPU time P6 measures is scaled by the
 * share of a vCPU the configured memory buys (`LAMBDA_MB_PER_VCPU`), assuming one Lambda arm64 vCPU
 * does the cores' work as fast as one core of the benchmark machine.
 */
export const ASSUMPTIONS = {
  /** One SQS request's round trip: the batcher's send, the writer's lease. */
  sqsRequestMs: 20,
  dynamodbReadMs: 10,
  /** Round trip of one import request, plus the time per document in it (Typesense's indexing rate not measured on a real server). */
  typesenseImportMs: 30,
  typesenseImportMsPerDocument: 0.1,
  /** The naive writer's per-change requests, all 10 of an invocation in flight at once. */
  typesenseRequestMs: 15,
  /** The lag check waits for the canary to reach Typesense: about one pass through the pipeline. */
  lagCheckMs: 2_000,
  /** Lambda's START, END and REPORT lines per invocation. */
  platformLogBytes: 350,
  /** A Powertools log line without its `summary`: level, message, timestamp, function fields. */
  logLineOverheadBytes: 300,
  /** Idle SQS event source pollers per queue, each a 20 s long poll (AWS: starts with 5). */
  idlePollersPerQueue: 5,
  longPollSeconds: 20,
  /** The API key cache (functions/shared/aws.ts `cachedSecret`, ttlMs 300 000) per warm instance. */
  secretTtlSeconds: 300,
  /** Warm instances that read the API key in an idle month: the writer (canary) and the lag check. */
  idleSecretReaders: 2,
  /** Lag check per run, from functions/lag-check and functions/shared/lag-check-adapters.ts. */
  lagCheck: {
    getMetricDataMetrics: 3,
    queueAttributeRequests: 1,
    stateReads: 2,
    stateWrites: 1,
    canaryWrites: 1,
  },
} as const;
