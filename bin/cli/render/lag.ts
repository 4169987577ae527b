import type { IngestionDelay } from '../operations/lag.ts';

type IndexDelay = NonNullable<IngestionDelay['indexes']>[number];

/** An index's latest re-sync in a few words: its phase and segments, and how long it made no progress. */
function renderResync(resync: IndexDelay['resync']): string | undefined {
  if (resync === undefined) return undefined;
  if (resync === 'none') return 're-sync none';
  if (resync === 'unknown') return 're-sync unknown';
  const progress =
    resync.progressAgeMs === undefined
      ? ''
      : `, no progress for ${Math.round(resync.progressAgeMs / 1000)} s`;
  return `re-sync ${resync.phase} (${resync.segmentsDone}/${resync.totalSegments} segments${progress})`;
}

/** One line per reading: `lag` prints it, `lag --watch` one per interval, `status` as its last line. */
export function renderLag(lag: IngestionDelay): string {
  const pending =
    lag.oldestPendingChangeAgeMs === null
      ? 'nothing pending'
      : `oldest pending change ${lag.oldestPendingChangeAgeMs} ms`;
  const line = `lag ${lag.lagMs} ms (${pending}) | DLQ ${lag.dlqDepth} | circuit ${lag.circuit} | at ${lag.measuredAt}`;
  // With several indexes, the line above is the slowest index's lag; each index follows on a line of its own,
  // with its re-sync (a stalled or failed re-sync of any index shows here under its alias).
  const indexes = (lag.indexes ?? []).map((index) =>
    [
      `  index ${index.alias}: lag ${index.lagMs === null ? 'unknown' : `${index.lagMs} ms`}`,
      `DLQ ${index.dlqDepth ?? 'unknown'}`,
      renderResync(index.resync),
    ]
      .filter((part) => part !== undefined)
      .join(' | '),
  );
  return [line, ...indexes].join('\n');
}
