import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexResourcePropertiesSchema } from '../../functions/contract/index-resource.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';
import { validateTypesenseSyncProps } from '../../lib/validate-props.ts';
import { appWithoutBundling, ENV, fullyFeaturedStack, PRODUCTS_SCHEMA } from './stacks.ts';

/**
 * The index custom resource (lib/index-resource.ts): its properties as the handler parses them, its
 * handler's function (runtime, timeout, environment, network), what it is created after, and the scoped
 * API keys (issue 19, items 2, 4 and 5).
 */

function syncStack(typesense: Partial<TypesenseSyncProps['typesense']> = {}) {
  const stack = new Stack(appWithoutBundling(), 'Index', { env: ENV });
  const sync = new TypesenseSync(stack, 'Sync', {
    typesense: {
      nodes: ['https://typesense.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'WriteKey', 'typesense/write-key'),
      collection: 'products',
      ...typesense,
    },
  });
  return { stack, sync, template: Template.fromStack(stack) };
}

const logicalId = (stack: Stack, construct: IConstruct) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

function resourceOf(template: Template) {
  const resources = Object.values(template.findResources('Custom::TypesenseIndex'));
  expect(resources).toHaveLength(1);
  return resources[0] as { Properties: Record<string, unknown>; DependsOn?: string[] };
}

describe('the index custom resource', () => {
  describe('with a schema and the defaults', () => {
    let built: ReturnType<typeof syncStack>;
    beforeAll(() => {
      built = syncStack({ schema: PRODUCTS_SCHEMA });
    });

    it('gives the operator target the deployed schema, for schema diff and init', () => {
      expect(built.sync.operatorTarget.typesense).toMatchObject({ schema: PRODUCTS_SCHEMA });
    });

    it('passes the alias, the schema as JSON and the default flags, as the handler parses them', () => {
      const { Properties } = resourceOf(built.template);
      const { ServiceToken, ...properties } = Properties;
      expect(properties).toEqual({
        Alias: 'products',
        Schema: JSON.stringify(PRODUCTS_SCHEMA),
        CheckNodes: 'true',
        OnDelete: 'retain',
      });
      expect(indexResourcePropertiesSchema.parse(Properties)).toMatchObject({
        Alias: 'products',
        CheckNodes: true,
        OnDelete: 'retain',
      });
      // The service token is the Provider framework's function, not the handler.
      const framework = built.sync.index.provider.node.findChild('framework-onEvent');
      expect(ServiceToken).toEqual({ 'Fn::GetAtt': [logicalId(built.stack, framework), 'Arn'] });
    });

    it('runs its handler on Node.js 22 with a timeout for starting a job, and the re-sync environment', () => {
      const handlerId = logicalId(built.stack, built.sync.index.handler);
      const resyncId = logicalId(built.stack, built.sync.resync);
      const functions = built.template.toJSON().Resources;
      const handler = functions[handlerId].Properties;
      expect(handler).toMatchObject({ Runtime: 'nodejs22.x', Timeout: 180, Architectures: ['arm64'] });
      const { POWERTOOLS_SERVICE_NAME: _handlerService, ...handlerEnv } = handler.Environment.Variables;
      const { POWERTOOLS_SERVICE_NAME: _resyncService, ...resyncEnv } =
        functions[resyncId].Properties.Environment.Variables;
      expect(handlerEnv).toEqual(resyncEnv);
      expect(JSON.parse(handlerEnv.COLLECTION_SCHEMA)).toEqual(PRODUCTS_SCHEMA);
      expect(handler.VpcConfig).toBeUndefined();
    });

    it('is created after the stores and the event sources the started load needs', () => {
      const mappings = Object.keys(built.template.findResources('AWS::Lambda::EventSourceMapping'));
      // The batcher's stream, the writer's changes queue and the re-sync's work queue.
      expect(mappings).toHaveLength(3);
      const dependsOn = resourceOf(built.template).DependsOn ?? [];
      expect(dependsOn).toEqual(
        expect.arrayContaining([
          ...mappings,
          logicalId(built.stack, built.sync.resyncStateTable),
          logicalId(built.stack, built.sync.resyncQueue),
        ]),
      );
    });

    it("exposes the handler's answer", () => {
      const resourceId = Object.keys(built.template.findResources('Custom::TypesenseIndex'))[0];
      expect(built.stack.resolve(built.sync.index.collection)).toEqual({
        'Fn::GetAtt': [resourceId, 'Collection'],
      });
      expect(built.stack.resolve(built.sync.index.action)).toEqual({ 'Fn::GetAtt': [resourceId, 'Action'] });
    });

    it("keeps the Provider framework's log group with the sync's retention", () => {
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'framework.onEvent',
        LoggingConfig: { LogGroup: Match.anyValue() },
      });
      built.template.resourceCountIs('AWS::Logs::LogGroup', 7);
    });
  });

  it('passes checkNodes: false and onDelete: drop', () => {
    const { template } = syncStack({ schema: PRODUCTS_SCHEMA, checkNodes: false, onDelete: 'drop' });
    expect(resourceOf(template).Properties).toMatchObject({ CheckNodes: 'false', OnDelete: 'drop' });
  });

  it('adopts the existing alias without a schema: no Schema property, no COLLECTION_SCHEMA', () => {
    const { stack, sync, template } = syncStack();
    expect(resourceOf(template).Properties.Schema).toBeUndefined();
    const handler = template.toJSON().Resources[logicalId(stack, sync.index.handler)].Properties;
    expect(handler.Environment.Variables.COLLECTION_SCHEMA).toBeUndefined();
  });

  it("puts the handler in the functions' VPC and subnets, and the Provider framework outside it", () => {
    const { stack, sync, vpc } = fullyFeaturedStack();
    const resources = Template.fromStack(stack).toJSON().Resources;
    const handler = resources[logicalId(stack, sync.index.handler)].Properties;
    const privateSubnets = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds;
    expect(handler.VpcConfig.SubnetIds).toEqual(stack.resolve(privateSubnets));
    const writer = resources[logicalId(stack, sync.writer)].Properties;
    expect(handler.VpcConfig.SubnetIds).toEqual(writer.VpcConfig.SubnetIds);
    const framework = sync.index.provider.node.findChild('framework-onEvent') as lambda.IFunction;
    expect(resources[logicalId(stack, framework)].Properties.VpcConfig).toBeUndefined();
  });
});

describe('the ready stack', () => {
  const readyStack = (schema: unknown) => {
    const app = appWithoutBundling();
    app.node.setContext('schema', schema);
    return new TypesenseSyncStack(app, 'Ready', { env: ENV });
  };

  it('takes the schema from the schema context, as JSON or as an object, and outputs the collection', () => {
    for (const schema of [JSON.stringify(PRODUCTS_SCHEMA), PRODUCTS_SCHEMA]) {
      const template = Template.fromStack(readyStack(schema));
      expect(resourceOf(template).Properties.Schema).toBe(JSON.stringify(PRODUCTS_SCHEMA));
      template.hasOutput('IndexCollection', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'Collection'] } });
    }
  });

  it('names a schema context that is not JSON', () => {
    expect(() => readyStack('{fields:')).toThrow(
      'TypesenseSyncStack: context schema is not valid JSON: {fields:',
    );
  });
});

describe('scoped API keys', () => {
  let built: ReturnType<typeof syncStack>;
  let adminSecret: secretsmanager.ISecret;
  beforeAll(() => {
    const stack = new Stack(appWithoutBundling(), 'Scoped', { env: ENV });
    adminSecret = secretsmanager.Secret.fromSecretNameV2(stack, 'AdminKey', 'typesense/admin-key');
    const sync = new TypesenseSync(stack, 'Sync', {
      typesense: {
        nodes: ['https://typesense.example.com:443'],
        apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'WriteKey', 'typesense/write-key'),
        adminApiKeySecret: adminSecret,
        collection: 'products',
        schema: PRODUCTS_SCHEMA,
      },
    });
    built = { stack, sync, template: Template.fromStack(stack) };
  });

  it('lets the writer and the lag check read the write key only, never the admin key', () => {
    expect(secretsReadBy(built, built.sync.writer)).toEqual(['typesense/write-key']);
    expect(secretsReadBy(built, built.sync.lagCheck)).toEqual(['typesense/write-key']);
  });

  it('lets the re-sync and the index handler read the admin key only', () => {
    expect(secretsReadBy(built, built.sync.resync)).toEqual(['typesense/admin-key']);
    expect(secretsReadBy(built, built.sync.index.handler)).toEqual(['typesense/admin-key']);
  });

  it('gives each function the ARN of the key it reads, and the operator CLI the admin key', () => {
    const secretArnOf = (fn: lambda.IFunction) =>
      JSON.stringify(
        built.template.toJSON().Resources[logicalId(built.stack, fn)].Properties.Environment.Variables
          .TYPESENSE_API_KEY_SECRET_ARN,
      );
    const arn = (name: string) => expect.stringContaining(`:secret:${name}`);
    expect(secretArnOf(built.sync.writer)).toEqual(arn('typesense/write-key'));
    expect(secretArnOf(built.sync.lagCheck)).toEqual(arn('typesense/write-key'));
    expect(secretArnOf(built.sync.resync)).toEqual(arn('typesense/admin-key'));
    expect(secretArnOf(built.sync.index.handler)).toEqual(arn('typesense/admin-key'));
    const target = built.sync.operatorTarget as { typesense: { apiKeySecretArn: string } };
    expect(target.typesense.apiKeySecretArn).toBe(adminSecret.secretArn);
  });

  it('uses the one apiKeySecret for every function without adminApiKeySecret', () => {
    const oneKey = syncStack({ schema: PRODUCTS_SCHEMA });
    const { writer, lagCheck, resync, index } = oneKey.sync;
    for (const fn of [writer, lagCheck, resync, index.handler]) {
      expect(secretsReadBy(oneKey, fn)).toEqual(['typesense/write-key']);
    }
  });
});

/** The secret names whose ARNs the policies of the function's role reference. */
function secretsReadBy(built: ReturnType<typeof syncStack>, fn: lambda.IFunction): string[] {
  const roleId = logicalId(built.stack, fn.role as IConstruct);
  const policies = Object.values(built.template.findResources('AWS::IAM::Policy')).filter((policy) =>
    JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`),
  );
  const text = JSON.stringify(policies);
  return ['typesense/write-key', 'typesense/admin-key'].filter((name) => text.includes(`secret:${name}-`));
}

describe('synth-time validation of the index props', () => {
  /** The props' problems, one `TypesenseSync: …` line each, from the pure validator (nothing is built). */
  function problemsOf(
    typesense: Partial<TypesenseSyncProps['typesense']>,
    rest: Partial<TypesenseSyncProps> = {},
  ) {
    const stack = new Stack(appWithoutBundling(), 'Validate', { env: ENV });
    try {
      validateTypesenseSyncProps({
        typesense: {
          nodes: ['https://typesense.example.com:443'],
          apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'typesense/key'),
          collection: 'products',
          ...typesense,
        },
        ...rest,
      });
      return [];
    } catch (error) {
      return (error as Error).message.split('\n');
    }
  }

  it('accepts a valid schema and the index flags', () => {
    expect(problemsOf({ schema: PRODUCTS_SCHEMA, checkNodes: false, onDelete: 'drop' })).toEqual([]);
  });

  it.each([
    ['an unknown type', { fields: [{ name: 'n', type: 'number' }] }, /fields\[0\] "n" has the type "number"/],
    [
      'an object field without nested fields',
      { fields: [{ name: 'details', type: 'object' }] },
      /fields\[0\] "details" has the type object, which needs enable_nested_fields: true/,
    ],
    [
      'an optional default sorting field',
      { fields: [{ name: 'rank', type: 'int32', optional: true }], default_sorting_field: 'rank' },
      /default_sorting_field "rank" cannot be optional/,
    ],
    [
      'a string default sorting field without sort',
      { fields: [{ name: 'title', type: 'string' }], default_sorting_field: 'title' },
      /default_sorting_field "title" must be a sortable field/,
    ],
    [
      'a duplicate field',
      {
        fields: [
          { name: 'a', type: 'string' },
          { name: 'a', type: 'int32' },
        ],
      },
      /fields lists "a" more than once/,
    ],
    ['a name', { name: 'products', fields: [{ name: 'a', type: 'string' }] }, /must not have a name/],
    ['no fields', { fields: [] }, /fields must list at least one field/],
  ])('names the field for %s', (_case, schema, message) => {
    const problems = problemsOf({ schema: schema as TypesenseSyncProps['typesense']['schema'] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^TypesenseSync: typesense\.schema /);
    expect(problems[0]).toMatch(message);
  });

  it('refuses typesense.schema together with the older collectionSchema', () => {
    expect(
      problemsOf(
        { schema: PRODUCTS_SCHEMA },
        { collectionSchema: { fields: [{ name: 'a', type: 'string' }] } },
      ),
    ).toEqual([
      'TypesenseSync: pass typesense.schema or collectionSchema, not both: typesense.schema is the schema of every collection',
    ]);
  });

  it('refuses an unknown onDelete and a key for a missing admin secret', () => {
    const stack = new Stack(appWithoutBundling(), 'Keys', { env: ENV });
    expect(
      problemsOf({
        onDelete: 'delete' as 'drop',
        adminApiKeySecretKey: new kms.Key(stack, 'AdminSecretKey'),
      }),
    ).toEqual([
      'TypesenseSync: typesense.onDelete must be one of retain, drop, got "delete"',
      'TypesenseSync: typesense.adminApiKeySecretKey needs typesense.adminApiKeySecret: it is the key of that secret',
    ]);
  });

  it('reports every schema problem with the other props at once, before building anything', () => {
    const problems = problemsOf(
      {
        schema: {
          fields: [
            { name: 'a', type: 'nope' },
            { name: '', type: 'string' },
          ],
        },
        nodes: ['not a url'],
      },
      { messageGroupBuckets: 0 },
    );
    expect(problems).toHaveLength(4);
  });
});
