import type { WriterPorts } from '../../functions/core/write-batch.ts';

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
export type WriterTiming = Record<TimedPort, PortTiming>;

/**
 * Wraps the embedded writer's ports (the object its handler calls through) to count their calls and
 * time: the source re-read, Typesense writes, health probes, backoffs, re-sends and in-invocation
 * retry pauses (`sleep`). Counters only; the calls themselves are unchanged.
 */
export function timeWriterPorts(ports: WriterPorts): WriterTiming {
  const timing = Object.fromEntries(TIMED.map((name) => [name, { calls: 0, ms: 0 }])) as WriterTiming;
  const table = ports as unknown as Record<TimedPort, ((...args: unknown[]) => Promise<unknown>) | undefined>;
  // The writer's default pause, made a port so that it is timed too.
  ports.sleep ??= (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  for (const name of TIMED) {
    const original = table[name];
    if (original === undefined) continue;
    table[name] = async (...args: unknown[]) => {
      const started = Date.now();
      try {
        return await original.apply(ports, args);
      } finally {
        timing[name].calls++;
        timing[name].ms += Date.now() - started;
      }
    };
  }
  return timing;
}
