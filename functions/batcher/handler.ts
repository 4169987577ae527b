import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { type BatcherPorts, processStreamRecords } from '../core/stream-batch.ts';
import { createSqsClient } from '../shared/aws.ts';
import { batcherAdapters } from '../shared/batcher-adapters.ts';
import { type BatcherConfig, batcherConfigSchema } from '../shared/config.ts';
import {
  createTelemetry,
  handlerFromEnvironment,
  type LambdaHandler,
  lambdaHandler,
  type TelemetryOptions,
} from '../shared/lambda.ts';
import { addBatcherMetrics } from '../shared/metrics.ts';

/** The batcher over its config and adapters: stream records packed onto the changes queue. */
export function createBatcherHandler(
  config: BatcherConfig,
  adapters: BatcherPorts,
  telemetryOptions: TelemetryOptions = {},
): LambdaHandler<DynamoDBStreamEvent, DynamoDBBatchResponse> {
  const telemetry = createTelemetry('batcher', telemetryOptions);
  const { logger, metrics } = telemetry;
  const options = {
    keyAttributes: config.KEY_ATTRIBUTES,
    sourceTimestampAttribute: config.SOURCE_TIMESTAMP_ATTRIBUTE,
    buckets: config.MESSAGE_GROUP_BUCKETS,
    maxMessageBytes: config.MAX_MESSAGE_BYTES,
  };
  return lambdaHandler(telemetry, async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const { batchItemFailures, summary } = await processStreamRecords(event.Records, adapters, options);
    addBatcherMetrics(metrics, summary);
    if (summary.deadLettered > 0 || summary.failedChanges > 0)
      logger.warn('stream batch had failures', { summary });
    else logger.info('stream batch enqueued', { summary });
    return { batchItemFailures };
  });
}

/** The SDK clients, so that a test harness can observe or police their calls (IAM locally). */
export const clients = { sqs: createSqsClient() };

export const handler: (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse> =
  handlerFromEnvironment(batcherConfigSchema, (config) =>
    createBatcherHandler(config, batcherAdapters(clients, config)),
  );
