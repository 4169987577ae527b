import type { ReplayReport } from '../operations/replay.ts';

/** `replay-stream-failures`: what was (or would be) replayed, then each batch kept and why. */
export function renderReplay(report: ReplayReport): string {
  return [
    report.dryRun
      ? `dry run: ${report.objects} failed batches, ${report.records} stream records to replay`
      : `replayed ${report.replayed} of ${report.objects} failed batches: ${report.records} records → ${report.changes} changes enqueued, ${report.deadLettered} dead-lettered`,
    ...report.failed.map(({ key, reason }) => `  kept ${key}: ${reason}`),
  ].join('\n');
}
