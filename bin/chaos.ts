#!/usr/bin/env -S npx tsx
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_FAULT_RATES, formatChaosReport, formatPhases, runChaos } from '../infra/local/chaos.ts';
import { formatThroughput, runThroughput } from '../infra/local/chaos-throughput.ts';

const count = (name: string, min: number) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min)
    throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
  return parsed;
};

const options = new Command('npm run chaos --')
  .description('Runs the chaos convergence scenario on the embedded stack and prints its figures.')
  .option('--ops <n>', 'operations after the initial inserts', count('--ops', 1), 1_500)
  .option('--keys <n>', 'distinct keys (small = hot keys)', count('--keys', 1), 40)
  .option('--seed <n>', 'seed of the workload and of every injected fault', count('--seed', 0), 1)
  .option('--poison <n>', 'items the schema rejects', count('--poison', 0), 3)
  .option('--outage-ms <ms>', 'a Typesense outage in the middle of the run', count('--outage-ms', 0), 3_000)
  .option('--rate <n>', 'source writes per second', count('--rate', 1), 150)
  .option(
    '--fault-scale <x>',
    'multiply every default fault rate (0: a fault-free reference run)',
    (value: string) => {
      const parsed = Number(value);
      if (!Number.isFinite(parsed) || parsed < 0 || parsed > 5)
        throw new InvalidArgumentError('--fault-scale must be a number from 0 to 5');
      return parsed;
    },
    1,
  )
  .option(
    '--writers <n>',
    'concurrent writer pollers (default: one per message group, as Lambda scales a FIFO source)',
    count('--writers', 1),
  )
  .option(
    '--groups <n>',
    "FIFO message groups (default: the message shape's, 16, or 4 with --default-messages)",
    count('--groups', 1),
  )
  .option(
    '--visibility-timeout <s>',
    "the changes queue's visibility timeout, how long a crash holds its message groups (default: 6 × the Typesense timeout, 6 s)",
    count('--visibility-timeout', 1),
  )
  .option(
    '--lease <s>',
    "the writer's visibility lease, how long a crash holds its message groups (default: as deployed, a sixth of the visibility timeout; 0: none)",
    count('--lease', 0),
  )
  .option(
    '--default-messages',
    "the construct's message shape (1 s batching window, 4 groups), not many small messages",
  )
  .option(
    '--throughput',
    "instead: the writer's sustained rate on a backlog without faults, with the faults, and without again",
  )
  .addHelpText(
    'after',
    '\nExamples:\n  npm run chaos\n  npm run chaos -- --ops 50000 --keys 5000 --seed 7\n' +
      '  npm run chaos -- --throughput --ops 3000 --keys 1000 --seed 7',
  )
  .parse()
  .opts<{
    ops: number;
    keys: number;
    seed: number;
    poison: number;
    outageMs: number;
    rate: number;
    faultScale: number;
    writers?: number;
    groups?: number;
    visibilityTimeout?: number;
    lease?: number;
    defaultMessages?: boolean;
    throughput?: boolean;
  }>();

const { faultScale, throughput, writers, groups, visibilityTimeout, lease, defaultMessages, ...run } =
  options;
const messages = defaultMessages === true ? 'default' : 'small';
const faultRates = Object.fromEntries(
  Object.entries(DEFAULT_FAULT_RATES).map(([kind, rate]) => [kind, rate * faultScale]),
) as typeof DEFAULT_FAULT_RATES;
const onStatus = (line: string) => process.stderr.write(`\r\x1b[2K${line}`);
if (throughput === true) {
  const { seed, keys, ops } = run;
  const report = await runThroughput({
    ...{ seed, keys, ops, faultRates, messages, onStatus },
    writerConcurrency: writers,
    messageGroups: groups,
    visibilityTimeoutSeconds: visibilityTimeout,
    visibilityLeaseSeconds: lease,
  });
  process.stderr.write('\n');
  console.log(formatThroughput(report));
  const { lost, stale, resurrected } = report.index;
  process.exit(lost + stale + resurrected === 0 ? 0 : 1);
}
const report = await runChaos({
  ...run,
  faultRates,
  writerConcurrency: writers,
  messageGroups: groups,
  visibilityTimeoutSeconds: visibilityTimeout,
  visibilityLeaseSeconds: lease,
  messages,
  onStatus,
});
process.stderr.write('\n');
console.log(formatChaosReport(report));
console.log(formatPhases(report));
const converged = report.lost.length + report.stale.length + report.resurrected.length === 0;
const onlyPoison = report.deadLetters.every(({ id }) => id !== undefined && report.poisonIds.includes(id));
process.exit(converged && onlyPoison ? 0 : 1);
