import { execFile } from 'node:child_process';
import {
  chmod,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as a CDK user gets it: `npm pack` (prepack builds dist/), the tarball installed into
 * examples/app/ (laid out as `cdk init app --language typescript` makes an app: CommonJS, module
 * NodeNext, `npx ts-node --prefer-ts-exts bin/app.ts`), and `cdk synth` offline with a `docker` on PATH
 * that only records being called. Installing links the package's declared dependencies from this
 * repo's node_modules (no registry), so an undeclared runtime import fails here as it would there.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODULES = join(ROOT, 'node_modules');
const run = promisify(execFile);

let work: string;
let app: string;
let installed: string;
let path: string;
let dockerCalls: string;

/** `node_modules/<name>` in `dir` → `target`, scoped names included. */
async function link(dir: string, name: string, target: string): Promise<void> {
  const at = join(dir, 'node_modules', name);
  await mkdir(dirname(at), { recursive: true });
  await symlink(target, at);
}

/** A PATH with node, npm, npx and sh (npx runs the app through it), and a `docker` that records its calls and fails. */
async function bareBin(): Promise<string> {
  const bin = join(work, 'bin');
  await mkdir(bin);
  for (const tool of ['node', 'npm', 'npx', 'sh']) {
    const { stdout } = await run('sh', ['-c', `command -v ${tool}`]);
    await symlink(await realpath(stdout.trim()), join(bin, tool));
  }
  await writeFile(join(bin, 'docker'), `#!/bin/sh\necho "docker $*" >> '${dockerCalls}'\nexit 1\n`);
  await chmod(join(bin, 'docker'), 0o755);
  return bin;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'typesense-sync-pack-'));
  dockerCalls = join(work, 'docker-calls.log');
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ filename: string }];
  app = join(work, 'app');
  await cp(join(ROOT, 'examples', 'app'), app, { recursive: true });
  await mkdir(join(app, 'node_modules'));
  await run('tar', ['xzf', join(work, packed.filename), '-C', join(app, 'node_modules')]);
  installed = join(app, 'node_modules', 'typesense-sync');
  await cp(join(app, 'node_modules', 'package'), installed, { recursive: true });
  await rm(join(app, 'node_modules', 'package'), { recursive: true });

  const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const name of Object.keys(manifest.dependencies)) await link(app, name, join(MODULES, name));
  // The app's own devDependencies: the CLI, ts-node and TypeScript (this repo's versions).
  for (const name of ['aws-cdk', 'ts-node', 'typescript', '@types/node'])
    await link(app, name, join(MODULES, name));
  const bins = {
    cdk: 'aws-cdk/bin/cdk',
    'ts-node': 'ts-node/dist/bin.js',
    'typesense-sync': 'typesense-sync/dist/bin/cli.js',
  };
  for (const [name, target] of Object.entries(bins)) await link(app, `.bin/${name}`, join('..', target));
  path = await bareBin();
}, 240_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const env = () => ({ PATH: path, HOME: work, CDK_DISABLE_CLI_TELEMETRY: 'true', CI: 'true' });

describe('npm pack', () => {
  it('ships compiled JavaScript, declarations, prebuilt function bundles and a plain-node CLI, no sources', async () => {
    const files = (await readdir(installed, { recursive: true })).map(String);
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    for (const file of [
      'dist/lib/index.js',
      'dist/lib/index.cjs',
      'dist/types/lib/index.d.ts',
      'dist/bin/cli.js',
    ])
      expect(files).toContain(file);
    const bundles = files.filter((file) => /^dist\/functions\/[^/]+\/bundle\/index\.mjs$/.test(file)).sort();
    expect(bundles.map((file) => file.split('/')[2])).toEqual([
      'atlas-ingest',
      'batcher',
      'index-resource',
      'ingestion-delay',
      'lag-check',
      'resync',
      'writer',
    ]);
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
    expect(manifest.dependencies.esbuild).toBeUndefined();
    expect(manifest.bin).toEqual({ 'typesense-sync': 'dist/bin/cli.js' });
  });

  it('resolves, for TypeScript in a CommonJS app, to the CommonJS declarations (what TypeScript < 5.8 needs)', () => {
    // An ESM-only package cannot be imported from CommonJS by the TypeScript cdk init pins (~5.6,
    // TS1479): the `require` condition's declarations sit under a `"type": "commonjs"` package.json.
    // (The synth below type-checks the whole app with ts-node.)
    const options = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
    const from = join(app, 'lib', 'search-stack.ts');
    const resolve = (mode: ts.ResolutionMode) =>
      ts.resolveModuleName('typesense-sync', from, options, ts.sys, undefined, undefined, mode)
        .resolvedModule;
    expect(resolve(ts.ModuleKind.CommonJS)?.resolvedFileName).toBe(
      join(installed, 'dist', 'types-cjs', 'lib', 'index.d.ts'),
    );
    expect(ts.getImpliedNodeFormatForFile(from, undefined, ts.sys, options)).toBe(ts.ModuleKind.CommonJS);
    expect(resolve(ts.ModuleKind.ESNext)?.resolvedFileName).toBe(
      join(installed, 'dist', 'types', 'lib', 'index.d.ts'),
    );
  });

  it('loads as ESM too, and its CLI runs with plain node', async () => {
    const esm = await run(
      'node',
      [
        '--input-type=module',
        '-e',
        "const m = await import('typesense-sync'); console.log(typeof m.TypesenseSync)",
      ],
      { cwd: app, env: env() },
    );
    expect(esm.stdout.trim()).toBe('function');
    const cli = await run(join(app, 'node_modules', '.bin', 'typesense-sync'), ['--help'], {
      cwd: app,
      env: env(),
    });
    expect(cli.stdout).toContain('Usage: typesense-sync');
  }, 60_000);

  it('synthesizes examples/app with `cdk synth` offline, never calling Docker, from the prebuilt bundles', async () => {
    await run(join(app, 'node_modules', '.bin', 'cdk'), ['synth', '--no-notices', '--quiet'], {
      cwd: app,
      env: env(),
      maxBuffer: 64 * 1024 * 1024,
    });
    await expect(readFile(dockerCalls, 'utf8')).rejects.toThrow(/ENOENT/);
    const template = JSON.parse(
      await readFile(join(app, 'cdk.out', 'SearchStack.template.json'), 'utf8'),
    ) as {
      Resources: Record<
        string,
        { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, string> }
      >;
      Outputs: Record<string, unknown>;
    };
    expect(Object.keys(template.Outputs)).toEqual(
      expect.arrayContaining(['TableName', 'DeadLetterQueueUrl', 'IngestionDelayUrl']),
    );
    // The sync's functions; not the index custom resource's Provider framework function, which aws-cdk-lib builds.
    const functions = Object.values(template.Resources).filter(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' &&
        resource.Properties.Runtime === 'nodejs22.x' &&
        resource.Properties.Handler !== 'framework.onEvent',
    );
    expect(functions.length).toBeGreaterThanOrEqual(5);
    const prebuilt = new Set<string>();
    for (const name of await readdir(join(installed, 'dist', 'functions')))
      prebuilt.add(await readFile(join(installed, 'dist', 'functions', name, 'bundle', 'index.mjs'), 'utf8'));
    for (const fn of functions) {
      expect(fn.Properties.Handler).toBe('index.handler');
      const asset = fn.Metadata?.['aws:asset:path'];
      expect(asset).toMatch(/^asset\./);
      const code = await readFile(join(app, 'cdk.out', asset as string, 'index.mjs'), 'utf8');
      expect(prebuilt.has(code)).toBe(true);
    }
  }, 180_000);
});
