import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyResultV2, LambdaFunctionURLEvent } from 'aws-lambda';
import { ingestionDelayOfReading } from '../core/ingestion-delay.ts';
import { createDynamoDbClient, createSqsClient, queueDepth } from '../shared/aws.ts';
import { ingestionDelayConfigSchema, parseConfig } from '../shared/config.ts';
import { latestLagReading } from '../shared/lag-check-ports.ts';
import { createLogger } from '../shared/logger.ts';

const config = parseConfig(ingestionDelayConfigSchema);
const logger = createLogger('ingestion-delay');
const dynamodb = createDynamoDbClient();
const sqs = createSqsClient();

export const deps = {
  latestReading: () => latestLagReading(dynamodb, config.RESYNC_STATE_TABLE),
  dlqDepth: async () => (await queueDepth(sqs, config.DLQ_URL)).total,
  now: Date.now,
};

const json = (statusCode: number, body: unknown): APIGatewayProxyResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/**
 * `GET /v1/ingestion-delay` behind a Function URL: the lag check's latest reading with the live DLQ
 * depth. 503 with `lag unknown: …` when there is no fresh reading, so a caller never mistakes a
 * silent lag check for a healthy index.
 */
export const handler = middy(async (event: LambdaFunctionURLEvent): Promise<APIGatewayProxyResultV2> => {
  const { method } = event.requestContext.http;
  if (event.rawPath !== '/v1/ingestion-delay') return json(404, { message: `no route ${event.rawPath}` });
  if (method !== 'GET') return json(405, { message: `${method} not allowed: use GET` });
  const [reading, dlqDepth] = await Promise.allSettled([deps.latestReading(), deps.dlqDepth()]);
  if (reading.status === 'rejected') {
    // The reason can name roles and resources, and the endpoint may be public: it goes to the log only.
    logger.error('cannot read the latest lag reading', { error: reading.reason });
    return json(503, {
      message:
        'lag unknown: cannot read the latest lag reading (details in the ingestion-delay function logs)',
    });
  }
  const answer = ingestionDelayOfReading(
    reading.value,
    dlqDepth.status === 'fulfilled' ? dlqDepth.value : undefined,
    deps.now(),
    3 * config.LAG_CHECK_INTERVAL_SECONDS * 1000,
  );
  if (!('unknown' in answer)) return json(200, answer);
  if (answer.detail !== undefined)
    logger.warn('the latest lag reading has no lag figure', { problem: answer.detail });
  return json(503, { message: answer.unknown });
}).use(injectLambdaContext(logger));
