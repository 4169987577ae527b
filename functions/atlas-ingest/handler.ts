import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type AtlasIngestPorts, processAtlasMessages } from '../core/atlas-change.ts';
import { atlasIngestAdapters } from '../shared/atlas-ingest-adapters.ts';
import { createDynamoDbClient, createSqsClient } from '../shared/aws.ts';
import { type AtlasIngestConfig, atlasIngestConfigSchema } from '../shared/config.ts';
import {
  createTelemetry,
  handlerFromEnvironment,
  type LambdaHandler,
  lambdaHandler,
  type TelemetryOptions,
} from '../shared/lambda.ts';
import { addAtlasIngestMetrics } from '../shared/metrics.ts';

/** The Atlas ingest over its config and adapters: EventBridge events mirrored into the table. */
export function createAtlasIngestHandler(
  _config: AtlasIngestConfig,
  adapters: AtlasIngestPorts,
  telemetryOptions: TelemetryOptions = {},
): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const telemetry = createTelemetry('atlas-ingest', telemetryOptions);
  const { logger, metrics } = telemetry;
  return lambdaHandler(telemetry, async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const { batchItemFailures, summary } = await processAtlasMessages(event.Records, adapters);
    addAtlasIngestMetrics(metrics, summary);
    if (summary.deadLettered > 0 || summary.failed > 0) logger.warn('Atlas events had failures', { summary });
    else logger.info('Atlas events mirrored', { summary });
    return { batchItemFailures };
  });
}

/** The SDK clients, so that a test harness can observe or police their calls (IAM locally). */
export const clients = { dynamodb: createDynamoDbClient(), sqs: createSqsClient() };

export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  handlerFromEnvironment(atlasIngestConfigSchema, (config) =>
    createAtlasIngestHandler(config, atlasIngestAdapters(clients, config)),
  );
