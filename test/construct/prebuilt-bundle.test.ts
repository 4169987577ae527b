import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { prebuiltBundleOf, SyncFunction } from '../../lib/sync-function.ts';

/** The packaged library's switch: a prebuilt `bundle/index.mjs` next to the entry replaces bundling. */
const BUNDLE = 'export const handler = async () => 1;\n';

describe('SyncFunction with a prebuilt bundle', () => {
  it('deploys the bundle directory as is, with handler index.handler, and never bundles', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prebuilt-'));
    await mkdir(join(dir, 'bundle'));
    await writeFile(join(dir, 'bundle', 'index.mjs'), BUNDLE);
    // The entry itself does not exist, as in the package (no sources): bundling it would fail.
    const entry = join(dir, 'handler.ts');
    expect(prebuiltBundleOf(entry)).toBe(join(dir, 'bundle'));
    const outdir = await mkdtemp(join(tmpdir(), 'prebuilt-out-'));
    const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'Prebuilt');
    new SyncFunction(stack, 'Fn', { entry, serviceName: 'prebuilt' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Environment: {
        Variables: { POWERTOOLS_SERVICE_NAME: 'prebuilt', NODE_OPTIONS: '--enable-source-maps' },
      },
    });
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
    const asset = fn?.Metadata?.['aws:asset:path'] as string;
    expect(asset).toMatch(/^asset\.[0-9a-f]{64}$/);
    expect(await readFile(join(outdir, asset, 'index.mjs'), 'utf8')).toBe(BUNDLE);
  });

  it('bundles from sources in this repository, where no bundle directory exists', () => {
    const entry = new URL('../../functions/batcher/handler.ts', import.meta.url).pathname;
    expect(prebuiltBundleOf(entry)).toBeUndefined();
  });
});
