import { type Command, Option } from 'commander';
import { collectFilters, positiveInt, seconds } from '../arguments.ts';
import { type CommandContext, EXIT } from '../context.ts';
import {
  type DeadLetterFilter,
  groupByReason,
  matchesFilters,
  peekDeadLetters,
} from '../operations/dead-letters.ts';
import { redriveDeadLetters } from '../operations/redrive.ts';
import { type Connection, changeKeysOf } from '../operations/target.ts';
import { printable, renderDeadLetterList, renderDeadLetters, renderRedrive } from '../render/dlq.ts';

const filterOption = () =>
  new Option(
    '--filter <field=value>',
    'select: code=, stage=, id=, kind= (exact) or reason~ (contains); repeatable',
  )
    .argParser(collectFilters)
    .default([]);

const readAll = ({ sqs, target }: Connection) => peekDeadLetters(sqs, target.dlqUrl, changeKeysOf(target));

interface RedriveFlags {
  filter: DeadLetterFilter[];
  dryRun: boolean;
  rate?: number;
  wait: number;
}

/** `dlq list | show | redrive`: dead-lettered changes, read without removing them, and sent back. */
export function addDlqCommands(program: Command, context: CommandContext): void {
  const dlq = program.command('dlq').description('dead-lettered changes: list, show, redrive');
  addList(dlq, context);
  addShow(dlq, context);
  addRedrive(dlq, context);
}

function addList(dlq: Command, context: CommandContext): void {
  dlq
    .command('list')
    .description('dead letters grouped by reason, then one line each')
    .addOption(filterOption())
    .addHelpText(
      'after',
      '\nExample:\n  npm run cli -- --target .local/target.json dlq list --filter stage=writer',
    )
    .action(async (options: { filter: DeadLetterFilter[] }, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const read = await readAll(connection);
        const entries = read.entries.filter((entry) => matchesFilters(entry, options.filter));
        const groups = groupByReason(entries);
        const listing = { entries, groups, unread: read.unread };
        context.print(json, { groups, letters: entries.map(printable), unread: read.unread }, () =>
          renderDeadLetterList(listing, Date.now()),
        );
      });
    });
}

function addShow(dlq: Command, context: CommandContext): void {
  dlq
    .command('show <id>')
    .description('one dead letter, by SQS message id or document id')
    .addHelpText('after', '\nExample:\n  npm run cli -- --target .local/target.json dlq show p-000042')
    .action(async (id: string, _options, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const read = await readAll(connection);
        const found = read.entries.filter((entry) => entry.messageId === id || entry.ids.includes(id));
        if (found.length === 0) {
          context.exitWith(EXIT.problem);
          context.io.err(`no dead letter with message id or document id '${id}'\n`);
          return;
        }
        context.print(json, found.map(printable), () => renderDeadLetters(found, Date.now()));
      });
    });
}

function addRedrive(dlq: Command, context: CommandContext): void {
  dlq
    .command('redrive')
    .description(
      "send dead-lettered changes back through the pipeline (each key re-applied from the table's current state)",
    )
    .addOption(filterOption())
    .option('--dry-run', 'show what would be redriven, change nothing', false)
    .option('--rate <n>', 'dead letters per second at most', positiveInt('--rate'))
    .option(
      '--wait <seconds>',
      'then wait this long for the redriven keys to apply (0: do not wait)',
      seconds('--wait'),
      60,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  npm run cli -- --target .local/target.json dlq redrive --dry-run\n  npm run cli -- --target .local/target.json dlq redrive --filter code=404 --rate 20',
    )
    .action(async (options: RedriveFlags, command: Command) => {
      await context.withConnection(command, async (connection, json) => {
        const bar = context.progress(json, 'redrive');
        const report = await redriveDeadLetters(connection, {
          filters: options.filter,
          dryRun: options.dryRun,
          ...(options.rate === undefined ? {} : { rate: options.rate }),
          waitMs: options.wait * 1000,
          onProgress: bar.update,
        }).finally(bar.stop);
        const stillFailing = report.settlement?.stillFailing ?? [];
        if (!report.dryRun && (report.kept.length > 0 || stillFailing.length > 0))
          context.exitWith(EXIT.problem);
        context.print(json, report, () => renderRedrive(report));
      });
    });
}
