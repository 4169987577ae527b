import { SingleBar } from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  FilterError,
  groupByReason,
  matchesFilters,
  parseFilter,
  peekDeadLetters,
} from './operations/dead-letters.ts';
import { fetchIngestionDelay, type IngestionDelay, LagUnknownError } from './operations/lag.ts';
import { redriveDeadLetters, verifyOptionsOf } from './operations/redrive.ts';
import { repairDrift } from './operations/repair.ts';
import { replayStreamFailures } from './operations/replay.ts';
import {
  cancelRunningResync,
  followResync,
  requestResync,
  resyncStatus,
  rollbackLastResync,
} from './operations/resync.ts';
import { pipelineStatus } from './operations/status.ts';
import { type Connection, connect, loadTarget, type TargetSource } from './operations/target.ts';
import { verifyIndex, verifySample } from './operations/verify.ts';

/** Exit codes: 0 all well; 1 the command could not run; 2 it ran and found a problem (drift, failures). */
export const EXIT = { ok: 0, error: 1, problem: 2 } as const;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** Progress bars only on a terminal. */
  isTTY: boolean;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  isTTY: process.stderr.isTTY === true,
};

/** Errors an operator can act on: shown as one line, without a stack. */
const OPERATOR_ERRORS = new Set([
  'TargetError',
  'FilterError',
  'LagUnknownError',
  'CredentialsProviderError',
  'ResourceNotFoundException',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'NoSuchBucket',
  'TypesenseHttpError',
  'TypesenseUnavailableError',
  'ResyncError',
  'ResyncBusyError',
]);

function explain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'CredentialsProviderError')
    return `no AWS credentials: use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (${error.message})`;
  return OPERATOR_ERRORS.has(error.name) ? error.message : `${error.name}: ${error.message}`;
}

const positiveInt = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError(`${name} must be a positive integer`);
  return parsed;
};
const seconds = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new InvalidArgumentError(`${name} must be a number of seconds ≥ 0`);
  return parsed;
};
const collectFilters = (value: string, previous: DeadLetterFilter[]) => {
  try {
    return [...previous, parseFilter(value)];
  } catch (error) {
    if (!(error instanceof FilterError)) throw error;
    throw new InvalidArgumentError(error.message);
  }
};

const ago = (ms: number | undefined, now: number) =>
  ms === undefined ? '?' : `${Math.max(0, Math.round((now - ms) / 1000))} s ago`;

function formatLag(lag: IngestionDelay): string {
  const pending =
    lag.oldestPendingChangeAgeMs === null
      ? 'nothing pending'
      : `oldest pending change ${lag.oldestPendingChangeAgeMs} ms`;
  return `lag ${lag.lagMs} ms (${pending}) | DLQ ${lag.dlqDepth} | circuit ${lag.circuit} | at ${lag.measuredAt}`;
}

/** A running re-sync silent this long is flagged in `resync status` (a page or chunk takes seconds). */
const STALL_WARNING_MS = 5 * 60_000;

function formatResync(progress: ResyncProgress): string {
  const { job } = progress;
  const rate =
    progress.itemsPerSecond === undefined ? '' : `, ${Math.round(progress.itemsPerSecond)} items/s`;
  const eta = progress.etaSeconds === undefined ? '' : `, ETA ${Math.ceil(progress.etaSeconds)} s`;
  return [
    `re-sync ${job.jobId} (${job.trigger}) ${job.phase}: ${progress.segmentsDone}/${job.totalSegments} segments, ` +
      `${progress.scanned} scanned, ${progress.indexed} indexed, ${progress.skipped} already newer from the stream${rate}${eta}`,
    ...(progress.progressAgeMs === undefined
      ? []
      : [
          `  ${progress.waitingFor}; last progress ${Math.round(progress.progressAgeMs / 1000)} s ago` +
            (progress.progressAgeMs > STALL_WARNING_MS
              ? ' (stalled? see the re-sync function logs and its DLQ)'
              : ''),
        ]),
    `  collection ${job.collection}${job.previous === undefined ? '' : `, replaced ${job.previous}`}` +
      (job.rolledBackAt === undefined ? '' : ' (rolled back)'),
    ...(job.message === undefined ? [] : [`  ${job.message}`]),
    ...progress.rejections.map(({ id, reason }) => `  rejected ${id}: ${reason}`),
  ].join('\n');
}

function progressBar(io: CliIo, json: boolean, label: string) {
  if (json || !io.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: `${label} [{bar}] {value}/{total}`,
    stream: process.stderr,
    hideCursor: true,
  });
  let started = false;
  return {
    update(done: number, total: number) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => started && bar.stop(),
  };
}

interface GlobalOptions {
  target?: string;
  stack?: string;
  region?: string;
  profile?: string;
  json: boolean;
}

/** The operator CLI. Returns the exit code; never calls process.exit (tests run it in-process). */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const print = (json: boolean, value: unknown, text: () => string) =>
    io.out(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);

  const program = new Command('typesense-sync')
    .description(
      'Operate a typesense-sync pipeline: status, lag, dead letters, stream failure replay, verify, re-sync.',
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
    .option('--json', 'machine-readable output', false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 all well, 1 the command could not run, 2 it found a problem (drift, unhealthy, still failing).

Examples:
  npm run cli -- --target .local/target.json status
  npm run cli -- --stack TypesenseSync --region eu-west-1 dlq list
  npm run cli -- --target .local/target.json dlq redrive --filter code=404 --rate 50
  npm run cli -- --target .local/target.json verify --full --repair
  npm run cli -- --target .local/target.json resync start --wait`,
    );

  const sourceOf = (options: GlobalOptions): TargetSource => ({
    ...(options.target === undefined ? {} : { targetFile: options.target }),
    ...(options.stack === undefined ? {} : { stack: options.stack }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  });
  const withConnection = async <T>(
    command: Command,
    work: (connection: Connection, json: boolean) => Promise<T>,
  ) => {
    const options = command.optsWithGlobals<GlobalOptions>();
    const target = await loadTarget(sourceOf(options));
    const connection = connect(target, options.profile === undefined ? {} : { profile: options.profile });
    try {
      return await work(connection, options.json);
    } finally {
      connection.close();
    }
  };

  program
    .command('status')
    .description('one screen: table, queues, DLQ, failed stream batches, Typesense, lag')
    .addHelpText('after', '\nExample:\n  npm run cli -- --target .local/target.json status --json')
    .action(async (_options, command: Command) => {
      await withConnection(command, async (connection, json) => {
        const status = await pipelineStatus(connection);
        if (!status.healthy) exitCode = EXIT.problem;
        print(json, status, () => {
          const { table, queue, dlq, typesense, lag } = status;
          return [
            `pipeline  ${status.healthy ? 'healthy' : 'NEEDS ATTENTION'}`,
            `table     ${table.name} (${table.status ?? '?'}, ~${table.approximateItems ?? '?'} items, stream ${table.stream ?? 'OFF'})`,
            `queue     ${queue.total} messages (${queue.visible} waiting, ${queue.inFlight} in flight, ${queue.delayed} delayed)`,
            `DLQ       ${dlq.total} messages${dlq.total > 0 ? ' — see `dlq list`' : ''}`,
            `failures  ${status.streamFailures === undefined ? 'no failure bucket in the target' : `${status.streamFailures} stream batches to replay${status.streamFailures > 0 ? ' — see `replay-stream-failures`' : ''}`}`,
            `typesense ${typesense.healthy ? 'healthy' : 'UNHEALTHY'}, alias '${typesense.alias}' → ${typesense.collection ?? `missing (${typesense.error ?? 'no such alias or collection'})`}${typesense.documents === undefined ? '' : `, ${typesense.documents} documents`}`,
            'unknown' in lag ? lag.unknown : formatLag(lag),
          ].join('\n');
        });
      });
    });

  program
    .command('lag')
    .description('how far behind the index is, from the ingestion-delay endpoint')
    .option('--watch [seconds]', 'repeat every N seconds until Ctrl-C (default 2)')
    .option('--count <n>', 'with --watch: stop after n readings', positiveInt('--count'))
    .addHelpText(
      'after',
      '\nExamples:\n  npm run cli -- --target .local/target.json lag\n  npm run cli -- --target .local/target.json lag --watch 1',
    )
    .action(async (options: { watch?: string | true; count?: number }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const intervalS =
        options.watch === undefined ? 0 : options.watch === true ? 2 : seconds('--watch')(options.watch);
      const target = await loadTarget(sourceOf(globals));
      if (target.ingestionDelayUrl === undefined)
        throw new LagUnknownError('lag unknown: the target names no ingestion-delay endpoint');
      const readings = options.watch === undefined ? 1 : (options.count ?? Number.POSITIVE_INFINITY);
      for (let reading = 1; reading <= readings; reading++) {
        const lag = await fetchIngestionDelay(
          target.ingestionDelayUrl,
          globals.profile === undefined ? {} : { profile: globals.profile },
        );
        io.out(globals.json ? `${JSON.stringify(lag)}\n` : `${formatLag(lag)}\n`);
        if (reading < readings) await new Promise((resolve) => setTimeout(resolve, intervalS * 1000));
      }
    });

  const dlq = program.command('dlq').description('dead-lettered changes: list, show, redrive');
  const filterOption = () =>
    new Option(
      '--filter <field=value>',
      'select: code=, stage=, id=, kind= (exact) or reason~ (contains); repeatable',
    )
      .argParser(collectFilters)
      .default([]);

  const readAll = ({ sqs, target }: Connection) => peekDeadLetters(sqs, target.dlqUrl, target.keyAttributes);
  const describe = (entry: DeadLetterEntry, now: number) =>
    `${entry.messageId}  ${entry.stage}/${entry.reason.code}  ${entry.ids.join(',') || '-'}  ${ago(entry.firstSeen, now)}  ${entry.reason.message}`;

  dlq
    .command('list')
    .description('dead letters grouped by reason, then one line each')
    .addOption(filterOption())
    .addHelpText(
      'after',
      '\nExample:\n  npm run cli -- --target .local/target.json dlq list --filter stage=writer',
    )
    .action(async (options: { filter: DeadLetterFilter[] }, command: Command) => {
      await withConnection(command, async (connection, json) => {
        const read = await readAll(connection);
        const entries = read.entries.filter((entry) => matchesFilters(entry, options.filter));
        const groups = groupByReason(entries);
        const now = Date.now();
        print(
          json,
          {
            groups,
            letters: entries.map(({ receiptHandle: _handle, ...entry }) => entry),
            unread: read.unread,
          },
          () =>
            [
              `${entries.length} dead letters${read.unread > 0 ? ` (${read.unread} more not readable now: FIFO holds a group's later messages)` : ''}`,
              ...groups.map(
                (group) =>
                  `  ${String(group.count).padStart(5)}  ${group.stage}/${group.code}  ${group.reason}`,
              ),
              ...(entries.length === 0
                ? []
                : ['', 'message id  stage/code  document ids  first failed  reason']),
              ...entries.map((entry) => describe(entry, now)),
            ].join('\n'),
        );
      });
    });

  dlq
    .command('show <id>')
    .description('one dead letter, by SQS message id or document id')
    .addHelpText('after', '\nExample:\n  npm run cli -- --target .local/target.json dlq show p-000042')
    .action(async (id: string, _options, command: Command) => {
      await withConnection(command, async (connection, json) => {
        const read = await readAll(connection);
        const found = read.entries.filter((entry) => entry.messageId === id || entry.ids.includes(id));
        if (found.length === 0) {
          exitCode = EXIT.problem;
          io.err(`no dead letter with message id or document id '${id}'\n`);
          return;
        }
        const now = Date.now();
        print(
          json,
          found.map(({ receiptHandle: _handle, ...entry }) => entry),
          () =>
            found
              .map((entry) =>
                [
                  `message id   ${entry.messageId}`,
                  `kind         ${entry.kind} (stage ${entry.stage})`,
                  `document ids ${entry.ids.join(', ') || '-'}`,
                  `reason       ${entry.reason.code}: ${entry.reason.message}`,
                  `first failed ${entry.firstSeen === undefined ? '?' : new Date(entry.firstSeen).toISOString()} (${ago(entry.firstSeen, now)})`,
                  `attempts     ${entry.attempts ?? '?'}`,
                  `redrive      ${entry.changes.length > 0 ? `re-applies ${entry.changes.length} key(s) from the table's current state` : `not possible: ${entry.notRedrivable}`}`,
                ].join('\n'),
              )
              .join('\n\n'),
        );
      });
    });

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
    .action(
      async (
        options: { filter: DeadLetterFilter[]; dryRun: boolean; rate?: number; wait: number },
        command: Command,
      ) => {
        await withConnection(command, async (connection, json) => {
          const bar = progressBar(io, json, 'redrive');
          const report = await redriveDeadLetters(connection, {
            filters: options.filter,
            dryRun: options.dryRun,
            ...(options.rate === undefined ? {} : { rate: options.rate }),
            waitMs: options.wait * 1000,
            onProgress: bar.update,
          }).finally(bar.stop);
          const stillFailing = report.settlement?.stillFailing ?? [];
          if (!report.dryRun && (report.kept.length > 0 || stillFailing.length > 0)) exitCode = EXIT.problem;
          print(json, report, () =>
            [
              report.dryRun
                ? `dry run: ${report.selected} selected, ${report.redrivable} would be redriven, ${report.kept.length} cannot be`
                : `redriven ${report.redriven} of ${report.selected} selected dead letters`,
              ...report.kept.map(
                ({ messageId, ids, reason }) => `  kept ${messageId} (${ids.join(',') || '-'}): ${reason}`,
              ),
              ...(report.unread > 0
                ? [`  ${report.unread} dead letters were not readable now; run again after this one applies`]
                : []),
              ...(report.settlement === undefined
                ? []
                : [
                    `applied ${report.settlement.settled.length}, still failing ${stillFailing.length}`,
                    ...stillFailing.map(({ id, reason }) => `  ${id}: ${reason}`),
                  ]),
            ].join('\n'),
          );
        });
      },
    );

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
      await withConnection(command, async (connection, json) => {
        const bar = progressBar(io, json, 'replay');
        const report = await replayStreamFailures(connection, { ...options, onProgress: bar.update }).finally(
          bar.stop,
        );
        if (report.failed.length > 0) exitCode = EXIT.problem;
        print(json, report, () =>
          [
            report.dryRun
              ? `dry run: ${report.objects} failed batches, ${report.records} stream records to replay`
              : `replayed ${report.replayed} of ${report.objects} failed batches: ${report.records} records → ${report.changes} changes enqueued, ${report.deadLettered} dead-lettered`,
            ...report.failed.map(({ key, reason }) => `  kept ${key}: ${reason}`),
          ].join('\n'),
        );
      });
    });

  const resync = program
    .command('resync')
    .description(
      'full re-sync into a new collection, then an atomic alias swap: start, status, cancel, rollback',
    );
  resync
    .command('start')
    .description('start a re-sync (one at a time); the stream keeps flowing into both collections meanwhile')
    .option('--wait', 'follow it to the end with a progress bar; exit 2 unless it swapped', false)
    .addHelpText('after', '\nExample:\n  npm run cli -- --target .local/target.json resync start --wait')
    .action(async (options: { wait: boolean }, command: Command) => {
      await withConnection(command, async (connection, json) => {
        const job = await requestResync(connection, 'operator');
        if (!options.wait) {
          print(
            json,
            job,
            () => `started re-sync ${job.jobId} into ${job.collection}; follow it with: resync status`,
          );
          return;
        }
        const bar = progressBar(io, json, `re-sync ${job.jobId}`);
        const final = await followResync(connection, job.jobId, (progress) =>
          bar.update(progress.scanned, Math.max(progress.scanned, progress.job.estimatedItems ?? 0)),
        ).finally(bar.stop);
        if (final.job.phase !== 'done') exitCode = EXIT.problem;
        print(json, final, () => formatResync(final));
      });
    });
  resync
    .command('status')
    .description('the running re-sync, or else the latest one; exit 2 if it failed')
    .action(async (_options: unknown, command: Command) => {
      await withConnection(command, async (connection, json) => {
        const progress = await resyncStatus(connection);
        if (progress?.job.phase === 'failed') exitCode = EXIT.problem;
        print(json, progress ?? null, () =>
          progress === undefined ? 'no re-sync has run yet' : formatResync(progress),
        );
      });
    });
  resync
    .command('cancel')
    .description('cancel the running re-sync: the live alias is untouched, the partial collection dropped')
    .action(async (_options: unknown, command: Command) => {
      await withConnection(command, async (connection, json) => {
        const outcome = await cancelRunningResync(connection);
        if (outcome === undefined) exitCode = EXIT.error;
        print(json, outcome?.job ?? null, () => {
          if (outcome === undefined) return 'no re-sync is running';
          const { job } = outcome;
          if (outcome.action === 'cancelled')
            return `cancelled re-sync ${job.jobId}; ${job.collection} dropped`;
          if (outcome.action === 'completed')
            return `re-sync ${job.jobId} had already swapped the alias to ${job.collection}: marked done, pointer released`;
          return `re-sync ${job.jobId} had already ended (${job.phase}): released the active pointer it left behind`;
        });
      });
    });
  resync
    .command('rollback')
    .description('point the alias back at the collection the last re-sync replaced, then repair it')
    .option('--wait <seconds>', 'wait this long for the repairs to apply', seconds('--wait'), 60)
    .action(async (options: { wait: number }, command: Command) => {
      await withConnection(command, async (connection, json) => {
        const result = await rollbackLastResync(connection, options.wait * 1000);
        const stillFailing = result.repair?.settlement?.stillFailing ?? [];
        if (stillFailing.length > 0 || (result.repair?.failed.length ?? 0) > 0) exitCode = EXIT.problem;
        print(json, result, () =>
          [
            `alias ${connection.target.typesense.collection} points at ${result.job.previous} again (re-sync ${result.job.jobId} rolled back)`,
            result.repair === undefined
              ? 'it matches the table'
              : `repaired ${result.drift} documents it missed since the swap: ${result.repair.enqueued} re-enqueued, ${stillFailing.length} still failing`,
          ].join('\n'),
        );
      });
    });

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
      (value: string) => {
        const parsed = Number(value);
        if (!Number.isFinite(parsed) || parsed < 0 || parsed > 100)
          throw new InvalidArgumentError('--resync-above must be a percentage from 0 to 100');
        return parsed;
      },
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
    .action(
      async (
        options: { sample?: number; repair: boolean; wait: number; resyncAbove?: number },
        command: Command,
      ) => {
        await withConnection(command, async (connection, json) => {
          const verifyOptions = verifyOptionsOf(connection);
          const report =
            options.sample === undefined
              ? await verifyIndex(verifyOptions)
              : await verifySample(verifyOptions, options.sample);
          const drifting = report.missing.length + report.extra.length + report.stale.length;
          const driftPercent = (100 * drifting) / Math.max(1, report.tableItems);
          const resyncJob =
            options.resyncAbove !== undefined && driftPercent > options.resyncAbove
              ? await requestResync(connection, 'drift')
              : undefined;
          const repair =
            options.repair && drifting > 0
              ? await repairDrift(connection, report, options.wait * 1000)
              : undefined;
          const unresolved =
            repair === undefined
              ? drifting
              : repair.failed.length + (repair.settlement?.stillFailing.length ?? repair.enqueued);
          if (unresolved > 0) exitCode = EXIT.problem;
          const list = (ids: string[]) =>
            ids.length === 0 ? '' : `: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', …' : ''}`;
          print(json, { ...report, repair, resync: resyncJob }, () =>
            [
              `${options.sample === undefined ? 'full' : `sample of ${options.sample}`}: ${report.tableItems} items, ${report.indexDocuments} documents checked`,
              `missing ${report.missing.length}${list(report.missing)}`,
              `extra   ${report.extra.length}${list(report.extra)}`,
              `stale   ${report.stale.length}${list(report.stale.map(({ id, fields }) => `${id} (${fields.join(',')})`))}`,
              ...(report.unprojectable.length === 0
                ? []
                : [
                    `items the projection rejects: ${report.unprojectable.length}${list(report.unprojectable.map(({ id }) => id))}`,
                  ]),
              drifting === 0 ? 'index matches the table' : `drift: ${drifting} documents`,
              ...(resyncJob === undefined
                ? []
                : [
                    `drift ${driftPercent.toFixed(2)} % is above ${options.resyncAbove} %: started re-sync ${resyncJob.jobId}`,
                  ]),
              ...(repair === undefined
                ? []
                : [
                    `repair: ${repair.enqueued} keys re-enqueued${repair.settlement === undefined ? '' : `, ${repair.settlement.settled.length} applied, ${repair.settlement.stillFailing.length} still failing`}`,
                    ...(repair.settlement?.stillFailing ?? []).map(({ id, reason }) => `  ${id}: ${reason}`),
                    ...repair.failed.map(({ id, reason }) => `  ${id}: ${reason}`),
                  ]),
            ].join('\n'),
          );
        });
      },
    );

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.error;
    io.err(`error: ${explain(error)}\n`);
    return EXIT.error;
  }
}
