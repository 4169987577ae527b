#!/usr/bin/env -S npx tsx
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { runP1 } from './p1-sqs.ts';
import { runP2 } from './p2-cpu.ts';
import { runP3 } from './p3-end-to-end.ts';
import { runP4 } from './p4-resync.ts';
import { runP5 } from './p5-bundle.ts';
import { type P1Figures, runP6 } from './p6-cost.ts';
import { runP7 } from './p7-overload.ts';
import { runP8 } from './p8-shaping.ts';
import { renderSection, type Section, writeResults } from './report.ts';

const BENCHMARKS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const benchmarkList = (value: string): Benchmark[] => {
  const names = value.split(',').map((name) => name.trim().toLowerCase());
  const unknown = names.filter((name) => !(BENCHMARKS as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new InvalidArgumentError(`unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS}`);
  return names as Benchmark[];
};

const program = new Command('npm run bench --')
  .description(
    'Measures the cost and speed claims side by side with a naive anchor (one message and one Typesense\n' +
      'request per change) and prints Markdown tables; writes them to --out and the raw figures to --json.',
  )
  .option('--only <list>', `comma-separated subset of ${BENCHMARKS.join(',')}`, benchmarkList, [
    ...BENCHMARKS,
  ])
  .option('--quick', 'smaller samples and shorter steps (about a minute)', false)
  .option('--seed <n>', 'random seed of the generated workloads', Number, 1)
  .option('--out <file>', 'Markdown report', 'bench/RESULTS.md')
  .option('--json <file>', 'raw figures', 'bench/results.json')
  .option(
    '--note <text>',
    'why the run was made as it was, printed in the report (e.g. a subset on a loaded machine)',
  );

program.parse();
const options = program.opts<{
  only: Benchmark[];
  quick: boolean;
  seed: number;
  out: string;
  json: string;
  note?: string;
}>();
const quick = options.quick;
const subset = options.only.length < BENCHMARKS.length;

const sections: Section[] = [];
/**
 * P6 prices P1's counts: this run's when it measured them, otherwise the ones in --json
 * from an earlier run, so `--only p6` recomputes the cost model without re-measuring.
 */
async function figuresOf<T>(id: string): Promise<T> {
  const fresh = sections.find((section) => section.id === id);
  if (fresh !== undefined) return fresh.data as T;
  const stored = JSON.parse(await readFile(options.json, 'utf8').catch(() => '{}')) as {
    sections?: { id: string; data: unknown }[];
  };
  const data = stored.sections?.find((section) => section.id === id)?.data;
  if (data === undefined)
    throw new Error(`P6 needs ${id}'s figures: run ${id.toLowerCase()} too, or keep them in ${options.json}`);
  return data as T;
}

// P3 runs last: it starts the embedded stack, which keeps DynamoDB Local busy on the CPU the other
// benchmarks time. P4 starts its own stack in a child process, stopped before P5 runs.
const runners: Record<Benchmark, () => Promise<Section>> = {
  p1: () => runP1({ changes: quick ? 100_000 : 1_000_000, seed: options.seed }),
  p2: () => runP2({ changes: quick ? 5_000 : 20_000, repetitions: quick ? 3 : 5, seed: options.seed }),
  p4: () => runP4({ items: quick ? 10_000 : 50_000, seed: options.seed }),
  p5: () => runP5({ runs: quick ? 3 : 7 }),
  p3: () =>
    runP3({
      rates: quick ? [200, 1_000] : [200, 500, 1_000, 2_000],
      seconds: quick ? 4 : 10,
      maxRateWrites: quick ? 3_000 : 10_000,
      seed: options.seed,
    }),
  p6: async () =>
    runP6({
      changes: quick ? 20_000 : 100_000,
      seed: options.seed,
      p1: await figuresOf<P1Figures>('P1'),
    }),
  p8: () => runP8({ changes: quick ? 5_000 : 20_000, repetitions: quick ? 3 : 9, seed: options.seed }),
  p7: () => runP7({ items: quick ? 3_000 : 6_000, writerConcurrency: quick ? [8] : [4, 8] }),
};

const startedAt = new Date();
// P6 after P1, whose figures it prices, and before P3 and P7, which start the embedded stack; P8
// (in-process, as P2) before them too.
for (const name of ['p1', 'p2', 'p8', 'p4', 'p5', 'p6', 'p3', 'p7'] as const) {
  if (!options.only.includes(name)) continue;
  console.error(`running ${name.toUpperCase()}…`);
  const section = await runners[name]();
  console.log(`\n${renderSection(section)}\n`);
  sections.push(section);
}
sections.sort((a, b) => a.id.localeCompare(b.id));
const args = process.argv.slice(2);
await writeResults(
  sections,
  {
    command: `npm run bench${args.length === 0 ? '' : ` -- ${args.join(' ')}`}`,
    startedAt,
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    quick,
    note: options.note,
  },
  options.out,
  options.json,
  // A subset run replaces its own sections and keeps the others' figures as they were.
  subset,
);
console.log(`wrote ${options.out} and ${options.json}`);
// The embedded stack's SDK clients can keep sockets open for a while after it stops.
process.exit(0);
