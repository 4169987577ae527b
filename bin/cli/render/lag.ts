import type { IngestionDelay } from '../operations/lag.ts';

/** One line per reading: `lag` prints it, `lag --watch` one per interval, `status` as its last line. */
export function renderLag(lag: IngestionDelay): string {
  const pending =
    lag.oldestPendingChangeAgeMs === null
      ? 'nothing pending'
      : `oldest pending change ${lag.oldestPendingChangeAgeMs} ms`;
  return `lag ${lag.lagMs} ms (${pending}) | DLQ ${lag.dlqDepth} | circuit ${lag.circuit} | at ${lag.measuredAt}`;
}
