import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { CollectionSchema } from '../functions/contract/collection-schema.ts';
import { TARGET_OUTPUT } from '../functions/contract/target.ts';
import { TypesenseSync } from './typesense-sync.ts';

/** Context keys and their defaults: the defaults let `cdk synth` run with no context at all. */
export const CONTEXT_DEFAULTS = {
  typesenseNodes: 'https://typesense.example.com:443',
  typesenseApiKeySecretName: 'typesense-sync/api-key',
  collection: 'products',
  keyAttributes: 'pk',
  /** `true` accepts http:// Typesense nodes (the API key then travels in clear text): local stacks only. */
  allowInsecureHttp: 'false',
} as const;

/** Accepts `a,b` (from `-c key=a,b`) or `["a","b"]` (from cdk.json). */
function contextList(stack: Stack, key: keyof typeof CONTEXT_DEFAULTS): string[] {
  const value: unknown = stack.node.tryGetContext(key) ?? CONTEXT_DEFAULTS[key];
  const items = Array.isArray(value) ? value.map(String) : String(value).split(',');
  return items.map((item) => item.trim()).filter((item) => item.length > 0);
}

function contextString(stack: Stack, key: keyof typeof CONTEXT_DEFAULTS): string {
  const value: unknown = stack.node.tryGetContext(key) ?? CONTEXT_DEFAULTS[key];
  return String(value);
}

/**
 * The `schema` context: the collection schema as JSON (`-c schema='{"fields":[…]}'`) or an object (cdk.json).
 * Unset: the stack adopts the existing alias as it is.
 */
function contextSchema(stack: Stack): CollectionSchema | undefined {
  const value: unknown = stack.node.tryGetContext('schema');
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') return value as CollectionSchema;
  try {
    return JSON.parse(value) as CollectionSchema;
  } catch {
    throw new Error(`TypesenseSyncStack: context schema is not valid JSON: ${value}`);
  }
}

/** A ready-to-deploy stack: a new table synced to the Typesense alias named by context. */
export class TypesenseSyncStack extends Stack {
  public readonly sync: TypesenseSync;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const keyAttributes = contextList(this, 'keyAttributes');
    const [partitionKeyName, sortKeyName] = keyAttributes;
    if (partitionKeyName === undefined) {
      throw new Error('TypesenseSyncStack: context keyAttributes must name the partition key');
    }
    const apiKeySecret = secretsmanager.Secret.fromSecretNameV2(
      this,
      'TypesenseApiKey',
      contextString(this, 'typesenseApiKeySecretName'),
    );

    this.sync = new TypesenseSync(this, 'Sync', {
      tableProps: {
        partitionKey: { name: partitionKeyName, type: dynamodb.AttributeType.STRING },
        ...(sortKeyName !== undefined && {
          sortKey: { name: sortKeyName, type: dynamodb.AttributeType.STRING },
        }),
      },
      keyAttributes,
      typesense: {
        nodes: contextList(this, 'typesenseNodes'),
        apiKeySecret,
        collection: contextString(this, 'collection'),
        allowInsecureHttp: contextString(this, 'allowInsecureHttp') === 'true',
        schema: contextSchema(this),
      },
    });

    new CfnOutput(this, 'TableName', { value: this.sync.table.tableName });
    new CfnOutput(this, 'ChangesQueueUrl', { value: this.sync.changesQueue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.sync.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'BatcherFunctionName', { value: this.sync.batcher.functionName });
    new CfnOutput(this, 'WriterFunctionName', { value: this.sync.writer.functionName });
    new CfnOutput(this, 'StreamFailureBucketName', { value: this.sync.failureBucket.bucketName });
    new CfnOutput(this, 'IngestionDelayUrl', {
      description: 'GET it, signed with SigV4, for the current ingestion delay (typesense-sync lag)',
      value: this.sync.ingestionDelayUrl,
    });
    new CfnOutput(this, 'IndexCollection', {
      description: 'The collection the alias serves, or will serve once the load this deploy started swaps',
      value: this.sync.index.collection,
    });
    new CfnOutput(this, TARGET_OUTPUT, {
      description: 'What the operator CLI reads with --stack (no secrets: the API key by secret ARN)',
      value: this.toJsonString(this.sync.operatorTarget),
    });
  }
}
