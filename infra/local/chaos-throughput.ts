import {
  type ChaosOptions,
  chaosStackOptions,
  DEFAULT_FAULT_RATES,
  formatPhase,
  type PhaseFigures,
  phase,
  phaseRecorder,
  typesenseFaultPlan,
} from './chaos.ts';
import { sleep } from './processes.ts';
import { type LocalStack, startLocalStack } from './stack.ts';
import { runWorkload, seededRandom } from './workload.ts';

/**
 * The writer's sustained throughput with and without the chaos faults, in one run (issue 23: "with
 * the default chaos fault rates and no outage, sustained applied changes/s ≥ 50 % of the fault-free
 * rate in the same run, and the circuit never opens"). Each phase builds a backlog with the writer
 * stopped, then starts it and times the drain: the writer's capacity, not the source's write rate.
 * Phases run fault-free, with every fault, with every fault but the pollers' crashes, fault-free, so
 * the fault-free rate brackets the faulty ones on a machine whose load drifts; each ratio is a faulty
 * rate over the mean of the two fault-free ones. The crash-free phase is reported beside, not instead:
 * a crash holds its batch's message groups for the writer's visibility lease, or without one for the
 * queue's visibility timeout (bench/CONVERGENCE.md). A smaller unmeasured drain comes first: a fresh
 * process and collection start slow.
 */

/**
 * `keys`: every phase writes each once, then `ops` random operations on them; `faultRates`: the faulty
 * phase's (default: the chaos defaults); the rest as in a chaos run.
 */
export type ThroughputOptions = Pick<
  ChaosOptions,
  | 'seed'
  | 'keys'
  | 'ops'
  | 'faultRates'
  | 'typesenseTimeoutMs'
  | 'writerConcurrency'
  | 'messages'
  | 'messageGroups'
  | 'visibilityTimeoutSeconds'
  | 'visibilityLeaseSeconds'
  | 'onStatus'
>;

/** A phase's faults: none, every kind at its rate, or every kind but the pollers' crashes. */
export type PhaseFaults = 'none' | 'all' | 'no crashes';

/** One drained backlog: the phase's counters and its sustained rate. */
export interface DrainFigures extends PhaseFigures {
  faulty: PhaseFaults;
  /** The backlog: the source changes the batcher queued for this phase. */
  backlog: number;
  /** The backlog over the time from the writer's start to an empty queue, per second. */
  sustainedPerSecond: number;
  /**
   * `MOST_OF_BACKLOG` of the backlog over the time until that share of its messages was done, per
   * second: the rate without the drain's tail, where the last groups wait out a crash's visibility
   * timeout or a backoff (a diagnostic beside `sustainedPerSecond`, which the goal is about).
   */
  mostPerSecond: number;
  /** Faults injected during the drain, by kind (pollers' crashes and duplicate deliveries included). */
  faults: Record<string, number>;
}

export interface ThroughputReport {
  phases: DrainFigures[];
  /** The sustained rate with every fault over the mean of the fault-free phases'. */
  ratio: number;
  /** The same ratio of `mostPerSecond`: without the drains' tails. */
  mostRatio: number;
  /** `ratio` and `mostRatio` of the phase with every fault but the pollers' crashes. */
  crashFree: { ratio: number; mostRatio: number };
  /** The index against the table after the last phase: documents lost, stale, resurrected. */
  index: { lost: number; stale: number; resurrected: number };
}

type Faults = NonNullable<LocalStack['faults']>;

/** Resolves once every write of the phase is a queued message: the stream drained, twice in a row. */
async function backlogQueued(stack: LocalStack): Promise<void> {
  let quiet = 0;
  let seen = -1;
  while (quiet < 2) {
    await sleep(250);
    const { changesSeen } = await stack.status();
    quiet = stack.streamPoller.caughtUp && changesSeen === seen ? quiet + 1 : 0;
    seen = changesSeen;
  }
}

/** Writes a phase's operations with the writer stopped, and waits until they are queued messages. */
async function writeBacklog(
  stack: LocalStack,
  options: ThroughputOptions,
  keys: number,
  ops: number,
  phaseIndex: number,
): Promise<number> {
  const before = (await stack.status()).changesSeen;
  await runWorkload({
    dynamodb: stack.dynamodb,
    tableName: stack.tableName,
    keyAttributes: stack.keyAttributes,
    keys,
    ops,
    seed: options.seed + phaseIndex + 1,
    concurrency: 6,
  });
  await backlogQueued(stack);
  return (await stack.status()).changesSeen - before;
}

/** Fault counters at one moment, for a phase's difference. */
function faultCounts(stack: LocalStack, faults: Faults): Record<string, number> {
  return {
    ...faults.faultStats,
    pollerCrashes: stack.queuePoller.stats.injectedCrashes,
    duplicateDeliveries: stack.queuePoller.stats.injectedDuplicates,
  };
}

/** The share of the backlog's messages whose drain time `mostMs` is (see `DrainFigures`). */
export const MOST_OF_BACKLOG = 0.9;

/**
 * Starts the writer on the backlog and stops it once the queue is empty; the drain's time, and the time
 * until `MOST_OF_BACKLOG` of its messages were done (queue depth sampled every 250 ms). Changes
 * applied (changes in deleted messages) would overcount: a re-sent message carries its changes again.
 */
async function drain(stack: LocalStack, timeoutMs: number): Promise<{ ms: number; mostMs: number }> {
  const initial = (await stack.status()).pendingMessages;
  const startedAt = Date.now();
  let mostMs: number | undefined;
  const watcher = setInterval(async () => {
    const status = await stack.status().catch(() => undefined);
    if (
      mostMs === undefined &&
      status !== undefined &&
      status.pendingMessages <= initial * (1 - MOST_OF_BACKLOG)
    )
      mostMs = Date.now() - startedAt;
  }, 250);
  stack.queuePoller.start();
  try {
    await stack.waitForIdle(timeoutMs);
  } finally {
    clearInterval(watcher);
    await stack.queuePoller.stop();
  }
  const ms = Date.now() - startedAt;
  return { ms, mostMs: Math.min(ms, mostMs ?? ms) };
}

/** The run's moving parts: the stack, its Typesense faults, the pollers' fault rates and the recorder. */
interface Rig {
  stack: LocalStack;
  faults: Faults;
  pollerFaults: { crashAfterInvokeRate: number; duplicateDeliveryRate: number };
  recorder: ReturnType<typeof phaseRecorder>;
}

/** One phase: a backlog written, then drained with or without the faults. */
async function measurePhase(
  rig: Rig,
  options: ThroughputOptions,
  index: number,
  faulty: PhaseFaults,
): Promise<DrainFigures> {
  const { stack, faults, pollerFaults, recorder } = rig;
  const rates = options.faultRates ?? DEFAULT_FAULT_RATES;
  const name = `phase ${index + 1}/${PHASES.length} (faults: ${faulty})`;
  options.onStatus?.(`${name}: writing the backlog`);
  const backlog = await writeBacklog(stack, options, options.keys, options.ops, index);
  options.onStatus?.(`${name}: draining`);
  if (faulty !== 'none') {
    faults.setFaults(typesenseFaultPlan({ ...options, outageMs: 0 }, rates));
    pollerFaults.crashAfterInvokeRate = faulty === 'all' ? rates.crashes : 0;
    pollerFaults.duplicateDeliveryRate = rates.duplicates;
  }
  const before = await recorder.snapshot();
  const faultsBefore = faultCounts(stack, faults);
  const drained = await drain(stack, Math.max(180_000, (options.keys + options.ops) * 20));
  faults.setFaults(undefined);
  pollerFaults.crashAfterInvokeRate = 0;
  pollerFaults.duplicateDeliveryRate = 0;
  const faultsAfter = faultCounts(stack, faults);
  return {
    ...phase(before, await recorder.snapshot()),
    backlog,
    sustainedPerSecond: (1000 * backlog) / Math.max(1, drained.ms),
    mostPerSecond: (1000 * MOST_OF_BACKLOG * backlog) / Math.max(1, drained.mostMs),
    faulty,
    faults: Object.fromEntries(
      Object.entries(faultsAfter).map(([kind, count]) => [kind, count - (faultsBefore[kind] ?? 0)]),
    ),
  };
}

/** The measured phases in order: the fault-free ones bracket the faulty ones (see the module comment). */
const PHASES: readonly PhaseFaults[] = ['none', 'all', 'no crashes', 'none'];

/** Runs the phases on one embedded stack (see the module comment), then compares index and table. */
export async function runThroughput(options: ThroughputOptions): Promise<ThroughputReport> {
  const pollerFaults = {
    random: seededRandom(options.seed * 7919 + 1),
    crashAfterInvokeRate: 0,
    duplicateDeliveryRate: 0,
  };
  const stack = await startLocalStack(chaosStackOptions({ ...options, outageMs: 0 }, pollerFaults));
  const faults = stack.faults as Faults;
  const rig: Rig = { stack, faults, pollerFaults, recorder: phaseRecorder(stack, faults) };
  const phases: DrainFigures[] = [];
  let comparison: Awaited<ReturnType<LocalStack['verify']>>;
  try {
    await stack.queuePoller.stop();
    // An unmeasured first drain: a fresh process and collection run slow at first (JIT, creates).
    await writeBacklog(stack, options, options.keys, Math.ceil(options.ops / 4), -1);
    await drain(stack, Math.max(180_000, (options.keys + options.ops) * 20));
    for (const [index, faulty] of PHASES.entries())
      phases.push(await measurePhase(rig, options, index, faulty));
    comparison = await stack.verify();
  } finally {
    rig.recorder.stop();
    await stack.stop();
  }
  return {
    phases,
    ratio: faultyOverClean(phases, ({ sustainedPerSecond }) => sustainedPerSecond),
    mostRatio: faultyOverClean(phases, ({ mostPerSecond }) => mostPerSecond),
    crashFree: {
      ratio: faultyOverClean(phases, ({ sustainedPerSecond }) => sustainedPerSecond, 'no crashes'),
      mostRatio: faultyOverClean(phases, ({ mostPerSecond }) => mostPerSecond, 'no crashes'),
    },
    index: {
      lost: comparison.missing.length,
      stale: comparison.stale.length,
      resurrected: comparison.extra.length,
    },
  };
}

/** The rate of the phase with `faults` over the mean of the fault-free phases'. */
export function faultyOverClean(
  phases: readonly DrainFigures[],
  rate: (phase: DrainFigures) => number,
  faults: Exclude<PhaseFaults, 'none'> = 'all',
): number {
  const clean = phases.filter(({ faulty }) => faulty === 'none').map(rate);
  const faulty = phases.find((phase) => phase.faulty === faults);
  const cleanMean = clean.reduce((sum, value) => sum + value, 0) / Math.max(1, clean.length);
  return (faulty === undefined ? 0 : rate(faulty)) / Math.max(Number.MIN_VALUE, cleanMean);
}

const PHASE_NAMES: Record<PhaseFaults, string> = {
  none: 'no faults',
  all: 'chaos faults',
  'no crashes': "chaos faults but the pollers' crashes",
};

export function formatThroughput(report: ThroughputReport): string {
  const lines = report.phases.map((p, index) => {
    const faults = Object.entries(p.faults)
      .filter(([kind, count]) => count > 0 && kind !== 'documentsHit')
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ');
    return [
      `phase ${index + 1} (${PHASE_NAMES[p.faulty]}): sustained ` +
        `${p.sustainedPerSecond.toFixed(1)} changes/s (a backlog of ${p.backlog} changes in ` +
        `${(p.ms / 1000).toFixed(1)} s; ${MOST_OF_BACKLOG * 100} % of it at ${p.mostPerSecond.toFixed(1)} ` +
        `changes/s); faults: ${faults || 'none'}`,
      formatPhase('drain', p),
    ].join('\n');
  });
  const { lost, stale, resurrected } = report.index;
  const most = `to ${MOST_OF_BACKLOG * 100} % of the backlog`;
  return [
    ...lines,
    `faulty / fault-free sustained rate: ${report.ratio.toFixed(2)} ` +
      `(${most}: ${report.mostRatio.toFixed(2)})`,
    `without the pollers' crashes / fault-free: ${report.crashFree.ratio.toFixed(2)} ` +
      `(${most}: ${report.crashFree.mostRatio.toFixed(2)})`,
    `index vs table after the run: lost ${lost}, stale ${stale}, resurrected ${resurrected}`,
  ].join('\n');
}
