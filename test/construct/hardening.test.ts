import { readFileSync } from 'node:fs';
import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOCALSTACK_CONTEXT } from '../../infra/localstack/deploy.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';
import { ATLAS_EVENT_SOURCE, appWithoutBundling, ENV, fullyFeaturedStack } from './stacks.ts';

/** Alarms that keep a stall from going unnoticed, and the deploy hardening of issue 21. */

type Statement = { Effect: string; Principal?: unknown; Action: string | string[]; Condition?: unknown };
const actionsOf = (statement: Statement) => [statement.Action].flat();

function build(
  props: Partial<TypesenseSyncProps> = {},
  id = 'Hardening',
  before: (stack: Stack, sync: TypesenseSync) => void = () => {},
) {
  const stack = new Stack(appWithoutBundling(), id, { env: ENV });
  const sync = new TypesenseSync(stack, 'Sync', {
    ...props,
    typesense: {
      nodes: ['https://typesense.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
      collection: 'products',
      ...props.typesense,
    },
  });
  before(stack, sync);
  const template = Template.fromStack(stack);
  const id_ = (construct: { node: { defaultChild?: unknown } } | object) =>
    stack.getLogicalId(
      ('node' in construct && (construct.node as { defaultChild?: unknown }).defaultChild
        ? (construct.node as { defaultChild: unknown }).defaultChild
        : construct) as never,
    );
  return { stack, sync, template, id: id_ };
}

/** The statements of every key policy in the template. */
function keyStatements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::KMS::Key')).flatMap(
    (key) => joined(key.Properties.KeyPolicy.Statement) as Statement[],
  );
}

/** The template with `Fn::Join`s of plain strings and the partition (`aws`) joined, for readable assertions. */
function joined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(joined);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  const join = record['Fn::Join'] as [string, unknown[]] | undefined;
  if (join !== undefined) {
    const parts = join[1].map((part) =>
      JSON.stringify(part) === JSON.stringify({ Ref: 'AWS::Partition' }) ? 'aws' : joined(part),
    );
    if (parts.every((part) => typeof part === 'string')) return parts.join(join[0]);
    return { 'Fn::Join': [join[0], parts] };
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, joined(v)]));
}

const servicePrincipal = (statement: Statement) => (statement.Principal as { Service?: unknown })?.Service;

describe('stall alarms (defaults)', () => {
  let s: ReturnType<typeof build>;
  beforeAll(() => {
    s = build();
  });

  it('alarms as soon as the re-sync DLQ holds a task', () => {
    const alarm = s.sync.alarms.resyncDeadLetters;
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [s.id(s.sync.resyncDeadLetterQueue), 'QueueName'] } },
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(alarm).toBeDefined();
  });

  it('alarms when a running re-sync makes no progress for 30 minutes, and not when none runs', () => {
    const alarm = s.sync.alarms.resyncStalled;
    expect(alarm).toBeDefined();
    const properties = s.template.toJSON().Resources[s.id(alarm as object)].Properties;
    expect(properties).toMatchObject({
      Namespace: 'TypesenseSync',
      MetricName: 'ResyncProgressAgeMs',
      Statistic: 'Maximum',
      Threshold: 30 * 60_000,
      ComparisonOperator: 'GreaterThanThreshold',
      // No job running, no figure: that must not read as a stall.
      TreatMissingData: 'notBreaching',
      // A late check (an empty period) must not flip a stall back to OK.
      EvaluationPeriods: 3,
      DatapointsToAlarm: 1,
    });
    expect(properties.Dimensions).toEqual([{ Name: 'service', Value: expect.stringMatching(/-lag-check$/) }]);
  });

  it('alarms while the latest re-sync failed (never swapped), from the lag check figure', () => {
    const alarm = s.sync.alarms.resyncFailed;
    expect(alarm).toBeDefined();
    const properties = s.template.toJSON().Resources[s.id(alarm as object)].Properties;
    expect(properties).toMatchObject({
      Namespace: 'TypesenseSync',
      MetricName: 'ResyncFailed',
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 1,
    });
    expect(properties.Dimensions).toEqual([{ Name: 'service', Value: expect.stringMatching(/-lag-check$/) }]);
  });

  it('alarms when EventBridge fails to deliver for every rule it creates, and on lost dead letters only where a DLQ is', () => {
    const rules = Object.keys(s.template.findResources('AWS::Events::Rule'));
    // The stream-gap trigger and the lag check schedule.
    expect(rules).toHaveLength(2);
    for (const rule of rules) {
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Events',
        MetricName: 'FailedInvocations',
        Dimensions: [{ Name: 'RuleName', Value: { Ref: rule } }],
        Statistic: 'Sum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
    // Neither target has a DLQ: EventBridge would never publish InvocationsFailedToBeSentToDlq for them.
    expect(
      s.template.findResources('AWS::CloudWatch::Alarm', {
        Properties: { MetricName: 'InvocationsFailedToBeSentToDlq' },
      }),
    ).toEqual({});
  });

  it('shows the new alarms in the dashboard alarm status widget', () => {
    const body = JSON.stringify(s.template.toJSON().Resources[s.id(s.sync.dashboard)].Properties);
    const alarms = [
      s.sync.alarms.resyncDeadLetters,
      s.sync.alarms.resyncStalled,
      s.sync.alarms.resyncFailed,
      ...Object.values(s.sync.alarms.ruleDelivery).flatMap((rule) => Object.values(rule)),
    ];
    // Re-sync DLQ, stall, failed re-sync, and failed deliveries of the two rules (neither target has a DLQ).
    expect(alarms).toHaveLength(5);
    for (const alarm of alarms) expect(body).toContain(s.id(alarm as object));
  });

  it('creates no topic of its own unless asked', () => {
    s.template.resourceCountIs('AWS::SNS::Topic', 0);
  });
});

describe('stall alarms (configured)', () => {
  it('takes the stall time from resync.stallAlarmAfter', () => {
    const s = build({ resync: { stallAlarmAfter: Duration.minutes(45) } });
    expect(
      s.template.toJSON().Resources[s.id(s.sync.alarms.resyncStalled as object)].Properties,
    ).toMatchObject({
      Threshold: 45 * 60_000,
    });
  });

  it('refuses a stall time that is not whole minutes from 5 minutes to 1 day', () => {
    expect(() => build({ resync: { stallAlarmAfter: Duration.seconds(90) } })).toThrow(
      'TypesenseSync: resync.stallAlarmAfter must be a whole number of minutes from 5 to 1440, got 1 minute 30 seconds',
    );
    expect(() => build({ resync: { stallAlarmAfter: Duration.days(2) } })).toThrow(
      /resync\.stallAlarmAfter must be a whole number of minutes from 5 to 1440/,
    );
  });

  it('alarms on the Atlas rule by bus and rule name, and on the re-sync schedule', () => {
    const s = build({
      keyAttributes: ['_id'],
      mongoAtlas: { eventSourceName: ATLAS_EVENT_SOURCE },
      resync: { schedule: events.Schedule.rate(Duration.days(7)) },
    });
    expect(Object.keys(s.sync.alarms.ruleDelivery).sort()).toEqual([
      'atlas',
      'lagCheckSchedule',
      'resyncSchedule',
      'streamGap',
    ]);
    const atlas = s.sync.atlasSource;
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'FailedInvocations',
      Dimensions: Match.arrayWith([
        { Name: 'EventBusName', Value: ATLAS_EVENT_SOURCE },
        { Name: 'RuleName', Value: { Ref: s.id(atlas?.rule as object) } },
      ]),
    });
    // The Atlas target is the only one with a DLQ: its events lost even to the DLQ alarm too.
    expect(s.sync.alarms.ruleDelivery.atlas?.failedToDeadLetterQueue).toBeDefined();
    expect(s.sync.alarms.ruleDelivery.resyncSchedule?.failedToDeadLetterQueue).toBeUndefined();
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'InvocationsFailedToBeSentToDlq',
      Dimensions: Match.arrayWith([{ Name: 'RuleName', Value: { Ref: s.id(atlas?.rule as object) } }]),
    });
  });
});

describe('alarm notifications', () => {
  it('lets CloudWatch use the key of a KMS-encrypted, TLS-only topic and publish to it', () => {
    const { stack, key, topic } = fullyFeaturedStack();
    const template = Template.fromStack(stack);
    const cloudwatchKeyUse = keyStatements(template).filter(
      (statement) => servicePrincipal(statement) === 'cloudwatch.amazonaws.com',
    );
    expect(cloudwatchKeyUse).toHaveLength(1);
    expect(actionsOf(cloudwatchKeyUse[0] as Statement).sort()).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey*',
    ]);
    const topicPolicies = Object.values(
      template.findResources('AWS::SNS::TopicPolicy', {
        Properties: { Topics: [{ Ref: stack.getLogicalId(topic.node.defaultChild as never) }] },
      }),
    ).flatMap((policy) => joined(policy.Properties.PolicyDocument.Statement) as Statement[]);
    expect(topicPolicies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Condition: {
            StringEquals: { 'aws:SourceAccount': ENV.account },
            ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:${ENV.region}:${ENV.account}:alarm:*` },
          },
        }),
        // enforceSSL's statement is kept.
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]),
    );
    expect(key).toBeDefined();
  });

  it('warns at synth with what to add when the topic is imported', () => {
    const stack = new Stack(appWithoutBundling(), 'ImportedTopic', { env: ENV });
    const topic = sns.Topic.fromTopicArn(stack, 'Topic', `arn:aws:sns:eu-west-1:${ENV.account}:alarms`);
    new TypesenseSync(stack, 'Sync', {
      typesense: {
        nodes: ['https://typesense.example.com:443'],
        apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
        collection: 'products',
      },
      alarms: { topic },
    });
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('cloudwatch.amazonaws.com sns:Publish'),
    );
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0]?.entry.data)).toContain('kms:GenerateDataKey*');
  });

  it('creates a TLS-only topic, encrypted with the key, when asked, and every alarm notifies it', () => {
    const stack = new Stack(appWithoutBundling(), 'CreatedTopic', { env: ENV });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const sync = new TypesenseSync(stack, 'Sync', {
      typesense: {
        nodes: ['https://typesense.example.com:443'],
        apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
        collection: 'products',
      },
      encryptionKey: key,
      alarms: { createTopic: true },
    });
    const template = Template.fromStack(stack);
    expect(sync.alarmTopic).toBeDefined();
    const topicId = stack.getLogicalId((sync.alarmTopic as sns.Topic).node.defaultChild as never);
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as never), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(10);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions, alarm.Properties.AlarmDescription).toEqual([{ Ref: topicId }]);
    }
  });

  it('refuses both a topic and createTopic', () => {
    const stack = new Stack(appWithoutBundling(), 'BothTopics', { env: ENV });
    const topic = new sns.Topic(stack, 'Topic');
    expect(
      () =>
        new TypesenseSync(stack, 'Sync', {
          typesense: {
            nodes: ['https://typesense.example.com:443'],
            apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
            collection: 'products',
          },
          alarms: { topic, createTopic: true },
        }),
    ).toThrow('TypesenseSync: pass alarms.topic or alarms.createTopic, not both');
  });

  it('lets the stream-gap alarm notify the topic too', () => {
    const { stack, sync, topic } = fullyFeaturedStack();
    const template = Template.fromStack(stack);
    const alarm = sync.alarms.streamGap;
    expect(alarm).toBeDefined();
    expect(
      template.toJSON().Resources[stack.getLogicalId(alarm?.node.defaultChild as never)].Properties,
    ).toMatchObject({
      AlarmActions: [{ Ref: stack.getLogicalId(topic.node.defaultChild as never) }],
    });
  });
});

describe('the ingestion-delay endpoint', () => {
  it('grants a caller both actions a new IAM Function URL needs', () => {
    let role = undefined as unknown as iam.Role;
    const s = build({}, 'Grant', (stack, sync) => {
      role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
      sync.grantIngestionDelayRead(role);
    });
    const statements = Object.values(
      s.template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: s.stack.getLogicalId(role.node.defaultChild as never) }] },
      }),
    ).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const fn = { 'Fn::GetAtt': [s.id(s.sync.ingestionDelay), 'Arn'] };
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'lambda:InvokeFunctionUrl',
          Resource: fn,
          Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        }),
        expect.objectContaining({
          Action: 'lambda:InvokeFunction',
          Resource: fn,
          Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': true } },
        }),
      ]),
    );
  });

  it('reserves a little concurrency for a public endpoint, none for an IAM one', () => {
    const iamAuth = build();
    expect(
      iamAuth.template.toJSON().Resources[iamAuth.id(iamAuth.sync.ingestionDelay)].Properties
        .ReservedConcurrentExecutions,
    ).toBeUndefined();
    const open = build({ ingestionDelayEndpoint: { authType: lambda.FunctionUrlAuthType.NONE } }, 'Open');
    expect(
      open.template.toJSON().Resources[open.id(open.sync.ingestionDelay)].Properties
        .ReservedConcurrentExecutions,
    ).toBe(2);
    const tuned = build(
      {
        ingestionDelayEndpoint: {
          authType: lambda.FunctionUrlAuthType.NONE,
          reservedConcurrentExecutions: 5,
        },
      },
      'Tuned',
    );
    expect(
      tuned.template.toJSON().Resources[tuned.id(tuned.sync.ingestionDelay)].Properties
        .ReservedConcurrentExecutions,
    ).toBe(5);
    const unreserved = build(
      {
        ingestionDelayEndpoint: {
          authType: lambda.FunctionUrlAuthType.NONE,
          reservedConcurrentExecutions: false,
        },
      },
      'Unreserved',
    );
    expect(
      unreserved.template.toJSON().Resources[unreserved.id(unreserved.sync.ingestionDelay)].Properties
        .ReservedConcurrentExecutions,
    ).toBeUndefined();
    expect(() => build({ ingestionDelayEndpoint: { reservedConcurrentExecutions: 0 } }, 'Zero')).toThrow(
      'TypesenseSync: ingestionDelayEndpoint.reservedConcurrentExecutions must be an integer from 1 to 100000, got 0',
    );
  });
});

describe('Typesense connection', () => {
  it('refuses http:// nodes, which would send the API key in clear text, unless allowed', () => {
    expect(() => build({ typesense: { nodes: ['http://typesense.internal:8108'] } as never })).toThrow(
      'TypesenseSync: typesense.nodes entry "http://typesense.internal:8108" uses http://, which sends the API key in clear text: use https://, or set typesense.allowInsecureHttp: true (local stacks only)',
    );
    const allowed = build({
      typesense: { nodes: ['http://typesense.internal:8108'], allowInsecureHttp: true } as never,
    });
    allowed.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TYPESENSE_NODES: 'http://typesense.internal:8108' }) },
    });
  });

  it('lets the LocalStack app, which reaches Typesense over http, opt in explicitly', () => {
    expect(LOCALSTACK_CONTEXT).toMatchObject({ allowInsecureHttp: 'true' });
    const stack = () =>
      new TypesenseSyncStack(
        appWithoutBundling({ ...LOCALSTACK_CONTEXT, allowInsecureHttp: 'false' }),
        'LocalStackHttp',
      );
    expect(stack).toThrow(/uses http:\/\//);
  });

  it('grants kms:Decrypt, via Secrets Manager only, on the key of a customer-managed-key secret', () => {
    const stack = new Stack(appWithoutBundling(), 'SecretKey', { env: ENV });
    const secretKey = new kms.Key(stack, 'SecretKey', { enableKeyRotation: true });
    const sync = new TypesenseSync(stack, 'Sync', {
      typesense: {
        nodes: ['https://typesense.example.com:443'],
        apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
        apiKeySecretKey: secretKey,
        collection: 'products',
      },
    });
    const template = Template.fromStack(stack);
    for (const fn of [sync.writer, sync.resync, sync.lagCheck]) {
      const statements = Object.values(
        template.findResources('AWS::IAM::Policy', {
          Properties: { Roles: [{ Ref: stack.getLogicalId(fn.role?.node.defaultChild as never) }] },
        }),
      ).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
      expect(statements, fn.node.id).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Action: 'kms:Decrypt',
            Resource: { 'Fn::GetAtt': [stack.getLogicalId(secretKey.node.defaultChild as never), 'Arn'] },
            Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
          }),
        ]),
      );
    }
  });
});

describe('the lag canary and the key types', () => {
  it('refuses a created table with non-string keys while the lag check runs', () => {
    expect(() =>
      build({ tableProps: { partitionKey: { name: 'id', type: dynamodb.AttributeType.NUMBER } } }),
    ).toThrow(
      "TypesenseSync: the lag check's canary item needs string key attributes, but id is NUMBER: use string keys, or set lagCheck.schedule: false",
    );
    expect(() =>
      build({
        tableProps: {
          partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'sk', type: dynamodb.AttributeType.BINARY },
        },
      }),
    ).toThrow(/but sk is BINARY/);
  });

  it('accepts them without a lag check schedule', () => {
    const s = build({
      tableProps: { partitionKey: { name: 'id', type: dynamodb.AttributeType.NUMBER } },
      lagCheck: { schedule: false },
    });
    s.template.resourceCountIs('AWS::DynamoDB::Table', 2);
  });
});

describe('queues', () => {
  it('sets an explicit retention on every queue, 7 days for re-sync tasks', () => {
    const { stack, sync } = fullyFeaturedStack();
    const template = Template.fromStack(stack);
    for (const [id, queue] of Object.entries(template.findResources('AWS::SQS::Queue'))) {
      expect(queue.Properties.MessageRetentionPeriod, id).toBeGreaterThan(0);
    }
    expect(
      template.toJSON().Resources[stack.getLogicalId(sync.resyncQueue.node.defaultChild as never)].Properties
        .MessageRetentionPeriod,
    ).toBe(7 * 86_400);
  });
});

describe('encryption with the customer managed key', () => {
  let stack: Stack;
  let template: Template;
  let key: kms.Key;
  beforeAll(() => {
    ({ stack, key } = fullyFeaturedStack());
    template = Template.fromStack(stack);
  });

  it('encrypts every function log group with it, and lets CloudWatch Logs use it for log groups only', () => {
    const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as never), 'Arn'] };
    const groups = Object.entries(template.findResources('AWS::Logs::LogGroup')).filter(
      ([, group]) => group.Properties.RetentionInDays === 90,
    );
    // The six functions' (with the Atlas ingest), the index handler's and the index Provider framework's.
    expect(groups).toHaveLength(8);
    for (const [id, group] of groups) expect(group.Properties.KmsKeyId, id).toEqual(keyArn);
    const logs = keyStatements(template).filter(
      (statement) => servicePrincipal(statement) === 'logs.eu-west-1.amazonaws.com',
    );
    expect(logs).toHaveLength(1);
    expect(logs[0]?.Condition).toEqual({
      ArnLike: { 'kms:EncryptionContext:aws:logs:arn': 'arn:aws:logs:eu-west-1:123456789012:log-group:*' },
    });
  });

  it('encrypts the Atlas partner bus with it', () => {
    template.hasResourceProperties('AWS::Events::EventBus', {
      EventSourceName: ATLAS_EVENT_SOURCE,
      KmsKeyIdentifier: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as never), 'Arn'] },
    });
  });

  it('lets EventBridge use it for this account’s rules only (aws:SourceArn), for the target queues', () => {
    const eventBridge = keyStatements(template).filter(
      (statement) =>
        servicePrincipal(statement) === 'events.amazonaws.com' &&
        !actionsOf(statement).includes('kms:DescribeKey'),
    );
    expect(eventBridge.length).toBeGreaterThan(0);
    for (const statement of eventBridge) {
      expect(statement.Condition).toEqual({
        StringEquals: { 'aws:SourceAccount': ENV.account },
        ArnLike: { 'aws:SourceArn': `arn:aws:events:${ENV.region}:${ENV.account}:rule/*` },
      });
    }
  });
});

describe('feature flags', () => {
  it('sets the recommended flags of the installed aws-cdk-lib in cdk.json, and the test apps read them', () => {
    const recommended = JSON.parse(
      readFileSync(
        new URL('../../node_modules/aws-cdk-lib/recommended-feature-flags.json', import.meta.url),
        'utf8',
      ),
    ) as Record<string, unknown>;
    const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;
    expect(Object.keys(recommended).length).toBeGreaterThan(50);
    for (const [flag, value] of Object.entries(recommended)) expect(context[flag], flag).toEqual(value);
    const app = appWithoutBundling();
    for (const [flag, value] of Object.entries(recommended))
      expect(app.node.tryGetContext(flag), flag).toEqual(value);
  });
});
