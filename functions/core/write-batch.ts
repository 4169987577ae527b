import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import type { CircuitBreaker, CircuitState } from './breaker.ts';
import { canaryDocument, isCanaryId } from './canary.ts';
import type { Change, ChangeMessage, DeadLetter, MarshalledKey } from './change.ts';
import { isRetryableAnswer } from './classify.ts';
import { coalesce } from './coalesce.ts';
import { ProjectionError } from './errors.ts';
import { documentId } from './keys.ts';
import { readChangeMessage } from './pack.ts';
import { type Projection, projectItem } from './project.ts';
import { resend } from './resend.ts';
import type { ActiveResync, DeletedKey, Rejection } from './resync.ts';
import { type FailedMessage, planRetries, type RetryPolicy } from './retry.ts';
import type { SendPorts } from './send.ts';
import { runWithinBudget } from './time-budget.ts';

/** One line of a Typesense import answer (the HTTP status is 200 whatever the lines say). */
export type ImportOutcome = { success: true } | { success: false; code: number; error: string };

export interface WriterPorts {
  /** Strongly consistent read of the current items; absent keys are simply missing from the result. */
  readItems(keys: MarshalledKey[]): Promise<Record<string, AttributeValue>[]>;
  /** JSONL import with action=upsert: one outcome per line, in order. */
  /** `remainingMs`: what is left of the invocation, which bounds the import (undefined: no bound). */
  importDocuments(jsonLines: string[], remainingMs?: number): Promise<ImportOutcome[]>;
  deleteDocuments(ids: string[]): Promise<number>;
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  /** Typesense `/health`; used to probe a half-open circuit. Never throws. */
  health?(): Promise<boolean>;
  /** Keeps messages invisible for their backoff (ChangeMessageVisibility). Best effort. */
  changeVisibility?(entries: { receiptHandle: string; seconds: number }[]): Promise<void>;
  /**
   * One SendMessageBatch of re-sent messages to the changes queue (each in its group); resolves with
   * the entries SQS refused. Re-sends go through the batcher's splitter (`sendSplitting`).
   */
  requeue?: SendPorts['sendMessages'];
  /** Present when re-syncs are configured: the writer also writes to a running re-sync's collection. */
  resync?: ResyncWriterPorts;
  /** JSONL upsert into the lag check's canary collection (see functions/core/canary.ts). */
  importCanaries?(jsonLines: string[], remainingMs?: number): Promise<unknown>;
  now(): number;
}

/** What the writer does for a running re-sync (see functions/core/resync.ts for why it is safe). */
export interface ResyncWriterPorts {
  /** The running re-sync, read strongly consistently once per batch. */
  active(): Promise<ActiveResync | undefined>;
  /** JSONL import with action=upsert into the re-sync's collection. */
  importDocuments(collection: string, jsonLines: string[], remainingMs?: number): Promise<ImportOutcome[]>;
  deleteDocuments(collection: string, ids: string[]): Promise<number>;
  /** Tombstones: the re-sync re-checks these keys before it swaps the alias. */
  recordDeletes(jobId: string, keys: DeletedKey[]): Promise<void>;
  /** Documents the new collection refused: they fail the re-sync before its swap. */
  recordRejections(jobId: string, rejections: Rejection[]): Promise<void>;
  /** A later successful write of these ids fixed their rejections recorded before `before` (ms). */
  clearRejections(jobId: string, ids: readonly string[], before: number): Promise<number>;
}

export interface WriterOptions {
  keyAttributes: readonly string[];
  projection?: Projection;
  /** Backoff, receive limit and retry budget; without it failed messages simply return to SQS. */
  retry?: RetryPolicy;
  /** Shared across the batches of one writer instance. */
  breaker?: CircuitBreaker;
  /** The changes queue's maximum message size: re-sends are packed to fit it (default 262144). */
  maxMessageBytes?: number;
  /**
   * Time the invocation has left (Lambda's `context.getRemainingTimeInMillis`). With it, deletes run in
   * chunks and stop while `timeReserveMs` (default 3000) is left; the messages not done go back to SQS
   * at once (visibility 0), neither backed off nor dead-lettered.
   */
  remainingMs?: () => number;
  timeReserveMs?: number;
}

export interface WriterSummary {
  messages: number;
  changes: number;
  upserted: number;
  deleted: number;
  deadLettered: number;
  retrying: number;
  requeued: number;
  circuit: CircuitState | undefined;
  /** Largest `now − sourceTs` over the changes applied by this batch, ms. */
  maxIngestionDelayMs: number | undefined;
  /** `now − sourceTs` of each change applied by this batch, ms: one metric value per change. */
  ingestionDelaysMs: number[];
  /** The reason of the first failure, for the log. */
  retryReason?: string;
  /** Messages left for redelivery because the invocation had no time left for them. */
  deferred?: number;
}

export interface WriterResult extends SQSBatchResponse {
  summary: WriterSummary;
}

interface Pending {
  change: Change;
  messageIds: Set<string>;
}

interface Failure {
  reason: string;
  retryable: boolean;
  /** Not done for lack of time: redelivered at once, not backed off. */
  deferred?: boolean;
}

const reasonOf = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * Writes the batch's upserts and deletes to a running re-sync's collection too, whatever the live
 * collection answered: a re-sync may bring the schema that fixes a live rejection. A failure here
 * retries the change (both writes are idempotent); a rejection is recorded against the re-sync.
 */
async function applyToResync(
  ports: ResyncWriterPorts,
  active: ActiveResync,
  upserts: readonly { entry: Pending; line: string }[],
  deletes: readonly Pending[],
  fail: (entries: Iterable<Pending>, reason: string) => void,
  clock: { batchStart: number; now: () => number; remainingMs?: (() => number) | undefined },
): Promise<void> {
  const importing = async () => {
    if (upserts.length === 0) return;
    const outcomes = await ports.importDocuments(
      active.collection,
      upserts.map(({ line }) => line),
      clock.remainingMs?.(),
    );
    const rejections: Rejection[] = [];
    const written: string[] = [];
    // Recorded after the source was read: a backfill page scanned later than this reads a later state.
    const at = clock.now();
    upserts.forEach(({ entry }, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) fail([entry], 're-sync import answered fewer lines than were sent');
      else if (outcome.success) written.push(entry.change.id);
      else if (isRetryableAnswer(outcome.code, outcome.error))
        fail([entry], `re-sync import ${outcome.code}: ${outcome.error}`);
      else rejections.push({ id: entry.change.id, reason: `${outcome.code}: ${outcome.error}`, at });
    });
    if (rejections.length > 0) await ports.recordRejections(active.jobId, rejections);
    // A rejection recorded before this batch began was of an earlier state of the key (per-key
    // order), which this successful write replaced: it no longer fails the re-sync.
    if (written.length > 0) await ports.clearRejections(active.jobId, written, clock.batchStart);
  };
  const deleting = async () => {
    if (deletes.length === 0) return;
    // The tombstone first: a delete that lands before the backfill's older copy must be re-checked.
    await ports.recordDeletes(
      active.jobId,
      deletes.map(({ change }) => ({ id: change.id, key: change.key })),
    );
    const ids = deletes.map(({ change }) => change.id);
    await ports.deleteDocuments(active.collection, ids);
    // A rejected earlier state of a key now deleted has nothing left to fail the re-sync for.
    await ports.clearRejections(active.jobId, ids, clock.batchStart);
  };
  await Promise.all([
    importing().catch((error: unknown) =>
      fail(
        upserts.map(({ entry }) => entry),
        `re-sync import failed: ${reasonOf(error)}`,
      ),
    ),
    deleting().catch((error: unknown) => fail(deletes, `re-sync delete failed: ${reasonOf(error)}`)),
  ]);
}

/** Why a well-formed change's key does not fit the table (other attributes, or not its id), if it does not. */
function keyProblem(change: Change, keyAttributes: readonly string[], names: string): string | undefined {
  if (Object.keys(change.key).sort().join('\u0000') !== names)
    return `the key names ${Object.keys(change.key).join(', ')}, the table's key is ${keyAttributes.join(', ')}`;
  if (documentId(change.key, keyAttributes) !== change.id)
    return `the key is not that of document '${change.id}'`;
  return undefined;
}

const isChangeLike = (value: unknown): value is Change =>
  typeof value === 'object' && value !== null && typeof (value as Change).id === 'string';

/** Errors that mean "Typesense is unreachable or overloaded", as opposed to "this request is wrong". */
const isOutage = (error: unknown) => (error as { retryable?: unknown } | null)?.retryable === true;

const attemptsOf = (record: SQSRecord) => Number(record.attributes.ApproximateReceiveCount) || 1;

/**
 * Applies a batch of change messages to Typesense. For every changed key it writes the item's
 * current state, read with a strongly consistent read: present → upsert, absent → delete. So an
 * old, duplicated or redriven change can only ever (re)write the newest state (see README).
 * Changes Typesense will never accept are dead-lettered with their reason; messages whose changes
 * failed for a passing reason back off and are retried, and never reach the DLQ through the
 * receive limit (see `planRetries`). An open circuit skips Typesense altogether.
 */
export async function processChangeMessages(
  records: readonly SQSRecord[],
  ports: WriterPorts,
  options: WriterOptions,
): Promise<WriterResult> {
  const now = ports.now();
  const failures = new Map<string, Failure>();
  const deadLetters: { letter: DeadLetter; messageIds: Set<string> }[] = [];
  const pendingById = new Map<string, Pending>();
  const messages = new Map<string, ChangeMessage>();
  const { breaker } = options;

  const firstSeenOf = (record: SQSRecord) =>
    Number(record.attributes.ApproximateFirstReceiveTimestamp) ||
    Number(record.attributes.SentTimestamp) ||
    now;
  const recordsById = new Map(records.map((record) => [record.messageId, record]));

  const keyAttributeNames = [...options.keyAttributes].sort().join('\u0000');
  for (const record of records) {
    const read = readChangeMessage(record.body);
    if (read === undefined) {
      deadLetters.push({
        letter: {
          v: 1,
          kind: 'dead-letter',
          stage: 'writer',
          record: { messageId: record.messageId, bodyBytes: Buffer.byteLength(record.body) },
          reason: {
            code: 'bad-message',
            message: 'message body is not a typesense-sync change message (v1)',
          },
          firstSeen: firstSeenOf(record),
          attempts: attemptsOf(record),
        },
        messageIds: new Set([record.messageId]),
      });
      continue;
    }
    const { message, malformed } = read;
    // A key DynamoDB would refuse fails the one BatchGetItem all keys of the batch share: such a change
    // is dead-lettered alone instead, before anything is read.
    const applicable = message.changes.filter((change) => {
      const problem = keyProblem(change, options.keyAttributes, keyAttributeNames);
      if (problem !== undefined) malformed.push({ change, id: change.id, reason: problem });
      return problem === undefined;
    });
    // Without its lettered changes: a re-send or the receive limit must not letter them again.
    messages.set(record.messageId, { ...message, changes: applicable });
    for (const { change, id, reason } of malformed) {
      deadLetters.push({
        letter: {
          v: 1,
          kind: 'dead-letter',
          stage: 'writer',
          ...(isChangeLike(change) ? { change } : { record: { messageId: record.messageId } }),
          ...(id === undefined ? {} : { id }),
          reason: { code: 'bad-key', message: reason },
          firstSeen: firstSeenOf(record),
          attempts: attemptsOf(record),
        },
        messageIds: new Set([record.messageId]),
      });
    }
    for (const change of applicable) {
      const pending = pendingById.get(change.id);
      if (pending === undefined)
        pendingById.set(change.id, { change, messageIds: new Set([record.messageId]) });
      else {
        pending.change = coalesce([pending.change, change])[0] as Change;
        pending.messageIds.add(record.messageId);
      }
    }
  }

  const fail = (entries: Iterable<Pending>, reason: string, retryable = true) => {
    for (const entry of entries) {
      for (const messageId of entry.messageIds)
        if (!failures.has(messageId)) failures.set(messageId, { reason, retryable });
    }
  };
  const deadLetter = (entry: Pending, code: number | string, message: string) => {
    const record = recordsById.get([...entry.messageIds][0] as string) as SQSRecord;
    deadLetters.push({
      letter: {
        v: 1,
        kind: 'dead-letter',
        stage: 'writer',
        change: entry.change,
        id: entry.change.id,
        reason: { code, message },
        firstSeen: firstSeenOf(record),
        attempts: attemptsOf(record),
      },
      messageIds: entry.messageIds,
    });
  };

  const pending = [...pendingById.values()];
  const applied: Pending[] = [];
  let upserted = 0;
  let deleted = 0;
  let typesenseAnswered = false;
  let typesenseOutage = false;

  let mayWrite = pending.length > 0;
  if (mayWrite && breaker !== undefined && !breaker.allowRequest()) mayWrite = false;
  else if (mayWrite && breaker?.state === 'half-open' && ports.health !== undefined) {
    // The health answer tells an outage from a lossy but working server (see CircuitBreaker).
    const healthy = await ports.health();
    breaker.recordHealth(healthy);
    if (!healthy) mayWrite = false;
  }
  if (!mayWrite) fail(pending, 'circuit open: Typesense is unavailable, waiting for the next health probe');

  let current: Map<string, Record<string, AttributeValue>> | undefined;
  let resync: ActiveResync | undefined;
  if (mayWrite) {
    try {
      // The re-sync pointer is read after these messages were received, so any change newer than
      // what a re-sync scanned is also written to its collection (see functions/core/resync.ts).
      const [items, active] = await Promise.all([
        ports.readItems(pending.map(({ change }) => change.key)),
        ports.resync?.active(),
      ]);
      current = new Map(items.map((item) => [documentId(item, options.keyAttributes), item]));
      resync = active;
    } catch (error) {
      fail(pending, `reading the source or the re-sync state failed: ${reasonOf(error)}`);
    }
  }

  if (current !== undefined) {
    const upserts: { entry: Pending; line: string }[] = [];
    const deletes: Pending[] = [];
    const canaries: { entry: Pending; line: string }[] = [];
    for (const entry of pending) {
      const item = current.get(entry.change.id);
      if (isCanaryId(entry.change.id)) {
        const document = item === undefined ? undefined : canaryDocument(item, options.keyAttributes);
        if (document !== undefined) canaries.push({ entry, line: JSON.stringify(document) });
        continue;
      }
      if (item === undefined) {
        deletes.push(entry);
        continue;
      }
      try {
        upserts.push({
          entry,
          line: JSON.stringify(projectItem(item, options.keyAttributes, options.projection)),
        });
      } catch (error) {
        if (!(error instanceof ProjectionError)) throw error;
        deadLetter(entry, 'projection', error.message);
      }
    }

    const typesenseFailed = (entries: Pending[], what: string) => (error: unknown) => {
      typesenseOutage ||= isOutage(error);
      fail(entries, `${what} failed: ${reasonOf(error)}`, isOutage(error));
    };
    const importing =
      upserts.length === 0
        ? Promise.resolve()
        : ports
            .importDocuments(
              upserts.map(({ line }) => line),
              options.remainingMs?.(),
            )
            .then(
              (outcomes) => {
                typesenseAnswered = outcomes.some(
                  (outcome) => outcome.success || !isRetryableAnswer(outcome.code, outcome.error),
                );
                typesenseOutage ||= !typesenseAnswered && outcomes.length > 0;
                upserts.forEach(({ entry }, index) => {
                  const outcome = outcomes[index];
                  // A line without an answer was not confirmed: retry it rather than acknowledge it.
                  if (outcome === undefined) fail([entry], 'import answered fewer lines than were sent');
                  else if (outcome.success) {
                    upserted++;
                    applied.push(entry);
                  } else if (isRetryableAnswer(outcome.code, outcome.error))
                    fail([entry], `import ${outcome.code}: ${outcome.error}`);
                  else deadLetter(entry, outcome.code, outcome.error);
                });
              },
              typesenseFailed(
                upserts.map(({ entry }) => entry),
                'import',
              ),
            );
    // Deletes of ids Typesense cannot match by filter go one request each: many can outrun the
    // invocation, so they run within its time budget.
    const budget =
      options.remainingMs === undefined
        ? undefined
        : { remainingMs: options.remainingMs, reserveMs: options.timeReserveMs ?? 3_000 };
    const deleting =
      deletes.length === 0
        ? Promise.resolve()
        : runWithinBudget(
            deletes,
            (chunk) => ports.deleteDocuments(chunk.map(({ change }) => change.id)),
            budget,
            ports.now,
          ).then((run) => {
            typesenseAnswered ||= run.done.length > 0;
            deleted += run.done.length;
            applied.push(...run.done);
            if (run.error !== undefined) typesenseFailed(run.failed, 'delete')(run.error);
            for (const entry of run.deferred)
              for (const messageId of entry.messageIds)
                if (!failures.has(messageId))
                  failures.set(messageId, {
                    reason: 'left for redelivery: the invocation had no time left for it',
                    retryable: true,
                    deferred: true,
                  });
          });
    const resyncing =
      resync === undefined || ports.resync === undefined
        ? Promise.resolve()
        : applyToResync(ports.resync, resync, upserts, deletes, fail, {
            batchStart: now,
            now: ports.now,
            remainingMs: options.remainingMs,
          });
    const canarying =
      canaries.length === 0 || ports.importCanaries === undefined
        ? Promise.resolve()
        : ports
            .importCanaries(
              canaries.map(({ line }) => line),
              options.remainingMs?.(),
            )
            .then(
              () => applied.push(...canaries.map(({ entry }) => entry)),
              // A lost heartbeat shows as lag in the next check; retrying or dead-lettering it would only
              // block its message group.
              () => undefined,
            );
    await Promise.all([importing, deleting, resyncing, canarying]);
  }
  if (breaker !== undefined && mayWrite) {
    if (typesenseAnswered) breaker.recordSuccess();
    else if (typesenseOutage) breaker.recordOutage();
  }

  // Dead letters are stored before anything is acknowledged; a message whose letter could not be
  // stored fails (and blocks its group) like any other failure.
  const storeDeadLetters = async (letters: typeof deadLetters): Promise<boolean> => {
    if (letters.length === 0) return true;
    try {
      await ports.sendDeadLetters(letters.map(({ letter }) => letter));
      return true;
    } catch (error) {
      for (const { messageIds } of letters) {
        for (const messageId of messageIds) {
          failures.set(messageId, { reason: `dead-lettering failed: ${reasonOf(error)}`, retryable: true });
        }
      }
      return false;
    }
  };
  await storeDeadLetters(deadLetters);

  // FIFO: a message group must not move past a failed message, so every later message of that
  // group in this batch fails too (AWS: return the failed message and all after it).
  const blockedGroups = new Map<string, string>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId;
    const blockedBy = group === undefined ? undefined : blockedGroups.get(group);
    if (!failures.has(record.messageId) && blockedBy !== undefined) {
      failures.set(record.messageId, {
        reason: `waits behind failed message ${blockedBy} of its group`,
        retryable: true,
        ...(failures.get(blockedBy)?.deferred === true ? { deferred: true } : {}),
      });
    }
    if (failures.has(record.messageId) && group !== undefined && !blockedGroups.has(group)) {
      blockedGroups.set(group, record.messageId);
    }
  }

  const failed: FailedMessage[] = records.flatMap((record) => {
    const failure = failures.get(record.messageId);
    if (failure === undefined) return [];
    const since = messages.get(record.messageId)?.since ?? (Number(record.attributes.SentTimestamp) || now);
    return [{ record, since, ...failure }];
  });
  const stillFailing = new Set(failed.map(({ record }) => record.messageId));
  let requeued = 0;

  if (options.retry !== undefined && failed.length > 0) {
    const plan = planRetries(
      failed,
      options.retry,
      now,
      breaker?.state === 'open' ? breaker.retryAfterMs() : 0,
    );
    const alreadyLettered = deadLetters.length;
    if (plan.requeue.length > 0 && ports.requeue !== undefined) {
      const resent = await resend(plan.requeue, messages, ports.requeue, options.maxMessageBytes ?? 262_144);
      for (const { change, code, message } of resent.refused) {
        const record = recordsById.get(resent.recordOf.get(change) ?? '') as SQSRecord;
        deadLetter({ change, messageIds: new Set([record.messageId]) }, code, message);
      }
      // Not re-sent: the message stays failed, and SQS's redrive policy is the last resort.
      for (const messageId of resent.sent) stillFailing.delete(messageId);
      requeued = resent.sent.length;
    }
    const lettering = new Set(
      deadLetters.slice(alreadyLettered).flatMap(({ messageIds }) => [...messageIds]),
    );
    const givenUp = [
      ...plan.expire.map((message) => ({ ...message, code: 'retry-budget-exhausted' })),
      ...plan.deadLetter.map((message) => ({ ...message, code: 'receive-limit' })),
    ];
    for (const { record, reason, code } of givenUp) {
      for (const change of messages.get(record.messageId)?.changes ?? []) {
        deadLetter({ change, messageIds: new Set([record.messageId]) }, code, reason);
      }
    }
    if (await storeDeadLetters(deadLetters.slice(alreadyLettered))) {
      for (const { record } of givenUp) stillFailing.delete(record.messageId);
    } else {
      // A re-sent message whose refused change has no letter yet must come back.
      for (const messageId of lettering) {
        if (!stillFailing.has(messageId)) requeued--;
        stillFailing.add(messageId);
      }
    }
    // Running out of time is no failure of the message: it comes back at once, without backoff.
    const delays = plan.delay
      .filter(({ record }) => stillFailing.has(record.messageId))
      .map((delay) =>
        failures.get(delay.record.messageId)?.deferred === true ? { ...delay, seconds: 0 } : delay,
      );
    if (delays.length > 0 && ports.changeVisibility !== undefined) {
      await ports
        .changeVisibility(
          delays.map(({ record, seconds }) => ({ receiptHandle: record.receiptHandle, seconds })),
        )
        .catch(() => undefined); // Best effort: without it the message returns after the queue's visibility timeout.
    }
  }

  const batchItemFailures = records
    .filter((record) => stillFailing.has(record.messageId))
    .map((record) => ({ itemIdentifier: record.messageId }));
  const delays = applied.map(({ change }) => ports.now() - change.sourceTs);
  const firstReason = [...failures.values()][0]?.reason;
  const deferred = batchItemFailures.filter(
    ({ itemIdentifier }) => failures.get(itemIdentifier)?.deferred === true,
  ).length;
  return {
    batchItemFailures,
    summary: {
      messages: records.length,
      changes: pending.length,
      upserted,
      deleted,
      deadLettered: deadLetters.length,
      retrying: batchItemFailures.length,
      requeued,
      circuit: breaker?.state,
      maxIngestionDelayMs: delays.length === 0 ? undefined : Math.max(...delays),
      ingestionDelaysMs: delays,
      ...(firstReason === undefined ? {} : { retryReason: firstReason }),
      ...(deferred === 0 ? {} : { deferred }),
    },
  };
}
