import { readFile } from 'node:fs/promises';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
// The operator target is part of the contract shared with the construct (functions/contract/target.ts).
import { changeKeyAttributes } from '../../../functions/contract/aggregate.ts';
import { TARGET_OUTPUT, type Target, targetSchema } from '../../../functions/contract/target.ts';
import { OperatorError } from '../../../functions/core/errors.ts';
import { cachedSecret, createDynamoDbClient } from '../../../functions/shared/aws.ts';
import { TypesenseClient } from '../../../functions/shared/typesense.ts';

export {
  TARGET_OUTPUT,
  type Target,
  type TargetInput,
  targetSchema,
} from '../../../functions/contract/target.ts';

/** A target that cannot be found or does not parse: names where it came from and what is wrong. */
/** The key attributes of the target's changes: the table's, or the partition key of an aggregated index. */
export const changeKeysOf = (target: Pick<Target, 'keyAttributes' | 'aggregate'>): string[] =>
  changeKeyAttributes(target.keyAttributes, target.aggregate);

export class TargetError extends OperatorError {
  override name = 'TargetError';
}

/** Parses a target; the error names `source` and every bad field. */
export function parseTarget(value: unknown, source: string): Target {
  const result = targetSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(target)'}: ${issue.message}`,
  );
  throw new TargetError(`${source} is not a valid typesense-sync target: ${problems.join('; ')}`);
}

export interface TargetSource {
  /** A JSON target file (the embedded stack writes `.local/target.json`). */
  targetFile?: string;
  /** A deployed stack's name: its `OperatorTarget` output. */
  stack?: string;
  region?: string;
  profile?: string;
}

/** Reads the target from a file, or from a deployed stack's outputs. */
export async function loadTarget(source: TargetSource): Promise<Target> {
  if (source.targetFile !== undefined && source.stack !== undefined)
    throw new TargetError('give either --target or --stack, not both');
  if (source.targetFile !== undefined) {
    let text: string;
    try {
      text = await readFile(source.targetFile, 'utf8');
    } catch (error) {
      throw new TargetError(`cannot read target file ${source.targetFile}: ${(error as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new TargetError(`target file ${source.targetFile} is not JSON`);
    }
    return withRegion(parseTarget(json, `target file ${source.targetFile}`), source.region);
  }
  if (source.stack !== undefined) {
    const cloudFormation = new CloudFormationClient(awsClientConfig(undefined, source, 'cloudformation'));
    try {
      const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: source.stack }));
      const output = Stacks?.[0]?.Outputs?.find(({ OutputKey }) => OutputKey === TARGET_OUTPUT);
      if (output?.OutputValue === undefined)
        throw new TargetError(
          `stack ${source.stack} has no ${TARGET_OUTPUT} output: is it a typesense-sync stack?`,
        );
      return withRegion(
        parseTarget(JSON.parse(output.OutputValue), `stack ${source.stack} output ${TARGET_OUTPUT}`),
        source.region,
      );
    } finally {
      cloudFormation.destroy();
    }
  }
  throw new TargetError(
    'no target: give --target <file> (e.g. .local/target.json from `npm start`) or --stack <name>, ' +
      'or set TYPESENSE_SYNC_TARGET / TYPESENSE_SYNC_STACK',
  );
}

const withRegion = (target: Target, region: string | undefined): Target =>
  region === undefined ? target : { ...target, region };

type Service = 'dynamodb' | 'sqs' | 's3' | 'cloudformation' | 'secretsmanager';

function awsClientConfig(
  target: Target | undefined,
  source: { region?: string; profile?: string },
  service: Service,
) {
  const endpoint =
    service === 'dynamodb' || service === 'sqs' || service === 's3'
      ? target?.endpoints?.[service]
      : undefined;
  const region = source.region ?? target?.region;
  return {
    ...(region === undefined ? {} : { region }),
    ...(source.profile === undefined ? {} : { profile: source.profile }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(target?.credentials === undefined ? {} : { credentials: target.credentials }),
  };
}

/** The clients of one target, created once per command. */
export interface Connection {
  target: Target;
  /** The AWS profile the clients use (`--profile`); the lag request is signed with it too. */
  profile?: string;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  s3: S3Client;
  typesense: TypesenseClient;
  close(): void;
}

export function connect(target: Target, source: { profile?: string } = {}): Connection {
  const dynamodb = createDynamoDbClient(awsClientConfig(target, source, 'dynamodb'));
  // Queue URLs of emulators name hosts (`sqs.<region>.localhost`) that may not resolve: use the endpoint.
  const sqs = new SQSClient({
    ...awsClientConfig(target, source, 'sqs'),
    ...(target.endpoints?.sqs === undefined ? {} : { useQueueUrlAsEndpoint: false }),
  });
  const s3 = new S3Client({
    ...awsClientConfig(target, source, 's3'),
    ...(target.endpoints?.s3 === undefined ? {} : { forcePathStyle: true }),
  });
  const secrets =
    target.typesense.apiKeySecretArn === undefined
      ? undefined
      : new SecretsManagerClient(awsClientConfig(target, source, 'secretsmanager'));
  const typesense = new TypesenseClient({
    nodes: target.typesense.nodes,
    apiKey:
      secrets !== undefined && target.typesense.apiKeySecretArn !== undefined
        ? cachedSecret(secrets, target.typesense.apiKeySecretArn)
        : (target.typesense.apiKey as string),
  });
  return {
    target,
    ...(source.profile === undefined ? {} : { profile: source.profile }),
    dynamodb,
    sqs,
    s3,
    typesense,
    close() {
      dynamodb.destroy();
      sqs.destroy();
      s3.destroy();
      secrets?.destroy();
    },
  };
}
