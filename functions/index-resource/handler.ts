import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { type IndexResourceData, indexResourcePropertiesSchema } from '../contract/index-resource.ts';
import {
  applyIndexRequest,
  type IndexLifecyclePorts,
  type IndexRequest,
  IndexResourceError,
} from '../core/index-lifecycle.ts';
import { resyncOptionsOf } from '../resync/handler.ts';
import { createDynamoDbClient, createSqsClient } from '../shared/aws.ts';
import { type ResyncConfig, resyncConfigSchema } from '../shared/config.ts';
import { indexResourceAdapters } from '../shared/index-resource-adapters.ts';
import {
  createTelemetry,
  handlerFromEnvironment,
  type LambdaHandler,
  lambdaHandler,
  type TelemetryOptions,
} from '../shared/lambda.ts';
import { typesenseClientOf } from '../shared/typesense-client.ts';

/** What the CDK Provider framework's onEvent handler answers; a thrown error fails the deploy. */
export interface IndexResourceResponse {
  PhysicalResourceId: string;
  Data: IndexResourceData;
}

/** The request as the core takes it; bad properties are an error naming each one. */
export function indexRequestOf(event: CloudFormationCustomResourceEvent): IndexRequest {
  const parsed = indexResourcePropertiesSchema.safeParse(event.ResourceProperties);
  if (!parsed.success)
    throw new IndexResourceError(
      `bad index resource properties: ${parsed.error.issues
        .map((issue) => `${issue.path.join('.') || '(properties)'}: ${issue.message}`)
        .join('; ')}`,
    );
  return {
    requestType: event.RequestType,
    properties: parsed.data,
    physicalResourceId: event.RequestType === 'Create' ? undefined : event.PhysicalResourceId,
  };
}

/**
 * The index custom resource (issue 19): on create and update it converges Typesense to the deployed
 * schema (first load, migration, nothing, or adoption) and returns once a load is started; on delete
 * it retains or drops the index. It runs with the re-sync function's environment.
 */
export function createIndexResourceHandler(
  config: ResyncConfig,
  adapters: IndexLifecyclePorts,
  telemetryOptions: TelemetryOptions = {},
): LambdaHandler<CloudFormationCustomResourceEvent, IndexResourceResponse> {
  const telemetry = createTelemetry('index-resource', { ...telemetryOptions, metrics: false });
  const { logger } = telemetry;
  const { alias: _alias, schema: _schema, ...options } = resyncOptionsOf(config);
  return lambdaHandler(telemetry, async (event: CloudFormationCustomResourceEvent) => {
    const request = indexRequestOf(event);
    try {
      const outcome = await applyIndexRequest(request, adapters, options);
      logger.info('index resource done', { requestType: request.requestType, ...outcome.data });
      return { PhysicalResourceId: outcome.physicalResourceId, Data: outcome.data };
    } catch (error) {
      logger.error('index resource failed', { requestType: request.requestType, error });
      throw error;
    }
  });
}

/** The SDK clients, so that a test harness can observe or police their calls (IAM locally). */
export const clients = { dynamodb: createDynamoDbClient(), sqs: createSqsClient() };

export const handler: (
  event: CloudFormationCustomResourceEvent,
  context: Context,
) => Promise<IndexResourceResponse> = handlerFromEnvironment(resyncConfigSchema, (config) =>
  createIndexResourceHandler(
    config,
    indexResourceAdapters({ ...clients, typesense: typesenseClientOf(config) }, config),
  ),
);
