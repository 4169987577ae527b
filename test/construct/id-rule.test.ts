import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { projectionSchema } from '../../functions/contract/projection.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/index.ts';
import { appWithoutBundling, ENV } from './stacks.ts';

/* `projection.id` (the document id rule): checked at synth per index, and handed to every function that names documents. */

const CUSTOMERS = {
  collection: 'customers',
  projection: {
    filter: { attribute: 'sk', equals: 'PROFILE' },
    id: { attributes: ['pk'], stripPrefix: { pk: 'CUSTOMER#' } },
  },
} satisfies NonNullable<TypesenseSyncProps['indexes']>[number];

function synth(indexes: TypesenseSyncProps['indexes']) {
  const stack = new Stack(appWithoutBundling(), 'IdRule', { env: ENV });
  const sync = new TypesenseSync(stack, 'Sync', {
    tableProps: {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    },
    typesense: {
      nodes: ['https://a.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'typesense/key'),
    },
    indexes,
  });
  return { stack, sync };
}

const problemsOf = (indexes: TypesenseSyncProps['indexes']) => {
  try {
    synth(indexes);
  } catch (error) {
    return (error as Error).message.split('\n');
  }
  return [];
};

describe('TypesenseSync projection.id', () => {
  it("reaches the writer's and the re-sync's PROJECTION and the operator target, as the contract parses it", () => {
    const { stack, sync } = synth([CUSTOMERS]);
    const template = Template.fromStack(stack).toJSON();
    for (const fn of [sync.writer, sync.resync]) {
      const id = stack.getLogicalId(fn.node.defaultChild as CfnFunction);
      const variable = template.Resources[id].Properties.Environment.Variables.PROJECTION as string;
      expect(projectionSchema.parse(JSON.parse(variable))).toEqual(CUSTOMERS.projection);
    }
    expect(sync.operatorTarget.projection).toEqual(CUSTOMERS.projection);
  });

  it('rejects at synth a rule naming no key attribute, stripping an unused one, or leaving out an unpinned one, at its index', () => {
    expect(
      problemsOf([
        { collection: 'orders' },
        {
          collection: 'customers',
          projection: { id: { attributes: ['customerId'], stripPrefix: { sk: 'P', pk: '' } } },
        },
      ]),
    ).toEqual([
      'TypesenseSync: indexes[1] (customers).projection.id.attributes[0] names customerId, which is not a key attribute (pk, sk)',
      'TypesenseSync: indexes[1] (customers).projection.id.stripPrefix.sk strips a prefix of sk, which the id does not use (customerId)',
      'TypesenseSync: indexes[1] (customers).projection.id.stripPrefix.pk must be a non-empty prefix',
      'TypesenseSync: indexes[1] (customers).projection.id.stripPrefix.pk strips a prefix of pk, which the id does not use (customerId)',
      "TypesenseSync: indexes[1] (customers).projection.id.attributes leaves out the key attribute pk: indexes[1] (customers).projection.filter must pin it ({ attribute: 'pk', equals: … } at its top level or in a top-level and), or items differing only in pk would share one id",
      "TypesenseSync: indexes[1] (customers).projection.id.attributes leaves out the key attribute sk: indexes[1] (customers).projection.filter must pin it ({ attribute: 'sk', equals: … } at its top level or in a top-level and), or items differing only in sk would share one id",
    ]);
  });

  it('rejects the sort key in the id of an aggregated index, whose documents are partitions', () => {
    expect(
      problemsOf([
        {
          collection: 'orders',
          aggregate: { parent: { prefix: 'ORDER' }, children: { lines: { prefix: 'LINE#' } } },
          projection: { id: { attributes: ['pk', 'sk'], stripPrefix: { pk: 'ORDER#' } } },
        },
      ]),
    ).toEqual([
      'TypesenseSync: indexes[0] (orders).projection.id.attributes[1] names the sort key sk: an aggregated index holds one document per partition, its id may use the partition key pk only',
    ]);
    expect(
      problemsOf([
        {
          collection: 'orders',
          aggregate: { parent: { prefix: 'ORDER' }, children: { lines: { prefix: 'LINE#' } } },
          projection: { id: { stripPrefix: { pk: 'ORDER#' } } },
        },
      ]),
    ).toEqual([]);
  });
});
