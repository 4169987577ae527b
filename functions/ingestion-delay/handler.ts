import type { APIGatewayProxyResultV2, Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { ingestionDelayOfReading } from '../core/ingestion-delay.ts';
import { createDynamoDbClient, createSqsClient } from '../shared/aws.ts';
import { ingestionDelayConfigSchema } from '../shared/config.ts';
import {
  type IngestionDelayAdapters,
  type IngestionDelayConfig,
  ingestionDelayAdapters,
} from '../shared/lag-check-adapters.ts';
import {
  createTelemetry,
  handlerFromEnvironment,
  type LambdaHandler,
  lambdaHandler,
  type TelemetryOptions,
} from '../shared/lambda.ts';

const json = (statusCode: number, body: unknown): APIGatewayProxyResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/**
 * `GET /v1/ingestion-delay` behind a Function URL: the lag check's latest reading with the live DLQ
 * depth. 503 with `lag unknown: …` when there is no fresh reading, so a caller never mistakes a
 * silent lag check for a healthy index. It publishes no metrics.
 */
export function createIngestionDelayHandler(
  config: IngestionDelayConfig,
  adapters: IngestionDelayAdapters,
  telemetryOptions: TelemetryOptions = {},
): LambdaHandler<LambdaFunctionURLEvent, APIGatewayProxyResultV2> {
  const telemetry = createTelemetry('ingestion-delay', { ...telemetryOptions, metrics: false });
  const { logger } = telemetry;
  return lambdaHandler(telemetry, async (event: LambdaFunctionURLEvent): Promise<APIGatewayProxyResultV2> => {
    const { method } = event.requestContext.http;
    if (event.rawPath !== '/v1/ingestion-delay') return json(404, { message: `no route ${event.rawPath}` });
    if (method !== 'GET') return json(405, { message: `${method} not allowed: use GET` });
    const [reading, dlqDepth] = await Promise.allSettled([adapters.latestReading(), adapters.dlqDepth()]);
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
      adapters.now(),
      3 * config.LAG_CHECK_INTERVAL_SECONDS * 1000,
    );
    if (!('unknown' in answer)) return json(200, answer);
    if (answer.detail !== undefined)
      logger.warn('the latest lag reading has no lag figure', { problem: answer.detail });
    return json(503, { message: answer.unknown });
  });
}

/** The SDK clients, so that a test harness can observe or police their calls. */
export const clients = { dynamodb: createDynamoDbClient(), sqs: createSqsClient() };

export const handler: (event: LambdaFunctionURLEvent, context: Context) => Promise<APIGatewayProxyResultV2> =
  handlerFromEnvironment(ingestionDelayConfigSchema, (config) =>
    createIngestionDelayHandler(config, ingestionDelayAdapters(clients, config)),
  );
