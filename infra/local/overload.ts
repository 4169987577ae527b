/**
 * The overload scenario (issue 23): the embedded stack against a Typesense emulator that applies a
 * fixed number of documents a second and answers 503 "Not Ready or Lagging" while more writes are
 * queued than its healthy write lag (typesense-emulator/write-lag.ts). A backlog of items is loaded
 * at once, so the writer always has more to write than the node takes; the report says how much of
 * the node's time the writer kept it busy, what reached the DLQ and whether the circuit opened.
 * Used by test/integration/overload.test.ts and bench/overload.ts.
 */
import { SyncError } from '../../functions/core/errors.ts';
import { sleep } from './processes.ts';
import { startLocalStack } from './stack.ts';
import { loadItems, productSchema } from './workload.ts';

export interface OverloadOptions {
  /** Items loaded at once: the backlog. */
  items: number;
  /** The node's apply rate, documents/s. */
  documentsPerSecond: number;
  /** Queued writes above which the node answers 503 (Typesense's `--healthy-write-lag`). */
  healthyWriteLag: number;
  /** Concurrent writer pollers (Lambda instances of the event source mapping). */
  writerConcurrency: number;
  /** The writer's cap on imports in flight (undefined: the stack's default). */
  maxConcurrentImports?: number;
  /** Records per stream batch: smaller batches make smaller messages and imports. */
  streamBatchSize?: number;
  /** FIFO message groups: at most this many writer batches run at once. */
  buckets?: number;
  timeoutMs?: number;
}

export interface OverloadReport {
  documentsPerSecond: number;
  /** Documents the node applied within the window, per second of the window. */
  appliedPerSecond: number;
  /** Documents applied per second of the node's busy time: the rate it reached in this run. */
  nodeRatePerSecond: number;
  /** Share of the window the node had writes queued: applied/s ÷ the node's own rate. */
  utilisation: number;
  /** The window: first write taken → 90 % of the documents applied, ms. */
  windowMs: number;
  lagRejections: number;
  deadLetters: number;
  circuitOpened: number;
  /** Batches the writer gave back to the queue (failed messages), over the run. */
  messagesFailed: number;
  indexDocuments: number;
  tableItems: number;
}

/** Thrown when the scenario cannot run (no in-process emulator) or does not finish in time. */
export class OverloadScenarioError extends SyncError {
  override name = 'OverloadScenarioError';
}

interface Sample {
  at: number;
  applied: number;
  busyMs: number;
}

export async function runOverload(options: OverloadOptions): Promise<OverloadReport> {
  const stack = await startLocalStack({
    schema: productSchema,
    writerConcurrency: options.writerConcurrency,
    ...(options.maxConcurrentImports === undefined
      ? {}
      : { maxConcurrentImports: options.maxConcurrentImports }),
    streamBatchSize: options.streamBatchSize ?? 200,
    buckets: options.buckets ?? 8,
    // As deployed: the queue's visibility covers the function's timeout (60 s here), so an import may
    // take as long as a lagging node keeps it queued, not the 2 s the stack's default visibility allows.
    visibilityTimeoutSeconds: 60,
    typesenseTimeoutMs: 30_000,
    logLevel: 'ERROR',
  });
  try {
    const emulator = stack.emulator;
    if (emulator === undefined)
      throw new OverloadScenarioError('the overload scenario needs the in-process emulator');
    emulator.setWriteLag({
      documentsPerSecond: options.documentsPerSecond,
      healthyWriteLag: options.healthyWriteLag,
    });
    const samples: Sample[] = [];
    const sample = () => {
      const stats = emulator.writeLag;
      if (stats !== undefined)
        samples.push({ at: Date.now(), applied: stats.appliedDocuments, busyMs: stats.busyMs });
    };
    // The whole backlog is queued before the writer starts, so the stream and the batcher (slow on a
    // loaded machine) cannot starve the node: the writer is the only moving part while measured.
    stack.queuePoller.pause();
    await loadItems({ ...stack, first: 0, count: options.items });
    await waitUntil(async () => (await stack.status()).changesSeen >= options.items, options.timeoutMs);
    const sampling = setInterval(sample, 100);
    try {
      stack.queuePoller.resume();
      await stack.waitForIdle(options.timeoutMs ?? 240_000);
    } finally {
      clearInterval(sampling);
    }
    sample();
    const deadLetters = await stack.drainDeadLetters();
    const verify = await stack.verify();
    return {
      documentsPerSecond: options.documentsPerSecond,
      ...windowFigures(samples, options.items),
      lagRejections: emulator.writeLag?.lagRejections ?? 0,
      deadLetters: deadLetters.length,
      circuitOpened: stack.functions.writer.handler.breaker.opened,
      messagesFailed: stack.queuePoller.stats.messagesFailed,
      indexDocuments: verify.indexDocuments,
      tableItems: verify.tableItems,
    };
  } finally {
    await stack.stop();
  }
}

async function waitUntil(done: () => Promise<boolean>, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new OverloadScenarioError('the backlog was not queued in time');
    await sleep(200);
  }
}

/** Rates over the window from the first busy sample to the one where 90 % of `items` were applied. */
function windowFigures(samples: readonly Sample[], items: number) {
  const first = samples.find((s) => s.busyMs > 0);
  const last = samples.find((s) => s.applied >= items * 0.9);
  if (first === undefined || last === undefined || last.at <= first.at)
    throw new OverloadScenarioError('the node never applied 90 % of the items');
  const windowMs = last.at - first.at;
  const applied = last.applied - first.applied;
  const busyMs = last.busyMs - first.busyMs;
  return {
    appliedPerSecond: (applied * 1000) / windowMs,
    nodeRatePerSecond: busyMs > 0 ? (applied * 1000) / busyMs : 0,
    utilisation: busyMs / windowMs,
    windowMs,
  };
}

/** One line per figure, for a test log or the bench. */
export function formatOverloadReport(report: OverloadReport): string {
  return [
    `node limit ${report.documentsPerSecond} documents/s; reached ${report.nodeRatePerSecond.toFixed(0)}/s of busy time`,
    `applied ${report.appliedPerSecond.toFixed(0)} documents/s over ${(report.windowMs / 1000).toFixed(1)} s: utilisation ${(report.utilisation * 100).toFixed(1)} %`,
    `503 "Not Ready or Lagging": ${report.lagRejections}; messages given back: ${report.messagesFailed}`,
    `dead letters ${report.deadLetters}; circuit opened ${report.circuitOpened} times; index ${report.indexDocuments} of ${report.tableItems} items`,
  ].join('\n');
}
