import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { processChangeMessages } from '../core/write-batch.ts';
import { cachedSecret, createSqsClient, readItemsConsistently, sendDeadLetters } from '../shared/aws.ts';
import { parseConfig, writerConfigSchema } from '../shared/config.ts';
import { TypesenseClient } from '../shared/typesense.ts';

const config = parseConfig(writerConfigSchema);
const logger = new Logger({ serviceName: 'typesense-sync-writer' });
const dynamodb = new DynamoDBClient({});
const sqs = createSqsClient();
const typesense = new TypesenseClient({
  nodes: config.TYPESENSE_NODES,
  apiKey:
    config.TYPESENSE_API_KEY_SECRET_ARN !== undefined
      ? cachedSecret(new SecretsManagerClient({}), config.TYPESENSE_API_KEY_SECRET_ARN)
      : (config.TYPESENSE_API_KEY as string),
  timeoutMs: config.TYPESENSE_TIMEOUT_MS,
});

export const ports = {
  readItems: readItemsConsistently(dynamodb, config.TABLE_NAME),
  importDocuments: (lines: string[]) =>
    typesense.importDocuments(config.TYPESENSE_COLLECTION, lines, 'upsert'),
  deleteDocuments: (ids: string[]) => typesense.deleteByIds(config.TYPESENSE_COLLECTION, ids),
  sendDeadLetters: sendDeadLetters(sqs, config.DLQ_URL),
  now: Date.now,
};

const options = { keyAttributes: config.KEY_ATTRIBUTES, projection: config.PROJECTION };

export const handler = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const { batchItemFailures, summary } = await processChangeMessages(event.Records, ports, options);
  if (summary.retrying > 0 || summary.deadLettered > 0) logger.warn('change batch had failures', { summary });
  else logger.info('change batch applied', { summary });
  return { batchItemFailures };
}).use(injectLambdaContext(logger));
