import { Command, CommanderError, Option } from 'commander';
import { addDlqCommands } from './commands/dlq.ts';
import { addLagCommand } from './commands/lag.ts';
import { addPreviewCommand } from './commands/preview.ts';
import { addReplayCommand } from './commands/replay.ts';
import { addResyncCommands } from './commands/resync.ts';
import { addSchemaCommands } from './commands/schema.ts';
import { addStatusCommand } from './commands/status.ts';
import { addVerifyCommand } from './commands/verify.ts';
import { type CliIo, commandContext, EXIT, processIo } from './context.ts';
import { explain } from './explain.ts';

export { type CliIo, EXIT } from './context.ts';

const EPILOGUE = `
Exit codes: 0 all well, 1 the command could not run, 2 it found a problem (drift, unhealthy, still failing).

Examples:
  npm run cli -- --target .local/target.json status
  npm run cli -- --stack TypesenseSync --region eu-west-1 dlq list
  npm run cli -- --target .local/target.json dlq redrive --filter code=404 --rate 50
  npm run cli -- --target .local/target.json verify --full --repair
  npm run cli -- --target .local/target.json resync start --wait
  npm run cli -- --target .local/target.json --index orders dlq list
  npm run cli -- --target .local/target.json preview --key '{"pk":"p-000042"}'`;

/** The program with its global options; commands are added by the modules in commands/. */
function baseProgram(io: CliIo): Command {
  return new Command('typesense-sync')
    .description(
      'Operate a typesense-sync pipeline: status, lag, dead letters, stream failure replay, verify, re-sync, schema, preview.',
    )
    .addOption(
      new Option('--target <file>', 'target file (npm start writes .local/target.json)').env(
        'TYPESENSE_SYNC_TARGET',
      ),
    )
    .addOption(
      new Option('--stack <name>', 'deployed stack name (reads its OperatorTarget output)').env(
        'TYPESENSE_SYNC_STACK',
      ),
    )
    .option('--region <region>', 'AWS region (default: the target’s, then AWS_REGION)')
    .option('--profile <profile>', 'AWS profile')
    .option(
      '--index <alias>',
      'with several indexes of the table: the index to operate on (default: the first; preview: all)',
    )
    .option('--json', 'machine-readable output', false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EPILOGUE);
}

/** The operator CLI. Returns the exit code; never calls process.exit (tests run it in-process). */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const context = commandContext(io);
  const program = baseProgram(io);
  addStatusCommand(program, context);
  addLagCommand(program, context);
  addDlqCommands(program, context);
  addReplayCommand(program, context);
  addResyncCommands(program, context);
  addVerifyCommand(program, context);
  addSchemaCommands(program, context);
  addPreviewCommand(program, context);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return context.exitCode();
  } catch (error) {
    // Commander has already printed usage errors (and --help, which exits 0).
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.error;
    io.err(`error: ${explain(error)}\n`);
    return EXIT.error;
  }
}
