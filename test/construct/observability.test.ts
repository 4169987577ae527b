import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { TARGET_OUTPUT } from '../../bin/cli/operations/target.ts';
import {
  ingestionDelayConfigSchema,
  lagCheckConfigSchema,
  parseConfig,
} from '../../functions/shared/config.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';
import { CDK_JSON_CONTEXT } from './stacks.ts';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const CANARY_CONDITION = {
  'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['__typesense_sync_canary__'] },
};
const TYPESENSE_ENV = [
  'KEY_ATTRIBUTES',
  'TYPESENSE_NODES',
  'TYPESENSE_API_KEY_SECRET_ARN',
  'TYPESENSE_COLLECTION',
  'PROJECTION',
] as const;
const EMF_METRICS = {
  writer: ['IngestionDelay', 'ChangesApplied', 'Retries', 'DeadLetters', 'Requeued', 'CircuitOpen'],
  batcher: ['StreamRecords', 'ChangesQueued', 'DeadLetters'],
  lagCheck: [
    'SyncLagMs',
    'CanaryDelayMs',
    'OldestPendingChangeAgeMs',
    'DlqDepth',
    'StreamIteratorAgeMs',
    'LagUnknown',
    'ResyncActive',
    'ResyncSegmentsDone',
    'ResyncSegmentsTotal',
    'ResyncItemsIndexed',
  ],
} as const;

/** An app that skips bundling: every template here but the bundling check. */
function appWithoutBundling(): App {
  return new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
}

function typesenseProps(stack: Stack): TypesenseSyncProps['typesense'] {
  return {
    nodes: ['https://a.example.com:443'],
    apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ImportedKey', 'typesense/key'),
    collection: 'products',
  };
}

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string };
type Resource = { Type: string; Properties: Record<string, unknown> };

/** One synthesized TypesenseSync with lookups by construct. */
class Synth {
  readonly template: Template;
  readonly json: { Resources: Record<string, Resource>; Outputs?: Record<string, { Value: unknown }> };

  constructor(
    readonly stack: Stack,
    readonly sync: TypesenseSync,
  ) {
    this.template = Template.fromStack(stack);
    this.json = this.template.toJSON() as Synth['json'];
  }

  id(construct: { node: { defaultChild?: unknown } }): string {
    return this.stack.getLogicalId(construct.node.defaultChild as CfnElement);
  }

  properties(construct: { node: { defaultChild?: unknown } }): Record<string, unknown> {
    const resource = this.json.Resources[this.id(construct)];
    if (resource === undefined) throw new Error(`no resource for ${construct}`);
    return resource.Properties;
  }

  environment(fn: lambda.Function): Record<string, unknown> {
    return (this.properties(fn).Environment as { Variables: Record<string, unknown> }).Variables;
  }

  /** Every Allow statement of the policies attached to the function's role. */
  statements(fn: lambda.Function): Statement[] {
    const roleId = this.stack.getLogicalId(fn.role?.node.defaultChild as CfnElement);
    return Object.values(
      this.template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
      }),
    ).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  }

  /** The dashboard body with deploy-time values replaced by a marker, parsed. */
  dashboardWidgets(): Array<{ type: string; properties: { title: string; metrics?: unknown[][] } }> {
    const body = this.properties(this.sync.dashboard).DashboardBody as { 'Fn::Join': [string, unknown[]] };
    const text = body['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : 'DEPLOY-TIME'))
      .join('');
    return JSON.parse(text).widgets;
  }

  /** The dashboard's EMF metrics as `metric name @ service: statistic`. */
  dashboardMetrics(namespace: string): string[] {
    return this.dashboardWidgets()
      .flatMap((widget) => widget.properties.metrics ?? [])
      .filter((metric) => metric[0] === namespace)
      .map((metric) => {
        const [, name, dimension, service, options] = metric as [
          string,
          string,
          string,
          string,
          { stat: string },
        ];
        expect(dimension).toBe('service');
        return `${name} @ ${service}: ${options.stat}`;
      });
  }
}

const actionsOf = (statement: Statement) => [statement.Action].flat();

/** Stand-ins for the values CloudFormation resolves at deploy time (Ref, Fn::GetAtt). */
const deployed = (env: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(env).map(([name, value]) => [
      name,
      typeof value === 'string'
        ? value
        : name.endsWith('_URL')
          ? `https://sqs.eu-west-1.amazonaws.com/123456789012/${name}`
          : `deployed-${name}`,
    ]),
  );

describe('TypesenseSync lag check and ingestion delay (defaults)', () => {
  let s: Synth;
  let serviceNames: Record<'batcher' | 'writer' | 'resync' | 'lagCheck' | 'ingestionDelay', unknown>;

  beforeAll(() => {
    const stack = new Stack(appWithoutBundling(), 'Lag', { env: ENV });
    const sync = new TypesenseSync(stack, 'Sync', {
      tableProps: {
        partitionKey: { name: 'tenant', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sku', type: dynamodb.AttributeType.STRING },
      },
      typesense: typesenseProps(stack),
    });
    s = new Synth(stack, sync);
    serviceNames = {
      batcher: s.environment(sync.batcher).POWERTOOLS_SERVICE_NAME,
      writer: s.environment(sync.writer).POWERTOOLS_SERVICE_NAME,
      resync: s.environment(sync.resync).POWERTOOLS_SERVICE_NAME,
      lagCheck: s.environment(sync.lagCheck).POWERTOOLS_SERVICE_NAME,
      ingestionDelay: s.environment(sync.ingestionDelay).POWERTOOLS_SERVICE_NAME,
    };
  });

  it('names every function after the construct instance and publishes in the default namespace', () => {
    expect(serviceNames).toEqual({
      batcher: 'Lag-Sync-A0C7715E-batcher',
      writer: 'Lag-Sync-A0C7715E-writer',
      resync: 'Lag-Sync-A0C7715E-resync',
      lagCheck: 'Lag-Sync-A0C7715E-lag-check',
      ingestionDelay: 'Lag-Sync-A0C7715E-ingestion-delay',
    });
    const { batcher, writer, resync, lagCheck, ingestionDelay } = s.sync;
    for (const fn of [batcher, writer, resync, lagCheck, ingestionDelay]) {
      expect(s.environment(fn).POWERTOOLS_METRICS_NAMESPACE).toBe('TypesenseSync');
    }
  });

  it("gives the lag check its env contract, with the writer's Typesense connection", () => {
    const env = s.environment(s.sync.lagCheck);
    const writerEnv = s.environment(s.sync.writer);
    expect(env).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'Lag-Sync-A0C7715E-lag-check',
      POWERTOOLS_METRICS_NAMESPACE: 'TypesenseSync',
      ...Object.fromEntries(TYPESENSE_ENV.map((name) => [name, writerEnv[name]])),
      TABLE_NAME: { Ref: s.id(s.sync.table) },
      QUEUE_URL: { Ref: s.id(s.sync.changesQueue) },
      DLQ_URL: { Ref: s.id(s.sync.deadLetterQueue) },
      RESYNC_STATE_TABLE: { Ref: s.id(s.sync.resyncStateTable) },
      BATCHER_FUNCTION_NAME: { Ref: s.id(s.sync.batcher) },
      WRITER_SERVICE_NAME: serviceNames.writer,
      CANARY_TIMEOUT_SECONDS: '45',
    });
    expect(env.KEY_ATTRIBUTES).toBe('tenant,sku');
    expect(env.TYPESENSE_COLLECTION).toBe('products');
  });

  it('gives both functions an environment their config contracts accept', () => {
    expect(parseConfig(lagCheckConfigSchema, deployed(s.environment(s.sync.lagCheck)))).toMatchObject({
      CANARY_TIMEOUT_SECONDS: 45,
      WRITER_SERVICE_NAME: serviceNames.writer,
      POWERTOOLS_METRICS_NAMESPACE: 'TypesenseSync',
      KEY_ATTRIBUTES: ['tenant', 'sku'],
    });
    expect(
      parseConfig(ingestionDelayConfigSchema, deployed(s.environment(s.sync.ingestionDelay))),
    ).toMatchObject({
      LAG_CHECK_INTERVAL_SECONDS: 60,
    });
  });

  it('gives the lag check the canary timeout plus 20 s and no retries of a failed check', () => {
    expect(s.properties(s.sync.lagCheck).Timeout).toBe(65);
    s.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: s.id(s.sync.lagCheck) },
      MaximumRetryAttempts: 0,
    });
  });

  it('gives the ingestion-delay function its env contract', () => {
    expect(s.environment(s.sync.ingestionDelay)).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'Lag-Sync-A0C7715E-ingestion-delay',
      POWERTOOLS_METRICS_NAMESPACE: 'TypesenseSync',
      RESYNC_STATE_TABLE: { Ref: s.id(s.sync.resyncStateTable) },
      DLQ_URL: { Ref: s.id(s.sync.deadLetterQueue) },
      LAG_CHECK_INTERVAL_SECONDS: '60',
    });
  });

  it('runs the lag check every minute', () => {
    const rules = s.template.findResources('AWS::Events::Rule', {
      Properties: { Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [s.id(s.sync.lagCheck), 'Arn'] } })] },
    });
    expect(Object.values(rules).map((rule) => rule.Properties.ScheduleExpression)).toEqual([
      'rate(1 minute)',
    ]);
    const [ruleId] = Object.keys(rules);
    s.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [s.id(s.sync.lagCheck), 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
  });

  it('lets the lag check put items in the canary partition only, and nothing else on the source table', () => {
    const tableArn = { 'Fn::GetAtt': [s.id(s.sync.table), 'Arn'] };
    const onTable = s
      .statements(s.sync.lagCheck)
      .filter((statement) =>
        [statement.Resource].flat().some((resource) => JSON.stringify(resource).includes(s.id(s.sync.table))),
      );
    expect(onTable).toEqual([
      { Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: tableArn, Condition: CANARY_CONDITION },
    ]);
  });

  it('lets the lag check read and write the re-sync state table', () => {
    const stateTableArn = { 'Fn::GetAtt': [s.id(s.sync.resyncStateTable), 'Arn'] };
    const onStateTable = s
      .statements(s.sync.lagCheck)
      .filter(
        (statement) => JSON.stringify([statement.Resource].flat()[0]) === JSON.stringify(stateTableArn),
      );
    const actions = onStateTable.flatMap(actionsOf);
    expect(actions).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']),
    );
  });

  it('lets the lag check read both queues’ attributes, the API key secret and metric data', () => {
    const statements = s.statements(s.sync.lagCheck);
    const grants = (action: string, resource: unknown) =>
      statements.some(
        (statement) =>
          actionsOf(statement).includes(action) &&
          // One statement may name several resources (@aws-cdk/aws-iam:minimizePolicies merges them).
          [statement.Resource]
            .flat()
            .some((each) => JSON.stringify(each) === JSON.stringify(resource)),
      );
    expect(grants('sqs:GetQueueAttributes', { 'Fn::GetAtt': [s.id(s.sync.changesQueue), 'Arn'] })).toBe(true);
    expect(grants('sqs:GetQueueAttributes', { 'Fn::GetAtt': [s.id(s.sync.deadLetterQueue), 'Arn'] })).toBe(
      true,
    );
    expect(
      statements.some((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue')),
    ).toBe(true);
    // GetMetricData has no resource-level permissions; it is the only grant on `*`.
    expect(statements.filter((statement) => statement.Resource === '*')).toEqual([
      { Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' },
    ]);
  });

  it('lets the ingestion-delay function GetItem the state table and read the DLQ attributes, nothing more', () => {
    expect(s.statements(s.sync.ingestionDelay)).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: [{ 'Fn::GetAtt': [s.id(s.sync.resyncStateTable), 'Arn'] }, { Ref: 'AWS::NoValue' }],
      },
      {
        Effect: 'Allow',
        Action: 'sqs:GetQueueAttributes',
        Resource: { 'Fn::GetAtt': [s.id(s.sync.deadLetterQueue), 'Arn'] },
      },
    ]);
  });

  it('grants no wildcard DynamoDB or SQS actions to either new function', () => {
    for (const fn of [s.sync.lagCheck, s.sync.ingestionDelay]) {
      const actions = s.statements(fn).flatMap(actionsOf);
      expect(actions.filter((action) => /^(dynamodb|sqs):.*\*/.test(action))).toEqual([]);
    }
  });

  it('serves the ingestion delay through a function URL that requires IAM auth', () => {
    s.template.resourceCountIs('AWS::Lambda::Url', 1);
    s.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [s.id(s.sync.ingestionDelay), 'Arn'] },
    });
    expect(s.template.findResources('AWS::Lambda::Permission', { Properties: { Principal: '*' } })).toEqual(
      {},
    );
  });

  it('alarms when the lag stays above 60 s for 3 one-minute checks, or is not reported', () => {
    expect(s.properties(s.sync.alarms.lag as NonNullable<TypesenseSync['alarms']['lag']>)).toMatchObject({
      Namespace: 'TypesenseSync',
      MetricName: 'SyncLagMs',
      Dimensions: [{ Name: 'service', Value: serviceNames.lagCheck }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 60_000,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'breaching',
    });
  });

  it('alarms when the lag check cannot measure the lag 3 times in a row', () => {
    expect(
      s.properties(s.sync.alarms.lagUnknown as NonNullable<TypesenseSync['alarms']['lagUnknown']>),
    ).toMatchObject({
      Namespace: 'TypesenseSync',
      MetricName: 'LagUnknown',
      Dimensions: [{ Name: 'service', Value: serviceNames.lagCheck }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 3,
    });
  });

  it('alarms as soon as the DLQ holds a message, pointing at the dlq commands', () => {
    const properties = s.properties(s.sync.alarms.deadLetters);
    expect(properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [s.id(s.sync.deadLetterQueue), 'QueueName'] } },
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(properties.AlarmDescription).toContain('typesense-sync dlq list');
    expect(properties.AlarmDescription).toContain('typesense-sync dlq redrive');
  });

  it('alarms when the batcher is 5 minutes behind the stream, besides the 80 % re-sync trigger', () => {
    expect(s.properties(s.sync.alarms.iteratorAge)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: s.id(s.sync.batcher) } }],
      Statistic: 'Maximum',
      Threshold: 300_000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    // The stream gap trigger: 80 % of the default 1-day streamMaxRecordAge.
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 69_120_000,
    });
  });

  it('alarms on the errors of each function', () => {
    const { batcher, writer, resync, lagCheck, ingestionDelay } = s.sync;
    const functions = { batcher, writer, resync, lagCheck, ingestionDelay };
    expect(Object.keys(s.sync.alarms.functionErrors).sort()).toEqual(Object.keys(functions).sort());
    for (const [role, fn] of Object.entries(functions)) {
      const alarm = s.sync.alarms.functionErrors[role as keyof typeof functions];
      const properties = s.properties(alarm);
      expect(properties).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: s.id(fn) } }],
        Statistic: 'Sum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      expect(properties.AlarmDescription).toContain(serviceNames[role as keyof typeof functions]);
    }
  });

  it('notifies nobody without a topic', () => {
    for (const alarm of Object.values(s.template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
      expect(alarm.Properties.OKActions).toBeUndefined();
    }
  });

  it("charts every EMF metric by its function's service name", () => {
    const charted = s.dashboardMetrics('TypesenseSync');
    for (const [role, names] of Object.entries(EMF_METRICS)) {
      for (const name of names) {
        expect(charted.some((line) => line.startsWith(`${name} @ ${serviceNames[role as 'writer']}:`))).toBe(
          true,
        );
      }
    }
    expect(charted).toEqual(
      expect.arrayContaining([
        `IngestionDelay @ ${serviceNames.writer}: p50`,
        `IngestionDelay @ ${serviceNames.writer}: p99`,
        `IngestionDelay @ ${serviceNames.writer}: Maximum`,
        `SyncLagMs @ ${serviceNames.lagCheck}: Maximum`,
        `CircuitOpen @ ${serviceNames.writer}: Maximum`,
      ]),
    );
  });

  it('charts the Lambda, stream and queue metrics, and the alarms', () => {
    const widgets = s.dashboardWidgets();
    const metrics = widgets
      .flatMap((widget) => widget.properties.metrics ?? [])
      .map((metric) => metric.join(' '));
    const lambdaErrors = metrics.filter((metric) => metric.startsWith('AWS/Lambda Errors FunctionName'));
    expect(lambdaErrors).toHaveLength(5);
    expect(metrics.some((metric) => metric.startsWith('AWS/Lambda IteratorAge FunctionName'))).toBe(true);
    const sqsMetrics = metrics.filter((metric) => metric.startsWith('AWS/SQS'));
    expect(sqsMetrics.map((metric) => metric.split(' ')[1]).sort()).toEqual([
      'ApproximateAgeOfOldestMessage',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesVisible',
    ]);
    expect(widgets.map((widget) => widget.properties.title)).toEqual([
      'Alarms',
      'Lag (ms)',
      'Lag check (ms)',
      'Throughput (changes / min)',
      'Errors',
      'Writer retries',
      'Stream iterator age (ms)',
      'Changes queue',
      'Dead-letter queue',
      'Circuit (1 = open)',
      'Re-sync progress',
    ]);
  });
});

describe('TypesenseSync lag observability (configured)', () => {
  let s: Synth;
  let topic: sns.Topic;

  beforeAll(() => {
    const stack = new Stack(appWithoutBundling(), 'LagConfigured', { env: ENV });
    topic = new sns.Topic(stack, 'Alerts');
    const sync = new TypesenseSync(stack, 'Search', {
      tableProps: { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED },
      typesense: typesenseProps(stack),
      sourceTimestampAttribute: 'updatedAt',
      metricsNamespace: 'Shop/Search',
      dashboardName: 'shop-search-sync',
      lagCheck: { schedule: events.Schedule.rate(Duration.minutes(5)), canaryTimeout: Duration.seconds(30) },
      ingestionDelayEndpoint: { authType: lambda.FunctionUrlAuthType.NONE },
      alarms: { topic, lagThreshold: Duration.minutes(2), iteratorAgeThreshold: Duration.minutes(10) },
    });
    s = new Synth(stack, sync);
  });

  it('passes the canary timeout, the source timestamp attribute and the check interval', () => {
    expect(s.environment(s.sync.lagCheck)).toMatchObject({
      CANARY_TIMEOUT_SECONDS: '30',
      SOURCE_TIMESTAMP_ATTRIBUTE: 'updatedAt',
      POWERTOOLS_METRICS_NAMESPACE: 'Shop/Search',
    });
    expect(s.properties(s.sync.lagCheck).Timeout).toBe(50);
    expect(s.environment(s.sync.ingestionDelay).LAG_CHECK_INTERVAL_SECONDS).toBe('300');
    s.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  it('lets the lag check use the table key to write the canary', () => {
    const [keyId] = Object.keys(s.template.findResources('AWS::KMS::Key'));
    const onKey = s
      .statements(s.sync.lagCheck)
      .filter(
        (statement) =>
          JSON.stringify(statement.Resource) === JSON.stringify({ 'Fn::GetAtt': [keyId, 'Arn'] }),
      );
    expect(onKey.flatMap(actionsOf)).toEqual(expect.arrayContaining(['kms:Encrypt', 'kms:GenerateDataKey*']));
  });

  it('opens the function URL to anyone only when asked', () => {
    s.template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    s.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      FunctionName: { 'Fn::GetAtt': [s.id(s.sync.ingestionDelay), 'Arn'] },
      Principal: '*',
      FunctionUrlAuthType: 'NONE',
    });
  });

  it('applies the thresholds, and evaluates the lag per check interval', () => {
    expect(s.properties(s.sync.alarms.lag as NonNullable<TypesenseSync['alarms']['lag']>)).toMatchObject({
      Namespace: 'Shop/Search',
      Period: 300,
      Threshold: 120_000,
    });
    expect(
      s.properties(s.sync.alarms.lagUnknown as NonNullable<TypesenseSync['alarms']['lagUnknown']>),
    ).toMatchObject({ Namespace: 'Shop/Search', Period: 300 });
    expect(s.properties(s.sync.alarms.iteratorAge)).toMatchObject({ Threshold: 600_000 });
  });

  it('notifies the topic on ALARM and OK from every observability alarm, the re-sync trigger included', () => {
    const { lag, lagUnknown, deadLetters, iteratorAge, functionErrors } = s.sync.alarms;
    const notifying = [lag, lagUnknown, deadLetters, iteratorAge, ...Object.values(functionErrors)];
    expect(notifying).toHaveLength(9);
    for (const alarm of notifying) {
      expect(s.properties(alarm as NonNullable<typeof alarm>)).toMatchObject({
        AlarmActions: [{ Ref: s.id(topic) }],
        OKActions: [{ Ref: s.id(topic) }],
      });
    }
    const silent = s.template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { AlarmActions: Match.absent() },
    });
    // The stream gap alarm (80 % of the 1-day max record age) notifies too: it means changes may be lost.
    expect(Object.values(silent)).toEqual([]);
    expect(
      s.properties(s.sync.alarms.streamGap as NonNullable<typeof s.sync.alarms.streamGap>),
    ).toMatchObject({
      Threshold: 69_120_000,
      AlarmActions: [{ Ref: s.id(topic) }],
    });
  });

  it('names the dashboard and charts the metrics in the given namespace', () => {
    expect(s.properties(s.sync.dashboard).DashboardName).toBe('shop-search-sync');
    const charted = s.dashboardMetrics('Shop/Search');
    const lagCheckService = s.environment(s.sync.lagCheck).POWERTOOLS_SERVICE_NAME;
    expect(charted).toContain(`SyncLagMs @ ${lagCheckService}: Maximum`);
    expect(s.dashboardMetrics('TypesenseSync')).toEqual([]);
  });
});

describe('TypesenseSync with no lag check schedule', () => {
  let s: Synth;

  beforeAll(() => {
    const stack = new Stack(appWithoutBundling(), 'LagUnscheduled', { env: ENV });
    s = new Synth(
      stack,
      new TypesenseSync(stack, 'Sync', { typesense: typesenseProps(stack), lagCheck: { schedule: false } }),
    );
  });

  it('creates the lag check but no rule running it', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CANARY_TIMEOUT_SECONDS: '45' }) },
    });
    const rules = Object.values(s.template.findResources('AWS::Events::Rule'));
    expect(rules.map((rule) => rule.Properties.Description)).toEqual([
      'Starts a full re-sync when the stream iterator age alarm fires',
    ]);
  });

  it('creates no lag alarms (nothing would report), but the others', () => {
    expect(s.sync.alarms.lag).toBeUndefined();
    expect(s.sync.alarms.lagUnknown).toBeUndefined();
    expect(
      s.template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'SyncLagMs' } }),
    ).toEqual({});
    // DLQ, iterator age, five function errors, re-sync DLQ, the stream gap alarm and its rule's failed
    // deliveries (its target has no DLQ); no stall alarm, which needs the lag check's progress figure.
    s.template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
    expect(s.sync.alarms.resyncStalled).toBeUndefined();
    expect(s.sync.alarms.resyncFailed).toBeUndefined();
  });

  it('tells the endpoint the default interval', () => {
    expect(s.environment(s.sync.ingestionDelay).LAG_CHECK_INTERVAL_SECONDS).toBe('60');
  });
});

describe('TypesenseSync with a MongoDB Atlas source', () => {
  let s: Synth;
  let atlas: NonNullable<TypesenseSync['atlasSource']>;

  beforeAll(() => {
    const stack = new Stack(appWithoutBundling(), 'AtlasObserved', { env: ENV });
    const sync = new TypesenseSync(stack, 'Sync', {
      typesense: typesenseProps(stack),
      mongoAtlas: { eventSourceName: 'aws.partner/mongodb.com/stitch.trigger/65f1c0d2a4b5c6d7e8f90123' },
    });
    s = new Synth(stack, sync);
    atlas = sync.atlasSource as NonNullable<TypesenseSync['atlasSource']>;
  });

  it('charts the ingest’s EMF metrics by its service name, in the sync’s namespace', () => {
    const service = s.environment(atlas.ingest).POWERTOOLS_SERVICE_NAME;
    expect(service).toBe(atlas.serviceName);
    expect(s.dashboardMetrics('TypesenseSync')).toEqual(
      expect.arrayContaining([
        `AtlasEventsApplied @ ${service}: Sum`,
        `AtlasEventsStale @ ${service}: Sum`,
        `DeadLetters @ ${service}: Sum`,
      ]),
    );
  });

  it('charts the ingest’s invocations and errors, its queue’s depth and age, and its DLQ’s depth', () => {
    const widgets = s.dashboardWidgets();
    const titles = widgets.map((widget) => widget.properties.title);
    expect(titles.slice(-2)).toEqual(['Atlas ingest (events / min)', 'Atlas ingest queues']);
    const metrics = widgets
      .flatMap((widget) => widget.properties.metrics ?? [])
      .map((metric) => metric.join(' '));
    // The five functions' errors on the Errors widget, the ingest's beside its invocations.
    expect(metrics.filter((metric) => metric.startsWith('AWS/Lambda Errors FunctionName'))).toHaveLength(6);
    expect(metrics.filter((metric) => metric.startsWith('AWS/Lambda Invocations FunctionName'))).toHaveLength(
      1,
    );
    const queues = widgets
      .filter((widget) => widget.properties.title === 'Atlas ingest queues')
      .flatMap((widget) => widget.properties.metrics ?? [])
      .map((metric) => metric.slice(0, 2).join(' '));
    expect(queues.sort()).toEqual([
      'AWS/SQS ApproximateAgeOfOldestMessage',
      'AWS/SQS ApproximateNumberOfMessagesVisible',
      'AWS/SQS ApproximateNumberOfMessagesVisible',
    ]);
  });

  it('alarms on the ingest’s errors and shows both Atlas alarms in the alarm status widget', () => {
    const alarms = s.sync.alarms.atlas;
    expect(alarms).toBeDefined();
    expect(s.properties(alarms?.ingestErrors as NonNullable<typeof alarms>['ingestErrors'])).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: s.id(atlas.ingest) } }],
    });
    const body = JSON.stringify(s.properties(s.sync.dashboard).DashboardBody);
    for (const alarm of [alarms?.ingestErrors, alarms?.ingestDeadLetters]) {
      expect(body).toContain(s.id(alarm as NonNullable<typeof alarm>));
    }
  });
});

describe('TypesenseSync without a MongoDB Atlas source', () => {
  it('has no Atlas alarms or widgets', () => {
    const stack = new Stack(appWithoutBundling(), 'NoAtlas', { env: ENV });
    const s = new Synth(stack, new TypesenseSync(stack, 'Sync', { typesense: typesenseProps(stack) }));
    expect(s.sync.alarms.atlas).toBeUndefined();
    expect(s.dashboardWidgets().map((widget) => widget.properties.title)).not.toContain(
      'Atlas ingest queues',
    );
  });
});

describe('TypesenseSync service names', () => {
  it('differ between two syncs in one stack', () => {
    const stack = new Stack(appWithoutBundling(), 'Two', { env: ENV });
    const typesense = typesenseProps(stack);
    const first = new TypesenseSync(stack, 'First', { typesense });
    const second = new TypesenseSync(stack, 'Second', { typesense });
    const s = new Synth(stack, first);
    const names = [first, second].flatMap((sync) =>
      [sync.batcher, sync.writer, sync.resync, sync.lagCheck, sync.ingestionDelay].map(
        (fn) => s.environment(fn).POWERTOOLS_SERVICE_NAME,
      ),
    );
    expect(new Set(names).size).toBe(10);
  });
});

describe('TypesenseSyncStack ingestion-delay output', () => {
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(new TypesenseSyncStack(appWithoutBundling(), 'Ready', { env: ENV }));
  });

  it('outputs the endpoint URL, and names it in the operator target', () => {
    const [urlId] = Object.keys(template.findResources('AWS::Lambda::Url'));
    const url = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [urlId, 'FunctionUrl'] }, 'v1/ingestion-delay']] };
    template.hasOutput('IngestionDelayUrl', { Value: url });
    const target = template.findOutputs(TARGET_OUTPUT)[TARGET_OUTPUT]?.Value as {
      'Fn::Join': [string, unknown[]];
    };
    const parts = target['Fn::Join'][1];
    const at = parts.findIndex((part) => typeof part === 'string' && part.endsWith('"ingestionDelayUrl":"'));
    expect(at).toBeGreaterThan(0);
    expect(parts.slice(at + 1)).toEqual([{ 'Fn::GetAtt': [urlId, 'FunctionUrl'] }, 'v1/ingestion-delay"}']);
  });
});

describe('TypesenseSync lag check validation', () => {
  const build = (lagCheck: TypesenseSyncProps['lagCheck'], metricsNamespace?: string) => () => {
    const stack = new Stack(appWithoutBundling(), 'Invalid');
    new TypesenseSync(stack, 'Sync', { typesense: typesenseProps(stack), lagCheck, metricsNamespace });
  };

  it.each([
    ['a cron schedule', events.Schedule.cron({ minute: '*/5' })],
    ['a rate over an hour, in days', events.Schedule.rate(Duration.days(1))],
    ['a rate over an hour', events.Schedule.rate(Duration.hours(2))],
  ])('rejects %s', (_, schedule) => {
    expect(build({ schedule })).toThrow(/lagCheck.schedule must be a rate from 1 minute to 1 hour/);
  });

  it('accepts a rate of one hour', () => {
    expect(build({ schedule: events.Schedule.rate(Duration.hours(1)) })).not.toThrow();
  });

  it.each([Duration.seconds(4), Duration.minutes(11), Duration.millis(5_500)])(
    'rejects a canary timeout of %s',
    (canaryTimeout) => {
      expect(build({ canaryTimeout })).toThrow(
        /lagCheck.canaryTimeout must be a whole number of seconds from 5 to 600/,
      );
    },
  );

  it.each(['', ' ', 'AWS/Lambda', 'bad\u00e9name', 'x'.repeat(256)])(
    'rejects the metrics namespace %j',
    (name) => {
      expect(build(undefined, name)).toThrow(/metricsNamespace must be/);
    },
  );
});

describe('TypesenseSync lag functions (bundled)', () => {
  it('bundles the lag check and the ingestion-delay handler as ESM modules with source maps', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'Bundled', { env: ENV });
    const sync = new TypesenseSync(stack, 'Sync', { typesense: typesenseProps(stack) });
    const template = Template.fromStack(stack);
    for (const fn of [sync.lagCheck, sync.ingestionDelay]) {
      const resource = template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)];
      const dir = join(app.outdir, resource.Metadata['aws:asset:path'] as string);
      expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).toMatch(/^import \{ createRequire \}/);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
    }
  }, 120_000);
});
