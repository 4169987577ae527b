import { z } from 'zod';
import type { LagReading } from './lag-check.ts';

/** One index's figures, with a table of several indexes (the lag check's per-index reading). */
const indexDelaySchema = z.object({
  alias: z.string(),
  /** Null when the canary could not be looked for in this index (its lag is unknown). */
  lagMs: z.number().nullable(),
  oldestPendingChangeAgeMs: z.number().nullable(),
  dlqDepth: z.number().nullable(),
  /** Its latest re-sync (see `IndexLagReading.resync`); absent from a reading saved before it was read. */
  resync: z
    .union([
      z.enum(['none', 'unknown']),
      z.object({
        jobId: z.string(),
        /** A `ResyncPhase`: shown as it is, so a phase added later needs no change here. */
        phase: z.string(),
        segmentsDone: z.number(),
        totalSegments: z.number(),
        indexed: z.number(),
        progressAgeMs: z.number().optional(),
      }),
    ])
    .optional(),
});

/** What `GET /v1/ingestion-delay` answers, and what `lag` and `status` show. */
export const ingestionDelaySchema = z.object({
  /**
   * How far behind the index is now, ms: the oldest unapplied change's age, or else the latest applied delay;
   * 0 when idle. With several indexes, the slowest index's.
   */
  lagMs: z.number(),
  /** Age of the oldest change received but not applied (failing, backing off, circuit open), ms; over every index. */
  oldestPendingChangeAgeMs: z.number().nullable(),
  /** The first index's DLQ depth (each index's is in `indexes`). */
  dlqDepth: z.number(),
  circuit: z.enum(['closed', 'open', 'half-open', 'unknown']),
  measuredAt: z.string(),
  /** Each index's figures, the first first: only for a table with several indexes. */
  indexes: z.array(indexDelaySchema).optional(),
});
export type IngestionDelay = z.infer<typeof ingestionDelaySchema>;

export interface PipelineFigures {
  /** Largest recent `applied − sourceTs`, ms. */
  lagMs: number | undefined;
  oldestPendingAgeMs: number | undefined;
  dlqDepth: number;
  circuit: IngestionDelay['circuit'];
}

/**
 * The one lag figure. While changes are stuck their age is the lag (it grows until they apply);
 * otherwise the delay of the changes just applied; 0 when nothing has moved lately.
 */
export function ingestionDelayOf(figures: PipelineFigures, now: number): IngestionDelay {
  const pending = figures.oldestPendingAgeMs;
  return {
    lagMs: Math.max(pending ?? 0, figures.lagMs ?? 0),
    oldestPendingChangeAgeMs: pending ?? null,
    dlqDepth: figures.dlqDepth,
    circuit: figures.circuit,
    measuredAt: new Date(now).toISOString(),
  };
}

/** What the endpoint answers when it cannot give a lag figure. */
export interface LagUnknown {
  /** Why, in words safe to show anyone: the endpoint may be public. */
  unknown: string;
  /** The lag check's own words (error text, which can name roles and resources): for the log only. */
  detail?: string;
}

const SEE_LOGS = '(details in the lag-check function logs)';

/**
 * The public answer for a reading without a lag figure: which step failed ("lag unknown: cannot write
 * the canary: <error>" becomes "lag unknown: cannot write the canary"), never the error text itself.
 */
function unmeasured(problems: readonly string[]): LagUnknown {
  const lagProblem = problems.find((problem) => problem.startsWith('lag unknown'));
  const step = lagProblem?.split(': ')[1];
  const detail = lagProblem ?? problems.join('; ');
  return {
    unknown: step === undefined ? `lag unknown ${SEE_LOGS}` : `lag unknown: ${step} ${SEE_LOGS}`,
    ...(detail !== '' && { detail }),
  };
}

/**
 * The deployed endpoint's answer from the lag check's latest reading and the live DLQ depth. A
 * reading older than `staleAfterMs` means the lag check stopped reporting: the lag is unknown.
 */
export function ingestionDelayOfReading(
  reading: LagReading | undefined,
  liveDlqDepth: number | undefined,
  now: number,
  staleAfterMs: number,
): IngestionDelay | LagUnknown {
  if (reading === undefined) return { unknown: 'lag unknown: the lag check has not reported yet' };
  const ageMs = now - Date.parse(reading.measuredAt);
  if (ageMs > staleAfterMs)
    return {
      unknown: `lag unknown: the lag check last reported ${Math.round(ageMs / 1000)} s ago (at ${reading.measuredAt})`,
    };
  if (reading.lagMs === null) return unmeasured(reading.problems);
  const indexes = reading.indexes ?? [];
  return {
    lagMs: reading.lagMs,
    oldestPendingChangeAgeMs: reading.oldestPendingChangeAgeMs,
    // The live depth is the first index's DLQ; the reading's own total counts every index's.
    dlqDepth: liveDlqDepth ?? indexes[0]?.dlqDepth ?? reading.dlqDepth ?? 0,
    circuit: reading.circuit,
    measuredAt: reading.measuredAt,
    ...(indexes.length > 1 && {
      indexes: indexes.map(({ alias, lagMs, oldestPendingChangeAgeMs, dlqDepth, resync }) => ({
        alias,
        lagMs,
        oldestPendingChangeAgeMs,
        dlqDepth,
        ...(resync !== undefined && { resync }),
      })),
    }),
  };
}
