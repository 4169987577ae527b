import { DynamoDBClient, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  GetSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { localIam } from '../../infra/local/iam/enforce.ts';
import { evaluate } from '../../infra/local/iam/evaluate.ts';
import { Resolver, rolePolicyOf, UnresolvableIntrinsicError } from '../../infra/local/iam/policies.ts';
import { standIns } from '../../infra/local/iam/stand-ins.ts';
import { syncTemplate } from '../../infra/local/iam/template.ts';

const NAMES = {
  tableName: 'items',
  streamArn: 'arn:aws:dynamodb:ddblocal:000000000000:table/items/stream/2026-01-01T00:00:00.000',
  stateTable: 'items-resync-state',
  queueUrl: 'http://127.0.0.1:1/000000000000/items-changes.fifo',
  dlqUrl: 'http://127.0.0.1:1/000000000000/items-dlq.fifo',
  resyncQueueUrl: 'http://127.0.0.1:1/000000000000/items-resync',
  failureBucket: 'items-stream-failures',
};
const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/items';
const SECRET = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:typesense-sync/api-key-AbCdEf';
const template = syncTemplate({ keyAttributes: ['pk'], atlas: false, alias: 'products' });
const resolver = new Resolver(template, standIns(NAMES));

describe("a function's role from the synthesised template", () => {
  it('is synthesised once per distinct options', () => {
    expect(syncTemplate({ keyAttributes: ['pk'], atlas: false, alias: 'products' })).toBe(template);
  });

  it("resolves the template's intrinsics to the local resources", () => {
    const resync = rolePolicyOf(template, 'resync', resolver);
    expect(resync.roleName).toMatch(/^SyncResyncServiceRole/);
    const allowed = (action: string, resource: string) => evaluate(resync.statements, { action, resource });
    expect(allowed('dynamodb:Scan', TABLE)).toBe('allow');
    expect(allowed('dynamodb:BatchGetItem', TABLE)).toBe('allow');
    expect(allowed('dynamodb:PutItem', TABLE)).toBe('implicit-deny');
    expect(allowed('sqs:SendMessage', 'arn:aws:sqs:us-east-1:000000000000:items-resync')).toBe('allow');
    expect(allowed('sqs:SendMessage', 'arn:aws:sqs:us-east-1:000000000000:items-dlq.fifo')).toBe(
      'implicit-deny',
    );
    expect(allowed('secretsmanager:GetSecretValue', SECRET)).toBe('allow');
    expect(allowed('logs:PutLogEvents', '*')).toBe('allow');
  });

  it("gives the index custom resource's handler the re-sync start path, and no Scan", () => {
    const index = rolePolicyOf(template, 'indexResource', resolver);
    expect(index.roleName).toMatch(/^SyncIndexHandlerServiceRole/);
    const allowed = (action: string, resource: string) => evaluate(index.statements, { action, resource });
    const stateTable = 'arn:aws:dynamodb:us-east-1:000000000000:table/items-resync-state';
    expect(allowed('dynamodb:DescribeTable', TABLE)).toBe('allow');
    expect(allowed('dynamodb:Scan', TABLE)).toBe('implicit-deny');
    expect(allowed('dynamodb:PutItem', stateTable)).toBe('allow');
    expect(allowed('sqs:SendMessage', 'arn:aws:sqs:us-east-1:000000000000:items-resync')).toBe('allow');
    expect(allowed('sqs:SendMessage', 'arn:aws:sqs:us-east-1:000000000000:items-changes.fifo')).toBe(
      'implicit-deny',
    );
    expect(allowed('secretsmanager:GetSecretValue', SECRET)).toBe('allow');
  });

  it("gives the lag check the canary's partition of the table and no other", () => {
    const { statements } = rolePolicyOf(template, 'lagCheck', resolver);
    const put = (key: string) =>
      evaluate(statements, {
        action: 'dynamodb:PutItem',
        resource: TABLE,
        context: { 'dynamodb:LeadingKeys': [key] },
      });
    expect(put('__typesense_sync_canary__')).toBe('allow');
    expect(put('customer-1')).toBe('implicit-deny');
  });

  it("gives the batcher's role the on-failure destination's writes", () => {
    const { statements } = rolePolicyOf(template, 'batcher', resolver);
    expect(
      evaluate(statements, {
        action: 's3:PutObject',
        resource: 'arn:aws:s3:::items-stream-failures/aws/lambda/x',
      }),
    ).toBe('allow');
    expect(
      evaluate(statements, { action: 's3:GetObject', resource: 'arn:aws:s3:::items-stream-failures/x' }),
    ).toBe('implicit-deny');
  });

  it('fails on what it cannot resolve instead of allowing it', () => {
    const withoutBucket = new Resolver(template, { ...standIns(NAMES), failureBucket: undefined });
    expect(() => rolePolicyOf(template, 'batcher', withoutBucket)).toThrow(UnresolvableIntrinsicError);
    expect(() => rolePolicyOf(template, 'batcher', withoutBucket)).toThrow(
      /the local stack has no failureBucket/,
    );
    expect(() => resolver.resolve({ Ref: 'NotInTheTemplate' })).toThrow(
      'cannot resolve {"Ref":"NotInTheTemplate"}: no local resource stands in for NotInTheTemplate',
    );
    expect(() => resolver.resolve({ 'Fn::ImportValue': 'x' })).toThrow(
      /unsupported intrinsic Fn::ImportValue/,
    );
    expect(() => rolePolicyOf(template, 'atlasIngest', resolver)).toThrow(/no atlasIngest function/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string, not a template literal
    const sub = 'arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:q';
    expect(resolver.resolve({ 'Fn::Sub': sub })).toBe('arn:aws:sqs:us-east-1:000000000000:q');
  });

  it('fails on a statement left without resources, or a permissions boundary, instead of evaluating less', () => {
    const writerRole = rolePolicyOf(template, 'writer', resolver);
    expect(writerRole.statements.length).toBeGreaterThan(0);
    const roleId = (
      template.resources[template.functions.writer as string]?.Properties?.Role as {
        'Fn::GetAtt': [string, string];
      }
    )['Fn::GetAtt'][0];
    const role = template.resources[roleId] as { Type: string; Properties: Record<string, unknown> };
    const bounded = {
      ...template,
      resources: {
        ...template.resources,
        [roleId]: {
          ...role,
          Properties: { ...role.Properties, PermissionsBoundary: 'arn:aws:iam::000000000000:policy/b' },
        },
      },
    };
    expect(() => rolePolicyOf(bounded, 'writer', resolver)).toThrow(
      /permissions boundaries are not supported/,
    );
    const noValue = {
      ...template,
      resources: {
        ...template.resources,
        [roleId]: {
          ...role,
          Properties: {
            ...role.Properties,
            Policies: [
              {
                PolicyName: 'deny-nothing',
                PolicyDocument: {
                  Statement: [{ Effect: 'Deny', Action: 'sqs:*', Resource: [{ Ref: 'AWS::NoValue' }] }],
                },
              },
            ],
          },
        },
      },
    };
    expect(() => rolePolicyOf(noValue, 'writer', resolver)).toThrow(/resolve to AWS::NoValue/);
  });
});

describe('the enforcing middleware', () => {
  // Nothing listens there: a call IAM lets through fails to connect, one it refuses never leaves.
  const offline = { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', maxAttempts: 1 };
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const iam = () =>
    localIam({
      template: { keyAttributes: ['pk'], atlas: false, alias: 'products' },
      physical: standIns(NAMES),
      partitionKeys: new Map([['items', 'pk']]),
    });

  it('refuses a secret the role may not read as Secrets Manager does', async () => {
    const local = iam();
    const [secrets] = local.enforce('writer', new SecretsManagerClient({ ...offline, credentials }));
    const refused = await secrets
      .send(new GetSecretValueCommand({ SecretId: 'another/secret' }))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SecretsManagerServiceException);
    expect(refused).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    // The role's own secret passes the check and goes on to the (absent) endpoint.
    const allowed = await secrets
      .send(new GetSecretValueCommand({ SecretId: SECRET }))
      .catch((e: Error) => e);
    expect(allowed).not.toBeInstanceOf(SecretsManagerServiceException);
    expect(local.denials).toHaveLength(1);
  });

  it('refuses an S3 write outside the failure bucket as S3 does', async () => {
    const [s3] = iam().enforce('batcher', new S3Client({ ...offline, credentials, forcePathStyle: true }));
    const refused = await s3
      .send(new PutObjectCommand({ Bucket: 'elsewhere', Key: 'k', Body: 'x' }))
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
    });
    expect((refused as Error).message).toContain('on resource: "arn:aws:s3:::elsewhere/k"');
  });

  it('fails a command with no IAM mapping, and the stack with it even if the caller swallowed the error', async () => {
    const local = iam();
    const [dynamodb] = local.enforce('writer', new DynamoDBClient({ ...offline, credentials }));
    await expect(dynamodb.send(new ListTablesCommand({}))).rejects.toThrow(
      'no IAM mapping for DynamoDB ListTables',
    );
    expect(() => local.assertNoProblems()).toThrow(/local IAM could not authorise 1 calls: no IAM mapping/);
    // A refusal is AWS behaviour, not a problem of the check.
    const fresh = iam();
    const [writer] = fresh.enforce('writer', new DynamoDBClient({ ...offline, credentials }));
    await expect(writer.send(new ScanCommand({ TableName: 'items' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    expect(() => fresh.assertNoProblems()).not.toThrow();
  });

  it('takes a revoked action out of the role', async () => {
    const local = localIam({
      template: { keyAttributes: ['pk'], atlas: false, alias: 'products' },
      physical: standIns(NAMES),
      partitionKeys: new Map([['items', 'pk']]),
      revoke: [{ function: 'resync', action: 'dynamodb:Scan' }],
    });
    const [dynamodb] = local.enforce('resync', new DynamoDBClient({ ...offline, credentials }));
    await expect(dynamodb.send(new ScanCommand({ TableName: 'items' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
  });
});
