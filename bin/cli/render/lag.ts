import type { IngestionDelay } from '../operations/lag.ts';

/** One line per reading: `lag` prints it, `lag --watch` one per interval, `status` as its last line. */
export function renderLag(lag: IngestionDelay): string {
  const pending =
    lag.oldestPendingChangeAgeMs === null
      ? 'nothing pending'
      : `oldest pending change ${lag.oldestPendingChangeAgeMs} ms`;
  const line = `lag ${lag.lagMs} ms (${pending}) | DLQ ${lag.dlqDepth} | circuit ${lag.circuit} | at ${lag.measuredAt}`;
  // With several indexes, the line above is the slowest index's lag; each index follows on a line of its own.
  const indexes = (lag.indexes ?? []).map(
    (index) =>
      `  index ${index.alias}: lag ${index.lagMs === null ? 'unknown' : `${index.lagMs} ms`} | DLQ ${index.dlqDepth ?? 'unknown'}`,
  );
  return [line, ...indexes].join('\n');
}
