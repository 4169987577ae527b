import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { atlasIngestConfigSchema, parseConfig } from '../../functions/shared/config.ts';
import { AtlasSource } from '../../lib/atlas-source.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import {
  appWithoutBundling,
  CDK_JSON_CONTEXT,
  ENV,
  ATLAS_EVENT_SOURCE as EVENT_SOURCE,
  fullyFeaturedStack,
  STREAM_ARN,
} from './stacks.ts';

function syncStack(overrides: Partial<TypesenseSyncProps> = {}, app: App = appWithoutBundling()) {
  const stack = new Stack(app, 'Atlas', { env: ENV });
  const sync = new TypesenseSync(stack, 'Sync', {
    typesense: {
      nodes: ['https://typesense.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
      collection: 'products',
    },
    ...overrides,
  });
  return { stack, sync };
}

const withAtlas = (extra: Partial<TypesenseSyncProps['mongoAtlas']> = {}) =>
  syncStack({
    mongoAtlas: { eventSourceName: EVENT_SOURCE, database: 'shop', collection: 'products', ...extra },
  });

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

describe('TypesenseSync with mongoAtlas', () => {
  let stack: Stack;
  let sync: TypesenseSync;
  let template: Template;
  let source: AtlasSource;
  const id = (element: unknown) => stack.getLogicalId(element as CfnElement);
  const arnOf = (element: unknown) => ({ 'Fn::GetAtt': [id(element), 'Arn'] });

  beforeAll(() => {
    ({ stack, sync } = withAtlas());
    template = Template.fromStack(stack);
    source = sync.atlasSource as AtlasSource;
  });

  it('keys the created table by _id (string) alone', () => {
    expect(source).toBeInstanceOf(AtlasSource);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: '_id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: '_id', AttributeType: 'S' }],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    expect(sync.operatorTarget.keyAttributes).toEqual(['_id']);
  });

  it('creates the partner event bus for the event source', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', {
      Name: EVENT_SOURCE,
      EventSourceName: EVENT_SOURCE,
    });
  });

  it('routes the Atlas events of the collection to the ingest queue, with the ingest DLQ for undeliverable ones', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: id(source.eventBus.node.defaultChild) },
      EventPattern: {
        source: [{ prefix: 'aws.partner/mongodb.com' }],
        detail: { ns: { db: ['shop'], coll: ['products'] } },
      },
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: arnOf(source.ingestQueue.node.defaultChild),
          DeadLetterConfig: { Arn: arnOf(source.ingestDeadLetterQueue.node.defaultChild) },
        }),
      ],
    });
    // EventBridge may send to both queues, only from this rule.
    for (const queue of [source.ingestQueue, source.ingestDeadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id(queue.node.defaultChild) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Condition: { ArnEquals: { 'aws:SourceArn': arnOf(source.rule.node.defaultChild) } },
            }),
          ]),
        },
      });
    }
  });

  it('keeps ingest messages 14 days, encrypted, TLS-only, with a DLQ after 5 receives', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 1_209_600,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      RedrivePolicy: {
        deadLetterTargetArn: arnOf(source.ingestDeadLetterQueue.node.defaultChild),
        maxReceiveCount: 5,
      },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: id(source.ingestQueue.node.defaultChild) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('creates the versions table on demand, AWS-managed encrypted, expiring versions by TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('feeds the ingest function from the queue with partial batch responses', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id(source.ingest.node.defaultChild) },
      EventSourceArn: arnOf(source.ingestQueue.node.defaultChild),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('gives the ingest function a configuration its config schema accepts', () => {
    const fn = template.toJSON().Resources[id(source.ingest.node.defaultChild as CfnFunction)];
    const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
    expect(variables).toMatchObject({
      TABLE_NAME: { Ref: id(sync.table.node.defaultChild) },
      ATLAS_VERSIONS_TABLE: { Ref: id(source.versionsTable.node.defaultChild) },
      DLQ_URL: { Ref: id(sync.deadLetterQueue.node.defaultChild) },
      ATLAS_VERSION_TTL_DAYS: '30',
    });
    const resolved = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [
        name,
        typeof value === 'string'
          ? value
          : name.endsWith('_URL')
            ? 'https://sqs.eu-west-1.amazonaws.com/1/q'
            : 'x',
      ]),
    );
    expect(parseConfig(atlasIngestConfigSchema, resolved).ATLAS_VERSION_TTL_DAYS).toBe(30);
  });

  it('grants the ingest role exactly what the transaction, the DLQ and the event source need', () => {
    const roleId = id(source.ingest.role?.node.defaultChild);
    const statements = Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
      }),
    ).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const grants = statements
      .filter((statement) => statement.Effect === 'Allow')
      .flatMap((statement) =>
        [statement.Action].flat().map((action) => `${action} ${JSON.stringify(statement.Resource)}`),
      )
      .sort();
    const on = (element: unknown) => JSON.stringify(arnOf(element));
    const ingestQueue = on(source.ingestQueue.node.defaultChild);
    expect(grants).toEqual(
      [
        `dynamodb:UpdateItem ${on(source.versionsTable.node.defaultChild)}`,
        `dynamodb:PutItem ${on(sync.table.node.defaultChild)}`,
        `dynamodb:DeleteItem ${on(sync.table.node.defaultChild)}`,
        `sqs:SendMessage ${on(sync.deadLetterQueue.node.defaultChild)}`,
        ...[
          'sqs:ReceiveMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueUrl',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
        ].map((action) => `${action} ${ingestQueue}`),
      ].sort(),
    );
  });

  it('alarms when the ingest DLQ holds a message', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [id(source.ingestDeadLetterQueue.node.defaultChild), 'QueueName'] },
        },
      ],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('leaves the rule unfiltered by namespace when no database or collection is given', () => {
    const { stack: unfiltered } = syncStack({ mongoAtlas: { eventSourceName: EVENT_SOURCE } });
    Template.fromStack(unfiltered).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: [{ prefix: 'aws.partner/mongodb.com' }], detail: Match.absent() },
    });
  });

  it('accepts an existing table keyed by _id and a longer version retention', () => {
    const stack = new Stack(appWithoutBundling(), 'Existing', { env: ENV });
    const sync = new TypesenseSync(stack, 'Sync', {
      existingTableObj: dynamodb.Table.fromTableAttributes(stack, 'Mirror', {
        tableName: 'mirror',
        tableStreamArn: STREAM_ARN,
      }),
      keyAttributes: ['_id'],
      typesense: {
        nodes: ['https://typesense.example.com:443'],
        apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
        collection: 'products',
      },
      mongoAtlas: { eventSourceName: EVENT_SOURCE, versionRetention: Duration.days(60) },
    });
    expect(sync.atlasSource).toBeDefined();
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TABLE_NAME: 'mirror', ATLAS_VERSION_TTL_DAYS: '60' }) },
    });
  });
});

describe('TypesenseSync with mongoAtlas and every optional feature on', () => {
  let built: ReturnType<typeof fullyFeaturedStack>;
  let template: Template;
  let source: AtlasSource;
  const id = (element: unknown) => built.stack.getLogicalId(element as CfnElement);
  const propertiesOf = (element: unknown) => template.toJSON().Resources[id(element)].Properties;
  const keyArn = () => ({ 'Fn::GetAtt': [id(built.key.node.defaultChild), 'Arn'] });
  type PolicyStatement = {
    Principal?: { Service?: string };
    Action: string | string[];
    Condition?: unknown;
  };
  const eventBridgeStatements = (statements: PolicyStatement[]) =>
    statements.filter((statement) => statement.Principal?.Service === 'events.amazonaws.com');

  beforeAll(() => {
    built = fullyFeaturedStack();
    template = Template.fromStack(built.stack);
    source = built.sync.atlasSource as AtlasSource;
  });

  it('encrypts the ingest queue, its DLQ and the versions table with the key', () => {
    for (const queue of [source.ingestQueue, source.ingestDeadLetterQueue]) {
      const properties = propertiesOf(queue.node.defaultChild);
      expect(properties.KmsMasterKeyId).toEqual(keyArn());
      expect(properties.SqsManagedSseEnabled).toBeUndefined();
    }
    expect(propertiesOf(source.versionsTable.node.defaultChild).SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: keyArn(),
    });
  });

  it('lets EventBridge of this account use the key to deliver to the encrypted queues: GenerateDataKey and Decrypt only', () => {
    const statements = propertiesOf(built.key.node.defaultChild).KeyPolicy.Statement as PolicyStatement[];
    expect(eventBridgeStatements(statements)).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        // Sorted by @aws-cdk/aws-iam:minimizePolicies.
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceAccount': '123456789012' },
          ArnLike: { 'aws:SourceArn': 'arn:aws:events:eu-west-1:123456789012:rule/*' },
        },
      }),
    );
  });

  it('still lets only its rule send to the encrypted queues (CDK’s SQS target would drop that condition)', () => {
    for (const queue of [source.ingestQueue, source.ingestDeadLetterQueue]) {
      const [policy] = Object.values(
        template.findResources('AWS::SQS::QueuePolicy', {
          Properties: { Queues: [{ Ref: id(queue.node.defaultChild) }] },
        }),
      );
      expect(eventBridgeStatements(policy?.Properties.PolicyDocument.Statement)).toEqual([
        expect.objectContaining({
          Action: 'sqs:SendMessage',
          Condition: {
            ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [id(source.rule.node.defaultChild), 'Arn'] } },
          },
        }),
      ]);
    }
  });

  it('keeps the ingest out of the VPC (it calls only AWS APIs) and applies the log retention', () => {
    const ingest = propertiesOf(source.ingest.node.defaultChild);
    expect(ingest.VpcConfig).toBeUndefined();
    const logGroupId = ingest.LoggingConfig.LogGroup.Ref as string;
    expect(template.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(90);
  });

  it('alarms on ingest errors and the ingest DLQ like on the other functions, notifying the topic', () => {
    const atlasAlarms = built.sync.alarms.atlas;
    expect(atlasAlarms?.ingestDeadLetters).toBe(source.deadLetterAlarm);
    const errors = propertiesOf(atlasAlarms?.ingestErrors.node.defaultChild);
    expect(errors).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(source.ingest.node.defaultChild) } }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(errors.AlarmDescription).toContain(source.serviceName);
    expect(errors.AlarmDescription).toContain('ingest DLQ');
    for (const alarm of [atlasAlarms?.ingestErrors, atlasAlarms?.ingestDeadLetters]) {
      expect(propertiesOf(alarm?.node.defaultChild)).toMatchObject({
        AlarmActions: [{ Ref: id(built.topic.node.defaultChild) }],
        OKActions: [{ Ref: id(built.topic.node.defaultChild) }],
      });
    }
  });
});

describe('AtlasSource with an imported key', () => {
  it('warns at synth that the key policy must let EventBridge use the key, which it cannot add itself', () => {
    const stack = new Stack(appWithoutBundling(), 'ImportedKey', { env: ENV });
    const key = kms.Key.fromKeyArn(
      stack,
      'Key',
      'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555',
    );
    const sync = new TypesenseSync(stack, 'Sync', {
      typesense: {
        nodes: ['https://typesense.example.com:443'],
        apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
        collection: 'products',
      },
      encryptionKey: key,
      mongoAtlas: { eventSourceName: EVENT_SOURCE },
    });
    expect(sync.atlasSource).toBeDefined();
    const warningOn = (path: string) =>
      Annotations.fromStack(stack).findWarning(
        path,
        Match.stringLikeRegexp('events.amazonaws.com kms:GenerateDataKey and kms:Decrypt'),
      );
    expect(warningOn('/ImportedKey/Sync/MongoAtlas/Rule')).toHaveLength(1);
    // The stream-gap trigger enqueues to the encrypted re-sync queue the same way.
    expect(warningOn('/ImportedKey/Sync/StreamGapRule')).toHaveLength(1);
  });
});

describe('TypesenseSync without mongoAtlas', () => {
  it('creates no Atlas resources', () => {
    const { stack, sync } = syncStack();
    const template = Template.fromStack(stack);
    expect(sync.atlasSource).toBeUndefined();
    template.resourceCountIs('AWS::Events::EventBus', 0);
    expect(JSON.stringify(template.findResources('AWS::Events::Rule'))).not.toContain(
      'aws.partner/mongodb.com',
    );
    expect(JSON.stringify(template.findResources('AWS::Lambda::Function'))).not.toContain(
      'ATLAS_VERSIONS_TABLE',
    );
    expect(
      template.findResources('AWS::DynamoDB::Table', {
        Properties: { TimeToLiveSpecification: Match.anyValue() },
      }),
    ).toEqual({});
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
  });
});

describe('mongoAtlas props that cannot work', () => {
  const existing = (stack: Stack) =>
    dynamodb.Table.fromTableAttributes(stack, 'Mirror', { tableName: 'mirror', tableStreamArn: STREAM_ARN });
  const keyedByIdError =
    "with mongoAtlas the table must be keyed by '_id' (string) alone: keyAttributes ['_id']";

  it.each([
    [
      'an empty event source name',
      { eventSourceName: '' },
      "eventSourceName must be the Atlas trigger's partner event source",
    ],
    [
      'an event source of another partner',
      { eventSourceName: 'aws.partner/example.com/123/source' },
      'got "aws.partner/example.com/123/source"',
    ],
    [
      'a version retention shorter than events can be in flight',
      { eventSourceName: EVENT_SOURCE, versionRetention: Duration.days(7) },
      'versionRetention must be a whole number of days from 15 to 365',
    ],
  ])('%s', (_name, mongoAtlas, message) => {
    expect(() => syncStack({ mongoAtlas })).toThrow(message);
  });

  it('keyAttributes other than [_id]', () => {
    expect(() => syncStack({ mongoAtlas: { eventSourceName: EVENT_SOURCE }, keyAttributes: ['pk'] })).toThrow(
      keyedByIdError,
    );
  });

  it('a created table keyed otherwise, or with a sort key', () => {
    for (const tableProps of [
      { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } },
      { partitionKey: { name: '_id', type: dynamodb.AttributeType.NUMBER } },
      { sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING } },
    ]) {
      expect(() => syncStack({ mongoAtlas: { eventSourceName: EVENT_SOURCE }, tableProps })).toThrow(
        keyedByIdError,
      );
    }
  });

  it('an existing table without keyAttributes [_id]', () => {
    for (const keyAttributes of [undefined, ['pk']]) {
      const app = appWithoutBundling();
      const stack = new Stack(app, 'Bad', { env: ENV });
      expect(
        () =>
          new TypesenseSync(stack, 'Sync', {
            existingTableObj: existing(stack),
            ...(keyAttributes === undefined ? {} : { keyAttributes }),
            typesense: {
              nodes: ['https://typesense.example.com:443'],
              apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
              collection: 'products',
            },
            mongoAtlas: { eventSourceName: EVENT_SOURCE },
          }),
      ).toThrow(keyedByIdError);
    }
  });
});

describe('AtlasSource on its own', () => {
  it('bundles the ingest handler (cdk synth with the option on)', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'Bundled', { env: ENV });
    const table = new dynamodb.Table(stack, 'Mirror', {
      partitionKey: { name: '_id', type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
    const deadLetterQueue = new sqs.Queue(stack, 'Dlq', { fifo: true });
    new AtlasSource(stack, 'Atlas', {
      eventSourceName: EVENT_SOURCE,
      table,
      deadLetterQueue,
      serviceName: 'atlas-ingest',
    });
    const assembly = app.synth();
    const fn = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    const [ingest] = Object.values(fn);
    const code = readFileSync(
      join(assembly.directory, ingest?.Metadata['aws:asset:path'], 'index.mjs'),
      'utf8',
    );
    // Its config schema is bundled in: the handler reads its variables at cold start.
    expect(code).toContain('ATLAS_VERSIONS_TABLE');
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'atlas-ingest' }) },
    });
  });
});

describe('cdk-nag AwsSolutions on a sync with mongoAtlas', () => {
  it('reports no error and no warning on the Atlas resources', () => {
    const { stack } = withAtlas();
    Aspects.of(stack).add(new AwsSolutionsChecks());
    const annotations = Annotations.fromStack(stack);
    const onAtlas = (findings: { id: string; entry: { data?: unknown } }[]) =>
      findings
        .filter((finding) => finding.id.includes('/MongoAtlas/'))
        .map((finding) => `${finding.id}: ${String(finding.entry.data).split(': ')[0]}`);
    const pattern = Match.stringLikeRegexp('AwsSolutions-.*');
    expect(onAtlas(annotations.findError('*', pattern))).toEqual([]);
    expect(onAtlas(annotations.findWarning('*', pattern))).toEqual([]);
  });
});
