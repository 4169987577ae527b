import type { AdaptiveLimit } from '../../functions/core/adaptive-limit.ts';
import type { WriterPorts } from '../../functions/core/write-batch.ts';
import { isTimeout, TypesenseHttpError } from '../../functions/shared/typesense-errors.ts';

/** Calls and time of one writer port, ms summed over concurrent invocations. */
export interface PortTiming {
  calls: number;
  ms: number;
}

/** The writer ports whose time the chaos figures show: where an invocation's time goes. */
const TIMED = [
  'readItems',
  'importDocuments',
  'deleteDocuments',
  'health',
  'changeVisibility',
  'requeue',
  'sleep',
] as const;
export type TimedPort = (typeof TIMED)[number];

/** Why a live Typesense write failed, as the writer saw it. */
const FAILURE_CAUSES = ['timeout', 'answered', 'dropped'] as const;
export type WriteFailureCause = (typeof FAILURE_CAUSES)[number];

export interface WriterTiming {
  ports: Record<TimedPort, PortTiming>;
  /**
   * Live imports and deletes that failed whole, by cause: given up at the writer's timeout (a hung
   * request), answered with an HTTP error (503, 429, 500…), or the connection dropped without an answer
   * (a lost answer, a refused connection). Their calls and time are also in `ports`.
   */
  failedWrites: Record<WriteFailureCause, PortTiming>;
  /** Live imports that waited for a slot of the writer's adaptive import limit, and the time waited. */
  importSlotWaits: PortTiming;
  /**
   * Pauses of `LONG_PAUSE_MS` or more (also in `ports.sleep`): backoffs from an overload answered twice
   * in a row, or retries while the breaker does not see a working server, not a lossy server's 5–10 ms.
   */
  longPauses: PortTiming;
}

/** The shortest pause `longPauses` counts, ms. */
export const LONG_PAUSE_MS = 50;

function failureCause(error: unknown): WriteFailureCause {
  if (isTimeout(error)) return 'timeout';
  return error instanceof TypesenseHttpError ? 'answered' : 'dropped';
}

const zero = (): PortTiming => ({ calls: 0, ms: 0 });

/**
 * Wraps the embedded writer's ports (the object its handler calls through) to count their calls and
 * time: the source re-read, Typesense writes, health probes, backoffs, re-sends and in-invocation
 * retry pauses (`sleep`), and the live writes that failed, by cause. With the handler's import limit,
 * also the time imports waited for one of its slots. Counters only; the calls themselves are unchanged.
 */
export function timeWriterPorts(ports: WriterPorts, importLimit?: AdaptiveLimit): WriterTiming {
  const timing: WriterTiming = {
    ports: Object.fromEntries(TIMED.map((name) => [name, zero()])) as WriterTiming['ports'],
    failedWrites: Object.fromEntries(
      FAILURE_CAUSES.map((cause) => [cause, zero()]),
    ) as WriterTiming['failedWrites'],
    importSlotWaits: zero(),
    longPauses: zero(),
  };
  const table = ports as unknown as Record<TimedPort, ((...args: unknown[]) => Promise<unknown>) | undefined>;
  // The writer's default pause, made a port so that it is timed too.
  ports.sleep ??= (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  for (const name of TIMED) {
    const original = table[name];
    if (original === undefined) continue;
    const liveWrite = name === 'importDocuments' || name === 'deleteDocuments';
    table[name] = async (...args: unknown[]) => {
      const started = Date.now();
      try {
        return await original.apply(ports, args);
      } catch (error) {
        if (liveWrite) add(timing.failedWrites[failureCause(error)], Date.now() - started);
        throw error;
      } finally {
        add(timing.ports[name], Date.now() - started);
        if (name === 'sleep' && Number(args[0]) >= LONG_PAUSE_MS)
          add(timing.longPauses, Date.now() - started);
      }
    };
  }
  if (importLimit !== undefined) timeSlotWaits(importLimit, timing.importSlotWaits);
  return timing;
}

function add(timing: PortTiming, ms: number): void {
  timing.calls++;
  timing.ms += ms;
}

/** Counts the imports that had to wait for a slot of the limit, and how long. */
function timeSlotWaits(limit: AdaptiveLimit, waits: PortTiming): void {
  const acquire = limit.acquire.bind(limit);
  limit.acquire = async () => {
    const asked = Date.now();
    const startedAt = await acquire();
    if (startedAt > asked) add(waits, startedAt - asked);
    return startedAt;
  };
}
