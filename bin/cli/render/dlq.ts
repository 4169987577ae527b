import type { DeadLetterEntry, groupByReason } from '../operations/dead-letters.ts';
import type { RedriveReport } from '../operations/redrive.ts';

/** How long ago `ms` was, in whole seconds; `?` when unknown. */
export const ago = (ms: number | undefined, now: number) =>
  ms === undefined ? '?' : `${Math.max(0, Math.round((now - ms) / 1000))} s ago`;

/** An entry as `--json` prints it: the receipt handle is only good for this run's own receive. */
export const printable = ({ receiptHandle: _handle, ...entry }: DeadLetterEntry) => entry;

/** One dead letter on one line: id, where it failed, its documents, when, why. */
export const describeLine = (entry: DeadLetterEntry, now: number) =>
  `${entry.messageId}  ${entry.stage}/${entry.reason.code}  ${entry.ids.join(',') || '-'}  ${ago(entry.firstSeen, now)}  ${entry.reason.message}`;

export interface DeadLetterListing {
  entries: readonly DeadLetterEntry[];
  groups: ReturnType<typeof groupByReason>;
  /** Messages that could not be read now. */
  unread: number;
}

/** `dlq list`: the count, the groups by reason, then one line per dead letter. */
export function renderDeadLetterList({ entries, groups, unread }: DeadLetterListing, now: number): string {
  return [
    `${entries.length} dead letters${unread > 0 ? ` (${unread} more not readable now: FIFO holds a group's later messages)` : ''}`,
    ...groups.map(
      (group) => `  ${String(group.count).padStart(5)}  ${group.stage}/${group.code}  ${group.reason}`,
    ),
    ...(entries.length === 0 ? [] : ['', 'message id  stage/code  document ids  first failed  reason']),
    ...entries.map((entry) => describeLine(entry, now)),
  ].join('\n');
}

/** `dlq show`: every field an operator needs about each dead letter found, one block each. */
export function renderDeadLetters(found: readonly DeadLetterEntry[], now: number): string {
  return found
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
    .join('\n\n');
}

/** `dlq redrive`: what was (or would be) redriven, what was kept and why, then what still fails. */
export function renderRedrive(report: RedriveReport): string {
  const stillFailing = report.settlement?.stillFailing ?? [];
  return [
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
  ].join('\n');
}
