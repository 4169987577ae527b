#!/usr/bin/env -S npx tsx
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { runP3 } from './p3-end-to-end.ts';

/**
 * How the stream batching window changes the embedded stack's lag: P3's steps (200 and 1,000 writes/s,
 * then the source's maximum) once per window, each in a process of its own (the stack configures the
 * handlers through the environment, once per process). Writes the figures to --json, which P1 renders
 * with the date and command of the run.
 */

export const WINDOW_LAG_JSON = 'bench/window-lag.json';

export interface WindowLagStep {
  targetRate: number | undefined;
  sourceRate: number;
  endToEndRate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  changesPerMessage: number;
}

export interface WindowLagRun {
  command: string;
  startedAt: string;
  seconds: number;
  windows: { windowSeconds: number; steps: WindowLagStep[]; drift: number }[];
}

const program = new Command('npx tsx bench/window-lag.ts')
  .option(
    '--windows <list>',
    'batching windows to compare, seconds',
    (value) => value.split(',').map(Number),
    [0, 1, 2],
  )
  .option('--seconds <n>', 'seconds per rate step', Number, 10)
  .option('--max-writes <n>', 'writes of the unthrottled step', Number, 10_000)
  .option('--seed <n>', 'workload seed', Number, 1)
  .option('--json <file>', 'where the figures go', WINDOW_LAG_JSON)
  .option('--child <window>', 'internal: run one window and print its figures', Number);

program.parse();
const options = program.opts<{
  windows: number[];
  seconds: number;
  maxWrites: number;
  seed: number;
  json: string;
  child?: number;
}>();

if (options.child !== undefined) {
  const section = await runP3({
    rates: [200, 1_000],
    seconds: options.seconds,
    maxRateWrites: options.maxWrites,
    seed: options.seed,
    stack: { streamMaxBatchingWindowSeconds: options.child },
  });
  const data = section.data as { steps: WindowLagStep[]; verify: { drift: number } };
  console.log(JSON.stringify({ windowSeconds: options.child, steps: data.steps, drift: data.verify.drift }));
  process.exit(0);
}

const startedAt = new Date();
const windows: WindowLagRun['windows'] = [];
for (const window of options.windows) {
  console.error(`window ${window} s…`);
  const { stdout } = await promisify(execFile)(
    'npx',
    [
      'tsx',
      'bench/window-lag.ts',
      '--child',
      String(window),
      '--seconds',
      String(options.seconds),
      '--max-writes',
      String(options.maxWrites),
      '--seed',
      String(options.seed),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const line = stdout.trim().split('\n').at(-1) as string;
  windows.push(JSON.parse(line) as WindowLagRun['windows'][number]);
}
const run: WindowLagRun = {
  command: `npx tsx bench/window-lag.ts ${process.argv.slice(2).join(' ')}`.trim(),
  startedAt: startedAt.toISOString(),
  seconds: (Date.now() - startedAt.getTime()) / 1000,
  windows,
};
await writeFile(options.json, `${JSON.stringify(run, null, 2)}\n`);
console.log(JSON.stringify(run, null, 2));
