import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { CircuitBreaker } from '../core/breaker.ts';
import { canaryCollectionOf } from '../core/canary.ts';
import { processChangeMessages } from '../core/write-batch.ts';
import {
  changeVisibility,
  createDynamoDbClient,
  createSqsClient,
  readItemsConsistently,
  sendDeadLetters,
  sendPackedMessages,
} from '../shared/aws.ts';
import { parseConfig, writerConfigSchema } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { addWriterMetrics, createMetrics } from '../shared/metrics.ts';
import { dynamoResyncStore } from '../shared/resync-store.ts';
import { importTimeoutWithin, typesenseClientOf } from '../shared/typesense-client.ts';

const config = parseConfig(writerConfigSchema);
const logger = createLogger('writer');
const metrics = createMetrics();
const dynamodb = createDynamoDbClient();
const sqs = createSqsClient();
/** The SDK clients, so that a test harness can observe or police their calls (IAM locally). */
export const clients = { dynamodb, sqs };
const typesense = typesenseClientOf(config);

/** An import may run until shortly before its invocation ends (the core passes what remains of it). */
const importCall = (remainingMs: number | undefined) =>
  remainingMs === undefined
    ? {}
    : { timeoutMs: importTimeoutWithin(remainingMs, config.TYPESENSE_IMPORT_TIMEOUT_MS) };

const resyncStore =
  config.RESYNC_STATE_TABLE === undefined
    ? undefined
    : dynamoResyncStore(dynamodb, config.RESYNC_STATE_TABLE);

export const ports = {
  readItems: readItemsConsistently(dynamodb, config.TABLE_NAME),
  importDocuments: (lines: string[], remainingMs?: number) =>
    typesense.importDocuments(config.TYPESENSE_COLLECTION, lines, 'upsert', importCall(remainingMs)),
  deleteDocuments: (ids: string[]) => typesense.deleteByIds(config.TYPESENSE_COLLECTION, ids),
  importCanaries: (lines: string[], remainingMs?: number) =>
    typesense.importDocuments(
      canaryCollectionOf(config.TYPESENSE_COLLECTION),
      lines,
      'upsert',
      importCall(remainingMs),
    ),
  sendDeadLetters: sendDeadLetters(sqs, config.DLQ_URL),
  health: () => typesense.health(),
  changeVisibility: changeVisibility(sqs, config.QUEUE_URL),
  requeue: sendPackedMessages(sqs, config.QUEUE_URL),
  ...(resyncStore === undefined
    ? {}
    : {
        resync: {
          active: () => resyncStore.active(),
          importDocuments: (collection: string, lines: string[], remainingMs?: number) =>
            typesense.importDocuments(collection, lines, 'upsert', importCall(remainingMs)),
          deleteDocuments: (collection: string, ids: string[]) => typesense.deleteByIds(collection, ids),
          recordDeletes: resyncStore.recordDeletes,
          recordRejections: resyncStore.recordRejections,
          clearRejections: resyncStore.clearRejections,
        },
      }),
  now: Date.now,
};

/** Lives as long as the Lambda instance: an outage seen by one batch keeps the next ones off Typesense. */
export const breaker = new CircuitBreaker({
  failureThreshold: config.CIRCUIT_FAILURE_THRESHOLD,
  probeMs: config.CIRCUIT_PROBE_SECONDS * 1000,
  maxProbeMs: config.CIRCUIT_MAX_PROBE_SECONDS * 1000,
  now: Date.now,
});

const options = {
  keyAttributes: config.KEY_ATTRIBUTES,
  projection: config.PROJECTION,
  maxMessageBytes: config.MAX_MESSAGE_BYTES,
  breaker,
  retry: {
    baseSeconds: config.RETRY_BASE_SECONDS,
    maxSeconds: config.RETRY_MAX_SECONDS,
    maxReceiveCount: config.MAX_RECEIVE_COUNT,
    budgetMs: config.RETRY_BUDGET_HOURS * 3_600_000,
    random: Math.random,
  },
};

export const handler = middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  const { batchItemFailures, summary: fullSummary } = await processChangeMessages(event.Records, ports, {
    ...options,
    // The batch's time budget: what does not fit is left to SQS redelivery, not cut off by the timeout.
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  addWriterMetrics(metrics, fullSummary);
  // The per-change delays go to the metrics only: a log line must not grow with the batch.
  const { ingestionDelaysMs: _inMetrics, ...summary } = fullSummary;
  if (summary.circuit === 'open')
    logger.warn('circuit open: Typesense unavailable, batch deferred', { summary });
  else if (summary.retrying > 0 || summary.deadLettered > 0)
    logger.warn('change batch had failures', { summary });
  else logger.info('change batch applied', { summary });
  return { batchItemFailures };
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
