import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DeadLetter } from '../../functions/core/change.ts';
import { documentId } from '../../functions/core/keys.ts';
import { type LocalStack, startLocalStack } from './stack.ts';
import { itemKey, productItem, productSchema, runWorkload, seededRandom } from './workload.ts';

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

/**
 * The chaos convergence scenario: a random workload on a hot key space while Typesense and the
 * pollers misbehave (HTTP errors, timeouts, failed lines, lost responses, crashes mid-batch,
 * duplicate deliveries, an outage), then quiesce and compare index and table field by field.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const rates = options.faultRates ?? DEFAULT_FAULT_RATES;
  const stack = await startLocalStack({
    schema: productSchema,
    sourceTimestampAttribute: 'updatedAt',
    // Lambda's rule: visibility ≥ 6 × the function's time (here ≤ ~1 s Typesense timeout + work).
    visibilityTimeoutSeconds: 6,
    maxReceiveCount: options.maxReceiveCount ?? 5,
    retry: { baseSeconds: 1, maxSeconds: options.retryCapSeconds ?? 2 },
    circuit: { failureThreshold: 3, probeSeconds: 1, maxProbeSeconds: options.retryCapSeconds ?? 2 },
    typesenseTimeoutMs: 1_000,
    writerConcurrency: 3,
    pollerFaults: {
      random: seededRandom(options.seed * 7919 + 1),
      crashAfterInvokeRate: rates.crashes,
      duplicateDeliveryRate: rates.duplicates,
    },
    logLevel: 'ERROR',
    faultInjection: true,
  });
  const faults = stack.faults as NonNullable<LocalStack['faults']>;
  try {
    faults.setFaults({
      seed: options.seed,
      httpErrors: { 503: rates.http503, 429: rates.http429, 500: rates.http500 },
      timeouts: rates.timeouts,
      hangMs: 1_500,
      importLineFailures: rates.lines,
      lostResponses: rates.lostResponses,
      everyKindOnce: true,
    });

    let outageStarted = false;
    let outageEnds = 0;
    let maxPendingAgeDuringOutageMs = 0;
    let circuitOpenedDuringOutage = false;
    const watcher = setInterval(async () => {
      const status = await stack.status().catch(() => undefined);
      if (status === undefined) return;
      options.onStatus?.(
        `applied ${status.changesApplied} | pending ${status.pendingMessages} msg | DLQ ${status.dlqDepth} | ` +
          `pending age ${status.oldestPendingAgeMs ?? 0} ms | circuit ${status.circuit}`,
      );
      if (outageStarted && Date.now() < outageEnds) {
        maxPendingAgeDuringOutageMs = Math.max(maxPendingAgeDuringOutageMs, status.oldestPendingAgeMs ?? 0);
        circuitOpenedDuringOutage ||= status.circuit === 'open';
      }
    }, 250);

    const total = options.keys + options.ops;
    const workload = await runWorkload({
      dynamodb: stack.dynamodb,
      tableName: stack.tableName,
      keyAttributes: stack.keyAttributes,
      keys: options.keys,
      ops: options.ops,
      seed: options.seed,
      concurrency: 6,
      ...(options.rate === undefined ? {} : { rate: options.rate }),
      onProgress: (done) => {
        if (!outageStarted && (options.outageMs ?? 0) > 0 && done >= total * 0.4) {
          outageStarted = true;
          outageEnds = Date.now() + (options.outageMs ?? 0);
          faults.downFor(options.outageMs ?? 0);
        }
      },
    });
    const random = seededRandom(options.seed + 17);
    const poisonIds: string[] = [];
    for (let i = 0; i < (options.poison ?? 0); i++) {
      const n = 900_000 + i;
      const item = productItem(random, stack.keyAttributes, n, 1, Date.now());
      item.price = { S: 'call for price' };
      await stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item: item }));
      poisonIds.push(documentId(itemKey(stack.keyAttributes, n), stack.keyAttributes));
    }

    // Quiesce: the outage ends, faults stop, and the pipeline must converge by itself.
    const writesDone = Date.now();
    if (outageEnds > writesDone) await new Promise((resolve) => setTimeout(resolve, outageEnds - writesDone));
    faults.setFaults(undefined);
    // Generous, scaled to the backlog: a timeout here means "did not converge", so it must not bite early.
    await stack.waitForIdle(Math.max(180_000, (options.keys + options.ops) * 20));
    const convergeMs = Date.now() - writesDone;
    clearInterval(watcher);

    const report = await stack.verify();
    const poison = new Set(poisonIds);
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
      workload,
      faults: faultCounts,
      totalFaults: Object.values(faultCounts).reduce((sum, count) => sum + count, 0),
      changesHit:
        faults.faultStats.documentsHit +
        stack.streamPoller.stats.recordsHit +
        stack.queuePoller.stats.recordsHit,
      retries: stack.queuePoller.stats.messagesFailed,
      deadLetters: await stack.drainDeadLetters(),
      poisonIds,
      convergeMs,
      tableItems: report.tableItems,
      indexDocuments: report.indexDocuments,
      lost: report.missing.filter((id) => !poison.has(id)),
      stale: report.stale.map(({ id }) => id),
      resurrected: report.extra,
      maxPendingAgeDuringOutageMs,
      circuitOpenedDuringOutage,
    };
  } finally {
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
    `  outage: circuit opened ${report.circuitOpenedDuringOutage ? 'yes' : 'no'}, max pending age ${report.maxPendingAgeDuringOutageMs} ms`,
    `  index vs table: ${report.tableItems} items, ${report.indexDocuments} documents — lost ${report.lost.length}, stale ${report.stale.length}, resurrected ${report.resurrected.length}`,
  ].join('\n');
}
