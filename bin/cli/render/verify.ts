import type { ResyncJob } from '../../../functions/core/resync.ts';
import type { RepairReport } from '../operations/repair.ts';
import type { VerifyReport } from '../operations/verify.ts';

/** What `verify` did: the comparison, and the repair and re-sync it started when asked to. */
export interface VerifyOutcome {
  report: VerifyReport;
  /** The sample size; undefined for a full check. */
  sample: number | undefined;
  repair: RepairReport | undefined;
  /** The re-sync `--resync-above` started, with the threshold it crossed. */
  resync: { job: ResyncJob; driftPercent: number; abovePercent: number } | undefined;
}

/** Documents that differ from their items: missing, extra or stale. */
export const driftingCount = (report: VerifyReport) =>
  report.missing.length + report.extra.length + report.stale.length;

/** Drifting keys left after a repair (or all of them without one): the exit code is 2 when any are. */
export function unresolvedCount({ report, repair }: Pick<VerifyOutcome, 'report' | 'repair'>): number {
  if (repair === undefined) return driftingCount(report);
  return repair.failed.length + (repair.settlement?.stillFailing.length ?? repair.enqueued);
}

/** Up to 20 ids after a colon; nothing for none. */
const list = (ids: readonly string[]) =>
  ids.length === 0 ? '' : `: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', …' : ''}`;

/** `verify`: counts per kind of drift with their first ids, then the re-sync and repair it started. */
export function renderVerify({ report, sample, repair, resync }: VerifyOutcome): string {
  const drifting = driftingCount(report);
  return [
    `${sample === undefined ? 'full' : `sample of ${sample}`}: ${report.tableItems} items, ${report.indexDocuments} documents checked`,
    `missing ${report.missing.length}${list(report.missing)}`,
    `extra   ${report.extra.length}${list(report.extra)}`,
    `stale   ${report.stale.length}${list(report.stale.map(({ id, fields }) => `${id} (${fields.join(',')})`))}`,
    ...(report.unprojectable.length === 0
      ? []
      : [
          `items the projection rejects: ${report.unprojectable.length}${list(report.unprojectable.map(({ id }) => id))}`,
        ]),
    drifting === 0 ? 'index matches the table' : `drift: ${drifting} documents`,
    ...(resync === undefined
      ? []
      : [
          `drift ${resync.driftPercent.toFixed(2)} % is above ${resync.abovePercent} %: started re-sync ${resync.job.jobId}`,
        ]),
    ...(repair === undefined ? [] : renderRepair(repair)),
  ].join('\n');
}

function renderRepair(repair: RepairReport): string[] {
  const stillFailing = repair.settlement?.stillFailing ?? [];
  return [
    `repair: ${repair.enqueued} keys re-enqueued${repair.settlement === undefined ? '' : `, ${repair.settlement.settled.length} applied, ${stillFailing.length} still failing`}`,
    ...stillFailing.map(({ id, reason }) => `  ${id}: ${reason}`),
    ...repair.failed.map(({ id, reason }) => `  ${id}: ${reason}`),
    ...(repair.deletedById.length === 0
      ? []
      : [
          `repair: ${repair.deletedById.length} extra documents deleted by id (no key of the table has their id): ${repair.deletedById.slice(0, 10).join(', ')}`,
        ]),
  ];
}
