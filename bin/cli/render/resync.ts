import type { CancelOutcome, ResyncJob, ResyncProgress } from '../../../functions/core/resync.ts';
import type { RepairReport } from '../operations/repair.ts';

/** A running re-sync silent this long is flagged in `resync status` (a page or chunk takes seconds). */
export const STALL_WARNING_MS = 5 * 60_000;

/** `resync status` and `resync start --wait`: counts, rate and ETA, what it waits for, its rejections. */
export function renderResync(progress: ResyncProgress): string {
  const { job } = progress;
  const rate =
    progress.itemsPerSecond === undefined ? '' : `, ${Math.round(progress.itemsPerSecond)} items/s`;
  const eta = progress.etaSeconds === undefined ? '' : `, ETA ${Math.ceil(progress.etaSeconds)} s`;
  return [
    `re-sync ${job.jobId} (${job.trigger}) ${job.phase}: ${progress.segmentsDone}/${job.totalSegments} segments, ` +
      `${progress.scanned} scanned, ${progress.indexed} indexed, ${progress.skipped} already newer from the stream` +
      `${progress.filtered > 0 ? `, ${progress.filtered} left out by the filter or transform` : ''}${rate}${eta}`,
    ...(progress.progressAgeMs === undefined
      ? []
      : [
          `  ${progress.waitingFor}; last progress ${Math.round(progress.progressAgeMs / 1000)} s ago` +
            (progress.progressAgeMs > STALL_WARNING_MS
              ? ' (stalled? see the re-sync function logs and its DLQ)'
              : ''),
        ]),
    `  collection ${job.collection}${job.previous === undefined ? '' : `, replaced ${job.previous}`}` +
      (job.firstLoad === true ? `; first load: the alias ${job.alias} appears at the swap` : '') +
      (job.rolledBackAt === undefined ? '' : ' (rolled back)'),
    ...(job.message === undefined ? [] : [`  ${job.message}`]),
    ...progress.rejections.map(({ id, reason }) => `  rejected ${id}: ${reason}`),
  ].join('\n');
}

/** `resync start` without `--wait`. */
export const renderResyncStarted = (job: ResyncJob) =>
  `started re-sync ${job.jobId} into ${job.collection}; follow it with: resync status`;

/** `resync cancel`: what cancelling did, which depends on how far the re-sync had got. */
export function renderCancel(outcome: CancelOutcome | undefined): string {
  if (outcome === undefined) return 'no re-sync is running';
  const { job } = outcome;
  if (outcome.action === 'cancelled') return `cancelled re-sync ${job.jobId}; ${job.collection} dropped`;
  if (outcome.action === 'completed')
    return `re-sync ${job.jobId} had already swapped the alias to ${job.collection}: marked done, pointer released`;
  return `re-sync ${job.jobId} had already ended (${job.phase}): released the active pointer it left behind`;
}

export interface RollbackResult {
  job: ResyncJob;
  drift: number;
  repair: RepairReport | undefined;
}

/** `resync rollback`: where the alias points now, and the repair of what the old collection missed. */
export function renderRollback(result: RollbackResult, alias: string): string {
  const stillFailing = result.repair?.settlement?.stillFailing ?? [];
  return [
    `alias ${alias} points at ${result.job.previous} again (re-sync ${result.job.jobId} rolled back)`,
    result.repair === undefined
      ? 'it matches the table'
      : `repaired ${result.drift} documents it missed since the swap: ${result.repair.enqueued} re-enqueued, ${stillFailing.length} still failing`,
  ].join('\n');
}
