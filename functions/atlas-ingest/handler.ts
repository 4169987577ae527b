import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { processAtlasMessages } from '../core/atlas-change.ts';
import { applyAtlasChange } from '../shared/atlas-ingest-ports.ts';
import { createDynamoDbClient, createSqsClient, sendDeadLetters } from '../shared/aws.ts';
import { atlasIngestConfigSchema, parseConfig } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { addAtlasIngestMetrics, createMetrics } from '../shared/metrics.ts';

const config = parseConfig(atlasIngestConfigSchema);
const logger = createLogger('atlas-ingest');
const metrics = createMetrics();
const dynamodb = createDynamoDbClient();
const sqs = createSqsClient();
/** The SDK clients, so that a test harness can observe or police their calls (IAM locally). */
export const clients = { dynamodb, sqs };

export const ports = {
  apply: applyAtlasChange(dynamodb, {
    mirrorTable: config.TABLE_NAME,
    versionsTable: config.ATLAS_VERSIONS_TABLE,
    versionTtlSeconds: config.ATLAS_VERSION_TTL_DAYS * 86_400,
  }),
  sendDeadLetters: sendDeadLetters(sqs, config.DLQ_URL),
  now: Date.now,
};

export const handler = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const { batchItemFailures, summary } = await processAtlasMessages(event.Records, ports);
  addAtlasIngestMetrics(metrics, summary);
  if (summary.deadLettered > 0 || summary.failed > 0) logger.warn('Atlas events had failures', { summary });
  else logger.info('Atlas events mirrored', { summary });
  return { batchItemFailures };
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
