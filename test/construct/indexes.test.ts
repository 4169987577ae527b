import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Target } from '../../functions/contract/target.ts';
import { batcherConfigSchema, parseConfig } from '../../functions/shared/config.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { appWithoutBundling, ENV, ROUTED_INDEXES, twoIndexStack } from './stacks.ts';

/** Several indexes of one table (issue 20, item 1): one pipeline per index, one batcher feeding them all. */

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

function syncOf(props: Partial<TypesenseSyncProps>): () => TypesenseSync {
  return () => {
    const stack = new Stack(appWithoutBundling(), 'Invalid', { env: ENV });
    return new TypesenseSync(stack, 'Sync', {
      tableProps: {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      },
      typesense: {
        nodes: ['https://a.example.com:443'],
        apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'typesense/key'),
      },
      ...props,
    });
  };
}

describe('a table with two routed indexes', () => {
  let stack: Stack;
  let sync: TypesenseSync;
  let template: Template;
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as CfnElement);
  /** Every resource an Allow statement of the function's role names, as JSON of its resolved form. */
  const resourcesOf = (fn: { role?: { node: { defaultChild?: unknown } } }): string[] => {
    const roleId = idOf(fn.role as { node: { defaultChild?: unknown } });
    return Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
      }),
    )
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
      .filter((statement) => statement.Effect === 'Allow')
      .flatMap((statement) => [statement.Resource].flat())
      .map((resource) => JSON.stringify(resource));
  };

  beforeAll(() => {
    ({ stack, sync } = twoIndexStack());
    template = Template.fromStack(stack);
  });

  it('builds one pipeline per index: the first under the construct, the second under IndexOrders', () => {
    expect(sync.indexes.map(({ pipeline }) => pipeline.index.collection)).toEqual(['customers', 'orders']);
    const [first, second] = sync.indexes;
    expect(first?.pipeline.writer).toBe(sync.writer);
    expect(first?.pipeline.changesQueue.node.path).toBe('TwoIndexes/Sync/ChangesQueue');
    expect(second?.pipeline.changesQueue.node.path).toBe('TwoIndexes/Sync/IndexOrders/ChangesQueue');
    expect(second?.index.node.path).toBe('TwoIndexes/Sync/IndexOrders/Index');
    template.resourceCountIs('AWS::SQS::Queue', 8);
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Description: Match.stringLikeRegexp('^SQS FIFO changes') },
      2,
    );
    template.resourceCountIs('Custom::TypesenseIndex', 2);
  });

  it('gives each writer and re-sync its own alias and projection', () => {
    for (const { pipeline } of sync.indexes) {
      const { index } = pipeline;
      for (const fn of [pipeline.writer, pipeline.resync])
        template.hasResourceProperties('AWS::Lambda::Function', {
          FunctionName: Match.absent(),
          Environment: {
            Variables: Match.objectLike({
              TYPESENSE_COLLECTION: index.collection,
              PROJECTION: JSON.stringify(index.projection),
              RESYNC_STATE_TABLE: { Ref: idOf(pipeline.resyncStateTable) },
            }),
          },
          Role: { 'Fn::GetAtt': [idOf(fn.role as never), 'Arn'] },
        });
    }
  });

  it('sends every change to both changes queues, each with its own DLQ, and lets the batcher do so', () => {
    const batcher = template.toJSON().Resources[idOf(sync.batcher)] as {
      Properties: { Environment: { Variables: { QUEUES: { 'Fn::Join': [string, unknown[]] } } } };
    };
    const [, parts] = batcher.Properties.Environment.Variables.QUEUES['Fn::Join'];
    const refs = parts.filter((part) => typeof part !== 'string');
    expect(refs).toEqual(
      sync.indexes.flatMap(({ pipeline }) => [
        { Ref: idOf(pipeline.changesQueue) },
        { Ref: idOf(pipeline.deadLetterQueue) },
      ]),
    );
    const env = parts.map((part) => (typeof part === 'string' ? part : 'https://sqs.example.com/q')).join('');
    expect(
      parseConfig(batcherConfigSchema, {
        QUEUES: env,
        DLQ_URL: 'https://sqs.example.com/d',
        KEY_ATTRIBUTES: 'pk,sk',
      }).QUEUES,
    ).toHaveLength(2);
    const granted = resourcesOf(sync.batcher);
    for (const { pipeline } of sync.indexes)
      for (const queue of [pipeline.changesQueue, pipeline.deadLetterQueue])
        expect(granted).toContain(JSON.stringify({ 'Fn::GetAtt': [idOf(queue), 'Arn'] }));
  });

  it("grants each writer only its own queues and state table, never the other index's", () => {
    const [first, second] = sync.indexes.map(({ pipeline }) => pipeline);
    if (first === undefined || second === undefined) throw new Error('two indexes expected');
    const own = (pipeline: typeof first) =>
      [pipeline.changesQueue, pipeline.deadLetterQueue, pipeline.resyncStateTable].map(idOf);
    for (const [pipeline, other] of [
      [first, second],
      [second, first],
    ] as const) {
      const granted = resourcesOf(pipeline.writer).join('\n');
      for (const id of own(pipeline)) expect(granted).toContain(`"${id}"`);
      for (const id of own(other)) expect(granted).not.toContain(`"${id}"`);
      // The re-sync: likewise its own state table, work queue and changes queue only.
      const resync = resourcesOf(pipeline.resync).join('\n');
      for (const id of [...own(pipeline).slice(0, 1), idOf(pipeline.resyncQueue)])
        expect(resync).toContain(`"${id}"`);
      for (const id of [...own(other), idOf(other.resyncQueue)]) expect(resync).not.toContain(`"${id}"`);
    }
  });

  it('alarms on and charts each further index: dead letters, writer errors, re-sync dead letters', () => {
    expect(Object.keys(sync.alarms.indexes ?? {})).toEqual(['orders']);
    const orders = sync.indexes[1]?.pipeline;
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('index orders were dead-lettered'),
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [idOf(orders?.deadLetterQueue as never), 'QueueName'] } },
      ],
    });
    const body = JSON.stringify(template.toJSON().Resources[idOf(sync.dashboard)]);
    expect(body).toContain('Index orders: writer (changes / min)');
  });

  it("waits for the lag canary in every index: each index's alias and queues in its env, their attributes granted", () => {
    const lagCheck = template.toJSON().Resources[idOf(sync.lagCheck)] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    const variables = lagCheck.Properties.Environment.Variables;
    const orders = sync.indexes[1]?.pipeline;
    if (orders === undefined) throw new Error('two indexes expected');
    const further = JSON.stringify(variables.FURTHER_INDEXES);
    expect(further).toContain('alias\\":\\"orders');
    for (const queue of [orders.changesQueue, orders.deadLetterQueue])
      expect(further).toContain(JSON.stringify({ Ref: idOf(queue) }));
    // Every index's queue depths (GetQueueAttributes), the first's as before.
    const roleId = idOf(sync.lagCheck.role as never);
    const statements = Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
      }),
    ).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const attributesOf = statements
      .filter((statement) => [statement.Action].flat().includes('sqs:GetQueueAttributes'))
      .flatMap((statement) => [statement.Resource].flat())
      .map((resource) => JSON.stringify(resource));
    for (const { pipeline } of sync.indexes)
      for (const queue of [pipeline.changesQueue, pipeline.deadLetterQueue])
        expect(attributesOf).toContain(JSON.stringify({ 'Fn::GetAtt': [idOf(queue), 'Arn'] }));
  });

  it("alarms on each further index's lag: SyncLagMs of the lag check with its Index dimension", () => {
    expect(sync.alarms.indexes?.orders?.lag).toBeDefined();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('^The index orders is more than 1 minute behind the table'),
      MetricName: 'SyncLagMs',
      Dimensions: [
        { Name: 'Index', Value: 'orders' },
        { Name: 'service', Value: Match.stringLikeRegexp('-lag-check$') },
      ],
      Threshold: 60_000,
      TreatMissingData: 'breaching',
    });
    const body = JSON.stringify(template.toJSON().Resources[idOf(sync.dashboard)]);
    expect(body).toContain('Index orders: lag (ms)');
  });

  it("charts each further index's re-sync progress as the first's, on the lag check's figures with its Index dimension", () => {
    const body = template.toJSON().Resources[idOf(sync.dashboard)].Properties.DashboardBody as {
      'Fn::Join': [string, unknown[]];
    };
    const text = body['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : 'DEPLOY-TIME'))
      .join('');
    type Widget = { properties: { title: string; metrics?: unknown[][] } };
    const widgets = (JSON.parse(text) as { widgets: Widget[] }).widgets;
    /** A graph's metrics as `name [dimension=value …] label: statistic (axis)`; the options are the last element. */
    const chart = (title: string) =>
      (widgets.find((widget) => widget.properties.title === title)?.properties.metrics ?? []).map(
        (metric) => {
          const options = metric.at(-1) as { label: string; stat: string; yAxis?: string };
          const dimensions = metric.slice(2, -1).map((part, at) => (at % 2 === 0 ? `${part}=` : `${part} `));
          return `${metric[1]} [${dimensions.join('').trim()}] ${options.label}: ${options.stat} (${options.yAxis ?? 'left'})`;
        },
      );
    const first = chart('Re-sync progress');
    expect(first).toHaveLength(4);
    expect(first[3]).toMatch(
      /^ResyncItemsIndexed \[service=\S+-lag-check\] items indexed: Maximum \(right\)$/,
    );
    expect(chart('Index orders: re-sync progress')).toEqual(
      first.map((line) => line.replace('[service=', '[Index=orders service=')),
    );
  });

  it("reads each further index's re-sync: its state table in the env, GetItem and Query on it, nothing more", () => {
    const orders = sync.indexes[1]?.pipeline;
    if (orders === undefined) throw new Error('two indexes expected');
    const lagCheck = template.toJSON().Resources[idOf(sync.lagCheck)] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    const further = JSON.stringify(lagCheck.Properties.Environment.Variables.FURTHER_INDEXES);
    expect(further).toContain(
      `resyncStateTable\\":\\"",${JSON.stringify({ Ref: idOf(orders.resyncStateTable) })}`,
    );
    const roleId = idOf(sync.lagCheck.role as never);
    const statements = Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
      }),
    ).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const stateTable = JSON.stringify({ 'Fn::GetAtt': [idOf(orders.resyncStateTable), 'Arn'] });
    const onStateTable = statements.filter((statement) =>
      [statement.Resource].flat().some((resource) => JSON.stringify(resource) === stateTable),
    );
    expect(onStateTable.flatMap((statement) => [statement.Action].flat()).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
    ]);
  });

  it("alarms on each further index's stalled and failed re-sync, as the sync's own, naming the index", () => {
    const alarms = sync.alarms.indexes?.orders;
    expect(alarms?.resyncStalled).toBeDefined();
    expect(alarms?.resyncFailed).toBeDefined();
    const lagCheckService = Match.stringLikeRegexp('-lag-check$');
    // The sync's own: the first index's, without an Index dimension, exactly as before.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('^A running re-sync has made no progress for 30 minutes'),
      MetricName: 'ResyncProgressAgeMs',
      Dimensions: [{ Name: 'service', Value: lagCheckService }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription:
        'A running re-sync of the index orders has made no progress for 30 minutes. Run ' +
        '`typesense-sync --index orders resync status`; see the re-sync function logs and errors, the re-sync DLQ, ' +
        'and Typesense health. A re-sync that cannot finish can be started again ' +
        '(`typesense-sync --index orders resync start`).',
      MetricName: 'ResyncProgressAgeMs',
      Dimensions: [
        { Name: 'Index', Value: 'orders' },
        { Name: 'service', Value: lagCheckService },
      ],
      Statistic: 'Maximum',
      Threshold: 30 * 60_000,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp(
        '^The latest re-sync of the index orders failed and did not swap: the alias orders still serves .*' +
          '`typesense-sync --index orders resync status` names the keys .* run `typesense-sync --index orders resync start`',
      ),
      MetricName: 'ResyncFailed',
      Dimensions: [
        { Name: 'Index', Value: 'orders' },
        { Name: 'service', Value: lagCheckService },
      ],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    // Under the index's construct id, beside its other alarms.
    expect(alarms?.resyncStalled?.node.id).toBe('IndexOrdersResyncStalledAlarm');
    expect(alarms?.resyncFailed?.node.id).toBe('IndexOrdersResyncFailedAlarm');
  });

  it('starts the re-sync of every index on a stream gap', () => {
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: { Description: Match.stringLikeRegexp('stream iterator age') },
    });
    const [rule] = Object.values(rules);
    const targets = (rule?.Properties.Targets as { Arn: unknown }[]).map(({ Arn }) => Arn);
    expect(targets).toEqual(
      sync.indexes.map(({ pipeline }) => ({ 'Fn::GetAtt': [idOf(pipeline.resyncQueue), 'Arn'] })),
    );
  });

  it('lists every index in the operator target, the first also at the top level', () => {
    const target = sync.operatorTarget as Pick<Target, 'typesense' | 'indexes' | 'queueUrl'>;
    expect(target.typesense.collection).toBe('customers');
    expect(Object.keys(target.indexes ?? {})).toEqual(['customers', 'orders']);
    expect(target.indexes?.customers?.queueUrl).toBe(target.queueUrl);
    expect(target.indexes?.orders?.projection).toEqual(ROUTED_INDEXES[1].projection);
    expect(target.indexes?.orders?.queueUrl).toBe(sync.indexes[1]?.pipeline.changesQueue.queueUrl);
  });
});

describe('indexes: props checked at synth', () => {
  it('rejects two indexes of one alias, naming both', () => {
    expect(syncOf({ indexes: [{ collection: 'orders' }, { collection: 'orders' }] })).toThrow(
      /indexes\[0\]\.collection and indexes\[1\]\.collection both name the alias "orders"/,
    );
  });

  it("reports a bad projection or schema at the index's alias", () => {
    const build = syncOf({
      indexes: [
        { collection: 'customers' },
        {
          collection: 'orders',
          projection: { filter: { attribute: 'sk', gt: 'x' } } as never,
          schema: { fields: [] },
        },
      ],
    });
    expect(build).toThrow(/indexes\[1\] \(orders\)\.projection\.filter/);
    expect(build).toThrow(/indexes\[1\] \(orders\)\.schema/);
  });

  it('rejects the top-level index props beside indexes', () => {
    expect(
      syncOf({
        typesense: {
          nodes: ['https://a.example.com:443'],
          apiKeySecret: undefined as never,
          collection: 'products',
        },
        projection: { exclude: ['secret'] },
        indexes: [{ collection: 'orders' }],
      }),
    ).toThrow(/with indexes, set typesense\.collection, projection on each index instead/);
  });

  it('rejects an empty list, and aliases that make the same construct id', () => {
    expect(syncOf({ indexes: [] })).toThrow(/indexes must list 1 to 5 indexes, got 0/);
    expect(
      syncOf({
        indexes: [{ collection: 'a' }, { collection: 'order-lines' }, { collection: 'order_lines' }],
      }),
    ).toThrow(/make the same construct id IndexOrderLines/);
  });
});
