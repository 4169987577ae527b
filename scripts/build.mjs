#!/usr/bin/env node
/**
 * `npm run build` (and `prepack`): the installable package in dist/, so that a CDK app can use it with
 * plain Node, no TypeScript loader, no esbuild and no Docker:
 *
 * - dist/lib/index.js + index.cjs, read-your-writes.js + .cjs: the library bundled by esbuild as ESM and
 *   as CommonJS (a `cdk init app --language typescript` app is CommonJS, type-checked by TypeScript 5.6,
 *   which cannot `require` an ESM-only package); dependencies stay external.
 * - dist/types/ (ESM) and dist/types-cjs/ (the same declarations under a `"type": "commonjs"` marker):
 *   declarations by tsc (tsconfig.build.json), relative `.ts` specifiers rewritten to `.js`.
 * - dist/functions/<name>/bundle/index.mjs: every Lambda handler prebuilt with SyncFunction's bundling
 *   options; SyncFunction uses these instead of bundling (lib/sync-function.ts, prebuiltBundleOf).
 * - dist/bin/cli.js: the `typesense-sync` operator CLI for plain `node`.
 *
 * Both library bundles sit in dist/lib/, so `new URL('../functions/<name>/handler.ts', import.meta.url)`
 * in the construct points into dist/functions/<name>/ from either of them.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'dist');
const FUNCTIONS = [
  'batcher',
  'writer',
  'resync',
  'lag-check',
  'ingestion-delay',
  'atlas-ingest',
  'index-resource',
];
const LIBRARY_ENTRIES = ['index', 'read-your-writes'];

/** The library: dependencies external; CommonJS gets import.meta.url from its own file name. */
async function buildLibrary() {
  const common = {
    entryPoints: LIBRARY_ENTRIES.map((name) => join(ROOT, 'lib', `${name}.ts`)),
    bundle: true,
    packages: 'external',
    platform: 'node',
    target: 'node20',
    outdir: join(DIST, 'lib'),
    sourcemap: true,
    logLevel: 'warning',
  };
  await build({ ...common, format: 'esm', outExtension: { '.js': '.js' } });
  await build({
    ...common,
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    define: { 'import.meta.url': '__typesenseSyncModuleUrl' },
    banner: { js: "const __typesenseSyncModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
}

/** The handlers, with the options SyncFunction gives NodejsFunction (keep the two in step). */
async function buildFunctions() {
  await Promise.all(
    FUNCTIONS.map((name) =>
      build({
        entryPoints: [join(ROOT, 'functions', name, 'handler.ts')],
        outfile: join(DIST, 'functions', name, 'bundle', 'index.mjs'),
        bundle: true,
        minify: true,
        sourcemap: true,
        sourcesContent: false,
        format: 'esm',
        platform: 'node',
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: {
          js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        },
        logLevel: 'warning',
      }),
    ),
  );
}

/** The operator CLI: its source's shebang runs tsx; the built one runs plain node. */
async function buildCli() {
  const result = await build({
    entryPoints: [join(ROOT, 'bin', 'cli.ts')],
    bundle: true,
    packages: 'external',
    platform: 'node',
    target: 'node20',
    format: 'esm',
    write: false,
    logLevel: 'warning',
  });
  const code = (result.outputFiles[0]?.text ?? '').replace(/^#!.*\n/, '');
  await mkdir(join(DIST, 'bin'), { recursive: true });
  await writeFile(join(DIST, 'bin', 'cli.js'), `#!/usr/bin/env node\n${code}`, { mode: 0o755 });
}

/** Every file below `dir`, recursively. */
async function filesUnder(dir) {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/** Declarations by tsc, then the CommonJS copy that TypeScript reads for `require`. */
async function buildDeclarations() {
  try {
    await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsc'), [
      '-p',
      join(ROOT, 'tsconfig.build.json'),
    ]);
  } catch (error) {
    // tsc reports type errors on stdout.
    throw new Error(`tsc -p tsconfig.build.json failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
  for (const file of await filesUnder(join(DIST, 'types'))) {
    const text = await readFile(file, 'utf8');
    // tsc keeps the sources' `.ts` specifiers in declarations; TypeScript before 5.7 rejects them there.
    await writeFile(file, text.replace(/(from\s+'\.{1,2}\/[^']+)\.ts'/g, "$1.js'"));
  }
  await cp(join(DIST, 'types'), join(DIST, 'types-cjs'), { recursive: true });
  await writeFile(join(DIST, 'types-cjs', 'package.json'), '{ "type": "commonjs" }\n');
}

await rm(DIST, { recursive: true, force: true });
// tsc is the slow part: it runs while esbuild bundles.
await Promise.all([buildLibrary(), buildFunctions(), buildCli(), buildDeclarations()]);
console.log(
  `built ${DIST}: library (ESM + CommonJS), declarations, ${FUNCTIONS.length} function bundles, CLI`,
);
