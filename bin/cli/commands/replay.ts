import type { Command } from 'commander';
import { type CommandContext, EXIT } from '../context.ts';
import { replayStreamFailures } from '../operations/replay.ts';
import { renderReplay } from '../render/replay.ts';

/** `replay-stream-failures`: the batches in the failure bucket back through the batcher's core. */
export function addReplayCommand(program: Command, context: CommandContext): void {
  program
    .command('replay-stream-failures')
    .description('replay stream batches the batcher gave up on (S3 on-failure destination), after a fix')
    .option('--dry-run', 'count what would be replayed, change nothing', false)
    .option('--keep', 'keep replayed objects in the bucket', false)
    .addHelpText(
      'after',
      '\nExample:\n  npm run cli -- --stack TypesenseSync replay-stream-failures --dry-run',
    )
    .action(async (options: { dryRun: boolean; keep: boolean }, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const bar = context.progress(json, 'replay');
        const report = await replayStreamFailures(connection, { ...options, onProgress: bar.update }).finally(
          bar.stop,
        );
        if (report.failed.length > 0) context.exitWith(EXIT.problem);
        context.print(json, report, () => renderReplay(report));
      });
    });
}
