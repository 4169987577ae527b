/*
 * Zero-downtime full re-sync. How it stays consistent with the stream (README, "Full re-sync"):
 * 1. The new collection is created, then the job is recorded as *active*. From then on every writer
 *    batch (which reads the active pointer after receiving its messages) writes each change to the
 *    live alias and to the new collection.
 * 2. Segments scan the table (consistent reads) and import with `action=create`: a document the
 *    writer already put there is newer than the scanned copy, and `create` refuses to overwrite it
 *    (409, counted as `skipped`); a scanned copy imported first is overwritten by the writer's later
 *    upsert.
 * 3. The one race `create` cannot close is a delete applied before the import of an older scanned
 *    copy. The writer records every key it deletes during a re-sync (a tombstone); before the swap
 *    the finisher re-checks those keys and re-applies any that came back through the changes queue,
 *    in the key's own message group, so the fix is serialised with the key's later changes.
 * 4. The alias is swapped in one request, then the pointer is released.
 */

/*
 * Where each part lives (functions/core/resync/):
 * - model.ts: the job, segment and re-check state, the store and Typesense ports, the work-queue
 *   tasks, and `abandon` (the end of a job that will not swap);
 * - backfill.ts: a segment's scan pages imported with `create`, checkpointed, handed on in time;
 * - finish.ts: the re-check of deleted keys, the swap of the alias, the pruning of old collections;
 * - operator.ts: start, cancel, rollback, progress, and the dispatch of one work-queue task.
 */

export {
  CHECKPOINT_EVERY_MS,
  IMPORT_ATTEMPTS,
  importCallWithin,
  importWithRetries,
  JOB_REREAD_MS,
  ResyncImportError,
  runSegment,
  type SegmentOutcome,
} from './resync/backfill.ts';
export {
  type FinishOutcome,
  finishResync,
  RECHECK_CHUNK,
  RECHECK_CONCURRENCY,
  type RecheckOutcome,
  recheckDeletes,
} from './resync/finish.ts';
export {
  type ActiveResync,
  type CollectionDefinition,
  type DeletedKey,
  FINISH_RECHECK_SECONDS,
  FINISHED_PHASES,
  type FixingWrite,
  fixedBeforeOf,
  jobIdAt,
  MAX_FINISH_CHECKS,
  parseResyncTask,
  type RecheckProgress,
  type Rejection,
  ResyncError,
  type ResyncJob,
  type ResyncOptions,
  type ResyncPhase,
  type ResyncPorts,
  type ResyncStore,
  type ResyncTask,
  type ResyncTrigger,
  type ResyncTypesense,
  type SegmentState,
  SWAP_LEASE_MS,
  schemaOf,
  TASK_RESERVE_MS,
  type TransitionGuard,
} from './resync/model.ts';
export {
  type CancelOutcome,
  cancelResync,
  type ResyncProgress,
  resyncProgress,
  rollbackResync,
  runResyncTask,
  type StartResult,
  startResync,
} from './resync/operator.ts';
