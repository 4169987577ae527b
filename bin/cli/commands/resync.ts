import type { Command } from 'commander';
import { seconds } from '../arguments.ts';
import { type CommandContext, EXIT } from '../context.ts';
import {
  cancelRunningResync,
  followResync,
  requestResync,
  resyncStatus,
  rollbackLastResync,
} from '../operations/resync.ts';
import { renderCancel, renderResync, renderResyncStarted, renderRollback } from '../render/resync.ts';

/** `resync start | status | cancel | rollback`: the full re-sync into a new collection. */
export function addResyncCommands(program: Command, context: CommandContext): void {
  const resync = program
    .command('resync')
    .description(
      'full re-sync into a new collection, then an atomic alias swap: start, status, cancel, rollback',
    );
  addStart(resync, context);
  addStatus(resync, context);
  addCancel(resync, context);
  addRollback(resync, context);
}

function addStart(resync: Command, context: CommandContext): void {
  resync
    .command('start')
    .description('start a re-sync (one at a time); the stream keeps flowing into both collections meanwhile')
    .option('--wait', 'follow it to the end with a progress bar; exit 2 unless it swapped', false)
    .addHelpText('after', '\nExample:\n  npm run cli -- --target .local/target.json resync start --wait')
    .action(async (options: { wait: boolean }, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const job = await requestResync(connection, 'operator');
        if (!options.wait) {
          context.print(json, job, () => renderResyncStarted(job));
          return;
        }
        const bar = context.progress(json, `re-sync ${job.jobId}`);
        const final = await followResync(connection, job.jobId, (progress) =>
          bar.update(progress.scanned, Math.max(progress.scanned, progress.job.estimatedItems ?? 0)),
        ).finally(bar.stop);
        if (final.job.phase !== 'done') context.exitWith(EXIT.problem);
        context.print(json, final, () => renderResync(final));
      });
    });
}

function addStatus(resync: Command, context: CommandContext): void {
  resync
    .command('status')
    .description('the running re-sync, or else the latest one; exit 2 if it failed')
    .action(async (_options: unknown, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const progress = await resyncStatus(connection);
        if (progress?.job.phase === 'failed') context.exitWith(EXIT.problem);
        context.print(json, progress ?? null, () =>
          progress === undefined ? 'no re-sync has run yet' : renderResync(progress),
        );
      });
    });
}

function addCancel(resync: Command, context: CommandContext): void {
  resync
    .command('cancel')
    .description('cancel the running re-sync: the live alias is untouched, the partial collection dropped')
    .action(async (_options: unknown, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const outcome = await cancelRunningResync(connection);
        if (outcome === undefined) context.exitWith(EXIT.error);
        context.print(json, outcome?.job ?? null, () => renderCancel(outcome));
      });
    });
}

function addRollback(resync: Command, context: CommandContext): void {
  resync
    .command('rollback')
    .description('point the alias back at the collection the last re-sync replaced, then repair it')
    .option('--wait <seconds>', 'wait this long for the repairs to apply', seconds('--wait'), 60)
    .action(async (options: { wait: number }, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const result = await rollbackLastResync(connection, options.wait * 1000);
        const stillFailing = result.repair?.settlement?.stillFailing ?? [];
        if (stillFailing.length > 0 || (result.repair?.failed.length ?? 0) > 0)
          context.exitWith(EXIT.problem);
        context.print(json, result, () => renderRollback(result, connection.target.typesense.collection));
      });
    });
}
