import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import middy from '@middy/core';
import { checkLag, type LagCheckPorts, type LagReading } from '../core/lag-check.ts';
import { resyncProgress } from '../core/resync.ts';
import { createDynamoDbClient, createSqsClient } from '../shared/aws.ts';
import { lagCheckConfigSchema, parseConfig } from '../shared/config.ts';
import { lagCheckPorts, saveLagReading } from '../shared/lag-check-ports.ts';
import { createLogger } from '../shared/logger.ts';
import { addLagMetrics, createMetrics } from '../shared/metrics.ts';
import { dynamoResyncStore } from '../shared/resync-store.ts';
import { typesenseClientOf } from '../shared/typesense-client.ts';

const config = parseConfig(lagCheckConfigSchema);
const logger = createLogger('lag-check');
const metrics = createMetrics();
const dynamodb = createDynamoDbClient();
const sqs = createSqsClient();
const cloudwatch = new CloudWatchClient({});
const typesense = typesenseClientOf(config);
const resyncStore = dynamoResyncStore(dynamodb, config.RESYNC_STATE_TABLE);

/** Fresh ports per check (they read CloudWatch once per check); replaceable in tests. */
export const deps = {
  ports: (): LagCheckPorts =>
    lagCheckPorts({
      dynamodb,
      sqs,
      cloudwatch,
      typesense,
      tableName: config.TABLE_NAME,
      keyAttributes: config.KEY_ATTRIBUTES,
      alias: config.TYPESENSE_COLLECTION,
      queueUrl: config.QUEUE_URL,
      dlqUrl: config.DLQ_URL,
      batcherFunctionName: config.BATCHER_FUNCTION_NAME,
      writerServiceName: config.WRITER_SERVICE_NAME,
      metricsNamespace: config.POWERTOOLS_METRICS_NAMESPACE,
      ...(config.SOURCE_TIMESTAMP_ATTRIBUTE === undefined
        ? {}
        : { sourceTimestampAttribute: config.SOURCE_TIMESTAMP_ATTRIBUTE }),
    }),
  saveReading: (reading: LagReading) => saveLagReading(dynamodb, config.RESYNC_STATE_TABLE, reading),
  resyncProgress: () => resyncProgress(resyncStore, Date.now()),
};

/**
 * Scheduled every minute: sends a canary through the pipeline, waits until it is searchable and
 * publishes the end-to-end lag with the backlog figures. It never fails the invocation: whatever it
 * could not measure is reported (log, `LagUnknown` metric, the endpoint's `lag unknown: …`), and a
 * retried invocation would only measure again.
 */
export const handler = middy(async (): Promise<LagReading> => {
  const reading = await checkLag(deps.ports(), {
    canaryTimeoutMs: config.CANARY_TIMEOUT_SECONDS * 1000,
    pollIntervalMs: 200,
  });
  const [saved, resync] = await Promise.allSettled([deps.saveReading(reading), deps.resyncProgress()]);
  if (saved.status === 'rejected') reading.problems.push(`reading not saved: ${String(saved.reason)}`);
  if (resync.status === 'rejected')
    reading.problems.push(`re-sync progress unknown: ${String(resync.reason)}`);
  addLagMetrics(metrics, reading, resync.status === 'fulfilled' ? resync.value : undefined);
  if (reading.problems.length > 0) logger.warn('lag check incomplete', { reading });
  else logger.info('lag check', { reading });
  return reading;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
