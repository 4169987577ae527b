import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build } from 'esbuild';
import { median, num, type Section } from './report.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

/** The same esbuild settings `lib/sync-function.ts` gives NodejsFunction (which runs esbuild for `cdk synth`). */
const cdkSettings: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
  logLevel: 'silent',
};

/** What each handler needs to pass its configuration parse at import; values are placeholders. */
const baseEnv = {
  AWS_REGION: 'us-east-1',
  QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/items-changes.fifo',
  DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/items-dlq.fifo',
  KEY_ATTRIBUTES: 'pk',
  NODE_OPTIONS: '--enable-source-maps',
};
const functions: { name: string; entry: string; env: Record<string, string> }[] = [
  { name: 'batcher', entry: 'functions/batcher/handler.ts', env: { POWERTOOLS_SERVICE_NAME: 'batcher' } },
  {
    name: 'writer',
    entry: 'functions/writer/handler.ts',
    env: {
      POWERTOOLS_SERVICE_NAME: 'writer',
      TABLE_NAME: 'items',
      TYPESENSE_NODES: 'https://typesense.invalid:443',
      TYPESENSE_API_KEY: 'bench',
      TYPESENSE_COLLECTION: 'products',
    },
  },
];

/** Milliseconds to import the bundle in a fresh Node.js process: module load plus the handler's init code. */
async function initMs(file: string, env: Record<string, string>): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...baseEnv, ...env },
  });
  return Number(stdout);
}

export interface P5Options {
  runs: number;
}

/** P5: minified bundle size of each Lambda as the CDK builds it, and its cold init time. */
export async function runP5({ runs }: P5Options): Promise<Section> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'typesense-sync-bench-'));
  try {
    const results = [];
    for (const fn of functions) {
      const outfile = path.join(dir, fn.name, 'index.mjs');
      await build({ ...cdkSettings, entryPoints: [path.join(root, fn.entry)], outfile });
      // For scale: the same bundle when the runtime's own AWS SDK is used instead of a pinned one.
      const withoutSdk = await build({
        ...cdkSettings,
        entryPoints: [path.join(root, fn.entry)],
        external: ['@aws-sdk/*'],
        write: false,
        sourcemap: false,
      });
      const code = await readFile(outfile);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push(await initMs(outfile, fn.env));
      results.push({
        name: fn.name,
        bytes: code.length,
        gzipBytes: gzipSync(code, { level: 9 }).length,
        bytesWithoutSdk: withoutSdk.outputFiles?.[0]?.contents.length ?? 0,
        initMs: median(times),
        initRunsMs: times,
      });
    }
    return {
      id: 'P5',
      title: 'Bundle size and cold init',
      tables: [
        {
          columns: ['function', 'bundle KiB', 'gzip KiB', 'KiB without @aws-sdk', 'cold init ms (median)'],
          rows: results.map((result) => [
            result.name,
            num(result.bytes / 1024, 1),
            num(result.gzipBytes / 1024, 1),
            num(result.bytesWithoutSdk / 1024, 1),
            num(result.initMs, 1),
          ]),
        },
      ],
      notes: [
        'Bundled with esbuild with the settings `lib/sync-function.ts` configures NodejsFunction: minified ESM for node22, ' +
          'source map in a separate file (not counted), AWS SDK bundled (`bundleAwsSDK: true`, to pin the tested ' +
          'version). "Without @aws-sdk" marks it external instead, for scale only.',
        `Cold init: time to import the bundle (module load and the handler's init: configuration parse, clients, ` +
          `logger) in a fresh \`node\` process with placeholder configuration; median of ${runs} runs. This is local ` +
          `Node.js ${process.version} on this machine's CPU, not Lambda's Init Duration (which adds the runtime start ` +
          'and runs on a 512 MB arm64 share of a CPU).',
      ],
      data: { runs, results },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
