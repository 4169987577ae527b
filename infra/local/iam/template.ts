import { Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import type { AggregateConfig } from '../../../functions/contract/aggregate.ts';
import type { SyncFunctionKind } from '../../../lib/sync-function.ts';
import { TypesenseSync } from '../../../lib/typesense-sync.ts';
import type { TypesenseSyncProjection } from '../../../lib/typesense-sync-props.ts';
import { appWithoutBundling } from '../../synth-app.ts';
import { ACCOUNT, REGION } from './requests.ts';

/**
 * The `TypesenseSync` template the embedded stack runs as, synthesised without bundling (the IAM
 * policies do not depend on the code), with the logical ids of the resources the local stack
 * stands in for. One synthesis per distinct options in a process.
 */

/** The construct's functions whose roles the embedded stack enforces. */
export type SyncFunctionName = SyncFunctionKind;

/** The construct's resources that the local stack creates under its own names. */
export type SyncResourceName =
  | 'table'
  | 'stateTable'
  | 'changesQueue'
  | 'deadLetterQueue'
  | 'resyncQueue'
  | 'resyncDeadLetterQueue'
  | 'failureBucket'
  | 'versionsTable'
  | 'ingestQueue'
  | 'ingestDeadLetterQueue';

export interface SyncTemplateOptions {
  keyAttributes: readonly string[];
  atlas: boolean;
  alias: string;
  sourceTimestampAttribute?: string | undefined;
  projection?: TypesenseSyncProjection | undefined;
  aggregate?: AggregateConfig | undefined;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface SyncTemplate {
  resources: Readonly<Record<string, CfnResource>>;
  /** Logical id of each function. */
  functions: Partial<Record<SyncFunctionName, string>>;
  /** Logical id of each resource the local stack stands in for. */
  logicalIds: Partial<Record<SyncResourceName, string>>;
}

/** The event source the Atlas tests use: any partner source name of the right shape. */
const ATLAS_EVENT_SOURCE = 'aws.partner/mongodb.com/stitch.trigger/000000000000000000000000';

const cache = new Map<string, SyncTemplate>();

/** Synthesises (once per options) the construct as the embedded stack's options configure it. */
export function syncTemplate(options: SyncTemplateOptions): SyncTemplate {
  const cacheKey = JSON.stringify(options);
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const template = synthesise(options);
  cache.set(cacheKey, template);
  return template;
}

function synthesise(options: SyncTemplateOptions): SyncTemplate {
  // No bundling: the policies are the same, and esbuild would cost seconds per synthesis.
  const app = appWithoutBundling();
  const stack = new Stack(app, 'Local', { env: { account: ACCOUNT, region: REGION } });
  const [partitionKey, sortKey] = options.keyAttributes;
  if (partitionKey === undefined) throw new Error('syncTemplate: keyAttributes must name the partition key');
  const sync = new TypesenseSync(stack, 'Sync', {
    tableProps: {
      partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
      ...(sortKey === undefined ? {} : { sortKey: { name: sortKey, type: dynamodb.AttributeType.STRING } }),
    },
    keyAttributes: [...options.keyAttributes],
    typesense: {
      nodes: ['http://127.0.0.1:8108'],
      allowInsecureHttp: true,
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'ApiKey', 'typesense-sync/api-key'),
      collection: options.alias,
    },
    ...(options.sourceTimestampAttribute === undefined
      ? {}
      : { sourceTimestampAttribute: options.sourceTimestampAttribute }),
    ...(options.projection === undefined ? {} : { projection: options.projection }),
    ...(options.aggregate === undefined ? {} : { aggregate: options.aggregate }),
    ...(options.atlas ? { mongoAtlas: { eventSourceName: ATLAS_EVENT_SOURCE } } : {}),
  });
  const resources = (
    app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, CfnResource> }
  ).Resources;
  const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as never);
  const atlas = sync.atlasSource;
  const functions: SyncTemplate['functions'] = {
    batcher: logicalId(sync.batcher),
    writer: logicalId(sync.writer),
    resync: logicalId(sync.resync),
    lagCheck: logicalId(sync.lagCheck),
    ingestionDelay: logicalId(sync.ingestionDelay),
    // The index custom resource's handler: the local stack invokes it as CloudFormation would.
    indexResource: logicalId(sync.index.handler),
    ...(atlas === undefined ? {} : { atlasIngest: logicalId(atlas.ingest) }),
  };
  const logicalIds: SyncTemplate['logicalIds'] = {
    table: logicalId(sync.table),
    stateTable: logicalId(sync.resyncStateTable),
    changesQueue: logicalId(sync.changesQueue),
    deadLetterQueue: logicalId(sync.deadLetterQueue),
    resyncQueue: logicalId(sync.resyncQueue),
    resyncDeadLetterQueue: logicalId(sync.resyncDeadLetterQueue),
    failureBucket: logicalId(sync.failureBucket),
    ...(atlas === undefined
      ? {}
      : {
          versionsTable: logicalId(atlas.versionsTable),
          ingestQueue: logicalId(atlas.ingestQueue),
          ingestDeadLetterQueue: logicalId(atlas.ingestDeadLetterQueue),
        }),
  };
  return { resources, functions, logicalIds };
}
