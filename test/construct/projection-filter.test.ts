import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { type ItemFilter, projectionSchema } from '../../functions/contract/projection.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { appWithoutBundling } from './stacks.ts';

/* `projection.filter`: checked at synth, and handed to every function that projects items. */

const typesenseProps = (stack: Stack): TypesenseSyncProps['typesense'] => ({
  nodes: ['https://a.example.com:443'],
  apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'typesense/key'),
  collection: 'orders',
});

function synth(filter: unknown) {
  const stack = new Stack(appWithoutBundling(), 'Filtered');
  const sync = new TypesenseSync(stack, 'Sync', {
    typesense: typesenseProps(stack),
    projection: { exclude: ['secret'], filter: filter as ItemFilter },
  });
  return { stack, sync };
}

const problemsOf = (filter: unknown) => {
  try {
    synth(filter);
  } catch (error) {
    return (error as Error).message.split('\n');
  }
  return [];
};

describe('TypesenseSync projection.filter', () => {
  const filter: ItemFilter = {
    and: [
      { attribute: 'pk', beginsWith: 'ORDER#' },
      {
        or: [
          { attribute: 'status', in: ['open', 'paid'] },
          { attribute: 'total', gte: 100 },
        ],
      },
      { not: { attribute: 'deletedAt', exists: true } },
    ],
  };

  it("reaches the writer's and the re-sync's PROJECTION and the operator target, as the contract parses it", () => {
    const { stack, sync } = synth(filter);
    const template = Template.fromStack(stack).toJSON();
    for (const fn of [sync.writer, sync.resync]) {
      const id = stack.getLogicalId(fn.node.defaultChild as CfnFunction);
      const projection = template.Resources[id].Properties.Environment.Variables.PROJECTION as string;
      expect(projectionSchema.parse(JSON.parse(projection))).toEqual({ exclude: ['secret'], filter });
    }
    expect(sync.operatorTarget.projection).toEqual({ exclude: ['secret'], filter });
  });

  it('rejects a bad filter at synth, every bad node named by its path', () => {
    expect(
      problemsOf({
        and: [
          { attribute: '', equals: 'order' },
          { attribute: 'total', gte: '100' },
          { attribute: 'status', matches: 'op.*' },
          { nor: [] },
        ],
      }),
    ).toEqual([
      'TypesenseSync: projection.filter.and[0].attribute must be a non-empty attribute name',
      'TypesenseSync: projection.filter.and[1].gte must be a finite number, got "100"',
      'TypesenseSync: projection.filter.and[2] has unknown operator matches: use attribute with one of equals, in, beginsWith, exists, lt, lte, gt, gte, or one of and, or, not',
      'TypesenseSync: projection.filter.and[2] must have exactly one of equals, in, beginsWith, exists, lt, lte, gt, gte beside attribute',
      'TypesenseSync: projection.filter.and[3] must have attribute with one of equals, in, beginsWith, exists, lt, lte, gt, gte, or one of and, or, not; got nor',
    ]);
  });

  it('accepts a filter on an attribute no item may have: it simply matches nothing', () => {
    expect(problemsOf({ attribute: 'neverWritten', equals: 'x' })).toEqual([]);
  });
});
