import type { Command } from 'commander';
import { positiveInt, seconds } from '../arguments.ts';
import { type CommandContext, type GlobalOptions, sourceOf } from '../context.ts';
import { fetchIngestionDelay, LagUnknownError } from '../operations/lag.ts';
import { loadTarget } from '../operations/target.ts';
import { renderLag } from '../render/lag.ts';

interface LagOptions {
  watch?: string | true;
  count?: number;
}

/** `lag`: the ingestion delay from the target's endpoint, once or every N seconds. */
export function addLagCommand(program: Command, context: CommandContext): void {
  program
    .command('lag')
    .description('how far behind the index is, from the ingestion-delay endpoint')
    .option('--watch [seconds]', 'repeat every N seconds until Ctrl-C (default 2)')
    .option('--count <n>', 'with --watch: stop after n readings', positiveInt('--count'))
    .addHelpText(
      'after',
      '\nExamples:\n  npm run cli -- --target .local/target.json lag\n  npm run cli -- --target .local/target.json lag --watch 1',
    )
    .action(async (options: LagOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const intervalS =
        options.watch === undefined ? 0 : options.watch === true ? 2 : seconds('--watch')(options.watch);
      // Only the endpoint is needed: no AWS clients are created.
      const target = await loadTarget(sourceOf(globals));
      if (target.ingestionDelayUrl === undefined)
        throw new LagUnknownError('lag unknown: the target names no ingestion-delay endpoint');
      const readings = options.watch === undefined ? 1 : (options.count ?? Number.POSITIVE_INFINITY);
      for (let reading = 1; reading <= readings; reading++) {
        const lag = await fetchIngestionDelay(
          target.ingestionDelayUrl,
          globals.profile === undefined ? {} : { profile: globals.profile },
        );
        context.io.out(globals.json ? `${JSON.stringify(lag)}\n` : `${renderLag(lag)}\n`);
        if (reading < readings) await new Promise((resolve) => setTimeout(resolve, intervalS * 1000));
      }
    });
}
