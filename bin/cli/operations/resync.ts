import { OperatorError } from '../../../functions/core/errors.ts';
import {
  type CancelOutcome,
  cancelResync,
  FINISHED_PHASES,
  type ResyncJob,
  type ResyncPorts,
  type ResyncProgress,
  type ResyncTrigger,
  resyncProgress,
  rollbackResync,
} from '../../../functions/core/resync.ts';
import { sleep } from '../../../functions/shared/aws.ts';
import { resyncPorts, sendTasks } from '../../../functions/shared/resync-adapters.ts';
import { verifyOptionsOf } from './redrive.ts';
import { type RepairReport, repairDrift } from './repair.ts';
import { type Connection, changeKeysOf, TargetError } from './target.ts';
import { verifyIndex } from './verify.ts';

/** A re-sync request that cannot go ahead now: names the re-sync in the way. */
export class ResyncBusyError extends OperatorError {
  override name = 'ResyncBusyError';
}

/** The re-sync ports over a target's clients (its state table, queues, table and Typesense). */
export function portsOf(connection: Connection): ResyncPorts {
  const { target } = connection;
  if (target.resync === undefined)
    throw new TargetError(
      'the target names no re-sync resources (resync.stateTable, resync.queueUrl): redeploy the stack',
    );
  return resyncPorts({
    dynamodb: connection.dynamodb,
    sqs: connection.sqs,
    typesense: connection.typesense,
    tableName: target.tableName,
    keyAttributes: changeKeysOf(target),
    stateTable: target.resync.stateTable,
    resyncQueueUrl: target.resync.queueUrl,
    changesQueue: target,
  });
}

export async function resyncStatus(connection: Connection): Promise<ResyncProgress | undefined> {
  return resyncProgress(portsOf(connection).store, Date.now());
}

/**
 * Asks the re-sync function to start one (the same task a schedule or a stream gap sends) and
 * waits until it has: resolves with the new job, which then runs on its own.
 */
export async function requestResync(
  connection: Connection,
  trigger: ResyncTrigger,
  startTimeoutMs = 60_000,
): Promise<ResyncJob> {
  const { store } = portsOf(connection);
  const running = await resyncProgress(store, Date.now());
  if (running !== undefined && !FINISHED_PHASES.has(running.job.phase))
    throw new ResyncBusyError(
      `re-sync ${running.job.jobId} is running (${running.job.phase}, ${running.segmentsDone}/${running.job.totalSegments} segments): wait for it or cancel it`,
    );
  // A finished job whose pointer leaked (a crash between the two writes) refuses every start.
  if (running?.progressAgeMs !== undefined)
    throw new ResyncBusyError(`re-sync ${running.job.jobId} ${running.waitingFor}`);
  const before = running?.job.jobId ?? '';
  await sendTasks(connection.sqs, (connection.target.resync as { queueUrl: string }).queueUrl, [
    { action: 'start', trigger },
  ]);
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    // A start task delivered twice starts two jobs; the one that lost the claim is cancelled at once.
    const started = (await store.latestJobs(5)).find(
      (job) => job.jobId > before && job.phase !== 'cancelled',
    );
    if (started !== undefined) return started;
    await sleep(250);
  }
  throw new ResyncBusyError(
    `no re-sync started within ${startTimeoutMs / 1000} s: check the re-sync function's logs (is the alias there?)`,
  );
}

/** Polls a job until it is done, failed or cancelled, reporting progress on the way. */
export async function followResync(
  connection: Connection,
  jobId: string,
  onProgress: (progress: ResyncProgress) => void,
  pollMs = 500,
): Promise<ResyncProgress> {
  const { store } = portsOf(connection);
  for (;;) {
    const progress = await resyncProgress(store, Date.now(), jobId);
    if (progress === undefined) throw new ResyncBusyError(`re-sync ${jobId} does not exist`);
    onProgress(progress);
    if (FINISHED_PHASES.has(progress.job.phase)) return progress;
    await sleep(pollMs);
  }
}

/** Cancels the running re-sync in any phase, or releases the pointer a finished one left behind. */
export async function cancelRunningResync(connection: Connection): Promise<CancelOutcome | undefined> {
  return cancelResync(portsOf(connection));
}

/**
 * Points the alias back at the collection the last re-sync replaced, then repairs it through the
 * pipeline: it missed every change made since the swap.
 */
export async function rollbackLastResync(
  connection: Connection,
  waitMs: number,
): Promise<{ job: ResyncJob; drift: number; repair: RepairReport | undefined }> {
  const job = await rollbackResync(portsOf(connection), connection.target.typesense.collection);
  const report = await verifyIndex(await verifyOptionsOf(connection));
  const drift = report.missing.length + report.extra.length + report.stale.length;
  const repair = drift > 0 ? await repairDrift(connection, report, waitMs) : undefined;
  return { job, drift, repair };
}
