import { z } from 'zod';

/** What `GET /v1/ingestion-delay` answers, and what `lag` and `status` show. */
export const ingestionDelaySchema = z.object({
  /** How far behind the index is now, ms: the oldest unapplied change's age, or else the latest applied delay; 0 when idle. */
  lagMs: z.number(),
  /** Age of the oldest change received but not applied (failing, backing off, circuit open), ms. */
  oldestPendingChangeAgeMs: z.number().nullable(),
  dlqDepth: z.number(),
  circuit: z.enum(['closed', 'open', 'half-open', 'unknown']),
  measuredAt: z.string(),
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

export class LagUnknownError extends Error {
  override name = 'LagUnknownError';
}

/** Asks an ingestion-delay endpoint; a failure says why the lag is unknown. */
export async function fetchIngestionDelay(url: string, timeoutMs = 5_000): Promise<IngestionDelay> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new LagUnknownError(`lag unknown: ${url} did not answer (${(error as Error).message})`);
  }
  if (!response.ok) throw new LagUnknownError(`lag unknown: ${url} answered HTTP ${response.status}`);
  const parsed = ingestionDelaySchema.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success)
    throw new LagUnknownError(`lag unknown: ${url} answered something that is not an ingestion delay`);
  return parsed.data;
}
