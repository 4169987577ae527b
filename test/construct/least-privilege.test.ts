import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SyncFunctionRole } from '../../lib/observability.ts';
import type { TypesenseSync } from '../../lib/typesense-sync.ts';
import { defaultStack, fullyFeaturedStack } from './stacks.ts';

/**
 * Every permission of every function role, compared with an explicit list: a new permission (or a
 * broader resource) fails here until it is added to the list on purpose. Permissions read as
 * `<action> on <resource>`, resources named after the construct's parts.
 */

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const FUNCTIONS = [
  'batcher',
  'writer',
  'resync',
  'lagCheck',
  'ingestionDelay',
] as const satisfies readonly SyncFunctionRole[];

/** The actions an SQS event source grants its function on the queue it consumes. */
const CONSUME = [
  'sqs:ReceiveMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueUrl',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
];
const SECRET_READ = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];
/** The only permissions allowed on `*`: their APIs have no resource-level permissions. */
const WILDCARD_RESOURCE_ACTIONS = ['dynamodb:ListStreams', 'cloudwatch:GetMetricData'];

const on = (resource: string, ...actions: string[]) => actions.map((action) => `${action} on ${resource}`);

/** Readable names for the resources the construct's policies refer to. */
function resourceNames(
  stack: Stack,
  sync: TypesenseSync,
  secret: secretsmanager.ISecret,
  key?: kms.IKey,
): Map<string, string> {
  const atlas = sync.atlasSource;
  const named: Array<[unknown, string]> = [
    [sync.table.tableArn, 'table'],
    [sync.table.tableStreamArn, 'table stream'],
    [sync.resyncStateTable.tableArn, 'state table'],
    [sync.changesQueue.queueArn, 'changes queue'],
    [sync.deadLetterQueue.queueArn, 'DLQ'],
    [sync.resyncQueue.queueArn, 'resync queue'],
    [sync.resyncDeadLetterQueue.queueArn, 'resync DLQ'],
    [sync.failureBucket.bucketArn, 'failure bucket'],
    [sync.failureBucket.arnForObjects('*'), 'failure bucket objects'],
    [sync.index.handler.functionArn, 'index handler'],
    [`${sync.index.handler.functionArn}:*`, 'index handler versions'],
    // Grants on a secret imported by name match any of its version suffixes.
    [`${secret.secretArn}-??????`, 'API key secret'],
    ...(key === undefined ? [] : [[key.keyArn, 'key'] as [unknown, string]]),
    ...(atlas === undefined
      ? []
      : ([
          [atlas.ingestQueue.queueArn, 'ingest queue'],
          [atlas.versionsTable.tableArn, 'versions table'],
        ] as Array<[unknown, string]>)),
    ['*', '*'],
  ];
  return new Map(named.map(([token, name]) => [JSON.stringify(stack.resolve(token)), name]));
}

/** `<action> on <resource>[ if <condition>]` for every Allow of the role's policies, and its managed policies. */
function permissionsOf(template: Template, stack: Stack, role: iam.IRole, names: Map<string, string>) {
  const roleId = stack.getLogicalId(role.node.defaultChild as CfnElement);
  const roleResource = template.toJSON().Resources[roleId] as {
    Properties: { ManagedPolicyArns?: unknown[] };
  };
  const managed = (roleResource.Properties.ManagedPolicyArns ?? []).map(
    (arn) => `managed ${JSON.stringify(arn).match(/policy\/service-role\/([\w-]+)/)?.[1]}`,
  );
  const statements = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (ref) => JSON.stringify(ref) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  const permissions = statements.flatMap((statement) => {
    expect(statement.Effect).toBe('Allow');
    const condition = statement.Condition === undefined ? '' : ` if ${JSON.stringify(statement.Condition)}`;
    return [statement.Action].flat().flatMap((action) =>
      [statement.Resource]
        .flat()
        // Table grants add index ARNs only when the table has indexes.
        .filter((resource) => JSON.stringify(resource) !== '{"Ref":"AWS::NoValue"}')
        .map((resource) => {
          const json = JSON.stringify(resource);
          return `${action} on ${names.get(json) ?? json}${condition}`;
        }),
    );
  });
  return [...new Set([...managed, ...permissions])].sort();
}

const CANARY_ONLY = ` if ${JSON.stringify({
  'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['__typesense_sync_canary__'] },
})}`;

/** What each function needs with the default (AWS managed) encryption and no VPC. */
const BASE: Record<(typeof FUNCTIONS)[number], string[]> = {
  batcher: [
    'managed AWSLambdaBasicExecutionRole',
    ...on('*', 'dynamodb:ListStreams'),
    ...on('table stream', 'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'),
    ...on('changes queue', 'sqs:SendMessage'),
    ...on('DLQ', 'sqs:SendMessage'),
    ...on('failure bucket objects', 's3:PutObject'),
    ...on('failure bucket', 's3:ListBucket'),
  ],
  writer: [
    'managed AWSLambdaBasicExecutionRole',
    ...on('changes queue', ...CONSUME, 'sqs:SendMessage'),
    ...on('DLQ', 'sqs:SendMessage'),
    ...on('table', 'dynamodb:BatchGetItem'),
    // Query + DeleteItem: a successful write clears that id's earlier re-sync rejection.
    ...on(
      'state table',
      'dynamodb:GetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:Query',
      'dynamodb:DeleteItem',
    ),
    ...on('API key secret', ...SECRET_READ),
  ],
  resync: [
    'managed AWSLambdaBasicExecutionRole',
    ...on('resync queue', ...CONSUME, 'sqs:SendMessage'),
    ...on('changes queue', 'sqs:SendMessage'),
    // BatchGetItem: the finisher's consistent re-read of the keys deleted during the backfill.
    ...on('table', 'dynamodb:Scan', 'dynamodb:DescribeTable', 'dynamodb:BatchGetItem'),
    ...on(
      'state table',
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ),
    ...on('API key secret', ...SECRET_READ),
  ],
  lagCheck: [
    'managed AWSLambdaBasicExecutionRole',
    `dynamodb:PutItem on table${CANARY_ONLY}`,
    ...on('state table', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'),
    ...on('changes queue', 'sqs:GetQueueAttributes'),
    ...on('DLQ', 'sqs:GetQueueAttributes'),
    ...on('*', 'cloudwatch:GetMetricData'),
    ...on('API key secret', ...SECRET_READ),
  ],
  ingestionDelay: [
    'managed AWSLambdaBasicExecutionRole',
    ...on('state table', 'dynamodb:GetItem'),
    ...on('DLQ', 'sqs:GetQueueAttributes'),
  ],
};

/**
 * The index custom resource's handler: the re-sync start path (item count, the active pointer and job
 * written, a failed start released, the segment tasks sent) and the admin key. No Scan, no BatchGetItem.
 */
const INDEX_HANDLER = [
  'managed AWSLambdaBasicExecutionRole',
  ...on('table', 'dynamodb:DescribeTable'),
  ...on('state table', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'),
  ...on('resync queue', 'sqs:SendMessage'),
  ...on('API key secret', ...SECRET_READ),
];
/** The Provider framework's function: it invokes the handler, once GetFunction shows it active. */
const PROVIDER_FRAMEWORK = [
  'managed AWSLambdaBasicExecutionRole',
  ...on('index handler', 'lambda:GetFunction'),
  ...on('index handler', 'lambda:InvokeFunction'),
  ...on('index handler versions', 'lambda:InvokeFunction'),
];

/** The Provider framework's own function (CDK builds it inside the Provider). */
const providerFrameworkOf = (sync: TypesenseSync) =>
  sync.index.provider.node.findChild('framework-onEvent') as lambda.IFunction;

function roleOf(fn: lambda.IFunction): iam.IRole {
  expect(fn.role).toBeDefined();
  return fn.role as iam.IRole;
}

describe('least privilege: the ready stack with its defaults', () => {
  let stack: Stack;
  let template: Template;
  let sync: TypesenseSync;
  let names: Map<string, string>;

  beforeAll(() => {
    stack = defaultStack();
    sync = (stack as ReturnType<typeof defaultStack>).sync;
    template = Template.fromStack(stack);
    const secret = stack.node.findChild('TypesenseApiKey') as secretsmanager.ISecret;
    names = resourceNames(stack, sync, secret);
  });

  it.each(FUNCTIONS)('gives the %s exactly its permissions', (name) => {
    expect(permissionsOf(template, stack, roleOf(sync[name]), names)).toEqual([...BASE[name]].sort());
  });

  it('gives the index handler exactly the re-sync start path and the admin key', () => {
    expect(permissionsOf(template, stack, roleOf(sync.index.handler), names)).toEqual(
      [...INDEX_HANDLER].sort(),
    );
  });

  it('gives the Provider framework function only the reading and invocation of the index handler', () => {
    expect(permissionsOf(template, stack, roleOf(providerFrameworkOf(sync)), names)).toEqual(
      [...PROVIDER_FRAMEWORK].sort(),
    );
  });

  it('creates no IAM role besides the five function roles, the index handler and its Provider', () => {
    const functionRoles = [
      ...FUNCTIONS.map((name) => sync[name]),
      sync.index.handler,
      providerFrameworkOf(sync),
    ].map((fn) => stack.getLogicalId(roleOf(fn).node.defaultChild as CfnElement));
    expect(Object.keys(template.findResources('AWS::IAM::Role')).sort()).toEqual(functionRoles.sort());
  });
});

describe('least privilege: a sync with every optional feature on', () => {
  let stack: Stack;
  let template: Template;
  let sync: TypesenseSync;
  let names: Map<string, string>;

  beforeAll(() => {
    const built = fullyFeaturedStack();
    stack = built.stack;
    sync = built.sync;
    template = Template.fromStack(stack);
    const secret = stack.node.findChild('ApiKey') as secretsmanager.ISecret;
    names = resourceNames(stack, sync, secret, built.key);
  });

  /**
   * Besides BASE: the VPC policy for the functions that talk to Typesense, and the use of the one key
   * of every queue, table and the bucket. Reading a table or consuming a queue needs Decrypt (CDK's
   * table reads add DescribeKey); sending to a queue GenerateDataKey too; writing a table the actions
   * of CDK's table write grants; writing to the failure bucket GenerateDataKey.
   */
  const VPC = 'managed AWSLambdaVPCAccessExecutionRole';
  const TABLE_WRITE_KEY = on('key', 'kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*');
  const EXTRA: Record<(typeof FUNCTIONS)[number], string[]> = {
    batcher: on('key', 'kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'),
    writer: [VPC, ...TABLE_WRITE_KEY, ...on('key', 'kms:DescribeKey', 'kms:GenerateDataKey')],
    resync: [VPC, ...TABLE_WRITE_KEY, ...on('key', 'kms:DescribeKey', 'kms:GenerateDataKey')],
    lagCheck: [VPC, ...TABLE_WRITE_KEY],
    ingestionDelay: on('key', 'kms:Decrypt', 'kms:DescribeKey'),
  };

  it.each(FUNCTIONS)('gives the %s exactly its permissions', (name) => {
    expect(permissionsOf(template, stack, roleOf(sync[name]), names)).toEqual(
      [...new Set([...BASE[name], ...EXTRA[name]])].sort(),
    );
  });

  it('gives the index handler, in the VPC, the use of the key for the state table and the resync queue', () => {
    expect(permissionsOf(template, stack, roleOf(sync.index.handler), names)).toEqual(
      [...new Set([...INDEX_HANDLER, VPC, ...TABLE_WRITE_KEY, ...on('key', 'kms:GenerateDataKey')])].sort(),
    );
    expect(permissionsOf(template, stack, roleOf(providerFrameworkOf(sync)), names)).toEqual(
      [...PROVIDER_FRAMEWORK].sort(),
    );
  });

  /**
   * The Atlas ingest: the transaction (raise a version, put or delete a mirror item), dead letters, its
   * queue, and the key of both tables, the queue and the DLQ. No VPC: it calls only AWS APIs.
   */
  it('gives the Atlas ingest exactly its permissions', () => {
    const ingest = sync.atlasSource?.ingest;
    expect(ingest).toBeDefined();
    expect(permissionsOf(template, stack, roleOf(ingest as lambda.IFunction), names)).toEqual(
      [
        ...new Set([
          'managed AWSLambdaBasicExecutionRole',
          ...on('versions table', 'dynamodb:UpdateItem'),
          ...on('table', 'dynamodb:PutItem', 'dynamodb:DeleteItem'),
          ...on('DLQ', 'sqs:SendMessage'),
          ...on('ingest queue', ...CONSUME),
          ...TABLE_WRITE_KEY,
          ...on('key', 'kms:GenerateDataKey'),
        ]),
      ].sort(),
    );
  });

  it(`allows * only for ${WILDCARD_RESOURCE_ACTIONS.join(' and ')}, whose APIs have no resource-level permissions`, () => {
    const functions = [
      ...FUNCTIONS.map((name) => sync[name]),
      sync.atlasSource?.ingest as lambda.IFunction,
      sync.index.handler,
      providerFrameworkOf(sync),
    ];
    const wildcards = functions.flatMap((fn) =>
      permissionsOf(template, stack, roleOf(fn), names).filter((permission) => permission.endsWith(' on *')),
    );
    expect(new Set(wildcards)).toEqual(new Set(WILDCARD_RESOURCE_ACTIONS.map((action) => `${action} on *`)));
  });
});
