import type { Command } from 'commander';
import { type CommandContext, EXIT } from '../context.ts';
import { pipelineStatus } from '../operations/status.ts';
import { renderStatus } from '../render/status.ts';

/** `status`: one screen of the whole pipeline; exit 2 when it needs attention. */
export function addStatusCommand(program: Command, context: CommandContext): void {
  program
    .command('status')
    .description('one screen: table, queues, DLQ, failed stream batches, Typesense, lag')
    .addHelpText('after', '\nExample:\n  npm run cli -- --target .local/target.json status --json')
    .action(async (_options, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const status = await pipelineStatus(connection);
        if (!status.healthy) context.exitWith(EXIT.problem);
        context.print(json, status, () => renderStatus(status));
      });
    });
}
