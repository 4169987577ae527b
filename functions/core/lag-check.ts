import type { CircuitState } from './breaker.ts';

/** Everything the lag check reads and writes; each may fail on its own (permissions, outages). */
export interface LagCheckPorts {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Creates the canary collection when it is missing. */
  prepareCanary(): Promise<void>;
  /** Writes the canary item to the source table with this send time. */
  writeCanary(sentAt: number): Promise<void>;
  /** The send time of the canary document the index holds; undefined when it holds none. */
  readCanary(): Promise<number | undefined>;
  /** How far behind the stream the batcher reads (Lambda IteratorAge), ms; undefined without data. */
  streamIteratorAgeMs(): Promise<number | undefined>;
  /** Age of the oldest message on the changes queue, ms; undefined without data. */
  oldestMessageAgeMs(): Promise<number | undefined>;
  dlqDepth(): Promise<number>;
  /** The writer's circuit breaker, as it last reported it. */
  circuit(): Promise<CircuitState | undefined>;
}

export interface LagCheckOptions {
  /** How long to wait for the canary to become searchable. */
  canaryTimeoutMs: number;
  /** How often to look for it meanwhile. */
  pollIntervalMs: number;
}

/** One lag check's findings: what the ingestion-delay endpoint serves and the metrics publish. */
export interface LagReading {
  /**
   * The one lag figure, ms: the largest of the canary's end-to-end delay (or, while it has not
   * appeared, how long it has been on its way), the oldest queued change's age and the stream
   * iterator age. Null when the canary could not be sent or looked for: the lag is unknown.
   */
  lagMs: number | null;
  /** Source write to searchable for the canary, ms; null when it did not appear in time. */
  canaryDelayMs: number | null;
  oldestPendingChangeAgeMs: number | null;
  streamIteratorAgeMs: number | null;
  dlqDepth: number | null;
  circuit: CircuitState | 'unknown';
  /** Why some figures are missing, each starting with `lag unknown:` or naming the figure. */
  problems: string[];
  measuredAt: string;
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Writes a canary to the source table and waits until the index holds it, while reading the
 * pipeline's backlog figures. Never throws: a part that fails is reported as a problem, so a missing
 * permission or an unreachable index gives a clear status instead of a crash loop.
 */
export async function checkLag(ports: LagCheckPorts, options: LagCheckOptions): Promise<LagReading> {
  const problems: string[] = [];
  const figure = async <T>(name: string, read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      problems.push(`${name} unknown: ${reasonOf(error)}`);
      return undefined;
    }
  };
  const backlog = Promise.all([
    figure('stream iterator age', () => ports.streamIteratorAgeMs()),
    figure('oldest pending change age', () => ports.oldestMessageAgeMs()),
    figure('DLQ depth', () => ports.dlqDepth()),
    figure('circuit state', () => ports.circuit()),
  ]);

  const sentAt = ports.now();
  let canaryDelayMs: number | null = null;
  let canaryWaitedMs: number | undefined;
  try {
    await ports.prepareCanary();
    await ports.writeCanary(sentAt);
    canaryWaitedMs = 0;
    for (;;) {
      const seen = await ports.readCanary();
      const now = ports.now();
      canaryWaitedMs = now - sentAt;
      if (seen !== undefined && seen >= sentAt) {
        canaryDelayMs = canaryWaitedMs;
        break;
      }
      if (canaryWaitedMs >= options.canaryTimeoutMs) {
        problems.push(`canary not searchable after ${Math.round(canaryWaitedMs / 1000)} s`);
        break;
      }
      await ports.sleep(Math.min(options.pollIntervalMs, options.canaryTimeoutMs - canaryWaitedMs));
    }
  } catch (error) {
    problems.push(
      canaryWaitedMs === undefined
        ? `lag unknown: cannot write the canary: ${reasonOf(error)}`
        : `lag unknown: cannot read the canary from the index: ${reasonOf(error)}`,
    );
    canaryWaitedMs = undefined;
  }

  const [iteratorAge, oldestAge, dlqDepth, circuit] = await backlog;
  const lagMs =
    canaryWaitedMs === undefined ? null : Math.max(canaryWaitedMs, iteratorAge ?? 0, oldestAge ?? 0);
  return {
    lagMs,
    canaryDelayMs,
    oldestPendingChangeAgeMs: oldestAge ?? null,
    streamIteratorAgeMs: iteratorAge ?? null,
    dlqDepth: dlqDepth ?? null,
    circuit: circuit ?? 'unknown',
    problems,
    measuredAt: new Date(sentAt).toISOString(),
  };
}
