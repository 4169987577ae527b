import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { aggregationOf } from '../core/aggregate.ts';
import {
  parseResyncTask,
  ResyncError,
  type ResyncOptions,
  type ResyncPorts,
  runResyncTask,
} from '../core/resync.ts';
import type { Transform } from '../core/transform.ts';
import { createDynamoDbClient, createSqsClient } from '../shared/aws.ts';
import { type ResyncConfig, resyncConfigSchema } from '../shared/config.ts';
import {
  createTelemetry,
  handlerFromEnvironment,
  type LambdaHandler,
  lambdaHandler,
  type TelemetryOptions,
} from '../shared/lambda.ts';
import { resyncAdapters } from '../shared/resync-adapters.ts';
import { registeredTransform } from '../shared/transform-registry.ts';
import { typesenseClientOf } from '../shared/typesense-client.ts';

/** The core's options from the function's config. */
export function resyncOptionsOf(config: ResyncConfig): ResyncOptions {
  return {
    alias: config.TYPESENSE_COLLECTION,
    keyAttributes: config.KEY_ATTRIBUTES,
    ...(config.AGGREGATE === undefined
      ? {}
      : { aggregation: aggregationOf(config.KEY_ATTRIBUTES, config.AGGREGATE) }),
    projection: config.PROJECTION,
    ...(config.COLLECTION_SCHEMA === undefined ? {} : { schema: config.COLLECTION_SCHEMA }),
    totalSegments: config.RESYNC_TOTAL_SEGMENTS,
    pageSize: config.RESYNC_PAGE_SIZE,
    pagesPerTask: config.RESYNC_PAGES_PER_TASK,
    keepCollections: config.RESYNC_KEEP_COLLECTIONS,
  };
}

/**
 * Runs re-sync tasks from the work queue: `start` (schedule, operator, stream gap, drift),
 * `segment` (one Scan segment from its checkpoint) and `finish` (re-check deletes, swap the alias).
 * A failed task stays on the queue and resumes from its checkpoint when redelivered. Long tasks
 * hand on to a fresh task before this invocation's time runs out. It publishes no metrics (the lag
 * check reports re-sync progress).
 */
export function createResyncHandler(
  config: ResyncConfig,
  adapters: Omit<ResyncPorts, 'remainingTimeMs'>,
  telemetryOptions: TelemetryOptions = {},
  transform?: Transform,
): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const telemetry = createTelemetry('resync', { ...telemetryOptions, metrics: false });
  const { logger } = telemetry;
  const options = { ...resyncOptionsOf(config), ...(transform === undefined ? {} : { transform }) };
  return lambdaHandler(telemetry, async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    // Per invocation: concurrent invocations of one instance (the local poller) each have their own.
    const invocation = { ...adapters, remainingTimeMs: () => context.getRemainingTimeInMillis() };
    for (const record of event.Records) {
      let task: ReturnType<typeof parseResyncTask>;
      try {
        task = parseResyncTask(record.body);
      } catch (error) {
        // Retrying cannot fix a malformed task; nothing but the task is lost, and the log names it.
        logger.error('dropped a malformed re-sync task', { messageId: record.messageId, error });
        continue;
      }
      try {
        const outcome = await runResyncTask(task, invocation, options);
        logger.info('re-sync task done', { task, outcome });
      } catch (error) {
        if (error instanceof ResyncError && task.action === 'start') {
          // A start that cannot work (e.g. no alias) is reported, not retried forever.
          logger.error('re-sync not started', { task, reason: error.message });
          continue;
        }
        logger.warn('re-sync task failed; it will be retried from its checkpoint', { task, error });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
}

/** The SDK clients, so that a test harness can observe or police their calls (IAM locally). */
export const clients = { dynamodb: createDynamoDbClient(), sqs: createSqsClient() };

export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  handlerFromEnvironment(resyncConfigSchema, (config) =>
    createResyncHandler(
      config,
      resyncAdapters({ ...clients, typesense: typesenseClientOf(config) }, config),
      {},
      registeredTransform(),
    ),
  );
