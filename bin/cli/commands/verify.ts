import { type Command, Option } from 'commander';
import { percent, positiveInt, seconds } from '../arguments.ts';
import { type CommandContext, EXIT } from '../context.ts';
import { verifyOptionsOf } from '../operations/redrive.ts';
import { repairDrift } from '../operations/repair.ts';
import { requestResync } from '../operations/resync.ts';
import type { Connection } from '../operations/target.ts';
import { verifyIndex, verifySample } from '../operations/verify.ts';
import { driftingCount, renderVerify, unresolvedCount, type VerifyOutcome } from '../render/verify.ts';

interface VerifyFlags {
  sample?: number;
  repair: boolean;
  wait: number;
  resyncAbove?: number;
}

/** Compares, then starts a re-sync above the threshold and repairs when asked, in that order. */
async function verifyAndAct(connection: Connection, options: VerifyFlags): Promise<VerifyOutcome> {
  const verifyOptions = await verifyOptionsOf(connection);
  const report =
    options.sample === undefined
      ? await verifyIndex(verifyOptions)
      : await verifySample(verifyOptions, options.sample);
  const drifting = driftingCount(report);
  const driftPercent = (100 * drifting) / Math.max(1, report.tableItems);
  const resync =
    options.resyncAbove !== undefined && driftPercent > options.resyncAbove
      ? {
          job: await requestResync(connection, 'drift'),
          driftPercent,
          abovePercent: options.resyncAbove,
        }
      : undefined;
  const repair =
    options.repair && drifting > 0 ? await repairDrift(connection, report, options.wait * 1000) : undefined;
  return { report, sample: options.sample, repair, resync };
}

/** `verify`: table and index compared field by field; exit 2 on drift left unrepaired. */
export function addVerifyCommand(program: Command, context: CommandContext): void {
  program
    .command('verify')
    .description('compare table and index field by field; exit 2 on drift')
    .addOption(
      new Option('--sample <n>', 'check n items and n documents at random')
        .argParser(positiveInt('--sample'))
        .conflicts('full'),
    )
    .option('--full', 'check everything (the default)', false)
    .option('--repair', 'put every drifting key back through the pipeline', false)
    .option(
      '--resync-above <percent>',
      'start a full re-sync when more than this share of the checked items drifts',
      percent('--resync-above'),
    )
    .option(
      '--wait <seconds>',
      'with --repair: wait this long for the repairs to apply',
      seconds('--wait'),
      60,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  npm run cli -- --target .local/target.json verify\n  npm run cli -- --stack TypesenseSync verify --sample 500 --json\n  npm run cli -- --target .local/target.json verify --repair',
    )
    .action(async (options: VerifyFlags, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const outcome = await verifyAndAct(connection, options);
        if (unresolvedCount(outcome) > 0) context.exitWith(EXIT.problem);
        const { report, repair, resync } = outcome;
        context.print(json, { ...report, repair, resync: resync?.job }, () => renderVerify(outcome));
      });
    });
}
