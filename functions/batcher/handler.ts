import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { processStreamRecords } from '../core/stream-batch.ts';
import { createSqsClient, sendDeadLetters, sendPackedMessages } from '../shared/aws.ts';
import { batcherConfigSchema, parseConfig } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { addBatcherMetrics, createMetrics } from '../shared/metrics.ts';

const config = parseConfig(batcherConfigSchema);
const logger = createLogger('batcher');
const metrics = createMetrics();
const sqs = createSqsClient();
/** The SDK clients, so that a test harness can observe or police their calls (IAM locally). */
export const clients = { sqs };

export const ports = {
  sendMessages: sendPackedMessages(sqs, config.QUEUE_URL),
  sendDeadLetters: sendDeadLetters(sqs, config.DLQ_URL),
  now: Date.now,
};

const options = {
  keyAttributes: config.KEY_ATTRIBUTES,
  sourceTimestampAttribute: config.SOURCE_TIMESTAMP_ATTRIBUTE,
  buckets: config.MESSAGE_GROUP_BUCKETS,
  maxMessageBytes: config.MAX_MESSAGE_BYTES,
};

export const handler = middy(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const { batchItemFailures, summary } = await processStreamRecords(event.Records, ports, options);
  addBatcherMetrics(metrics, summary);
  if (summary.deadLettered > 0 || summary.failedChanges > 0)
    logger.warn('stream batch had failures', { summary });
  else logger.info('stream batch enqueued', { summary });
  return { batchItemFailures };
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
