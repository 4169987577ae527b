import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import type { DeadLetter } from '../../functions/core/change.ts';
import { documentId } from '../../functions/core/keys.ts';
import type { FaultPlan } from './fault-proxy.ts';
import type { PollerFaults, QueuePoller } from './queue-poller.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from './stack.ts';
import { itemKey, productItem, productSchema, runWorkload, seededRandom } from './workload.ts';
import { LONG_PAUSE_MS, timeWriterPorts, type WriterTiming } from './writer-timing.ts';

export interface ChaosOptions {
  seed: number;
  /** Distinct keys: small, so keys are hot and changes to one key overlap in flight. */
  keys: number;
  /** Operations after the initial inserts. */
  ops: number;
  /** Items the collection schema rejects: the only things allowed in the DLQ. */
  poison?: number;
  /** A full Typesense outage in the middle of the run, ms (0: none). */
  outageMs?: number;
  /** Source writes per second (unlimited when absent), so writes can continue through an outage. */
  rate?: number;
  /** The changes queue's redrive limit (default 5). */
  maxReceiveCount?: number;
  /**
   * The writer's Typesense timeout, ms (default 1,000); an injected timeout hangs 500 ms longer. A
   * longer one keeps a loaded machine's slow answers from counting as failures beside the injected ones.
   */
  typesenseTimeoutMs?: number;
  /**
   * Concurrent writer pollers (default: one per message group). Lambda runs a FIFO event source's
   * function up to once per active message group unless the mapping's maximum concurrency caps it,
   * which the construct leaves unset by default.
   */
  writerConcurrency?: number;
  /**
   * `small` (default): many small messages (no batching window, 16 groups), the most requests for the
   * faults to hit; `default`: the construct's defaults (1 s window, 4 groups), fuller messages.
   */
  messages?: 'small' | 'default';
  /**
   * FIFO message groups (default: the message shape's, 16 or the construct's 4). A crash holds its
   * batch's group for the visibility timeout, so more groups leave more work for the other pollers.
   */
  messageGroups?: number;
  /**
   * The changes queue's visibility timeout, s (default 6 × the Typesense timeout, Lambda's rule for a
   * function of about that time): how long a crash holds its batch's message groups.
   */
  visibilityTimeoutSeconds?: number;
  /**
   * The writer's visibility lease, s: how long a crash holds its groups. Default as deployed, a sixth of
   * the visibility timeout (1 s at the default 6 s); 0: none, a crash holds them for the visibility timeout.
   */
  visibilityLeaseSeconds?: number;
  /** Cap of the writer's backoff and of the circuit's probe wait, s (default 2). */
  retryCapSeconds?: number;
  /** Injected fault probabilities (Typesense per write request or import line; pollers per invocation). */
  faultRates?: {
    http503: number;
    http429: number;
    http500: number;
    timeouts: number;
    lines: number;
    lostResponses: number;
    crashes: number;
    duplicates: number;
  };
  onStatus?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  keys: number;
  ops: number;
  workload: Awaited<ReturnType<typeof runWorkload>>;
  faults: Record<string, number>;
  totalFaults: number;
  /**
   * Changes whose processing hit an injected fault, counted low: stream records in a batch the
   * batcher crashed on, documents in Typesense writes that failed, and one per queue message the
   * writer crashed on or got twice (a message carries one change or more).
   */
  changesHit: number;
  /** Messages the writer had to retry (failed invocations or items). */
  retries: number;
  deadLetters: DeadLetter[];
  poisonIds: string[];
  /** From the end of the writes until the index matched, ms. */
  convergeMs: number;
  tableItems: number;
  indexDocuments: number;
  lost: string[];
  stale: string[];
  resurrected: string[];
  /** Largest age of a pending change observed while Typesense was down, ms. */
  maxPendingAgeDuringOutageMs: number;
  circuitOpenedDuringOutage: boolean;
  /** Times the writer's breaker opened during the outage (a timer at its end; the status may miss one). */
  breakerOpensDuringOutage: number;
  /** Where the time went while the source wrote under faults, and while the backlog drained after. */
  phases: { writing: PhaseFigures; draining: PhaseFigures };
}

/** Counters of one phase of a run (differences between two snapshots), for bench/CONVERGENCE.md. */
export interface PhaseFigures {
  ms: number;
  changesApplied: number;
  messagesDone: number;
  invocations: number;
  /** Times the circuit opened, and the time it was seen open (sampled every 50 ms). */
  circuitOpened: number;
  circuitOpenMs: number;
  poller: QueuePoller['timing'];
  typesenseWrites: { requests: number; ms: number };
  /**
   * The writer's time in each of its ports (source re-read, Typesense, backoffs, retry pauses), its
   * failed live writes by cause, and its imports' waits for a slot of the adaptive limit.
   */
  writer: WriterTiming;
  /** Times the writer's adaptive import limit halved (an overload answer or a slow import). */
  importLimitHalvings: number;
}

/** The counters at one moment: a phase's figures are the difference of two snapshots (`at` gives `ms`). */
export type Snapshot = Omit<PhaseFigures, 'ms'> & { at: number };

/** `after − before`, field by field, for nested counters. */
function minus<T>(after: T, before: T): T {
  if (typeof after === 'number') return (after - (before as number)) as T;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after as Record<string, unknown>))
    out[key] = minus(value, (before as Record<string, unknown>)[key]);
  return out as T;
}

export function phase(before: Snapshot, after: Snapshot): PhaseFigures {
  const { at, ...counters } = minus(after, before);
  // A maximum, not a counter: the snapshot holds the slowest since the one before (see phaseRecorder).
  counters.poller.slowestHandlerMs = after.poller.slowestHandlerMs;
  return { ms: at, ...counters };
}

export const DEFAULT_FAULT_RATES = {
  http503: 0.1,
  http429: 0.05,
  http500: 0.07,
  // Rare kinds are set high enough that each occurs in every CI-sized run (~130 write requests).
  timeouts: 0.06,
  lines: 0.1,
  lostResponses: 0.08,
  crashes: 0.05,
  duplicates: 0.08,
};

export type FaultRates = NonNullable<ChaosOptions['faultRates']>;
type Faults = NonNullable<LocalStack['faults']>;

/** The embedded stack under chaos, its writer's timings derived from the run's Typesense timeout. */
export function chaosStackOptions(options: ChaosOptions, pollerFaults: PollerFaults): LocalStackOptions {
  const groups =
    options.messageGroups ?? (options.messages === 'default' ? DEFAULTS.messageGroupBuckets : 16);
  return {
    schema: productSchema,
    sourceTimestampAttribute: 'updatedAt',
    // Lambda's rule: visibility ≥ 6 × the function's time (here ~ the Typesense timeout + work).
    visibilityTimeoutSeconds:
      options.visibilityTimeoutSeconds ?? Math.ceil((6 * (options.typesenseTimeoutMs ?? 1_000)) / 1000),
    maxReceiveCount: options.maxReceiveCount ?? 5,
    retry: { baseSeconds: 1, maxSeconds: options.retryCapSeconds ?? 2 },
    circuit: { failureThreshold: 3, probeSeconds: 1, maxProbeSeconds: options.retryCapSeconds ?? 2 },
    typesenseTimeoutMs: options.typesenseTimeoutMs ?? 1_000,
    ...(options.visibilityLeaseSeconds === undefined
      ? {}
      : { visibilityLeaseSeconds: options.visibilityLeaseSeconds }),
    writerConcurrency: options.writerConcurrency ?? groups,
    // Many small messages, as before the fuller-message defaults (4 groups, batches of up to 10,000
    // records): the most Typesense requests and group hand-offs for the faults to hit, so every fault
    // kind and the outage meet live traffic in a CI-sized run. The defaults' fuller messages give
    // faults fewer targets; test/integration runs the defaults. The window is pinned to none, as the
    // default now is, so a change of the default does not change the chaos runs.
    ...(options.messages === 'default' ? {} : { streamMaxBatchingWindowSeconds: 0 }),
    buckets: groups,
    pollerFaults,
    logLevel: 'ERROR',
    faultInjection: true,
  };
}

/** The Typesense faults while the source writes; a hang outlasts the writer's timeout, so it times out. */
export function typesenseFaultPlan(options: ChaosOptions, rates: FaultRates): FaultPlan {
  return {
    seed: options.seed,
    httpErrors: { 503: rates.http503, 429: rates.http429, 500: rates.http500 },
    timeouts: rates.timeouts,
    hangMs: (options.typesenseTimeoutMs ?? 1_000) + 500,
    importLineFailures: rates.lines,
    lostResponses: rates.lostResponses,
    everyKindOnce: true,
    everyKindSpacing: 5,
  };
}

/**
 * Takes the snapshots whose differences are the phases' figures. The stack's writer handler keeps its
 * breaker between batches: read it for the figures, and sample it for the time it was seen open.
 */
export function phaseRecorder(stack: LocalStack, faults: Faults) {
  const { breaker, importLimit } = stack.functions.writer.handler;
  const writer = timeWriterPorts(stack.functions.writer.adapters, importLimit);
  let circuitOpenMs = 0;
  const circuitSampler = setInterval(() => {
    if (breaker.state === 'open') circuitOpenMs += 50;
  }, 50);
  return {
    snapshot: async (): Promise<Snapshot> => ({
      at: Date.now(),
      changesApplied: (await stack.status()).changesApplied,
      messagesDone: stack.queuePoller.stats.messagesDone,
      invocations: stack.queuePoller.stats.invocations,
      circuitOpened: breaker.opened,
      circuitOpenMs,
      poller: takeTiming(stack.queuePoller),
      typesenseWrites: { ...faults.writeTiming },
      writer: structuredClone(writer),
      importLimitHalvings: importLimit.decreases,
    }),
    stop: () => clearInterval(circuitSampler),
  };
}

/** The pollers' counters, and the slowest invocation since the last call (which starts the next). */
function takeTiming(poller: QueuePoller): QueuePoller['timing'] {
  const timing = structuredClone(poller.timing);
  poller.timing.slowestHandlerMs = 0;
  return timing;
}

/** What the status showed while Typesense was down. */
interface OutageFigures {
  maxPendingAgeDuringOutageMs: number;
  circuitOpenedDuringOutage: boolean;
  /**
   * Times the writer's breaker opened from the outage's start to a timer at its end: the status is
   * sampled every 250 ms, and a status answered late on a loaded machine may miss a short opening.
   */
  breakerOpensDuringOutage: number;
}

/**
 * The outage in the middle of the run, started by the workload's progress once 40 % of the writes are
 * done; and the status, polled every 250 ms for `onStatus` and for what it shows while the outage lasts.
 */
function outageWatcher(stack: LocalStack, faults: Faults, options: ChaosOptions) {
  const outageMs = options.outageMs ?? 0;
  const total = options.keys + options.ops;
  let started = false;
  let endsAt = 0;
  const figures: OutageFigures = {
    maxPendingAgeDuringOutageMs: 0,
    circuitOpenedDuringOutage: false,
    breakerOpensDuringOutage: 0,
  };
  const { breaker } = stack.functions.writer.handler;
  const watcher = setInterval(async () => {
    const status = await stack.status().catch(() => undefined);
    if (status === undefined) return;
    options.onStatus?.(
      `applied ${status.changesApplied} | pending ${status.pendingMessages} msg | DLQ ${status.dlqDepth} | ` +
        `pending age ${status.oldestPendingAgeMs ?? 0} ms | circuit ${status.circuit}`,
    );
    if (started && Date.now() < endsAt) {
      figures.maxPendingAgeDuringOutageMs = Math.max(
        figures.maxPendingAgeDuringOutageMs,
        status.oldestPendingAgeMs ?? 0,
      );
      figures.circuitOpenedDuringOutage ||= status.circuit === 'open';
    }
  }, 250);
  return {
    figures,
    onProgress: (done: number) => {
      if (!started && outageMs > 0 && done >= total * 0.4) {
        started = true;
        endsAt = Date.now() + outageMs;
        faults.downFor(outageMs);
        const opensBefore = breaker.opened;
        setTimeout(() => {
          figures.breakerOpensDuringOutage = breaker.opened - opensBefore;
        }, outageMs);
      }
    },
    /** When the outage ends (0: none started), ms since the epoch. */
    endsAt: () => endsAt,
    stop: () => clearInterval(watcher),
  };
}

/** Items whose price the collection schema rejects, written after the workload; their document ids. */
async function writePoisonItems(stack: LocalStack, seed: number, count: number): Promise<string[]> {
  const random = seededRandom(seed + 17);
  const poisonIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 900_000 + i;
    const item = productItem(random, stack.keyAttributes, n, 1, Date.now());
    item.price = { S: 'call for price' };
    await stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item: item }));
    poisonIds.push(documentId(itemKey(stack.keyAttributes, n), stack.keyAttributes));
  }
  return poisonIds;
}

/** What a run measured itself; the report adds the index-vs-table comparison and the counters. */
interface RunFigures {
  workload: ChaosReport['workload'];
  poisonIds: string[];
  convergeMs: number;
  outage: OutageFigures;
  phases: ChaosReport['phases'];
}

/** Compares the index with the table (poison aside) and gathers the fault and retry counters. */
async function chaosReport(
  stack: LocalStack,
  faults: Faults,
  options: ChaosOptions,
  run: RunFigures,
): Promise<ChaosReport> {
  const comparison = await stack.verify();
  const poison = new Set(run.poisonIds);
  const faultCounts: Record<string, number> = {
    ...faults.faultStats,
    documentsHit: 0,
    pollerCrashes: stack.queuePoller.stats.injectedCrashes + stack.streamPoller.stats.injectedCrashes,
    duplicateDeliveries: stack.queuePoller.stats.injectedDuplicates,
  };
  return {
    seed: options.seed,
    keys: options.keys,
    ops: options.ops,
    workload: run.workload,
    faults: faultCounts,
    totalFaults: Object.values(faultCounts).reduce((sum, count) => sum + count, 0),
    changesHit:
      faults.faultStats.documentsHit +
      stack.streamPoller.stats.recordsHit +
      stack.queuePoller.stats.recordsHit,
    retries: stack.queuePoller.stats.messagesFailed,
    deadLetters: await stack.drainDeadLetters(),
    poisonIds: run.poisonIds,
    convergeMs: run.convergeMs,
    tableItems: comparison.tableItems,
    indexDocuments: comparison.indexDocuments,
    lost: comparison.missing.filter((id) => !poison.has(id)),
    stale: comparison.stale.map(({ id }) => id),
    resurrected: comparison.extra,
    ...run.outage,
    phases: run.phases,
  };
}

/**
 * The chaos convergence scenario: a random workload on a hot key space while Typesense and the
 * pollers misbehave (HTTP errors, timeouts, failed lines, lost responses, crashes mid-batch,
 * duplicate deliveries, an outage), then quiesce and compare index and table field by field.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const rates = options.faultRates ?? DEFAULT_FAULT_RATES;
  // The pollers read these rates on every invocation: zeroed when the faults stop.
  const pollerFaults = {
    random: seededRandom(options.seed * 7919 + 1),
    crashAfterInvokeRate: rates.crashes,
    duplicateDeliveryRate: rates.duplicates,
  };
  const stack = await startLocalStack(chaosStackOptions(options, pollerFaults));
  const faults = stack.faults as Faults;
  const phases = phaseRecorder(stack, faults);
  try {
    faults.setFaults(typesenseFaultPlan(options, rates));
    const outage = outageWatcher(stack, faults, options);
    const started = await phases.snapshot();
    const workload = await runWorkload({
      dynamodb: stack.dynamodb,
      tableName: stack.tableName,
      keyAttributes: stack.keyAttributes,
      keys: options.keys,
      ops: options.ops,
      seed: options.seed,
      concurrency: 6,
      ...(options.rate === undefined ? {} : { rate: options.rate }),
      onProgress: outage.onProgress,
    });
    const poisonIds = await writePoisonItems(stack, options.seed, options.poison ?? 0);

    // Quiesce: the outage ends, faults stop, and the pipeline must converge by itself.
    const writesDone = Date.now();
    const written = await phases.snapshot();
    const outageEnds = outage.endsAt();
    if (outageEnds > writesDone) await new Promise((resolve) => setTimeout(resolve, outageEnds - writesDone));
    // Random faults stop, the pollers' too: a crash keeps on holding its batch's message groups for a
    // visibility timeout, so crashes left on during the drain measured them, not the pipeline's drain
    // (bench/CONVERGENCE.md). Their cost is in the writing phase's figures. A Typesense fault kind not
    // shown yet still comes once: a loaded machine's writing phase may make too few writes for all.
    faults.stopRandomFaults();
    pollerFaults.crashAfterInvokeRate = 0;
    pollerFaults.duplicateDeliveryRate = 0;
    // Generous, scaled to the backlog: a timeout here means "did not converge", so it must not bite early.
    await stack.waitForIdle(Math.max(180_000, (options.keys + options.ops) * 20));
    const convergeMs = Date.now() - writesDone;
    outage.stop();
    const converged = await phases.snapshot();
    const phaseFigures = { writing: phase(started, written), draining: phase(written, converged) };
    return await chaosReport(stack, faults, options, {
      workload,
      poisonIds,
      convergeMs,
      outage: outage.figures,
      phases: phaseFigures,
    });
  } finally {
    phases.stop();
    await stack.stop();
  }
}

export function formatChaosReport(report: ChaosReport): string {
  const letters = report.deadLetters;
  // A message without a reason was moved by the queue's redrive policy (receive limit exceeded).
  const reasons =
    [...new Set(letters.map(({ reason }) => `${reason?.code ?? 'receive-limit'}`))].join(', ') || 'none';
  return [
    `chaos seed ${report.seed}: ${report.workload.total} ops on ${report.keys} keys ` +
      `(${report.workload.updates} updates, ${report.workload.deletes} deletes, ${report.workload.expiries} TTL expiries, ` +
      `${report.workload.recreates} re-creates) + ${report.poisonIds.length} poison items`,
    `  faults injected: ${report.totalFaults}, hitting ${report.changesHit} changes ` +
      `(${((100 * report.changesHit) / report.workload.total).toFixed(0)}% of ops) — ` +
      Object.entries(report.faults)
        .filter(([, count]) => count > 0)
        .map(([kind, count]) => `${kind} ${count}`)
        .join(', '),
    `  writer retries: ${report.retries} messages | DLQ: ${letters.length} (reasons: ${reasons}) | converged ${(report.convergeMs / 1000).toFixed(1)} s after the last write`,
    `  outage: circuit opened ${report.circuitOpenedDuringOutage ? 'yes' : 'no'} (the breaker opened ${report.breakerOpensDuringOutage}× by its end), max pending age ${report.maxPendingAgeDuringOutageMs} ms`,
    ...unexpectedLetters(report),
    `  index vs table: ${report.tableItems} items, ${report.indexDocuments} documents — lost ${report.lost.length}, stale ${report.stale.length}, resurrected ${report.resurrected.length}`,
  ].join('\n');
}

/** Dead letters that are not poison, one line each: a writer's letter, or a message SQS's redrive moved. */
function unexpectedLetters(report: ChaosReport): string[] {
  const poison = new Set(report.poisonIds);
  return report.deadLetters
    .filter((letter) => !('kind' in letter && letter.id !== undefined && poison.has(letter.id)))
    .map((letter) =>
      'kind' in letter
        ? `  not poison: ${letter.id} ${letter.reason.code} ${letter.reason.message} (${letter.attempts} receives)`
        : `  not poison: a change message moved by the redrive policy (${(letter as { changes?: unknown[] }).changes?.length ?? 0} changes)`,
    );
}

/** One line per phase: throughput, and where the pollers' time went (see bench/CONVERGENCE.md). */
export function formatPhases(report: Pick<ChaosReport, 'phases'>): string {
  return Object.entries(report.phases)
    .map(([name, figures]) => formatPhase(name, figures))
    .join('\n');
}

/** A phase's throughput and where the pollers' time went, three lines. */
export function formatPhase(name: string, p: PhaseFigures): string {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const t = p.poller;
  const perSecond = p.ms > 0 ? (1000 * p.changesApplied) / p.ms : 0;
  return [
    `  ${name}: ${s(p.ms)} s, ${p.changesApplied} changes applied (${perSecond.toFixed(1)}/s), ` +
      `${p.messagesDone} messages done in ${p.invocations} invocations ` +
      `(${(t.messagesReceived / Math.max(1, t.receives)).toFixed(1)} messages, ` +
      `${(t.groupsReceived / Math.max(1, t.receives)).toFixed(1)} groups per batch; ` +
      `${(p.changesApplied / Math.max(1, p.messagesDone)).toFixed(2)} changes per message)`,
    `    pollers (s, summed): empty receives ${s(t.emptyReceiveMs)} (${t.emptyReceives}), ` +
      `receives ${s(t.receiveMs)}, invocations ${s(t.handlerMs)} (deletes ${s(t.deleteMs)}, slowest ${s(t.slowestHandlerMs)}, ` +
      `${t.receivedWhileInFlight} messages received again while in flight); ` +
      `Typesense writes ${s(p.typesenseWrites.ms)} (${p.typesenseWrites.requests} requests)`,
    `    invisible until redelivered (s, group-blocking): crash ${s(t.invisibleMs.crash)} (${t.redeliveries.crash}), ` +
      `item failure ${s(t.invisibleMs.itemFailure)} (${t.redeliveries.itemFailure}), ` +
      `thrown ${s(t.invisibleMs.thrown)} (${t.redeliveries.thrown}); ` +
      `circuit opened ${p.circuitOpened}×, open ${s(p.circuitOpenMs)}`,
    `    writer ports (s, summed): ${timings(p.writer.ports)}`,
    `    failed live writes (s, summed): ${timings(p.writer.failedWrites)}; imports waiting for a slot ` +
      `${s(p.writer.importSlotWaits.ms)} (${p.writer.importSlotWaits.calls}), limit halved ${p.importLimitHalvings}×; ` +
      `pauses of ${LONG_PAUSE_MS} ms or more ${s(p.writer.longPauses.ms)} (${p.writer.longPauses.calls})`,
  ].join('\n');
}

/** `name seconds (calls)`, comma-separated. */
function timings(record: Record<string, { calls: number; ms: number }>): string {
  return Object.entries(record)
    .map(([name, { calls, ms }]) => `${name} ${(ms / 1000).toFixed(1)} (${calls})`)
    .join(', ');
}
