import type { CircuitState } from './breaker.ts';
import type { ResyncPhase, ResyncProgress } from './resync.ts';

/** What the lag check reads of one index; each may fail on its own (permissions, outages). */
export interface IndexLagPorts {
  /** The index's alias: the `Index` dimension of its lag metric and its name in problems. */
  readonly alias: string;
  /** Creates the index's canary collection when it is missing. */
  prepareCanary(): Promise<void>;
  /** The send time of the canary document the index holds; undefined when it holds none. */
  readCanary(): Promise<number | undefined>;
  /** Age of the oldest message on the index's changes queue, ms; undefined without data. */
  oldestMessageAgeMs(): Promise<number | undefined>;
  dlqDepth(): Promise<number>;
  /** The index's latest re-sync job, as `resync status` reads it from its state table; undefined without one. */
  resyncProgress(): Promise<ResyncProgress | undefined>;
}

/** Everything the lag check reads and writes; each may fail on its own (permissions, outages). */
export interface LagCheckPorts {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Writes the canary item to the source table with this send time: once, for every index. */
  writeCanary(sentAt: number): Promise<void>;
  /** How far behind the stream the batcher reads (Lambda IteratorAge), ms; undefined without data. */
  streamIteratorAgeMs(): Promise<number | undefined>;
  /** The first index's writer's circuit breaker, as it last reported it. */
  circuit(): Promise<CircuitState | undefined>;
  /** Every index of the table, the first first: the canary is waited for in each. */
  readonly indexes: readonly IndexLagPorts[];
}

export interface LagCheckOptions {
  /** How long to wait for the canary to become searchable. */
  canaryTimeoutMs: number;
  /** How often to look for it meanwhile. */
  pollIntervalMs: number;
}

/** One index's figures in a lag check. */
export interface IndexLagReading {
  alias: string;
  /** As `LagReading.lagMs`, for this index: its canary wait, its queue's oldest change, the stream's age. */
  lagMs: number | null;
  /** Source write to searchable in this index, ms; null when the canary did not appear in time. */
  canaryDelayMs: number | null;
  oldestPendingChangeAgeMs: number | null;
  dlqDepth: number | null;
  /**
   * The index's latest re-sync: `none` without a job, `unknown` when its state table could not be read.
   * Absent from a reading saved by a version before it.
   */
  resync?: ResyncReading | 'none' | 'unknown';
}

/** An index's latest re-sync job, as the lag check saw it: what its re-sync metrics and `lag` show. */
export interface ResyncReading {
  jobId: string;
  phase: ResyncPhase;
  segmentsDone: number;
  totalSegments: number;
  indexed: number;
  /**
   * Ms since the job last made progress, while it is unfinished or (finished) still holds the active pointer,
   * which blocks every later re-sync; absent otherwise. What the ResyncStalled alarms watch.
   */
  progressAgeMs?: number;
}

const resyncReadingOf = (progress: ResyncProgress | undefined): ResyncReading | 'none' =>
  progress === undefined
    ? 'none'
    : {
        jobId: progress.job.jobId,
        phase: progress.job.phase,
        segmentsDone: progress.segmentsDone,
        totalSegments: progress.job.totalSegments,
        indexed: progress.indexed,
        ...(progress.progressAgeMs !== undefined && { progressAgeMs: progress.progressAgeMs }),
      };

/** One lag check's findings: what the ingestion-delay endpoint serves and the metrics publish. */
export interface LagReading {
  /**
   * The one lag figure, ms: the slowest index's (see `indexes`), each the largest of the canary's
   * end-to-end delay (or, while it has not appeared, how long it has been on its way), the oldest queued
   * change's age and the stream iterator age. Null when the canary could not be sent or looked for in some
   * index: the lag is unknown.
   */
  lagMs: number | null;
  /** Source write to searchable in the slowest index, ms; null when it did not appear in time in some index. */
  canaryDelayMs: number | null;
  /** The oldest queued change's age over every index's queue. */
  oldestPendingChangeAgeMs: number | null;
  streamIteratorAgeMs: number | null;
  /** Dead letters over every index's DLQ; null when some DLQ could not be read. */
  dlqDepth: number | null;
  circuit: CircuitState | 'unknown';
  /** Why some figures are missing, each starting with `lag unknown:` or naming the figure. */
  problems: string[];
  measuredAt: string;
  /** Each index's figures, the first first; absent from a reading saved by a version before it. */
  indexes?: IndexLagReading[];
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Records a figure's failure as a problem instead of throwing. */
type Figure = <T>(name: string, read: () => Promise<T>) => Promise<T | undefined>;

interface CanaryWait {
  /** How long the canary was on its way to the index, ms; undefined when it could not be looked for. */
  waitedMs: number | undefined;
  delayMs: number | null;
}

/** Polls one index for the canary sent at `sentAt` until it appears or the timeout passes. */
async function waitForCanary(
  ports: LagCheckPorts,
  index: IndexLagPorts,
  sentAt: number,
  options: LagCheckOptions,
  problem: (text: string) => void,
): Promise<CanaryWait> {
  try {
    for (;;) {
      const seen = await index.readCanary();
      const waitedMs = ports.now() - sentAt;
      if (seen !== undefined && seen >= sentAt) return { waitedMs, delayMs: waitedMs };
      if (waitedMs >= options.canaryTimeoutMs) {
        problem(`canary not searchable after ${Math.round(waitedMs / 1000)} s`);
        return { waitedMs, delayMs: null };
      }
      await ports.sleep(Math.min(options.pollIntervalMs, options.canaryTimeoutMs - waitedMs));
    }
  } catch (error) {
    problem(`lag unknown: cannot read the canary from the index: ${reasonOf(error)}`);
    return { waitedMs: undefined, delayMs: null };
  }
}

/** Prepares every canary collection, writes the canary once and waits for it in every index at once. */
async function sendCanary(
  ports: LagCheckPorts,
  sentAt: number,
  options: LagCheckOptions,
  problemOf: (index: IndexLagPorts) => (text: string) => void,
): Promise<CanaryWait[]> {
  const prepared = await Promise.allSettled(ports.indexes.map((index) => index.prepareCanary()));
  try {
    await ports.writeCanary(sentAt);
  } catch (error) {
    problemOf(ports.indexes[0] as IndexLagPorts)(`lag unknown: cannot write the canary: ${reasonOf(error)}`);
    return ports.indexes.map(() => ({ waitedMs: undefined, delayMs: null }));
  }
  return Promise.all(
    ports.indexes.map(async (index, position) => {
      const preparation = prepared[position];
      if (preparation?.status === 'rejected') {
        problemOf(index)(
          `lag unknown: cannot prepare the canary collection: ${reasonOf(preparation.reason)}`,
        );
        return { waitedMs: undefined, delayMs: null };
      }
      return waitForCanary(ports, index, sentAt, options, problemOf(index));
    }),
  );
}

const worst = (values: readonly (number | null)[]) =>
  values.some((value) => value === null) ? null : Math.max(...(values as number[]));

/**
 * Writes one canary to the source table and waits until every index holds it, while reading the
 * pipeline's backlog figures. Never throws: a part that fails is reported as a problem, so a missing
 * permission or an unreachable index gives a clear status instead of a crash loop. With several
 * indexes, a problem names the index it concerns (`… (index orders)`).
 */
export async function checkLag(ports: LagCheckPorts, options: LagCheckOptions): Promise<LagReading> {
  const problems: string[] = [];
  const several = ports.indexes.length > 1;
  const problemOf = (index: IndexLagPorts) => (text: string) =>
    problems.push(several ? `${text} (index ${index.alias})` : text);
  const figureOf =
    (index: IndexLagPorts | undefined): Figure =>
    async (name, read) => {
      try {
        return await read();
      } catch (error) {
        const text = `${name} unknown: ${reasonOf(error)}`;
        if (index === undefined) problems.push(text);
        else problemOf(index)(text);
        return undefined;
      }
    };
  const shared = Promise.all([
    figureOf(undefined)('stream iterator age', () => ports.streamIteratorAgeMs()),
    figureOf(undefined)('circuit state', () => ports.circuit()),
  ]);
  // Each index's re-sync is read on its own: a state table that cannot be read leaves that index's re-sync
  // unknown (a problem naming it), never another index's figures or anyone's lag.
  const backlogs = Promise.all(
    ports.indexes.map((index) =>
      Promise.all([
        figureOf(index)('oldest pending change age', () => index.oldestMessageAgeMs()),
        figureOf(index)('DLQ depth', () => index.dlqDepth()),
        figureOf(index)('re-sync progress', async () => resyncReadingOf(await index.resyncProgress())),
      ]),
    ),
  );

  const sentAt = ports.now();
  const waits = await sendCanary(ports, sentAt, options, problemOf);
  const [iteratorAge, circuit] = await shared;
  const indexes = (await backlogs).map(([oldestAge, dlqDepth, resync], position): IndexLagReading => {
    const wait = waits[position] as CanaryWait;
    return {
      alias: (ports.indexes[position] as IndexLagPorts).alias,
      lagMs: wait.waitedMs === undefined ? null : Math.max(wait.waitedMs, iteratorAge ?? 0, oldestAge ?? 0),
      canaryDelayMs: wait.delayMs,
      oldestPendingChangeAgeMs: oldestAge ?? null,
      dlqDepth: dlqDepth ?? null,
      resync: resync ?? 'unknown',
    };
  });
  const oldestAges = indexes.flatMap((index) => index.oldestPendingChangeAgeMs ?? []);
  const dlqDepths = indexes.map((index) => index.dlqDepth);
  return {
    lagMs: worst(indexes.map((index) => index.lagMs)),
    canaryDelayMs: worst(indexes.map((index) => index.canaryDelayMs)),
    oldestPendingChangeAgeMs: oldestAges.length === 0 ? null : Math.max(...oldestAges),
    streamIteratorAgeMs: iteratorAge ?? null,
    dlqDepth: dlqDepths.some((depth) => depth === null)
      ? null
      : (dlqDepths as number[]).reduce((sum, depth) => sum + depth, 0),
    circuit: circuit ?? 'unknown',
    problems,
    measuredAt: new Date(sentAt).toISOString(),
    indexes,
  };
}
