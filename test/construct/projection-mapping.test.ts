import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { projectionSchema } from '../../functions/contract/projection.ts';
import { TypesenseSync, type TypesenseSyncProjection } from '../../lib/index.ts';
import { appWithoutBundling } from './stacks.ts';

/* `projection.rename`, `nested` and `convert`: checked at synth, and handed to every function that projects items. */

function synth(projection: TypesenseSyncProjection) {
  const stack = new Stack(appWithoutBundling(), 'Mapped');
  const sync = new TypesenseSync(stack, 'Sync', {
    typesense: {
      nodes: ['https://a.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'typesense/key'),
      collection: 'orders',
    },
    projection,
  });
  return { stack, sync };
}

const problemsOf = (projection: unknown) => {
  try {
    synth(projection as TypesenseSyncProjection);
  } catch (error) {
    return (error as Error).message.split('\n');
  }
  return [];
};

describe('TypesenseSync projection mapping', () => {
  const projection: TypesenseSyncProjection = {
    exclude: ['secret'],
    rename: { created_at: 'createdAt', addr: 'address' },
    nested: 'flatten',
    convert: { createdAt: 'epochSeconds', 'address.zip': 'int64', tags: 'stringArray' },
  };

  it("reaches the writer's and the re-sync's PROJECTION and the operator target, as the contract parses it", () => {
    const { stack, sync } = synth(projection);
    const template = Template.fromStack(stack).toJSON();
    for (const fn of [sync.writer, sync.resync]) {
      const id = stack.getLogicalId(fn.node.defaultChild as CfnFunction);
      const variable = template.Resources[id].Properties.Environment.Variables.PROJECTION as string;
      expect(projectionSchema.parse(JSON.parse(variable))).toEqual(projection);
    }
    expect(sync.operatorTarget.projection).toEqual(projection);
  });

  it('rejects a bad mapping at synth, every problem named by its path', () => {
    expect(
      problemsOf({
        include: ['created_at', 'a', 'b', 'total'],
        rename: { created_at: 'id', a: 'total', b: 'total' },
        nested: 'objects',
        convert: { createdAt: 'date', created_at: 'epochSeconds' },
      }),
    ).toEqual([
      'TypesenseSync: projection.nested must be one of object, flatten, got "objects"',
      'TypesenseSync: projection.rename.created_at must not be id: that field is the key-derived document id',
      'TypesenseSync: projection.rename.a renames to total, an attribute projection.include keeps under that name',
      'TypesenseSync: projection.rename.b renames to total, as projection.rename.a does',
      'TypesenseSync: projection.rename.b renames to total, an attribute projection.include keeps under that name',
      'TypesenseSync: projection.convert.createdAt must be one of epochSeconds, epochMillis, int64, float, string, stringArray, got "date"',
      'TypesenseSync: projection.convert.createdAt converts a field no document has: it is not in projection.include',
      'TypesenseSync: projection.convert.created_at names an attribute renamed to id: convert applies after rename',
    ]);
  });

  it("rejects a rename to the table's key attribute, which every item keeps under its name, unless that one is renamed too", () => {
    expect(problemsOf({ rename: { sku: 'pk' } })).toEqual([
      'TypesenseSync: projection.rename.sku renames to pk, a key attribute every item keeps under that name',
    ]);
    expect(problemsOf({ rename: { sku: 'pk', pk: 'tenant' } })).toEqual([]);
  });

  it('rejects include/exclude that are not lists of names, and unknown keys, as the functions would', () => {
    expect(problemsOf({ include: 'title', exclude: [''], fields: ['x'] })).toEqual([
      'TypesenseSync: projection has unknown key fields: use include, exclude, filter, rename, nested, convert, id',
      'TypesenseSync: projection.include must be a list of attribute names',
      'TypesenseSync: projection.exclude[0] must be a non-empty attribute name',
    ]);
  });
});
