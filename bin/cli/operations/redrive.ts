import { aggregationOf } from '../../../functions/core/aggregate.ts';
import type { Change } from '../../../functions/core/change.ts';
import { queueDepth, sleep } from '../../../functions/shared/aws.ts';
import { enqueueChanges } from '../../../functions/shared/enqueue.ts';
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  matchesFilters,
  peekDeadLetters,
  readDeadLetters,
} from './dead-letters.ts';
import { type Connection, changeKeysOf } from './target.ts';
import { loadTransform } from './transform.ts';
import { type VerifyOptions, verifyKeys } from './verify.ts';

/** How `verify` sees the target: its table, index, projection and transform module (loaded once by import). */
export async function verifyOptionsOf({ dynamodb, typesense, target }: Connection): Promise<VerifyOptions> {
  const transform = await loadTransform(target.transform);
  const aggregation = aggregationOf(target.keyAttributes, target.aggregate);
  return {
    dynamodb,
    typesense,
    tableName: target.tableName,
    keyAttributes: target.keyAttributes,
    ...(aggregation === undefined ? {} : { aggregation }),
    projection: target.projection,
    ...(transform === undefined ? {} : { transform }),
    collection: target.typesense.collection,
  };
}

export interface Settlement {
  /** Keys whose document now equals the item (or both are absent). */
  settled: string[];
  /** Keys that did not settle, with the reason of their newest dead letter when there is one. */
  stillFailing: { id: string; reason: string }[];
}

/**
 * Waits until every change has gone through the writer: its key's document equals its item. A key
 * that is dead-lettered again, or still differs at the deadline, is still failing.
 */
export async function waitForSettlement(
  connection: Connection,
  changes: readonly Change[],
  timeoutMs: number,
  pollMs = 500,
): Promise<Settlement> {
  const pending = new Map(changes.map((change) => [change.id, change.key]));
  const settled: string[] = [];
  const failing = new Map<string, string>();
  const deadline = Date.now() + timeoutMs;
  let lastDlqLook = 0;
  while (pending.size > 0) {
    const report = await verifyKeys(await verifyOptionsOf(connection), [...pending.values()]);
    const drifting = new Set([...report.missing, ...report.extra, ...report.stale.map(({ id }) => id)]);
    for (const { id, code, reason } of report.unprojectable) failing.set(id, `${code}: ${reason}`);
    for (const id of pending.keys()) {
      if (drifting.has(id) || failing.has(id)) continue;
      settled.push(id);
      pending.delete(id);
    }
    for (const id of failing.keys()) pending.delete(id);
    if (pending.size === 0 || Date.now() >= deadline) break;
    // A key dead-lettered again will not settle by waiting: look for its new letter now and then.
    if (Date.now() - lastDlqLook >= 2_000) {
      lastDlqLook = Date.now();
      const read = await peekDeadLetters(
        connection.sqs,
        connection.target.dlqUrl,
        changeKeysOf(connection.target),
      );
      for (const entry of read.entries) {
        for (const id of entry.ids) {
          if (!pending.has(id)) continue;
          failing.set(id, `dead-lettered again: ${entry.reason.code} ${entry.reason.message}`);
          pending.delete(id);
        }
      }
    }
    await sleep(pollMs);
  }
  for (const id of pending.keys()) failing.set(id, `not applied within ${Math.round(timeoutMs / 1000)} s`);
  return { settled, stillFailing: [...failing].map(([id, reason]) => ({ id, reason })) };
}

export interface RedriveOptions {
  filters: readonly DeadLetterFilter[];
  dryRun: boolean;
  /** Dead letters per second at most. */
  rate?: number;
  /** How long to wait for the redriven changes to apply before counting what still fails (0: do not wait). */
  waitMs: number;
  onProgress?(done: number, total: number): void;
}

export interface RedriveReport {
  /** Dead letters the filters selected. */
  selected: number;
  /** Selected letters that can be redriven (all their keys are usable). */
  redrivable: number;
  /** Selected letters now back on the changes queue (and gone from the DLQ). */
  redriven: number;
  /** Selected letters left on the DLQ: nothing to redrive, or the changes queue refused them. */
  kept: { messageId: string; ids: string[]; reason: string }[];
  /** Messages the DLQ held that this run could not read (FIFO groups behind a held message). */
  unread: number;
  settlement: Settlement | undefined;
  dryRun: boolean;
}

/**
 * Sends dead-lettered changes back through the normal path: each key as a change on the changes
 * queue, in the key's own message group, so it is serialised with the key's stream changes and the
 * writer re-reads the item. A redrive of an old change therefore writes the current state: it can
 * neither overwrite a newer document nor revive a deleted one. A letter leaves the DLQ only after
 * its changes are on the queue; a crash between the two redrives it twice, which is harmless.
 *
 * SQS's server-side message move task is not used: it would keep each dead letter's own message
 * group, which for letters the writer wrote is not the key's group on the changes queue, and their
 * bodies are letters, not change messages.
 */
export async function redriveDeadLetters(
  connection: Connection,
  options: RedriveOptions,
): Promise<RedriveReport> {
  const { sqs, target } = connection;
  const rate = options.rate ?? Number.POSITIVE_INFINITY;
  // Hold the letters long enough for a rate-limited run; SQS allows 12 hours.
  const depth = await queueDepth(sqs, target.dlqUrl);
  const holdSeconds = Math.min(43_200, 120 + Math.ceil(depth.visible / rate));
  const report: RedriveReport = {
    selected: 0,
    redrivable: 0,
    redriven: 0,
    kept: [],
    unread: 0,
    settlement: undefined,
    dryRun: options.dryRun,
  };
  const enqueued = new Map<string, Change>();
  // The round in which each key was last re-enqueued. Only a letter read in that same round is known
  // to be older than the re-enqueue (every letter of a round is read before any of its enqueues); a
  // letter read in a later round may have been written after it (the key failed again), so it is
  // re-enqueued again, never just deleted.
  const enqueuedInRound = new Map<string, number>();
  // Rounds: on a FIFO DLQ a key's later letters become readable only once its earlier ones are gone.
  for (let round = 0; ; round++) {
    const read = await readDeadLetters(sqs, target.dlqUrl, changeKeysOf(target), holdSeconds);
    const selected = read.entries.filter((entry) => matchesFilters(entry, options.filters));
    const redrivable = selected.filter((entry) => entry.changes.length > 0);
    report.selected += selected.length;
    report.redrivable += redrivable.length;
    report.unread = read.unread;
    for (const { messageId, ids, notRedrivable } of selected) {
      if (notRedrivable !== undefined) report.kept.push({ messageId, ids, reason: notRedrivable });
    }
    const removed = new Set<DeadLetterEntry>();
    try {
      if (!options.dryRun) {
        const sliceSize = Math.max(1, Math.min(10, Math.floor(rate)));
        for (let start = 0; start < redrivable.length; start += sliceSize) {
          const sliceStarted = Date.now();
          const slice = redrivable.slice(start, start + sliceSize);
          // A key re-enqueued after this letter was read needs no second change: its letter just goes.
          const changes = slice
            .flatMap((entry) => entry.changes)
            .filter(({ id }) => enqueuedInRound.get(id) !== round);
          const result = await enqueueChanges(sqs, target, changes, Date.now());
          for (const change of result.enqueued) {
            enqueued.set(change.id, change);
            enqueuedInRound.set(change.id, round);
          }
          const refused = new Map(result.failed.map(({ id, reason }) => [id, reason]));
          const done = slice.filter((entry) => entry.changes.every(({ id }) => !refused.has(id)));
          await read.remove(done);
          for (const entry of done) removed.add(entry);
          for (const entry of slice) {
            if (removed.has(entry)) continue;
            const reason = entry.ids.map((id) => refused.get(id)).find((text) => text !== undefined);
            report.kept.push({
              messageId: entry.messageId,
              ids: entry.ids,
              reason: reason ?? 'not enqueued',
            });
          }
          options.onProgress?.(report.redriven + removed.size, report.redriven + redrivable.length);
          if (Number.isFinite(rate))
            await sleep(Math.max(0, (slice.length / rate) * 1000 - (Date.now() - sliceStarted)));
        }
      }
    } finally {
      await read.release(read.entries.filter((entry) => !removed.has(entry)));
    }
    report.redriven += removed.size;
    if (options.dryRun || removed.size === 0 || read.unread === 0) break;
  }
  if (!options.dryRun && options.waitMs > 0 && enqueued.size > 0)
    report.settlement = await waitForSettlement(connection, [...enqueued.values()], options.waitMs);
  return report;
}
