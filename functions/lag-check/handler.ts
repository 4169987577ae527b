import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Context } from 'aws-lambda';
import { checkLag, type LagReading } from '../core/lag-check.ts';
import { createDynamoDbClient, createSqsClient } from '../shared/aws.ts';
import { type LagCheckConfig, lagCheckConfigSchema } from '../shared/config.ts';
import { type LagCheckAdapters, lagCheckAdapters } from '../shared/lag-check-adapters.ts';
import {
  createTelemetry,
  handlerFromEnvironment,
  type LambdaHandler,
  lambdaHandler,
  type TelemetryOptions,
} from '../shared/lambda.ts';
import { addIndexLagMetrics, addLagMetrics } from '../shared/metrics.ts';
import { typesenseClientOf } from '../shared/typesense-client.ts';

/**
 * Scheduled every minute: sends a canary through the pipeline, waits until it is searchable and
 * publishes the end-to-end lag with the backlog figures. It never fails the invocation: whatever it
 * could not measure is reported (log, `LagUnknown` metric, the endpoint's `lag unknown: …`), and a
 * retried invocation would only measure again.
 */
export function createLagCheckHandler(
  config: LagCheckConfig,
  adapters: LagCheckAdapters,
  telemetryOptions: TelemetryOptions = {},
): LambdaHandler<unknown, LagReading> {
  const telemetry = createTelemetry('lag-check', telemetryOptions);
  const { logger, metrics, flushed } = telemetry;
  return lambdaHandler(telemetry, async (): Promise<LagReading> => {
    const reading = await checkLag(adapters.ports(), {
      canaryTimeoutMs: config.CANARY_TIMEOUT_SECONDS * 1000,
      pollIntervalMs: 200,
    });
    try {
      await adapters.saveReading(reading);
    } catch (error) {
      reading.problems.push(`reading not saved: ${String(error)}`);
    }
    addLagMetrics(metrics, reading);
    if (flushed !== undefined) addIndexLagMetrics(flushed, reading);
    if (reading.problems.length > 0) logger.warn('lag check incomplete', { reading });
    else logger.info('lag check', { reading });
    return reading;
  });
}

/** The SDK clients, so that a test harness can observe or police their calls. */
export const clients = {
  dynamodb: createDynamoDbClient(),
  sqs: createSqsClient(),
  cloudwatch: new CloudWatchClient({}),
};

export const handler: (event: unknown, context: Context) => Promise<LagReading> = handlerFromEnvironment(
  lagCheckConfigSchema,
  (config) =>
    createLagCheckHandler(
      config,
      lagCheckAdapters({ ...clients, typesense: typesenseClientOf(config) }, config),
    ),
);
