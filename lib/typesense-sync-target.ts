import { Stack } from 'aws-cdk-lib';
import type { TargetInput } from '../functions/contract/target.ts';
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
  return {
    region: Stack.of(sync).region,
    tableName: sync.table.tableName,
    keyAttributes,
    queueUrl: sync.changesQueue.queueUrl,
    dlqUrl: sync.deadLetterQueue.queueUrl,
    failureBucket: sync.failureBucket.bucketName,
    messageGroupBuckets: settings.messageGroupBuckets,
    maxMessageBytes: settings.maxMessageBytes,
    ...(props.sourceTimestampAttribute !== undefined && {
      sourceTimestampAttribute: props.sourceTimestampAttribute,
    }),
    projection: props.projection ?? {},
    ...(props.aggregate !== undefined && { aggregate: props.aggregate }),
    // The path the app gave at synth: an operator runs the CLI where the app's sources are.
    ...(props.transform !== undefined && {
      transform: { module: props.transform.entry, exportName: props.transform.exportName ?? 'transform' },
    }),
    typesense: {
      nodes: props.typesense.nodes,
      collection: props.typesense.collection,
      // The CLI starts, cancels and rolls back re-syncs: it needs the key that may change collections and aliases.
      apiKeySecretArn: (props.typesense.adminApiKeySecret ?? props.typesense.apiKeySecret).secretArn,
      // What `schema diff` and `init` compare the live collection with: the schema this deploy converges to.
      ...(props.typesense.schema !== undefined && {
        schema: {
          ...props.typesense.schema,
          fields: props.typesense.schema.fields.map((field) => ({ ...field })),
        },
      }),
    },
    resync: { stateTable: sync.resyncStateTable.tableName, queueUrl: sync.resyncQueue.queueUrl },
    ingestionDelayUrl: sync.ingestionDelayUrl,
  };
}
