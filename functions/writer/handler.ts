import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { changeKeyAttributes } from '../contract/aggregate.ts';
import { AdaptiveLimit } from '../core/adaptive-limit.ts';
import { aggregationOf } from '../core/aggregate.ts';
import { CircuitBreaker } from '../core/breaker.ts';
import type { Transform } from '../core/transform.ts';
import { processChangeMessages, type WriterPorts } from '../core/write-batch.ts';
import { createDynamoDbClient, createSqsClient } from '../shared/aws.ts';
import { type WriterConfig, writerConfigSchema } from '../shared/config.ts';
import {
  createTelemetry,
  handlerFromEnvironment,
  type LambdaHandler,
  lambdaHandler,
  type TelemetryOptions,
} from '../shared/lambda.ts';
import { addWriterMetrics } from '../shared/metrics.ts';
import { registeredTransform } from '../shared/transform-registry.ts';
import { typesenseClientOf } from '../shared/typesense-client.ts';
import { writerAdapters } from '../shared/writer-adapters.ts';

/** The writer's handler, with the circuit breaker and import limit it keeps between batches (the local status reads them). */
export type WriterHandler = LambdaHandler<SQSEvent, SQSBatchResponse> & {
  breaker: CircuitBreaker;
  importLimit: AdaptiveLimit;
};

/** The writer over its config and adapters (and the app's transform): change messages applied to Typesense. */
export function createWriterHandler(
  config: WriterConfig,
  adapters: WriterPorts,
  telemetryOptions: TelemetryOptions = {},
  transform?: Transform,
): WriterHandler {
  const telemetry = createTelemetry('writer', telemetryOptions);
  const { logger, metrics } = telemetry;
  /** Lives as long as the handler: an outage seen by one batch keeps the next ones off Typesense. */
  const breaker = new CircuitBreaker({
    failureThreshold: config.CIRCUIT_FAILURE_THRESHOLD,
    probeMs: config.CIRCUIT_PROBE_SECONDS * 1000,
    maxProbeMs: config.CIRCUIT_MAX_PROBE_SECONDS * 1000,
    now: Date.now,
  });
  /**
   * Lives as long as the handler too: on AWS an instance has one batch, hence one live import, in
   * flight, and the event source's concurrency (at most the message groups) bounds the instances
   * (docs/configuration.md, "Write concurrency"); where one handler runs batches side by side, as on
   * the embedded stack, the limit also sheds concurrency.
   */
  const importLimit = new AdaptiveLimit({
    cap: config.TYPESENSE_MAX_CONCURRENT_IMPORTS,
    ...(config.TYPESENSE_IMPORT_LATENCY_TARGET_MS === undefined
      ? {}
      : { latencyTargetMs: config.TYPESENSE_IMPORT_LATENCY_TARGET_MS }),
    now: Date.now,
  });
  const aggregation = aggregationOf(config.KEY_ATTRIBUTES, config.AGGREGATE);
  const options = {
    // An aggregated index's changes name partitions (contract/aggregate.ts).
    keyAttributes: changeKeyAttributes(config.KEY_ATTRIBUTES, config.AGGREGATE),
    ...(aggregation === undefined ? {} : { aggregation }),
    projection: config.PROJECTION,
    ...(transform === undefined ? {} : { transform }),
    maxMessageBytes: config.MAX_MESSAGE_BYTES,
    breaker,
    importLimit,
    ...(config.VISIBILITY_LEASE_SECONDS === undefined
      ? {}
      : { visibilityLeaseSeconds: config.VISIBILITY_LEASE_SECONDS }),
    retry: {
      baseSeconds: config.RETRY_BASE_SECONDS,
      maxSeconds: config.RETRY_MAX_SECONDS,
      maxReceiveCount: config.MAX_RECEIVE_COUNT,
      budgetMs: config.RETRY_BUDGET_HOURS * 3_600_000,
      random: Math.random,
    },
  };
  const handler = lambdaHandler(
    telemetry,
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
      const { batchItemFailures, summary: fullSummary } = await processChangeMessages(
        event.Records,
        adapters,
        {
          ...options,
          // The batch's time budget: what does not fit is left to SQS redelivery, not cut off by the timeout.
          remainingMs: () => context.getRemainingTimeInMillis(),
        },
      );
      addWriterMetrics(metrics, fullSummary);
      // The per-change delays go to the metrics only: a log line must not grow with the batch.
      const { ingestionDelaysMs: _inMetrics, ...summary } = fullSummary;
      if (summary.circuit === 'open')
        logger.warn('circuit open: Typesense unavailable, batch deferred', { summary });
      else if (summary.retrying > 0 || summary.deadLettered > 0)
        logger.warn('change batch had failures', { summary });
      else logger.info('change batch applied', { summary });
      return { batchItemFailures };
    },
  );
  return Object.assign(handler, { breaker, importLimit });
}

/** The SDK clients, so that a test harness can observe or police their calls (IAM locally). */
export const clients = { dynamodb: createDynamoDbClient(), sqs: createSqsClient() };

export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  handlerFromEnvironment(writerConfigSchema, (config) =>
    createWriterHandler(
      config,
      writerAdapters({ ...clients, typesense: typesenseClientOf(config) }, config),
      {},
      registeredTransform(),
    ),
  );
