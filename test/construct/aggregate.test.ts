import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { type AggregateConfig, aggregateSchema } from '../../functions/contract/aggregate.ts';
import type { SyncFunction } from '../../lib/sync-function.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { appWithoutBundling } from './stacks.ts';

/* `aggregate`: checked at synth; partition-level change keys for the batcher; Query for the readers. */

const ORDERS: AggregateConfig = { parent: { prefix: 'ORDER#' }, children: { lines: { prefix: 'LINE#' } } };
const COMPOSITE: TypesenseSyncProps['tableProps'] = {
  partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
};

function synth(props: Partial<TypesenseSyncProps>) {
  const stack = new Stack(appWithoutBundling(), 'Aggregated');
  const sync = new TypesenseSync(stack, 'Sync', {
    typesense: {
      nodes: ['https://a.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'typesense/key'),
      collection: 'orders',
    },
    ...props,
  });
  const template = Template.fromStack(stack);
  const variables = (fn: SyncFunction) =>
    template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnFunction)].Properties
      .Environment.Variables as Record<string, string>;
  /** The DynamoDB actions the function's role may take on the source table. */
  const tableActions = (fn: SyncFunction) => {
    const tableArn = JSON.stringify(stack.resolve(sync.table.tableArn));
    const roleId = stack.getLogicalId(fn.role?.node.defaultChild as CfnFunction);
    return Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(roleId))
      .flatMap(
        (policy) =>
          policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      )
      .filter((statement) =>
        [statement.Resource].flat().some((resource) => JSON.stringify(resource) === tableArn),
      )
      .flatMap((statement) => [statement.Action].flat())
      .sort();
  };
  return { sync, variables, tableActions };
}

const problemsOf = (props: Partial<TypesenseSyncProps>) => {
  try {
    synth(props);
  } catch (error) {
    return (error as Error).message.split('\n');
  }
  return [];
};

describe('TypesenseSync aggregate', () => {
  it('keys the batcher’s changes by the partition key and hands the aggregation to the writer, the re-sync and the target', () => {
    const { sync, variables } = synth({ tableProps: COMPOSITE, aggregate: ORDERS });
    expect(variables(sync.batcher).KEY_ATTRIBUTES).toBe('pk');
    for (const fn of [sync.writer, sync.resync]) {
      expect(variables(fn).KEY_ATTRIBUTES).toBe('pk,sk');
      expect(aggregateSchema.parse(JSON.parse(variables(fn).AGGREGATE as string))).toEqual(ORDERS);
    }
    // The lag check writes its canary under the table's whole key.
    expect(variables(sync.lagCheck).KEY_ATTRIBUTES).toBe('pk,sk');
    expect(sync.operatorTarget.aggregate).toEqual(ORDERS);
  });

  it('grants the writer and the re-sync Query on the table instead of BatchGetItem, only when aggregating', () => {
    const aggregated = synth({ tableProps: COMPOSITE, aggregate: ORDERS });
    expect(aggregated.tableActions(aggregated.sync.writer)).toEqual(['dynamodb:Query']);
    expect(aggregated.tableActions(aggregated.sync.resync)).toEqual([
      'dynamodb:DescribeTable',
      'dynamodb:Query',
      'dynamodb:Scan',
    ]);
    const plain = synth({ tableProps: COMPOSITE });
    expect(plain.tableActions(plain.sync.writer)).toEqual(['dynamodb:BatchGetItem']);
    expect(plain.variables(plain.sync.batcher).KEY_ATTRIBUTES).toBe('pk,sk');
    expect(plain.variables(plain.sync.writer).AGGREGATE).toBeUndefined();
  });

  it('rejects an aggregation at synth: without a sort key, or malformed, every problem named', () => {
    expect(problemsOf({ aggregate: ORDERS })).toEqual([
      'TypesenseSync: aggregate needs a table with a sort key: items are told apart by its prefixes',
    ]);
    expect(
      problemsOf({
        tableProps: COMPOSITE,
        aggregate: { ...ORDERS, children: { lines: { prefix: 'ORDER#LINE' } }, maxDocumentBytes: 10 },
      }),
    ).toEqual([
      'TypesenseSync: aggregate.parent and aggregate.children.lines overlap: an item could belong to both',
      'TypesenseSync: aggregate.maxDocumentBytes must be a whole number from 1024 to 10485760, got 10',
    ]);
  });
});
