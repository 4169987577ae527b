import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ACCOUNT_ID, CHANGES_VISIBILITY_SECONDS, type LocalStackOptions, REGION } from './stack-options.ts';

/**
 * The embedded stack's tables and queues, named and set up as the construct creates them (the IAM
 * stand-ins map the template's resources to these names).
 */

export interface StackResources {
  tableName: string;
  keyAttributes: string[];
  streamArn: string;
  queueUrl: string;
  dlqUrl: string;
  maxReceiveCount: number;
  maxMessageBytes: number;
  resyncStateTable: string;
  resyncQueueUrl: string;
  /** Present with `atlas`. */
  atlas: AtlasResources | undefined;
}

export interface AtlasResources {
  versionsTable: string;
  ingestQueueUrl: string;
  ingestDeadLetterQueueUrl: string;
}

const queueArn = (name: string) => `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${name}`;

export async function createStackResources(
  dynamodb: DynamoDBClient,
  sqs: SQSClient,
  options: LocalStackOptions,
  tableName: string,
  keyAttributes: string[],
): Promise<StackResources> {
  const streamArn = await createSourceTable(dynamodb, options, tableName, keyAttributes);
  const queues = await createChangeQueues(sqs, options, tableName);
  const resync = await createResyncResources(dynamodb, sqs, options, tableName);
  const atlas = options.atlas === true ? await createAtlasResources(dynamodb, sqs, tableName) : undefined;
  return { tableName, keyAttributes, streamArn, ...queues, ...resync, atlas };
}

/** The source table with its NEW_AND_OLD_IMAGES stream; resolves with the stream's ARN. */
async function createSourceTable(
  dynamodb: DynamoDBClient,
  options: LocalStackOptions,
  tableName: string,
  keyAttributes: string[],
): Promise<string> {
  const keySchema: KeySchemaElement[] = keyAttributes.map((name, index) => ({
    AttributeName: name,
    KeyType: index === 0 ? 'HASH' : 'RANGE',
  }));
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: keySchema,
      AttributeDefinitions: keyAttributes.map((name, index) => ({
        AttributeName: name,
        AttributeType: options.keyTypes?.[index] ?? 'S',
      })),
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  return Table?.LatestStreamArn as string;
}

/**
 * The FIFO changes queue and its FIFO DLQ, named after `tableName` (the first index) or
 * `<table>-<alias>` (a further index's).
 */
export async function createChangeQueues(sqs: SQSClient, options: LocalStackOptions, tableName: string) {
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-dlq.fifo`,
      Attributes: { FifoQueue: 'true', MessageRetentionPeriod: '1209600' },
    }),
  );
  const maxMessageBytes = options.maxMessageBytes ?? 262_144;
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const changes = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-changes.fifo`,
      Attributes: {
        FifoQueue: 'true',
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        MaximumMessageSize: String(maxMessageBytes),
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? CHANGES_VISIBILITY_SECONDS),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: queueArn(`${tableName}-dlq.fifo`),
          maxReceiveCount,
        }),
      },
    }),
  );
  return {
    queueUrl: changes.QueueUrl as string,
    dlqUrl: dlq.QueueUrl as string,
    maxMessageBytes,
    maxReceiveCount,
  };
}

/** The re-sync state table and its work queue, named as the changes queues are. */
export async function createResyncResources(
  dynamodb: DynamoDBClient,
  sqs: SQSClient,
  options: LocalStackOptions,
  tableName: string,
) {
  const resyncStateTable = `${tableName}-resync-state`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: resyncStateTable,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const resyncQueue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-resync`,
      Attributes: { VisibilityTimeout: String(options.resync?.visibilityTimeoutSeconds ?? 10) },
    }),
  );
  return { resyncStateTable, resyncQueueUrl: resyncQueue.QueueUrl as string };
}

/** The versions table and the ingest queue with its DLQ, as lib/atlas-source.ts creates them. */
async function createAtlasResources(
  dynamodb: DynamoDBClient,
  sqs: SQSClient,
  tableName: string,
): Promise<AtlasResources> {
  const versionsTable = `${tableName}-atlas-versions`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: versionsTable,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const deadLetters = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-atlas-ingest-dlq`,
      Attributes: { MessageRetentionPeriod: '1209600' },
    }),
  );
  const ingest = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${tableName}-atlas-ingest`,
      Attributes: {
        // Short, so a failed write is retried quickly in tests.
        VisibilityTimeout: '2',
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: queueArn(`${tableName}-atlas-ingest-dlq`),
          maxReceiveCount: 5,
        }),
      },
    }),
  );
  return {
    versionsTable,
    ingestQueueUrl: ingest.QueueUrl as string,
    ingestDeadLetterQueueUrl: deadLetters.QueueUrl as string,
  };
}
