import { type App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { appWithoutBundling } from '../../infra/synth-app.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';

export { appWithoutBundling, CDK_JSON_CONTEXT } from '../../infra/synth-app.ts';

/** The stacks the infra tests share: the ready stack with its defaults, and a sync with every option on. */

export const ENV = { account: '123456789012', region: 'eu-west-1' };
export const STREAM_ARN =
  'arn:aws:dynamodb:eu-west-1:123456789012:table/source/stream/2025-01-01T00:00:00.000';
export const ATLAS_EVENT_SOURCE = 'aws.partner/mongodb.com/stitch.trigger/65f1c0d2a4b5c6d7e8f90123';

/** A collection schema using the common options: facets, a default sorting field, nested fields. */
export const PRODUCTS_SCHEMA = {
  fields: [
    { name: 'title', type: 'string' },
    { name: 'brand', type: 'string', facet: true },
    { name: 'price', type: 'float' },
    { name: 'details', type: 'object', optional: true },
  ],
  default_sorting_field: 'price',
  enable_nested_fields: true,
};

/** `TypesenseSyncStack` with no context at all: what `cdk synth` deploys by default. */
export function defaultStack(): TypesenseSyncStack {
  return new TypesenseSyncStack(appWithoutBundling(), 'Default', { env: ENV });
}

/** Where the LocalStack suite deploys the fully featured sync (infra/localstack/app.ts); tests use the defaults. */
export interface FullyFeaturedOptions {
  readonly app?: App;
  readonly stackName?: string;
  readonly env?: { account: string; region: string };
  readonly typesenseNodes?: string[];
  readonly apiKeySecretName?: string;
  /** For http:// nodes (LocalStack's compose network only). */
  readonly allowInsecureHttp?: boolean;
  /** The existing source table; by default an imported one with a fixed stream ARN. */
  readonly sourceTable?: (stack: Stack, key: kms.Key) => dynamodb.ITable;
}

/**
 * A sync with every optional feature on: a customer managed key, VPC placement, reserved and capped
 * concurrency, queue overrides, a re-sync schedule, an alarms topic, an existing (KMS-encrypted) table,
 * a custom log retention and a MongoDB Atlas source (so the table is keyed by `_id`; composite keys are
 * covered by typesense-sync.test.ts). Its own resources (key, VPC, topic) are compliant, so that cdk-nag
 * findings can only come from the construct.
 */
export function fullyFeaturedStack(options: FullyFeaturedOptions = {}): {
  stack: Stack;
  sync: TypesenseSync;
  key: kms.Key;
  vpc: ec2.Vpc;
  topic: sns.Topic;
} {
  const stack = new Stack(options.app ?? appWithoutBundling(), options.stackName ?? 'FullyFeatured', {
    env: options.env ?? ENV,
  });
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.ALL } },
  });
  const topic = new sns.Topic(stack, 'Alarms', { masterKey: key, enforceSSL: true });
  const table =
    options.sourceTable?.(stack, key) ??
    dynamodb.Table.fromTableAttributes(stack, 'Source', {
      tableName: 'source',
      tableStreamArn: STREAM_ARN,
      encryptionKey: key,
    });
  const sync = new TypesenseSync(stack, 'Sync', {
    existingTableObj: table,
    keyAttributes: ['_id'],
    typesense: {
      nodes: options.typesenseNodes ?? ['https://typesense.internal:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(
        stack,
        'ApiKey',
        options.apiKeySecretName ?? 'typesense/key',
      ),
      collection: 'products',
      schema: { fields: [{ name: '.*', type: 'auto' }] },
      ...(options.allowInsecureHttp === true && { allowInsecureHttp: true }),
    },
    encryptionKey: key,
    vpc: { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } },
    writer: { maxConcurrency: 8, reservedConcurrentExecutions: 10 },
    batcher: { reservedConcurrentExecutions: 4 },
    resync: { schedule: events.Schedule.rate(Duration.days(7)), reservedConcurrentExecutions: 8 },
    queueProps: { receiveMessageWaitTime: Duration.seconds(20) },
    deadLetterQueueProps: { retentionPeriod: Duration.days(7) },
    alarms: { topic },
    logRetention: logs.RetentionDays.THREE_MONTHS,
    projection: { exclude: ['internalNotes'] },
    mongoAtlas: { eventSourceName: ATLAS_EVENT_SOURCE, database: 'shop', collection: 'products' },
  });
  return { stack, sync, key, vpc, topic };
}

/** A minimal sync (a table it creates, one node) with the given props, in a stack of `stackId`; its template. */
export function minimalSyncTemplate(stackId: string, props: Partial<TypesenseSyncProps> = {}): Template {
  const stack = new Stack(appWithoutBundling(), stackId, { env: ENV });
  new TypesenseSync(stack, 'Sync', {
    tableProps: { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } },
    typesense: {
      nodes: ['https://a.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'typesense/key'),
      collection: 'products',
    },
    ...props,
  });
  return Template.fromStack(stack);
}

/** The two entity types of the single-table design the routed-indexes tests use: customers and their orders. */
export const ROUTED_INDEXES = [
  {
    collection: 'customers',
    schema: { fields: [{ name: 'name', type: 'string' }] },
    projection: { filter: { attribute: 'sk', equals: 'PROFILE' } },
  },
  {
    collection: 'orders',
    schema: { fields: [{ name: 'total', type: 'float' }] },
    projection: { filter: { attribute: 'sk', beginsWith: 'ORDER#' }, include: ['total', 'status'] },
  },
] as const satisfies TypesenseSyncProps['indexes'];

/**
 * A single-table design table (pk, sk) with two routed indexes, encrypted with a customer managed key (so
 * the key grants of every index's pipeline are exercised) and alarming to a topic.
 */
export function twoIndexStack(): { stack: Stack; sync: TypesenseSync } {
  const stack = new Stack(appWithoutBundling(), 'TwoIndexes', { env: ENV });
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const topic = new sns.Topic(stack, 'Alarms', { masterKey: key, enforceSSL: true });
  const sync = new TypesenseSync(stack, 'Sync', {
    tableProps: {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    },
    typesense: {
      nodes: ['https://typesense.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
    },
    indexes: ROUTED_INDEXES.map((index) => ({ ...index })),
    encryptionKey: key,
    alarms: { topic },
  });
  return { stack, sync };
}

/** The two document kinds of one MongoDB collection the Atlas routed-indexes tests use: products and reviews. */
export const ATLAS_ROUTED_INDEXES = [
  {
    collection: 'products',
    schema: { fields: [{ name: 'name', type: 'string' }] },
    projection: { filter: { attribute: 'kind', equals: 'product' } },
  },
  {
    collection: 'reviews',
    schema: { fields: [{ name: 'rating', type: 'int32' }] },
    projection: { filter: { attribute: 'kind', equals: 'review' }, exclude: ['_id'] },
  },
] as const satisfies TypesenseSyncProps['indexes'];

/**
 * A MongoDB Atlas source (the mirror table keyed by `_id`) with two routed indexes, encrypted with a customer
 * managed key, alarming to a topic.
 */
export function atlasIndexesStack(
  indexes: TypesenseSyncProps['indexes'] = ATLAS_ROUTED_INDEXES.map((index) => ({ ...index })),
): { stack: Stack; sync: TypesenseSync } {
  const stack = new Stack(appWithoutBundling(), 'AtlasIndexes', { env: ENV });
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const topic = new sns.Topic(stack, 'Alarms', { masterKey: key, enforceSSL: true });
  const sync = new TypesenseSync(stack, 'Sync', {
    typesense: {
      nodes: ['https://typesense.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense/key'),
    },
    mongoAtlas: { eventSourceName: ATLAS_EVENT_SOURCE, database: 'shop', collection: 'catalogue' },
    indexes,
    encryptionKey: key,
    alarms: { topic },
  });
  return { stack, sync };
}
