import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectionSchema } from '../../functions/contract/projection.ts';
import type { Target } from '../../functions/contract/target.ts';
import type { AtlasSource } from '../../lib/atlas-source.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import {
  ATLAS_EVENT_SOURCE,
  ATLAS_ROUTED_INDEXES,
  appWithoutBundling,
  atlasIndexesStack,
  ENV,
} from './stacks.ts';

/**
 * A MongoDB Atlas source with several indexes (issue 20, item 3): the ingest writes the one mirror table,
 * whose stream feeds the one batcher, which fans out to every index's pipeline; each index routes by its own
 * filter. cfn-lint (cfn-lint.test.ts) and cdk-nag (nag.test.ts) run over this stack too.
 */

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

describe('a MongoDB Atlas source with two routed indexes', () => {
  let stack: Stack;
  let sync: TypesenseSync;
  let template: Template;
  let source: AtlasSource;
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const variablesOf = (fn: { node: { defaultChild?: unknown } }) =>
    (
      template.toJSON().Resources[idOf(fn)] as {
        Properties: { Environment: { Variables: Record<string, unknown> } };
      }
    ).Properties.Environment.Variables;
  /** The actions the function's role may take on the resource (its resolved form). */
  const actionsOn = (fn: { role?: { node: { defaultChild?: unknown } } }, resource: unknown): string[] =>
    Object.values(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: Match.arrayWith([{ Ref: idOf(fn.role as never) }]) },
      }),
    )
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
      .filter(
        ({ Effect, Resource }) =>
          Effect === 'Allow' && JSON.stringify(Resource).includes(JSON.stringify(resource)),
      )
      .flatMap(({ Action }) => [Action].flat());

  beforeAll(() => {
    ({ stack, sync } = atlasIndexesStack());
    template = Template.fromStack(stack);
    source = sync.atlasSource as AtlasSource;
  });

  it('builds one mirror table keyed by _id, one ingest, one batcher and one pipeline per index', () => {
    template.resourcePropertiesCountIs(
      'AWS::DynamoDB::Table',
      { KeySchema: [{ AttributeName: '_id', KeyType: 'HASH' }] },
      1,
    );
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: '_id', KeyType: 'HASH' }],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    expect(sync.indexes.map(({ pipeline }) => pipeline.index.collection)).toEqual(['products', 'reviews']);
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.resourceCountIs('Custom::TypesenseIndex', 2);
    // The mirror's stream has one consumer, the batcher; the ingest reads its own queue.
    template.resourcePropertiesCountIs(
      'AWS::Lambda::EventSourceMapping',
      { EventSourceArn: { 'Fn::GetAtt': [idOf(sync.table), 'StreamArn'] } },
      1,
    );
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [idOf(sync.table), 'StreamArn'] },
      FunctionName: { Ref: idOf(sync.batcher) },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [idOf(source.ingestQueue), 'Arn'] },
      FunctionName: { Ref: idOf(source.ingest) },
    });
  });

  it('has the ingest write the mirror table and dead-letter bad events to the first index DLQ', () => {
    expect(variablesOf(source.ingest)).toMatchObject({
      TABLE_NAME: { Ref: idOf(sync.table) },
      DLQ_URL: { Ref: idOf(sync.indexes[0]?.pipeline.deadLetterQueue as never) },
    });
    expect(actionsOn(source.ingest, { 'Fn::GetAtt': [idOf(sync.table), 'Arn'] }).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
    ]);
    // Nothing of a further index: the ingest knows the mirror, not the indexes.
    const further = sync.indexes[1]?.pipeline;
    if (further === undefined) throw new Error('two indexes expected');
    for (const queue of [further.changesQueue, further.deadLetterQueue])
      expect(actionsOn(source.ingest, { 'Fn::GetAtt': [idOf(queue), 'Arn'] })).toEqual([]);
  });

  it('fans the mirror stream out to every index queue, keyed by _id', () => {
    const variables = variablesOf(sync.batcher);
    expect(variables.KEY_ATTRIBUTES).toBe('_id');
    const [, parts] = (variables.QUEUES as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    expect(parts.filter((part) => typeof part !== 'string')).toEqual(
      sync.indexes.flatMap(({ pipeline }) => [
        { Ref: idOf(pipeline.changesQueue) },
        { Ref: idOf(pipeline.deadLetterQueue) },
      ]),
    );
  });

  it("gives each index's writer and re-sync its filter over the mirror, keyed by _id", () => {
    sync.indexes.forEach(({ pipeline }, position) => {
      const expected = ATLAS_ROUTED_INDEXES[position];
      for (const fn of [pipeline.writer, pipeline.resync])
        expect(variablesOf(fn)).toMatchObject({
          TYPESENSE_COLLECTION: expected?.collection,
          PROJECTION: JSON.stringify(expected?.projection),
          KEY_ATTRIBUTES: '_id',
        });
      // Each re-sync scans the mirror: the only copy of the collection on AWS.
      expect(actionsOn(pipeline.resync, { 'Fn::GetAtt': [idOf(sync.table), 'Arn'] })).toContain(
        'dynamodb:Scan',
      );
    });
  });

  it('lists every index in the operator target over the mirror', () => {
    const target = sync.operatorTarget as Pick<Target, 'keyAttributes' | 'indexes'>;
    expect(target.keyAttributes).toEqual(['_id']);
    expect(Object.keys(target.indexes ?? {})).toEqual(['products', 'reviews']);
    expect(target.indexes?.reviews?.projection).toEqual(ATLAS_ROUTED_INDEXES[1].projection);
  });
});

describe('a MongoDB Atlas source: aggregate checked at synth', () => {
  it('refuses an aggregated index, naming it: the mirror has one item per document, no sort key', () => {
    const build = () =>
      atlasIndexesStack([
        { collection: 'products' },
        {
          collection: 'orders',
          aggregate: { parent: { prefix: 'ORDER' }, children: { lines: { prefix: 'LINE#' } } },
        },
      ]);
    expect(build).toThrow(/indexes\[1\] \(orders\)\.aggregate cannot be used with mongoAtlas/);
    expect(build).not.toThrow(/indexes\[0\]/);
  });

  it('refuses the top-level aggregate of a single index too', () => {
    const build = () => {
      const stack = new Stack(appWithoutBundling(), 'AtlasAggregate', { env: ENV });
      return new TypesenseSync(stack, 'Sync', {
        typesense: {
          nodes: ['https://typesense.example.com:443'],
          apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
          collection: 'orders',
        },
        mongoAtlas: { eventSourceName: ATLAS_EVENT_SOURCE },
        aggregate: { parent: { prefix: 'ORDER' }, children: { lines: { prefix: 'LINE#' } } },
      });
    };
    expect(build).toThrow(/TypesenseSync: aggregate cannot be used with mongoAtlas/);
  });
});

describe('a MongoDB Atlas source with an id rule (projection.id)', () => {
  const [products, reviews] = ATLAS_ROUTED_INDEXES;
  type IdRule = NonNullable<NonNullable<TypesenseSyncProps['projection']>['id']>;
  const withRule = (id: IdRule) => [
    { ...products, projection: { ...products.projection, id } },
    { ...reviews },
  ];
  const problemsOf = (id: IdRule) => {
    try {
      atlasIndexesStack(withRule(id));
    } catch (error) {
      return (error as Error).message.split('\n');
    }
    return [];
  };

  it("strips a prefix of _id, the mirror's one key attribute: the index's writer, re-sync and target get the rule", () => {
    const rule = { stripPrefix: { _id: 'product:' } };
    const { stack, sync } = atlasIndexesStack(withRule(rule));
    const resources = Template.fromStack(stack).toJSON().Resources;
    const pipeline = sync.indexes[0]?.pipeline;
    if (pipeline === undefined) throw new Error('two indexes expected');
    for (const fn of [pipeline.writer, pipeline.resync]) {
      const variables = resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)].Properties
        .Environment.Variables as Record<string, string>;
      expect(projectionSchema.parse(JSON.parse(variables.PROJECTION as string))).toEqual({
        ...products.projection,
        id: rule,
      });
    }
    // The operator target (verify, preview, redrive) names its documents by the rule too; the other index by `_id`.
    const target = sync.operatorTarget as Pick<Target, 'indexes'>;
    expect(target.indexes?.products?.projection).toEqual({ ...products.projection, id: rule });
    expect(target.indexes?.reviews?.projection).toEqual(reviews.projection);
  });

  it('refuses at synth a rule naming an attribute other than _id, at its index', () => {
    expect(problemsOf({ attributes: ['sku'] })).toEqual([
      'TypesenseSync: indexes[0] (products).projection.id.attributes[0] names sku, which is not a key attribute (_id)',
      "TypesenseSync: indexes[0] (products).projection.id.attributes leaves out the key attribute _id: indexes[0] (products).projection.filter must pin it ({ attribute: '_id', equals: … } at its top level or in a top-level and), or items differing only in _id would share one id",
    ]);
    expect(problemsOf({ stripPrefix: { sku: 'SKU-' } })).toEqual([
      'TypesenseSync: indexes[0] (products).projection.id.stripPrefix.sku strips a prefix of sku, which the id does not use (_id)',
    ]);
  });
});
