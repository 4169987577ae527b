import { SyncError } from '../../../functions/core/errors.ts';
import type { IamRequest } from './evaluate.ts';

/**
 * What IAM checks for one SDK command: its action(s) and resource ARN(s), from the command's input,
 * as the services document them. A command without a mapping is an error, never an allow.
 */

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';

/** Thrown for a command the embedded stack cannot authorise: add its mapping here. */
export class UnmappedCommandError extends SyncError {
  override name = 'UnmappedCommandError';
}

/** A table's partition key attribute, for `dynamodb:LeadingKeys`. */
export type PartitionKeys = ReadonlyMap<string, string>;

type Input = Record<string, unknown>;
type AttributeMap = Record<string, Record<string, unknown> | undefined>;

const tableArn = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
export const queueArnOfUrl = (url: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${url.split('/').at(-1)}`;

/** The partition key value of an item or key, as IAM sees it (a string form of the scalar). */
function leadingKey(table: string, item: AttributeMap | undefined, partitionKeys: PartitionKeys) {
  const attribute = partitionKeys.get(table);
  if (attribute === undefined || item === undefined) return undefined;
  const value = item[attribute];
  const scalar = value?.S ?? value?.N ?? value?.B;
  return scalar === undefined ? undefined : String(scalar);
}

function tableRequest(
  action: string,
  table: string,
  items: (AttributeMap | undefined)[],
  partitionKeys: PartitionKeys,
  index?: string,
): IamRequest {
  const leading = items.map((item) => leadingKey(table, item, partitionKeys));
  const known = leading.length > 0 && leading.every((value) => value !== undefined);
  return {
    action: `dynamodb:${action}`,
    resource: index === undefined ? tableArn(table) : `${tableArn(table)}/index/${index}`,
    ...(known ? { context: { 'dynamodb:LeadingKeys': [...new Set(leading as string[])] } } : {}),
  };
}

function dynamodbRequests(command: string, input: Input, partitionKeys: PartitionKeys): IamRequest[] {
  const table = input.TableName as string;
  switch (command) {
    case 'GetItem':
    case 'DeleteItem':
    case 'UpdateItem':
      return [tableRequest(command, table, [input.Key as AttributeMap], partitionKeys)];
    case 'PutItem':
      return [tableRequest(command, table, [input.Item as AttributeMap], partitionKeys)];
    case 'Query':
    case 'Scan':
      return [tableRequest(command, table, [], partitionKeys, input.IndexName as string | undefined)];
    case 'DescribeTable':
      return [tableRequest(command, table, [], partitionKeys)];
    case 'BatchGetItem':
      return Object.entries(input.RequestItems as Record<string, { Keys: AttributeMap[] }>).map(
        ([name, request]) => tableRequest('BatchGetItem', name, request.Keys, partitionKeys),
      );
    case 'BatchWriteItem':
      return Object.entries(input.RequestItems as Record<string, Input[]>).map(([name, requests]) =>
        tableRequest(
          'BatchWriteItem',
          name,
          requests.map(
            (request) =>
              ((request.PutRequest as Input | undefined)?.Item ??
                (request.DeleteRequest as Input | undefined)?.Key) as AttributeMap | undefined,
          ),
          partitionKeys,
        ),
      );
    case 'TransactWriteItems':
      // No action of its own: each item needs the permission of the single-item action it performs.
      return (input.TransactItems as Input[]).map((item) => {
        const [kind, operation] = Object.entries(item)[0] as [string, Input];
        const action = {
          Put: 'PutItem',
          Update: 'UpdateItem',
          Delete: 'DeleteItem',
          ConditionCheck: 'ConditionCheckItem',
        }[kind];
        if (action === undefined)
          throw new UnmappedCommandError(`no IAM mapping for TransactWriteItems ${kind}`);
        const key = (kind === 'Put' ? operation.Item : operation.Key) as AttributeMap;
        return tableRequest(action, operation.TableName as string, [key], partitionKeys);
      });
    case 'TransactGetItems':
      return (input.TransactItems as { Get: Input }[]).map(({ Get }) =>
        tableRequest('GetItem', Get.TableName as string, [Get.Key as AttributeMap], partitionKeys),
      );
    default:
      throw new UnmappedCommandError(`no IAM mapping for DynamoDB ${command}`);
  }
}

const SQS_ACTIONS: Record<string, string> = {
  SendMessage: 'sqs:SendMessage',
  // The batch calls are authorised as their single-message actions.
  SendMessageBatch: 'sqs:SendMessage',
  ReceiveMessage: 'sqs:ReceiveMessage',
  DeleteMessage: 'sqs:DeleteMessage',
  DeleteMessageBatch: 'sqs:DeleteMessage',
  ChangeMessageVisibility: 'sqs:ChangeMessageVisibility',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
  GetQueueAttributes: 'sqs:GetQueueAttributes',
};

function sqsRequests(command: string, input: Input): IamRequest[] {
  if (command === 'GetQueueUrl')
    return [{ action: 'sqs:GetQueueUrl', resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:${input.QueueName}` }];
  const action = SQS_ACTIONS[command];
  if (action === undefined) throw new UnmappedCommandError(`no IAM mapping for SQS ${command}`);
  return [{ action, resource: queueArnOfUrl(input.QueueUrl as string) }];
}

function s3Requests(command: string, input: Input): IamRequest[] {
  const bucket = `arn:aws:s3:::${input.Bucket}`;
  switch (command) {
    case 'PutObject':
    case 'GetObject':
    case 'DeleteObject':
      return [{ action: `s3:${command}`, resource: `${bucket}/${input.Key}` }];
    case 'ListObjectsV2':
      return [{ action: 's3:ListBucket', resource: bucket }];
    default:
      throw new UnmappedCommandError(`no IAM mapping for S3 ${command}`);
  }
}

/** Secrets Manager resolves a name to its ARN, which ends in `-` and six random characters. */
function secretArn(secretId: string) {
  return secretId.startsWith('arn:')
    ? secretId
    : `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${secretId}-Local0`;
}

/** The IAM requests of one command of one service (`serviceId` as the SDK names it). */
export function requestsOf(
  serviceId: string,
  commandName: string,
  input: Input,
  partitionKeys: PartitionKeys,
): IamRequest[] {
  const command = commandName.replace(/Command$/, '');
  switch (serviceId) {
    case 'DynamoDB':
      return dynamodbRequests(command, input, partitionKeys);
    case 'SQS':
      return sqsRequests(command, input);
    case 'S3':
      return s3Requests(command, input);
    case 'Secrets Manager':
      if (command !== 'GetSecretValue')
        throw new UnmappedCommandError(`no IAM mapping for Secrets Manager ${command}`);
      return [{ action: 'secretsmanager:GetSecretValue', resource: secretArn(input.SecretId as string) }];
    case 'CloudWatch':
      // GetMetricData has no resource-level permissions.
      if (command !== 'GetMetricData')
        throw new UnmappedCommandError(`no IAM mapping for CloudWatch ${command}`);
      return [{ action: 'cloudwatch:GetMetricData', resource: '*' }];
    default:
      throw new UnmappedCommandError(`no IAM mapping for ${serviceId} ${command}`);
  }
}
