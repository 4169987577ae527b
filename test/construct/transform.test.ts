import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import { registeredTransform } from '../../functions/shared/transform-registry.ts';
import { TypesenseSync, type TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { appWithoutBundling, CDK_JSON_CONTEXT, ENV } from './stacks.ts';

/*
 * The app's transform module reaches the functions that build documents: bundled at synth into the
 * writer's and the re-sync's code (and no other function's), and registered before their handler is built.
 */

/** A string only the transform's code holds: minifying keeps string literals. */
const MARKER = 'transform-marker-5d41402a';
const TRANSFORM = `export const toDocument = (document) => ({ ...document, marker: '${MARKER}' });\n`;

function sync(stack: Stack, transform: TypesenseSyncProps['transform']) {
  return new TypesenseSync(stack, 'Sync', {
    tableProps: { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } },
    typesense: {
      nodes: ['https://a.example.com:443'],
      apiKeySecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'typesense-key'),
      collection: 'products',
      checkNodes: false,
    },
    transform,
  });
}

describe('TypesenseSync with a transform', () => {
  let outdir: string;
  let template: Template;
  let code: (logicalIdPrefix: string) => Promise<string>;
  let synced: TypesenseSync;
  let entry: string;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'transform-app-'));
    entry = join(dir, 'transform.mjs');
    await writeFile(entry, TRANSFORM);
    outdir = await mkdtemp(join(tmpdir(), 'transform-out-'));
    const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'Transformed', { env: ENV });
    synced = sync(stack, { entry, exportName: 'toDocument' });
    template = Template.fromStack(stack);
    code = async (id) => {
      const [fn] = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([logicalId]) =>
        logicalId.startsWith(id),
      );
      const asset = fn?.[1].Metadata?.['aws:asset:path'] as string;
      return readFile(join(outdir, asset, 'index.mjs'), 'utf8');
    };
  }, 240_000);

  it("bundles the transform's code into the writer and the re-sync, registered in the handler's slot", async () => {
    for (const id of ['SyncWriter', 'SyncResync']) {
      const bundle = await code(id);
      // includes(), not toContain(): a failure would print the whole bundle.
      expect(bundle.includes(MARKER)).toBe(true);
      expect(bundle.includes('typesense-sync.transform')).toBe(true);
    }
  });

  it('registers the transform when the bundled writer is loaded, before its handler is built', async () => {
    expect(registeredTransform()).toBeUndefined();
    const [fn] = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([logicalId]) =>
      logicalId.startsWith('SyncWriter'),
    );
    const asset = fn?.[1].Metadata?.['aws:asset:path'] as string;
    const loaded = (await import(pathToFileURL(join(outdir, asset, 'index.mjs')).href)) as {
      handler: unknown;
    };
    expect(typeof loaded.handler).toBe('function');
    expect(registeredTransform()?.({ id: 'a' }, { id: 'a', key: {}, item: {} })).toEqual({
      id: 'a',
      marker: MARKER,
    });
  });

  it('leaves it out of the functions that build no documents', async () => {
    expect((await code('SyncBatcher')).includes(MARKER)).toBe(false);
  });

  it('gives the operator target the module and its export, for verify and preview', () => {
    expect(synced.operatorTarget.transform).toEqual({ module: entry, exportName: 'toDocument' });
  });
});

describe('TypesenseSync transform validation', () => {
  it('refuses at synth a transform module that does not exist, and an export name that cannot be imported', () => {
    const stack = new Stack(appWithoutBundling(), 'Bad', { env: ENV });
    expect(() => sync(stack, { entry: '/nowhere/transform.ts', exportName: 'to-document' })).toThrow(
      /transform.entry \/nowhere\/transform.ts is not a file[\s\S]*transform.exportName must be an export's name/,
    );
  });

  it('refuses a relative path, which would depend on where synth runs', () => {
    const stack = new Stack(appWithoutBundling(), 'Relative', { env: ENV });
    expect(() => sync(stack, { entry: 'lib/transform.ts' })).toThrow(
      /transform.entry must be an absolute path/,
    );
  });
});
