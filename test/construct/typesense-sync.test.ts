import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, Duration, SecretValue, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { TypesenseSync as PackageTypesenseSync } from 'typesense-sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseTarget, TARGET_OUTPUT, targetSchema } from '../../bin/cli/operations/target.ts';
import {
  batcherConfigSchema,
  parseConfig,
  resyncConfigSchema,
  writerConfigSchema,
} from '../../functions/shared/config.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';
import { validateTypesenseSyncProps } from '../../lib/validate-props.ts';
import { appWithoutBundling, CDK_JSON_CONTEXT, ENV, fullyFeaturedStack, STREAM_ARN } from './stacks.ts';

const API_KEY = 'ts-api-key-must-never-reach-lambda-env';

function typesenseProps(stack: Stack): TypesenseSyncProps['typesense'] {
  return {
    nodes: ['https://a.example.com:443', 'https://b.example.com:443'],
    apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ImportedKey', 'typesense/key'),
    collection: 'products',
  };
}

type Variables = Record<string, unknown>;

function environmentOf(template: Template, logicalId: string): Variables {
  const fn = template.toJSON().Resources[logicalId];
  return fn.Properties.Environment.Variables as Variables;
}

/** Stand-ins for the values CloudFormation resolves at deploy time (Ref, Fn::GetAtt). */
function resolvedEnvironment(variables: Variables): Record<string, string> {
  const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/queue.fifo';
  const resolve = (name: string, value: unknown): string => {
    if (typeof value === 'string') return value;
    // A JSON variable with references in it (the batcher's QUEUES): each reference is a queue URL.
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join !== undefined)
      return join[1].map((part) => (typeof part === 'string' ? part : QUEUE)).join(join[0]);
    return name.endsWith('_URL') ? QUEUE : 'resolved-at-deploy';
  };
  return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, resolve(name, value)]));
}

type Statement = Record<string, unknown>;

/** The Allow statements of the IAM policies attached to a role. */
function allowStatements(template: Template, roleLogicalId: string): Statement[] {
  return Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) },
    }),
  )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((statement) => statement.Effect === 'Allow');
}

/** Whether an Allow statement in the role's policies grants `action` on exactly `resource`. */
function expectAllowed(template: Template, roleLogicalId: string, action: string, resource: unknown): void {
  const found = allowStatements(template, roleLogicalId).some(
    (statement) =>
      [statement.Action].flat().includes(action) &&
      [statement.Resource].flat().some((r) => JSON.stringify(r) === JSON.stringify(resource)),
  );
  expect(found, `${roleLogicalId} should be allowed ${action} on ${JSON.stringify(resource)}`).toBe(true);
}

describe('TypesenseSync (fully configured, bundled)', () => {
  let app: App;
  let stack: Stack;
  let sync: TypesenseSync;
  let template: Template;
  const id = (element: unknown) => stack.getLogicalId(element as CfnElement);

  beforeAll(() => {
    // Asset metadata lets the bundling test find the staged bundle in the synth output.
    app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:enable-asset-metadata': true } });
    stack = new Stack(app, 'Full', { env: ENV });
    const apiKeySecret = new secretsmanager.Secret(stack, 'ApiKey', {
      secretStringValue: SecretValue.unsafePlainText(API_KEY),
    });
    sync = new TypesenseSync(stack, 'Sync', {
      tableProps: {
        partitionKey: { name: 'tenant', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sku', type: dynamodb.AttributeType.STRING },
      },
      typesense: {
        nodes: ['https://a.example.com:443', 'https://b.example.com:443'],
        apiKeySecret,
        collection: 'products',
      },
      projection: { exclude: ['internalNotes'] },
      messageGroupBuckets: 32,
      maxMessageBytes: 131_072,
      writerTimeout: Duration.seconds(45),
      maxReceiveCount: 7,
      streamBatchSize: 250,
      streamMaxRecordAge: Duration.hours(2),
      streamRetryAttempts: 5,
      parallelizationFactor: 4,
      sourceTimestampAttribute: 'updatedAt',
      retry: { baseDelay: Duration.seconds(5), maxDelay: Duration.minutes(15), budget: Duration.days(2) },
      circuitBreaker: {
        failureThreshold: 5,
        probeInterval: Duration.seconds(20),
        maxProbeInterval: Duration.minutes(10),
      },
      failureRetention: Duration.days(45),
    });
    template = Template.fromStack(stack);
  });

  const queueId = () => id(sync.changesQueue.node.defaultChild as sqs.CfnQueue);
  const dlqId = () => id(sync.deadLetterQueue.node.defaultChild as sqs.CfnQueue);
  const tableId = () => id(sync.table.node.defaultChild);
  const batcherId = () => id(sync.batcher.node.defaultChild as CfnFunction);
  const writerId = () => id(sync.writer.node.defaultChild as CfnFunction);
  const resyncId = () => id(sync.resync.node.defaultChild as CfnFunction);
  const roleId = (fn: TypesenseSync['batcher']) => id(fn.role?.node.defaultChild);
  const bucketId = () => id(sync.failureBucket.node.defaultChild);

  it('creates exactly the expected resources', () => {
    // The source and re-sync state tables; changes, re-sync work and their two DLQs; seven functions
    // (batcher, writer, re-sync, lag check, ingestion delay, the index handler and its Provider framework)
    // and the index custom resource.
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.resourceCountIs('AWS::SQS::QueuePolicy', 4);
    template.resourceCountIs('AWS::Lambda::Function', 7);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.resourceCountIs('AWS::Logs::LogGroup', 7);
    template.resourceCountIs('Custom::TypesenseIndex', 1);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.resourceCountIs('AWS::S3::BucketPolicy', 1);
    // The stream gap trigger; lag, lag unknown, DLQ, iterator age and one errors alarm per function;
    // re-sync DLQ, stall and failure; failed deliveries of each of the two rules (neither target has a DLQ).
    template.resourceCountIs('AWS::CloudWatch::Alarm', 15);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    // The stream gap trigger and the lag check schedule: no re-sync schedule by default.
    template.resourceCountIs('AWS::Events::Rule', 2);
  });

  it('creates the changes queue as high-throughput FIFO sized to the message limit', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      MaximumMessageSize: 131_072,
      // 6 x the 45 s writer timeout.
      VisibilityTimeout: 270,
      SqsManagedSseEnabled: true,
      KmsMasterKeyId: Match.absent(),
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(), 'Arn'] }, maxReceiveCount: 7 },
    });
  });

  it('creates a FIFO DLQ keeping messages 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      MessageRetentionPeriod: 1_209_600,
      SqsManagedSseEnabled: true,
      KmsMasterKeyId: Match.absent(),
      RedrivePolicy: Match.absent(),
    });
    expect(template.toJSON().Resources[dlqId()].Properties.FifoQueue).toBe(true);
  });

  it('denies non-TLS access to both queues', () => {
    for (const queue of [queueId(), dlqId()]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('creates the table with a NEW_AND_OLD_IMAGES stream and the given key schema', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: 'tenant', KeyType: 'HASH' },
          { AttributeName: 'sku', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      }),
    });
  });

  it('runs all functions on Node.js 22 / arm64 with source maps and a one-month log group', () => {
    for (const fnId of [batcherId(), writerId(), resyncId()]) {
      const fn = template.toJSON().Resources[fnId];
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: fnId === resyncId() ? 1024 : 512,
        Handler: 'index.handler',
        Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
      });
      expect(fn.Properties.LoggingConfig.LogGroup).toEqual({ Ref: expect.any(String) });
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    }
    expect(template.toJSON().Resources[batcherId()].Properties.Timeout).toBe(60);
    expect(template.toJSON().Resources[writerId()].Properties.Timeout).toBe(45);
    expect(template.toJSON().Resources[resyncId()].Properties.Timeout).toBe(300);
  });

  it('gives the batcher its env contract', () => {
    expect(environmentOf(template, batcherId())).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'Full-Sync-A4137302-batcher',
      POWERTOOLS_METRICS_NAMESPACE: 'TypesenseSync',
      QUEUES: {
        'Fn::Join': [
          '',
          ['[{"queueUrl":"', { Ref: queueId() }, '","deadLetterQueueUrl":"', { Ref: dlqId() }, '"}]'],
        ],
      },
      DLQ_URL: { Ref: dlqId() },
      KEY_ATTRIBUTES: 'tenant,sku',
      MESSAGE_GROUP_BUCKETS: '32',
      MAX_MESSAGE_BYTES: '131072',
      SOURCE_TIMESTAMP_ATTRIBUTE: 'updatedAt',
    });
  });

  it('gives the writer its env contract, with the secret ARN and never the API key', () => {
    expect(environmentOf(template, writerId())).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'Full-Sync-A4137302-writer',
      POWERTOOLS_METRICS_NAMESPACE: 'TypesenseSync',
      TABLE_NAME: { Ref: tableId() },
      QUEUE_URL: { Ref: queueId() },
      DLQ_URL: { Ref: dlqId() },
      MAX_RECEIVE_COUNT: '7',
      MAX_MESSAGE_BYTES: '131072',
      RETRY_BASE_SECONDS: '5',
      RETRY_MAX_SECONDS: '900',
      RETRY_BUDGET_HOURS: '48',
      CIRCUIT_FAILURE_THRESHOLD: '5',
      CIRCUIT_PROBE_SECONDS: '20',
      CIRCUIT_MAX_PROBE_SECONDS: '600',
      KEY_ATTRIBUTES: 'tenant,sku',
      TYPESENSE_NODES: 'https://a.example.com:443,https://b.example.com:443',
      TYPESENSE_API_KEY_SECRET_ARN: { Ref: id(stack.node.findChild('ApiKey').node.defaultChild) },
      TYPESENSE_COLLECTION: 'products',
      PROJECTION: '{"exclude":["internalNotes"]}',
      RESYNC_STATE_TABLE: { Ref: id(sync.resyncStateTable.node.defaultChild) },
      // A sixth of the queue's visibility timeout (6 × writerTimeout): the writer's timeout.
      VISIBILITY_LEASE_SECONDS: '45',
    });
  });

  it("passes the writer the redrive policy's maxReceiveCount (one source of truth)", () => {
    const redrive = template.toJSON().Resources[queueId()].Properties.RedrivePolicy;
    expect(environmentOf(template, writerId()).MAX_RECEIVE_COUNT).toBe(String(redrive.maxReceiveCount));
  });

  it('gives every function an environment its config contract accepts', () => {
    expect(
      parseConfig(batcherConfigSchema, resolvedEnvironment(environmentOf(template, batcherId()))),
    ).toMatchObject({
      QUEUES: [
        { queueUrl: expect.stringMatching(/^https:/), deadLetterQueueUrl: expect.stringMatching(/^https:/) },
      ],
      MESSAGE_GROUP_BUCKETS: 32,
      MAX_MESSAGE_BYTES: 131_072,
    });
    expect(
      parseConfig(resyncConfigSchema, resolvedEnvironment(environmentOf(template, resyncId()))),
    ).toMatchObject({
      MESSAGE_GROUP_BUCKETS: 32,
      MAX_MESSAGE_BYTES: 131_072,
      RESYNC_TOTAL_SEGMENTS: 8,
    });
    expect(
      parseConfig(writerConfigSchema, resolvedEnvironment(environmentOf(template, writerId()))),
    ).toMatchObject({
      MAX_RECEIVE_COUNT: 7,
      MAX_MESSAGE_BYTES: 131_072,
      RETRY_BASE_SECONDS: 5,
      RETRY_MAX_SECONDS: 900,
      RETRY_BUDGET_HOURS: 48,
      CIRCUIT_FAILURE_THRESHOLD: 5,
      CIRCUIT_PROBE_SECONDS: 20,
      CIRCUIT_MAX_PROBE_SECONDS: 600,
    });
  });

  it('puts the API key in no function property (only the secret resource holds it)', () => {
    const text = JSON.stringify(template.toJSON());
    expect(text).toContain(API_KEY);
    const functionIds = [sync.batcher, sync.writer, sync.resync, sync.lagCheck, sync.ingestionDelay].map(
      (fn) => id(fn.node.defaultChild),
    );
    for (const fnId of functionIds) {
      const fn = JSON.stringify(template.toJSON().Resources[fnId]);
      expect(fn).not.toContain(API_KEY);
      expect(fn).not.toMatch(/resolve:secretsmanager|SecretString/);
      expect(Object.keys(environmentOf(template, fnId))).not.toContain('TYPESENSE_API_KEY');
    }
  });

  it('maps the table stream to the batcher with partial-batch failure handling', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: batcherId() },
      EventSourceArn: { 'Fn::GetAtt': [tableId(), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 250,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRecordAgeInSeconds: 7_200,
      MaximumRetryAttempts: 5,
      ParallelizationFactor: 4,
    });
  });

  it('sends failed stream batches, with their records, to the failure bucket', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: batcherId() },
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [bucketId(), 'Arn'] } } },
    });
  });

  it('creates the failure bucket encrypted, private, versioned, expiring and retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: [
            { Status: 'Enabled', ExpirationInDays: 45, NoncurrentVersionExpiration: { NoncurrentDays: 45 } },
            { Status: 'Enabled', ExpiredObjectDeleteMarker: true },
          ],
        },
      },
    });
  });

  it('denies non-TLS access to the failure bucket', () => {
    const bucketArn = { 'Fn::GetAtt': [bucketId(), 'Arn'] };
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId() },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [bucketArn, { 'Fn::Join': ['', [bucketArn, '/*']] }],
          }),
        ]),
      },
    });
  });

  it('maps the changes queue to the writer with FIFO-maximum batches and partial-batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: writerId() },
      EventSourceArn: { 'Fn::GetAtt': [queueId(), 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });

  const allows = (roleLogicalId: string, action: string, resource: unknown) =>
    expectAllowed(template, roleLogicalId, action, resource);

  it('lets the writer BatchGetItem the table, read the API key secret and send to the DLQ', () => {
    const writerRole = roleId(sync.writer);
    allows(writerRole, 'dynamodb:BatchGetItem', { 'Fn::GetAtt': [tableId(), 'Arn'] });
    const secretRef = { Ref: id(stack.node.findChild('ApiKey').node.defaultChild) };
    allows(writerRole, 'secretsmanager:GetSecretValue', secretRef);
    allows(writerRole, 'sqs:SendMessage', { 'Fn::GetAtt': [dlqId(), 'Arn'] });
    allows(writerRole, 'sqs:ReceiveMessage', { 'Fn::GetAtt': [queueId(), 'Arn'] });
  });

  it('lets the writer re-send to the changes queue and change message visibility on it (backoff)', () => {
    const writerRole = roleId(sync.writer);
    allows(writerRole, 'sqs:SendMessage', { 'Fn::GetAtt': [queueId(), 'Arn'] });
    allows(writerRole, 'sqs:ChangeMessageVisibility', { 'Fn::GetAtt': [queueId(), 'Arn'] });
  });

  it('lets the batcher write failed batches to the failure bucket, and only that', () => {
    // What Lambda needs for an S3 on-failure destination: s3:PutObject on the objects, s3:ListBucket.
    const batcherRole = roleId(sync.batcher);
    const bucketArn = { 'Fn::GetAtt': [bucketId(), 'Arn'] };
    allows(batcherRole, 's3:PutObject', { 'Fn::Join': ['', [bucketArn, '/*']] });
    allows(batcherRole, 's3:ListBucket', bucketArn);
    const s3Actions = allowStatements(template, batcherRole)
      .flatMap((statement) => [statement.Action].flat())
      .filter((action) => String(action).startsWith('s3:'));
    expect(s3Actions.sort()).toEqual(['s3:ListBucket', 's3:PutObject']);
    // The mapping is created after the policy: Lambda checks the destination permissions then.
    const mapping = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping', {
        Properties: { FunctionName: { Ref: batcherId() } },
      }),
    )[0];
    expect(mapping?.DependsOn).toContain(
      id(sync.batcher.node.findChild('FailureDestinationPolicy').node.defaultChild),
    );
  });

  it('lets the batcher read the stream and send to the changes queue and the DLQ', () => {
    const batcherRole = roleId(sync.batcher);
    allows(batcherRole, 'sqs:SendMessage', { 'Fn::GetAtt': [queueId(), 'Arn'] });
    allows(batcherRole, 'sqs:SendMessage', { 'Fn::GetAtt': [dlqId(), 'Arn'] });
    allows(batcherRole, 'dynamodb:GetRecords', { 'Fn::GetAtt': [tableId(), 'StreamArn'] });
  });

  it('bundles each handler as a minified ESM module with a require shim and a source map', () => {
    for (const fnId of [batcherId(), writerId(), resyncId()]) {
      const assetPath = template.toJSON().Resources[fnId].Metadata['aws:asset:path'] as string;
      const dir = join(app.outdir, assetPath);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(code.startsWith("import { createRequire } from 'module'; const require = createRequire(")).toBe(
        true,
      );
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
    }
  });
});

describe('TypesenseSync with an existing table', () => {
  let template: Template;
  let stack: Stack;
  let sync: TypesenseSync;

  beforeAll(() => {
    stack = new Stack(appWithoutBundling(), 'Existing', { env: ENV });
    const table = dynamodb.Table.fromTableAttributes(stack, 'Source', {
      tableName: 'source',
      tableStreamArn: STREAM_ARN,
    });
    sync = new TypesenseSync(stack, 'Sync', {
      existingTableObj: table,
      keyAttributes: ['pk', 'sk'],
      typesense: typesenseProps(stack),
      existingFailureBucketObj: s3.Bucket.fromBucketName(stack, 'Failures', 'stream-failures'),
    });
    template = Template.fromStack(stack);
  });

  it('creates no source table (only the re-sync state table) and reads the given stream', () => {
    expect(Object.keys(template.findResources('AWS::DynamoDB::Table'))).toEqual([
      stack.getLogicalId(sync.resyncStateTable.node.defaultChild as CfnElement),
    ]);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: STREAM_ARN,
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 10_000,
      MaximumRecordAgeInSeconds: 86_400,
      MaximumRetryAttempts: 10,
      ParallelizationFactor: 1,
    });
  });

  it('passes the given key attributes and the table name through', () => {
    const writer = environmentOf(template, stack.getLogicalId(sync.writer.node.defaultChild as CfnFunction));
    expect(writer).toMatchObject({ KEY_ATTRIBUTES: 'pk,sk', TABLE_NAME: 'source', PROJECTION: '{}' });
    const batcher = environmentOf(
      template,
      stack.getLogicalId(sync.batcher.node.defaultChild as CfnFunction),
    );
    expect(batcher).toMatchObject({ KEY_ATTRIBUTES: 'pk,sk' });
    expect(batcher).not.toHaveProperty('SOURCE_TIMESTAMP_ATTRIBUTE');
  });

  it('leaves the retry and circuit breaker tuning to the writer defaults when unset', () => {
    const writer = environmentOf(template, stack.getLogicalId(sync.writer.node.defaultChild as CfnFunction));
    expect(writer).toMatchObject({ MAX_RECEIVE_COUNT: '10' });
    for (const name of [
      'RETRY_BASE_SECONDS',
      'RETRY_MAX_SECONDS',
      'RETRY_BUDGET_HOURS',
      'CIRCUIT_FAILURE_THRESHOLD',
      'CIRCUIT_PROBE_SECONDS',
      'CIRCUIT_MAX_PROBE_SECONDS',
    ]) {
      expect(writer).not.toHaveProperty(name);
    }
  });

  it('uses the given failure bucket instead of creating one', () => {
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: STREAM_ARN,
      DestinationConfig: {
        OnFailure: {
          // The partition is a literal in a stack whose region is known (@aws-cdk/core:enablePartitionLiterals).
          Destination: 'arn:aws:s3:::stream-failures',
        },
      },
    });
  });
});

describe('TypesenseSyncStack (context defaults)', () => {
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(new TypesenseSyncStack(appWithoutBundling(), 'Ready', { env: ENV }));
  });

  it('creates a default table: pk, on-demand, NEW_AND_OLD_IMAGES stream, PITR, AWS-managed key, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      }),
    });
  });

  it('applies the tuning defaults', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      DeduplicationScope: 'messageGroup',
      MaximumMessageSize: 262_144,
      VisibilityTimeout: 180,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 10 }),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 30,
      Environment: {
        Variables: Match.objectLike({
          TYPESENSE_NODES: 'https://typesense.example.com:443',
          TYPESENSE_COLLECTION: 'products',
          KEY_ATTRIBUTES: 'pk',
          PROJECTION: '{}',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ MESSAGE_GROUP_BUCKETS: '4', MAX_MESSAGE_BYTES: '262144' }),
      },
    });
  });

  it('imports the API key secret by name and grants the writer read access to it', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TYPESENSE_API_KEY_SECRET_ARN: Match.stringLikeRegexp(':secret:typesense-sync/api-key$'),
        }),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['secretsmanager:GetSecretValue']),
            Resource: Match.stringLikeRegexp(':secret:typesense-sync/api-key-\\?\\?\\?\\?\\?\\?$'),
          }),
        ]),
      },
    });
  });

  it('creates the failure bucket keeping failed batches 30 days', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        LifecycleConfiguration: {
          Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 30 })]),
        },
      }),
    });
  });

  it('outputs the table name, queue URLs and the failure bucket name', () => {
    template.hasOutput('TableName', {});
    template.hasOutput('ChangesQueueUrl', {});
    template.hasOutput('DeadLetterQueueUrl', {});
    const [bucketId] = Object.keys(template.findResources('AWS::S3::Bucket'));
    template.hasOutput('StreamFailureBucketName', { Value: { Ref: bucketId } });
  });

  it('outputs the operator target the CLI reads with --stack: valid for its schema, the key by secret ARN only', () => {
    const outputs = template.findOutputs(TARGET_OUTPUT);
    const value = outputs[TARGET_OUTPUT]?.Value as unknown;
    const queues = new Set(Object.keys(template.findResources('AWS::SQS::Queue')));
    // Stand-ins for what CloudFormation substitutes at deploy time: a queue's Ref is its URL, a
    // function URL's FunctionUrl attribute a URL ending with a slash.
    const resolve = (part: unknown): string => {
      if (typeof part === 'string') return part;
      const object = part as Record<string, unknown>;
      if ('Ref' in object) {
        const id = String(object.Ref);
        return queues.has(id) ? `https://sqs.eu-west-1.amazonaws.com/123456789012/${id}` : `deployed-${id}`;
      }
      if ('Fn::Join' in object) {
        const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
        return parts.map(resolve).join(separator);
      }
      const [resource, attribute] = (object['Fn::GetAtt'] ?? []) as string[];
      if (attribute === 'FunctionUrl') return `https://${resource}.lambda-url.eu-west-1.on.aws/`;
      return `deployed-${JSON.stringify(object).replace(/[^A-Za-z0-9]/g, '')}`;
    };
    const target = parseTarget(JSON.parse(resolve(value)), 'the OperatorTarget output');
    expect(target).toMatchObject({
      region: 'eu-west-1',
      keyAttributes: ['pk'],
      messageGroupBuckets: 4,
      maxMessageBytes: 262_144,
      typesense: { nodes: ['https://typesense.example.com:443'], collection: 'products' },
    });
    expect(target.typesense.apiKeySecretArn).toMatch(/typesense-sync\/api-key/);
    expect(target.typesense.apiKey).toBeUndefined();
    expect(target.queueUrl).not.toBe(target.dlqUrl);
    const [stateTableId] = Object.keys(
      template.findResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' }),
    );
    const [resyncQueueId] = Object.keys(
      template.findResources('AWS::SQS::Queue', {
        Properties: { RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) },
      }),
    );
    expect(targetSchema.parse(JSON.parse(resolve(value))).resync).toEqual({
      stateTable: `deployed-${stateTableId}`,
      queueUrl: `https://sqs.eu-west-1.amazonaws.com/123456789012/${resyncQueueId}`,
    });
  });
});

describe('TypesenseSync full re-sync (configured)', () => {
  let stack: Stack;
  let sync: TypesenseSync;
  let typesense: TypesenseSyncProps['typesense'];
  let template: Template;
  const id = (element: unknown) => stack.getLogicalId(element as CfnElement);
  const collectionSchema = {
    fields: [
      { name: 'title', type: 'string' },
      { name: 'price', type: 'float', sort: true },
    ],
    default_sorting_field: 'price',
  };

  beforeAll(() => {
    stack = new Stack(appWithoutBundling(), 'Resync', { env: ENV });
    typesense = typesenseProps(stack);
    sync = new TypesenseSync(stack, 'Sync', {
      typesense,
      projection: { include: ['title', 'price'] },
      messageGroupBuckets: 32,
      maxMessageBytes: 131_072,
      streamMaxRecordAge: Duration.hours(2),
      collectionSchema,
      resync: {
        schedule: events.Schedule.cron({ minute: '0', hour: '3' }),
        totalSegments: 16,
        pageSize: 250,
        keepCollections: 3,
        timeout: Duration.minutes(10),
        maxConcurrency: 4,
      },
    });
    template = Template.fromStack(stack);
  });

  const resourceOf = (logicalId: string) => template.toJSON().Resources[logicalId];
  const tableId = () => id(sync.table.node.defaultChild);
  const stateTableId = () => id(sync.resyncStateTable.node.defaultChild);
  const changesQueueId = () => id(sync.changesQueue.node.defaultChild);
  const resyncQueueId = () => id(sync.resyncQueue.node.defaultChild);
  const resyncDlqId = () => id(sync.resyncDeadLetterQueue.node.defaultChild);
  const resyncId = () => id(sync.resync.node.defaultChild);
  const alarmId = () => id(sync.node.findChild('StreamIteratorAgeAlarm').node.defaultChild);
  const roleId = (fn: TypesenseSync['resync']) => id(fn.role?.node.defaultChild);
  const ruleId = (name: string) => id(sync.node.findChild(name).node.defaultChild);

  it('creates the state table: pk/sk strings, on demand, AWS-managed encryption, deleted with the stack', () => {
    expect(resourceOf(stateTableId())).toMatchObject({
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
      },
    });
    expect(resourceOf(stateTableId()).Properties.SSESpecification.SSEType).toBeUndefined();
  });

  it('creates a standard work queue, encrypted, visible again after 6 × the 10-minute timeout, redriven after 5 receives', () => {
    const queue = resourceOf(resyncQueueId()).Properties;
    expect(queue).toMatchObject({
      VisibilityTimeout: 3_600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [resyncDlqId(), 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(queue.FifoQueue).toBeUndefined();
    expect(queue.KmsMasterKeyId).toBeUndefined();
  });

  it('creates a standard, encrypted work DLQ keeping messages 14 days', () => {
    const dlq = resourceOf(resyncDlqId()).Properties;
    expect(dlq).toMatchObject({ MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
    expect(dlq.FifoQueue).toBeUndefined();
    expect(dlq.RedrivePolicy).toBeUndefined();
  });

  it('denies non-TLS access to the work queue and its DLQ', () => {
    for (const queue of [resyncQueueId(), resyncDlqId()]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('runs the re-sync function with the given timeout and 1024 MB', () => {
    expect(resourceOf(resyncId()).Properties).toMatchObject({ Timeout: 600, MemorySize: 1_024 });
  });

  it('gives the re-sync function its env contract, with the collection schema as JSON', () => {
    expect(environmentOf(template, resyncId())).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'Resync-Sync-2C2ED47B-resync',
      POWERTOOLS_METRICS_NAMESPACE: 'TypesenseSync',
      RESYNC_STATE_TABLE: { Ref: stateTableId() },
      TABLE_NAME: { Ref: tableId() },
      RESYNC_QUEUE_URL: { Ref: resyncQueueId() },
      QUEUE_URL: { Ref: changesQueueId() },
      MESSAGE_GROUP_BUCKETS: '32',
      MAX_MESSAGE_BYTES: '131072',
      KEY_ATTRIBUTES: 'pk',
      TYPESENSE_NODES: 'https://a.example.com:443,https://b.example.com:443',
      TYPESENSE_API_KEY_SECRET_ARN: stack.resolve(typesense.apiKeySecret.secretArn),
      TYPESENSE_COLLECTION: 'products',
      PROJECTION: '{"include":["title","price"]}',
      COLLECTION_SCHEMA: JSON.stringify(collectionSchema),
      RESYNC_TOTAL_SEGMENTS: '16',
      RESYNC_PAGE_SIZE: '250',
      // 200 pages of 500 items per 5 minutes, scaled to 10 minutes of 250-item pages.
      RESYNC_PAGES_PER_TASK: '800',
      RESYNC_KEEP_COLLECTIONS: '3',
    });
  });

  it('gives the re-sync function an environment its config contract accepts', () => {
    expect(
      parseConfig(resyncConfigSchema, resolvedEnvironment(environmentOf(template, resyncId()))),
    ).toMatchObject({
      COLLECTION_SCHEMA: collectionSchema,
      RESYNC_TOTAL_SEGMENTS: 16,
      RESYNC_PAGE_SIZE: 250,
      RESYNC_PAGES_PER_TASK: 800,
      RESYNC_KEEP_COLLECTIONS: 3,
      MESSAGE_GROUP_BUCKETS: 32,
    });
  });

  it('maps the work queue to the re-sync function one task at a time, with partial failures and the concurrency cap', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: resyncId() },
      EventSourceArn: { 'Fn::GetAtt': [resyncQueueId(), 'Arn'] },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 4 },
    });
  });

  /** Every action the role is allowed on resources whose expression names `logicalId`. */
  const actionsOn = (roleLogicalId: string, logicalId: string) =>
    allowStatements(template, roleLogicalId)
      .filter((statement) =>
        [statement.Resource].flat().some((r) => JSON.stringify(r).includes(JSON.stringify(logicalId))),
      )
      .flatMap((statement) => [statement.Action].flat() as string[]);

  it('lets the re-sync function Scan the source table but not write to it', () => {
    const role = roleId(sync.resync);
    expectAllowed(template, role, 'dynamodb:Scan', { 'Fn::GetAtt': [tableId(), 'Arn'] });
    expectAllowed(template, role, 'dynamodb:DescribeTable', { 'Fn::GetAtt': [tableId(), 'Arn'] });
    const onSource = actionsOn(role, tableId());
    expect(onSource).toContain('dynamodb:Scan');
    for (const write of [
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:UpdateItem',
      'dynamodb:BatchWriteItem',
    ]) {
      expect(onSource).not.toContain(write);
      // The same check finds the write grants on the state table: it is not vacuous.
      expect(actionsOn(role, stateTableId())).toContain(write);
    }
    expect(onSource.filter((action) => action.includes('*'))).toEqual([]);
  });

  it('lets the re-sync function send to the work and changes queues and read the API key secret', () => {
    const role = roleId(sync.resync);
    expectAllowed(template, role, 'sqs:SendMessage', { 'Fn::GetAtt': [resyncQueueId(), 'Arn'] });
    expectAllowed(template, role, 'sqs:SendMessage', { 'Fn::GetAtt': [changesQueueId(), 'Arn'] });
    expectAllowed(template, role, 'sqs:ReceiveMessage', { 'Fn::GetAtt': [resyncQueueId(), 'Arn'] });
    const secretStatements = allowStatements(template, role).filter((statement) =>
      [statement.Action].flat().includes('secretsmanager:GetSecretValue'),
    );
    expect(JSON.stringify(secretStatements)).toContain(':secret:typesense/key-??????');
  });

  it('gives the writer the state table: it reads the active re-sync and batch-writes tombstones and rejections', () => {
    expect(environmentOf(template, id(sync.writer.node.defaultChild))).toMatchObject({
      RESYNC_STATE_TABLE: { Ref: stateTableId() },
    });
    const stateTableArn = { 'Fn::GetAtt': [stateTableId(), 'Arn'] };
    expectAllowed(template, roleId(sync.writer), 'dynamodb:GetItem', stateTableArn);
    expectAllowed(template, roleId(sync.writer), 'dynamodb:BatchWriteItem', stateTableArn);
  });

  it('starts a re-sync on the schedule by sending a start task to the work queue', () => {
    expect(resourceOf(ruleId('ResyncSchedule')).Properties).toMatchObject({
      ScheduleExpression: 'cron(0 3 * * ? *)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [resyncQueueId(), 'Arn'] },
          Input: '{"action":"start","trigger":"schedule"}',
        },
      ],
    });
  });

  it('alarms when the batcher iterator age reaches 80 % of the stream max record age', () => {
    expect(resourceOf(alarmId()).Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(sync.batcher.node.defaultChild) } }],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      // 80 % of 2 hours, in milliseconds.
      Threshold: 5_760_000,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('starts a re-sync through the work queue when the iterator age alarm goes to ALARM', () => {
    expect(resourceOf(ruleId('StreamGapRule')).Properties).toMatchObject({
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        resources: [{ 'Fn::GetAtt': [alarmId(), 'Arn'] }],
        detail: { state: { value: ['ALARM'] } },
      },
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [resyncQueueId(), 'Arn'] },
          Input: '{"action":"start","trigger":"stream-gap"}',
        },
      ],
    });
  });

  it('lets EventBridge send to the work queue from each trigger rule only', () => {
    for (const rule of ['ResyncSchedule', 'StreamGapRule']) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: resyncQueueId() }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId(rule), 'Arn'] } } },
            }),
          ]),
        },
      });
    }
  });
});

describe('TypesenseSync full re-sync (defaults, existing table)', () => {
  let stack: Stack;
  let sync: TypesenseSync;
  let table: dynamodb.ITable;
  let template: Template;
  const id = (element: unknown) => stack.getLogicalId(element as CfnElement);

  beforeAll(() => {
    stack = new Stack(appWithoutBundling(), 'ResyncDefaults', { env: ENV });
    table = dynamodb.Table.fromTableAttributes(stack, 'Source', {
      tableName: 'source',
      tableStreamArn: STREAM_ARN,
    });
    sync = new TypesenseSync(stack, 'Sync', {
      existingTableObj: table,
      keyAttributes: ['pk', 'sk'],
      typesense: typesenseProps(stack),
    });
    template = Template.fromStack(stack);
  });

  const resyncId = () => id(sync.resync.node.defaultChild);

  it('uses the default tuning and no collection schema', () => {
    const env = environmentOf(template, resyncId());
    expect(env).toMatchObject({
      TABLE_NAME: 'source',
      KEY_ATTRIBUTES: 'pk,sk',
      RESYNC_TOTAL_SEGMENTS: '8',
      RESYNC_PAGE_SIZE: '500',
      RESYNC_PAGES_PER_TASK: '200',
      RESYNC_KEEP_COLLECTIONS: '2',
    });
    expect(env).not.toHaveProperty('COLLECTION_SCHEMA');
    expect(env).not.toHaveProperty('TYPESENSE_TIMEOUT_MS');
    expect(template.toJSON().Resources[resyncId()].Properties).toMatchObject({
      Timeout: 300,
      MemorySize: 1_024,
    });
  });

  it('sizes the work queue visibility to 6 × the 5-minute timeout and caps concurrency at the segment count', () => {
    expect(template.toJSON().Resources[id(sync.resyncQueue.node.defaultChild)].Properties).toMatchObject({
      VisibilityTimeout: 1_800,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: resyncId() },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 8 },
    });
  });

  it('lets the re-sync function Scan the imported table', () => {
    expectAllowed(
      template,
      id(sync.resync.role?.node.defaultChild),
      'dynamodb:Scan',
      stack.resolve(table.tableArn),
    );
  });

  it('creates no schedule rule, only the stream gap rule', () => {
    const rules = Object.values(
      template.findResources('AWS::Events::Rule', {
        Properties: {
          Targets: [
            Match.objectLike({ Arn: { 'Fn::GetAtt': [id(sync.resyncQueue.node.defaultChild), 'Arn'] } }),
          ],
        },
      }),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]?.Properties.ScheduleExpression).toBeUndefined();
    expect(rules[0]?.Properties.Targets[0].Input).toBe('{"action":"start","trigger":"stream-gap"}');
  });

  it('alarms at 80 % of the default 1-day stream max record age', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 69_120_000,
    });
  });
});

describe('TypesenseSync full re-sync without the stream gap trigger', () => {
  let stack: Stack;
  let sync: TypesenseSync;
  let template: Template;

  beforeAll(() => {
    stack = new Stack(appWithoutBundling(), 'ResyncNoGap', { env: ENV });
    sync = new TypesenseSync(stack, 'Sync', {
      typesense: typesenseProps(stack),
      resync: { onStreamGap: false, totalSegments: 1 },
    });
    template = Template.fromStack(stack);
  });

  it('creates no stream gap alarm and no re-sync rule', () => {
    // The iterator age alarm of the observability alarms (5 min) remains; the one at 80 % of the
    // stream max record age is gone.
    expect(
      template.findResources('AWS::CloudWatch::Alarm', { Properties: { Threshold: 69_120_000 } }),
    ).toEqual({});
    const resyncQueue = { Ref: stack.getLogicalId(sync.resyncQueue.node.defaultChild as CfnElement) };
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    expect(rules.map((rule) => rule.Properties.Description)).toEqual(['Runs the Typesense sync lag check']);
    const resyncQueuePolicies = template.findResources('AWS::SQS::QueuePolicy', {
      Properties: { Queues: [resyncQueue] },
    });
    expect(Object.keys(resyncQueuePolicies)).toHaveLength(1);
    expect(JSON.stringify(resyncQueuePolicies)).not.toContain('events.amazonaws.com');
  });

  it('keeps the event source minimum concurrency of 2 for a single segment', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: stack.getLogicalId(sync.resync.node.defaultChild as CfnElement) },
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });
});

describe('TypesenseSync prop validation', () => {
  // Validation runs before any resource is created, so none of these bundle anything.
  const attempt = (props: (stack: Stack) => Partial<TypesenseSyncProps>) => () => {
    const stack = new Stack(appWithoutBundling(), 'Invalid');
    const overrides = props(stack);
    new TypesenseSync(stack, 'Sync', {
      ...overrides,
      typesense: overrides.typesense ?? typesenseProps(stack),
    });
  };
  const streamTable = (stack: Stack) =>
    dynamodb.Table.fromTableAttributes(stack, 'Source', { tableName: 'source', tableStreamArn: STREAM_ARN });

  it('reports every problem at once, one per line, each naming its prop', () => {
    let message = '';
    try {
      attempt(() => ({
        maxMessageBytes: 4_096,
        retry: { baseDelay: Duration.minutes(10), maxDelay: Duration.minutes(5) },
        lagCheck: { canaryTimeout: Duration.seconds(1) },
      }))();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'TypesenseSync: maxMessageBytes must be an integer from 8192 to 1048576, got 4096',
      'TypesenseSync: retry.baseDelay must not exceed retry.maxDelay',
      'TypesenseSync: lagCheck.canaryTimeout must be a whole number of seconds from 5 to 600, got 1 second',
    ]);
  });

  it('validates purely: validateTypesenseSyncProps creates nothing, valid or not', () => {
    const stack = new Stack(appWithoutBundling(), 'Pure');
    const typesense = typesenseProps(stack);
    const before = stack.node.findAll().length;
    const settings = validateTypesenseSyncProps({ typesense, maxReceiveCount: 12 });
    expect(settings).toMatchObject({
      maxReceiveCount: 12,
      messageGroupBuckets: 4,
      maxMessageBytes: 262_144,
    });
    expect(() =>
      validateTypesenseSyncProps({ typesense, messageGroupBuckets: 0, parallelizationFactor: 11 }),
    ).toThrow(
      'TypesenseSync: messageGroupBuckets must be an integer from 1 to 10000, got 0\n' +
        'TypesenseSync: parallelizationFactor must be an integer from 1 to 10, got 11',
    );
    expect(stack.node.findAll()).toHaveLength(before);
  });

  it('rejects both existingTableObj and tableProps', () => {
    expect(
      attempt((stack) => ({ existingTableObj: streamTable(stack), tableProps: {}, keyAttributes: ['pk'] })),
    ).toThrow('pass either existingTableObj or tableProps, not both');
  });

  it('rejects an existing table without a stream', () => {
    expect(
      attempt((stack) => ({
        existingTableObj: dynamodb.Table.fromTableName(stack, 'NoStream', 'source'),
        keyAttributes: ['pk'],
      })),
    ).toThrow(/existingTableObj has no stream ARN/);
  });

  it('requires keyAttributes with an existing table', () => {
    expect(attempt((stack) => ({ existingTableObj: streamTable(stack) }))).toThrow(
      /keyAttributes is required with existingTableObj/,
    );
  });

  it('rejects keyAttributes that disagree with the created table key schema', () => {
    expect(attempt(() => ({ keyAttributes: ['id'] }))).toThrow(/do not match the table key schema \["pk"\]/);
  });

  it('rejects more than two key attributes', () => {
    expect(
      attempt((stack) => ({ existingTableObj: streamTable(stack), keyAttributes: ['a', 'b', 'c'] })),
    ).toThrow(/keyAttributes must be one or two/);
  });

  it.each([4_096, 1_048_577, 100_000.5])('rejects maxMessageBytes %s', (maxMessageBytes) => {
    expect(attempt(() => ({ maxMessageBytes }))).toThrow(
      `maxMessageBytes must be an integer from 8192 to 1048576, got ${maxMessageBytes}`,
    );
  });

  it.each([0, 11])('rejects parallelizationFactor %s', (parallelizationFactor) => {
    expect(attempt(() => ({ parallelizationFactor }))).toThrow(
      `parallelizationFactor must be an integer from 1 to 10, got ${parallelizationFactor}`,
    );
  });

  it('rejects messageGroupBuckets outside the batcher contract', () => {
    expect(attempt(() => ({ messageGroupBuckets: 0 }))).toThrow(
      /messageGroupBuckets must be an integer from 1/,
    );
  });

  it('rejects a retry maxDelay above the 12 h SQS visibility maximum', () => {
    expect(attempt(() => ({ retry: { maxDelay: Duration.hours(13) } }))).toThrow(
      'retry.maxDelay must be a whole number of seconds from 1 to 43200, got 13 hours',
    );
  });

  it.each([Duration.days(14), Duration.hours(336), Duration.days(20)])(
    'rejects a retry budget of %s, not below the 14-day changes queue retention',
    (budget) => {
      expect(attempt(() => ({ retry: { budget } }))).toThrow(
        /retry.budget must be a whole number of hours from 1 to 335/,
      );
    },
  );

  it.each([Duration.minutes(90), Duration.minutes(30)])(
    'rejects a retry budget of %s (not whole hours, at least one)',
    (budget) => {
      expect(attempt(() => ({ retry: { budget } }))).toThrow(/retry.budget must be a whole number of hours/);
    },
  );

  it('accepts the longest retry budget below the queue retention', () => {
    expect(attempt(() => ({ retry: { budget: Duration.hours(335) } }))).not.toThrow();
  });

  it('rejects a retry baseDelay above maxDelay, and fractional seconds', () => {
    expect(
      attempt(() => ({ retry: { baseDelay: Duration.minutes(10), maxDelay: Duration.minutes(5) } })),
    ).toThrow('retry.baseDelay must not exceed retry.maxDelay');
    expect(attempt(() => ({ retry: { baseDelay: Duration.millis(1_500) } }))).toThrow(
      /retry.baseDelay must be a whole number of seconds/,
    );
  });

  it('rejects maxReceiveCount below 3: the writer re-sends at maxReceiveCount − 1, which would loop', () => {
    for (const maxReceiveCount of [1, 2]) {
      expect(attempt(() => ({ maxReceiveCount }))).toThrow(
        `TypesenseSync: maxReceiveCount must be an integer from 3 to 1000, got ${maxReceiveCount}`,
      );
    }
    expect(attempt(() => ({ maxReceiveCount: 3 }))).not.toThrow();
  });

  it('rejects backoff caps so long that a message could expire before reaching maxReceiveCount', () => {
    // 28 receives × 12 h = 336 h = the 14-day retention.
    expect(attempt(() => ({ maxReceiveCount: 28, retry: { maxDelay: Duration.hours(12) } }))).toThrow(
      /maxReceiveCount \(28\) × the longest backoff \(43200 s\) must stay below the changes queue retention/,
    );
    expect(
      attempt(() => ({ maxReceiveCount: 28, circuitBreaker: { maxProbeInterval: Duration.hours(12) } })),
    ).toThrow(/must stay below the changes queue retention/);
    expect(attempt(() => ({ maxReceiveCount: 27, retry: { maxDelay: Duration.hours(12) } }))).not.toThrow();
  });

  it('rejects invalid circuit breaker settings', () => {
    expect(attempt(() => ({ circuitBreaker: { failureThreshold: 0 } }))).toThrow(
      'circuitBreaker.failureThreshold must be an integer from 1 to 1000, got 0',
    );
    expect(attempt(() => ({ circuitBreaker: { maxProbeInterval: Duration.hours(13) } }))).toThrow(
      /circuitBreaker.maxProbeInterval must be a whole number of seconds from 1 to 43200/,
    );
    expect(
      attempt(() => ({
        circuitBreaker: { probeInterval: Duration.minutes(2), maxProbeInterval: Duration.minutes(1) },
      })),
    ).toThrow('circuitBreaker.probeInterval must not exceed circuitBreaker.maxProbeInterval');
  });

  it('rejects failureRetention with an existing failure bucket, and in fractional days', () => {
    expect(
      attempt((stack) => ({
        existingFailureBucketObj: s3.Bucket.fromBucketName(stack, 'Failures', 'stream-failures'),
        failureRetention: Duration.days(7),
      })),
    ).toThrow(/failureRetention applies only to the created failure bucket/);
    expect(attempt(() => ({ failureRetention: Duration.hours(36) }))).toThrow(
      /failureRetention must be a whole number of days/,
    );
  });

  it.each([
    [
      'totalSegments 0',
      { totalSegments: 0 },
      'resync.totalSegments must be an integer from 1 to 1000, got 0',
    ],
    ['pageSize 10001', { pageSize: 10_001 }, 'resync.pageSize must be an integer from 1 to 10000, got 10001'],
    [
      'keepCollections 0',
      { keepCollections: 0 },
      'resync.keepCollections must be an integer from 1 to 100, got 0',
    ],
    [
      'maxConcurrency 1',
      { maxConcurrency: 1 },
      'resync.maxConcurrency must be an integer from 2 to 1000, got 1',
    ],
    [
      'timeout 16 minutes',
      { timeout: Duration.minutes(16) },
      'resync.timeout must be a whole number of seconds from 1 to 900, got 16 minutes',
    ],
  ])('rejects resync.%s', (_case, resync, message) => {
    expect(attempt(() => ({ resync }))).toThrow(message);
  });

  it('rejects a collection schema without fields', () => {
    expect(attempt(() => ({ collectionSchema: { fields: [] } }))).toThrow(
      'TypesenseSync: collectionSchema.fields must list at least one field',
    );
  });

  it('rejects a Typesense node that is not a URL', () => {
    expect(
      attempt((stack) => ({ typesense: { ...typesenseProps(stack), nodes: ['typesense.example.com'] } })),
    ).toThrow(/typesense.nodes entry is not a URL/);
  });

  it.each<[string, (stack: Stack) => Partial<sqs.QueueProps>, string]>([
    ['fifo: false', () => ({ fifo: false }), 'queueProps.fifo must not be false'],
    [
      'a deadLetterQueue',
      (stack) => ({ deadLetterQueue: { queue: new sqs.Queue(stack, 'Dlq'), maxReceiveCount: 3 } }),
      'queueProps.deadLetterQueue is not supported',
    ],
    [
      'an encryption',
      () => ({ encryption: sqs.QueueEncryption.KMS_MANAGED }),
      'queueProps.encryption is not supported',
    ],
    ['enforceSSL: false', () => ({ enforceSSL: false }), 'queueProps.enforceSSL must not be false'],
    ['a maxMessageSizeBytes', () => ({ maxMessageSizeBytes: 1_024 }), 'use maxMessageBytes'],
    [
      'a 4-day retention',
      () => ({ retentionPeriod: Duration.days(4) }),
      'queueProps.retentionPeriod must stay 14 days',
    ],
    [
      'a visibility timeout below 6 × the writer timeout',
      () => ({ visibilityTimeout: Duration.seconds(179) }),
      'queueProps.visibilityTimeout must be at least 6 × writerTimeout (180 s), got 2 minutes 59 seconds',
    ],
  ])('rejects queueProps with %s', (_case, queueProps, message) => {
    expect(attempt((stack) => ({ queueProps: queueProps(stack) }))).toThrow(message);
  });

  it('rejects deadLetterQueueProps that would break the FIFO DLQ or its encryption', () => {
    expect(attempt(() => ({ deadLetterQueueProps: { fifo: false } }))).toThrow(
      'TypesenseSync: deadLetterQueueProps.fifo must not be false',
    );
    expect(
      attempt((stack) => ({ deadLetterQueueProps: { encryptionMasterKey: new kms.Key(stack, 'K') } })),
    ).toThrow('deadLetterQueueProps.encryption is not supported: pass encryptionKey');
  });

  it('accepts a longer visibility timeout and harmless queue overrides', () => {
    expect(
      attempt(() => ({
        queueProps: { visibilityTimeout: Duration.minutes(5), receiveMessageWaitTime: Duration.seconds(5) },
      })),
    ).not.toThrow();
  });

  it.each([
    [{ writer: { maxConcurrency: 1 } }, 'writer.maxConcurrency must be an integer from 2 to 1000, got 1'],
    [
      { writer: { maxConcurrency: 8, reservedConcurrentExecutions: 4 } },
      'writer.reservedConcurrentExecutions (4) must be at least writer.maxConcurrency (8)',
    ],
    [
      { batcher: { reservedConcurrentExecutions: 0 } },
      'batcher.reservedConcurrentExecutions must be an integer from 1',
    ],
    [
      { resync: { reservedConcurrentExecutions: 4 } },
      'resync.reservedConcurrentExecutions (4) must be at least resync.maxConcurrency (8)',
    ],
  ] as Array<[Partial<TypesenseSyncProps>, string]>)('rejects the concurrency %o', (props, message) => {
    expect(attempt(() => props)).toThrow(message);
  });
});

describe('TypesenseSync security and concurrency options', () => {
  let built: ReturnType<typeof fullyFeaturedStack>;
  let template: Template;
  const id = (element: unknown) => built.stack.getLogicalId(element as CfnElement);
  const keyArn = () => ({ 'Fn::GetAtt': [id(built.key.node.defaultChild), 'Arn'] });
  const propertiesOf = (element: unknown) => template.toJSON().Resources[id(element)].Properties;
  const fnProperties = (fn: TypesenseSync['writer']) => propertiesOf(fn.node.defaultChild);

  beforeAll(() => {
    built = fullyFeaturedStack();
    template = Template.fromStack(built.stack);
  });

  it('encrypts all four queues with the customer managed key instead of SQS-managed SSE', () => {
    const { changesQueue, deadLetterQueue, resyncQueue, resyncDeadLetterQueue } = built.sync;
    for (const queue of [changesQueue, deadLetterQueue, resyncQueue, resyncDeadLetterQueue]) {
      const properties = propertiesOf(queue.node.defaultChild);
      expect(properties.KmsMasterKeyId).toEqual(keyArn());
      expect(properties.SqsManagedSseEnabled).toBeUndefined();
    }
  });

  it('encrypts the re-sync state table and the failure bucket with the key', () => {
    expect(propertiesOf(built.sync.resyncStateTable.node.defaultChild).SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: keyArn(),
    });
    expect(propertiesOf(built.sync.failureBucket.node.defaultChild).BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn() },
        },
      ],
    });
  });

  it('lets EventBridge use the key, so the re-sync schedule can enqueue to the encrypted work queue', () => {
    const statements = propertiesOf(built.key.node.defaultChild).KeyPolicy.Statement as Array<{
      Principal?: { Service?: string };
      Action: string[];
    }>;
    // The rules' statement; the Atlas partner bus has one of its own (DescribeKey, scoped to the bus).
    const events = statements.filter(
      (statement) =>
        statement.Principal?.Service === 'events.amazonaws.com' &&
        !statement.Action.includes('kms:DescribeKey'),
    );
    // Only what SQS asks of a producer, and only for this account's EventBridge rules (actions sorted by
    // @aws-cdk/aws-iam:minimizePolicies).
    expect(events).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceAccount': ENV.account },
          ArnLike: { 'aws:SourceArn': `arn:aws:events:${ENV.region}:${ENV.account}:rule/*` },
        },
      },
    ]);
  });

  it('lets only the re-sync rules send to the encrypted work queue (targets.SqsQueue would drop the condition)', () => {
    const queue = { Ref: id(built.sync.resyncQueue.node.defaultChild) };
    const policies = Object.values(
      template.findResources('AWS::SQS::QueuePolicy', { Properties: { Queues: [queue] } }),
    );
    const fromEventBridge = policies.flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).filter(
        (statement) =>
          (statement.Principal as { Service?: string } | undefined)?.Service === 'events.amazonaws.com',
      ),
    );
    expect(fromEventBridge.length).toBeGreaterThan(0);
    for (const statement of fromEventBridge) {
      expect(statement).toMatchObject({
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': expect.anything() } },
      });
    }
  });

  it('places only the functions that talk to Typesense in the VPC private subnets', () => {
    const privateSubnets = built.vpc.privateSubnets.map((subnet) => ({ Ref: id(subnet.node.defaultChild) }));
    const { batcher, writer, resync, lagCheck, ingestionDelay } = built.sync;
    for (const fn of [writer, resync, lagCheck]) {
      expect(fnProperties(fn).VpcConfig.SubnetIds).toEqual(privateSubnets);
    }
    for (const fn of [batcher, ingestionDelay]) expect(fnProperties(fn).VpcConfig).toBeUndefined();
  });

  it('reserves concurrency and caps the writer event source', () => {
    const { batcher, writer, resync } = built.sync;
    expect(fnProperties(writer).ReservedConcurrentExecutions).toBe(10);
    expect(fnProperties(batcher).ReservedConcurrentExecutions).toBe(4);
    expect(fnProperties(resync).ReservedConcurrentExecutions).toBe(8);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id(writer.node.defaultChild) },
      ScalingConfig: { MaximumConcurrency: 8 },
    });
  });

  it('applies the queue overrides and keeps what the design needs', () => {
    expect(propertiesOf(built.sync.changesQueue.node.defaultChild)).toMatchObject({
      ReceiveMessageWaitTimeSeconds: 20,
      FifoQueue: true,
      MessageRetentionPeriod: 1_209_600,
      VisibilityTimeout: 180,
    });
    expect(propertiesOf(built.sync.deadLetterQueue.node.defaultChild)).toMatchObject({
      MessageRetentionPeriod: 604_800,
      FifoQueue: true,
    });
  });

  it('sets the log retention of every function', () => {
    const { batcher, writer, resync, lagCheck, ingestionDelay } = built.sync;
    for (const fn of [batcher, writer, resync, lagCheck, ingestionDelay]) {
      const logGroupId = fnProperties(fn).LoggingConfig.LogGroup.Ref as string;
      expect(template.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(90);
    }
  });
});

describe('TypesenseSync with an encryption key and a created table', () => {
  it('encrypts the created source table with the key, unless tableProps choose their own encryption', () => {
    const sseOf = (tableProps: TypesenseSyncProps['tableProps']) => {
      const stack = new Stack(appWithoutBundling(), 'CreatedTableKey', { env: ENV });
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      const sync = new TypesenseSync(stack, 'Sync', {
        typesense: typesenseProps(stack),
        encryptionKey: key,
        tableProps,
      });
      const tableId = stack.getLogicalId(sync.table.node.defaultChild as CfnElement);
      return {
        sse: Template.fromStack(stack).toJSON().Resources[tableId].Properties.SSESpecification,
        keyArn: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as CfnElement), 'Arn'] },
      };
    };
    const withKey = sseOf(undefined);
    expect(withKey.sse).toEqual({ SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: withKey.keyArn });
    expect(sseOf({ encryption: dynamodb.TableEncryption.AWS_MANAGED }).sse).toEqual({ SSEEnabled: true });
  });
});

describe('TypesenseSync through the package entry point (the README example)', () => {
  it('is the same construct when imported as typesense-sync, and synthesizes the example', () => {
    expect(PackageTypesenseSync).toBe(TypesenseSync);
    const stack = new Stack(appWithoutBundling(), 'Example', { env: ENV });
    const table = dynamodb.Table.fromTableAttributes(stack, 'Table', {
      tableName: 'source',
      tableStreamArn: STREAM_ARN,
    });
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense-sync/api-key');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const vpc = new ec2.Vpc(stack, 'Vpc');

    new PackageTypesenseSync(stack, 'Search', {
      existingTableObj: table, // must have a stream (NEW_AND_OLD_IMAGES)
      keyAttributes: ['pk', 'sk'],
      typesense: {
        nodes: ['https://typesense.internal:8108'],
        apiKeySecret: secret,
        collection: 'products',
        schema: {
          fields: [
            { name: 'title', type: 'string' },
            { name: 'brand', type: 'string', facet: true },
            { name: 'price', type: 'float' },
          ],
          default_sorting_field: 'price',
        },
      },
      projection: { exclude: ['internalNotes'] },
      encryptionKey: key,
      vpc: { vpc },
      writer: { maxConcurrency: 10, reservedConcurrentExecutions: 10 },
    });

    const template = Template.fromStack(stack);
    // The sync's seven (five, the index handler and its Provider framework), and the provider of the VPC's
    // default security group restriction (@aws-cdk/aws-ec2:restrictDefaultSecurityGroup), which belongs to the
    // app's VPC, not to the sync.
    template.resourceCountIs('AWS::Lambda::Function', 8);
    template.resourceCountIs('Custom::TypesenseIndex', 1);
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() });
  });
});
