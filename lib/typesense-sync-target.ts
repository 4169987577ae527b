import { Stack } from 'aws-cdk-lib';
import type { TargetInput } from '../functions/contract/target.ts';
import type { IndexPipeline } from './index-pipeline.ts';
import type { TypesenseSync } from './typesense-sync.ts';
import type { TypesenseSyncProps } from './typesense-sync-props.ts';
import type { TypesenseSyncSettings } from './validate-props.ts';

/**
 * What the operator CLI needs to reach a deployed sync, in the contract's target shape
 * (functions/contract/target.ts): resource names, the Typesense connection by secret ARN (never the key)
 * and the settings that shape messages.
 */
export function operatorTargetOf(
  sync: TypesenseSync,
  props: TypesenseSyncProps,
  settings: TypesenseSyncSettings,
  keyAttributes: string[],
): TargetInput & Record<string, unknown> {
  const [first, ...further] = sync.indexes.map(({ pipeline }) => indexTargetOf(pipeline));
  if (first === undefined) throw new Error('TypesenseSync: no index');
  return {
    region: Stack.of(sync).region,
    tableName: sync.table.tableName,
    keyAttributes,
    queueUrl: first.queueUrl,
    dlqUrl: first.dlqUrl,
    failureBucket: sync.failureBucket.bucketName,
    messageGroupBuckets: settings.messageGroupBuckets,
    maxMessageBytes: settings.maxMessageBytes,
    ...(props.sourceTimestampAttribute !== undefined && {
      sourceTimestampAttribute: props.sourceTimestampAttribute,
    }),
    projection: first.projection,
    ...(first.transform !== undefined && { transform: first.transform }),
    ...(first.aggregate !== undefined && { aggregate: first.aggregate }),
    typesense: {
      nodes: props.typesense.nodes,
      collection: first.alias,
      // The CLI starts, cancels and rolls back re-syncs: it needs the key that may change collections and aliases.
      apiKeySecretArn: (props.typesense.adminApiKeySecret ?? props.typesense.apiKeySecret).secretArn,
      // What `schema diff` and `init` compare the live collection with: the schema this deploy converges to.
      ...(first.schema !== undefined && { schema: first.schema }),
    },
    resync: first.resync,
    ingestionDelayUrl: sync.ingestionDelayUrl,
    // Only with several indexes, so that a single-index target stays as it was.
    ...(further.length > 0 && {
      indexes: Object.fromEntries([first, ...further].map(({ alias, ...index }) => [alias, index])),
    }),
  };
}

/** What the operator CLI needs of one index: its queues, rules, schema and re-sync. */
function indexTargetOf(pipeline: IndexPipeline) {
  const { index } = pipeline;
  return {
    alias: index.collection,
    queueUrl: pipeline.changesQueue.queueUrl,
    dlqUrl: pipeline.deadLetterQueue.queueUrl,
    projection: index.projection ?? {},
    ...(index.aggregate !== undefined && { aggregate: index.aggregate }),
    // The path the app gave at synth: an operator runs the CLI where the app's sources are.
    ...(index.transform !== undefined && {
      transform: { module: index.transform.entry, exportName: index.transform.exportName ?? 'transform' },
    }),
    // What `schema diff` and `init` compare the live collection with: the schema this deploy converges to.
    ...(index.schema !== undefined && {
      schema: { ...index.schema, fields: index.schema.fields.map((field) => ({ ...field })) },
    }),
    resync: { stateTable: pipeline.resyncStateTable.tableName, queueUrl: pipeline.resyncQueue.queueUrl },
  };
}
