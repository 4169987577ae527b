import type { SQSRecord } from 'aws-lambda';
import type { CircuitBreaker } from '../breaker.ts';
import type { ChangeMessage } from '../change.ts';
import { resend } from '../resend.ts';
import { type FailedMessage, planRetries } from '../retry.ts';
import type { WriterOptions, WriterPorts, WriterResult } from '../write-batch.ts';
import { type BatchLedger, type Failure, type Lettered, reasonOf } from './ledger.ts';
import type { LiveTally } from './writes.ts';

/**
 * Stores dead letters before anything is acknowledged; a message whose letter could not be stored
 * fails (and blocks its group) like any other failure. False when storing failed.
 */
export async function storeDeadLetters(
  letters: readonly Lettered[],
  ports: WriterPorts,
  ledger: BatchLedger,
): Promise<boolean> {
  if (letters.length === 0) return true;
  try {
    await ports.sendDeadLetters(letters.map(({ letter }) => letter));
    return true;
  } catch (error) {
    const reason = `dead-lettering failed: ${reasonOf(error)}`;
    for (const { messageIds } of letters) {
      for (const messageId of messageIds) ledger.failures.set(messageId, { reason, retryable: true });
    }
    return false;
  }
}

/**
 * FIFO: a message group must not move past a failed message, so every later message of that group
 * in this batch fails too (AWS: return the failed message and all after it).
 */
export function blockBehindFailures(records: readonly SQSRecord[], failures: Map<string, Failure>): void {
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
}

export interface Settled {
  /** The messages returned to SQS as batch item failures. */
  stillFailing: Set<string>;
  /** Messages re-sent to the changes queue (and acknowledged) before their receive limit. */
  requeued: number;
}

/**
 * What becomes of the failed messages (`planRetries`): re-sent near the receive limit, dead-lettered
 * once the retry budget or the receive limit is spent, else left on the queue for their backoff.
 */
export async function settleFailures(
  records: readonly SQSRecord[],
  messages: Map<string, ChangeMessage>,
  ports: WriterPorts,
  options: WriterOptions,
  ledger: BatchLedger,
  now: number,
): Promise<Settled> {
  const failed: FailedMessage[] = records.flatMap((record) => {
    const failure = ledger.failures.get(record.messageId);
    if (failure === undefined) return [];
    const since = messages.get(record.messageId)?.since ?? (Number(record.attributes.SentTimestamp) || now);
    return [{ record, since, ...failure }];
  });
  const settled: Settled = {
    stillFailing: new Set(failed.map(({ record }) => record.messageId)),
    requeued: 0,
  };
  if (options.retry === undefined || failed.length === 0) return settled;
  const { breaker } = options;
  const plan = planRetries(
    failed,
    options.retry,
    now,
    breaker?.state === 'open' ? breaker.retryAfterMs() : 0,
  );
  const alreadyLettered = ledger.deadLetters.length;
  if (plan.requeue.length > 0 && ports.requeue !== undefined) {
    const resent = await resend(plan.requeue, messages, ports.requeue, options.maxMessageBytes ?? 262_144);
    for (const { change, code, message } of resent.refused) {
      const record = ledger.record(resent.recordOf.get(change) ?? '');
      ledger.deadLetter({ change, messageIds: new Set([record.messageId]) }, code, message);
    }
    // Not re-sent: the message stays failed, and SQS's redrive policy is the last resort.
    for (const messageId of resent.sent) settled.stillFailing.delete(messageId);
    settled.requeued = resent.sent.length;
  }
  const lettering = new Set(
    ledger.deadLetters.slice(alreadyLettered).flatMap(({ messageIds }) => [...messageIds]),
  );
  const givenUp = [
    ...plan.expire.map((message) => ({ ...message, code: 'retry-budget-exhausted' })),
    ...plan.deadLetter.map((message) => ({ ...message, code: 'receive-limit' })),
  ];
  for (const { record, reason, code } of givenUp) {
    for (const change of messages.get(record.messageId)?.changes ?? []) {
      ledger.deadLetter({ change, messageIds: new Set([record.messageId]) }, code, reason);
    }
  }
  if (await storeDeadLetters(ledger.deadLetters.slice(alreadyLettered), ports, ledger)) {
    for (const { record } of givenUp) settled.stillFailing.delete(record.messageId);
  } else {
    // A re-sent message whose refused change has no letter yet must come back.
    for (const messageId of lettering) {
      if (!settled.stillFailing.has(messageId)) settled.requeued--;
      settled.stillFailing.add(messageId);
    }
  }
  await backOff(plan.delay, settled.stillFailing, ports, ledger);
  return settled;
}

/** Keeps the failed messages invisible for their backoff; running out of time is no failure: no backoff. */
async function backOff(
  planned: readonly { record: SQSRecord; seconds: number }[],
  stillFailing: Set<string>,
  ports: WriterPorts,
  ledger: BatchLedger,
): Promise<void> {
  const delays = planned
    .filter(({ record }) => stillFailing.has(record.messageId))
    .map((delay) =>
      ledger.failures.get(delay.record.messageId)?.deferred === true ? { ...delay, seconds: 0 } : delay,
    );
  if (delays.length > 0 && ports.changeVisibility !== undefined) {
    await ports
      .changeVisibility(
        delays.map(({ record, seconds }) => ({ receiptHandle: record.receiptHandle, seconds })),
      )
      .catch(() => undefined); // Best effort: without it the message returns after the queue's visibility timeout.
  }
}

/** The batch's answer to Lambda (the messages to redeliver) and its summary for logs and metrics. */
export function summarise(
  records: readonly SQSRecord[],
  changes: number,
  tally: LiveTally,
  settled: Settled,
  ledger: BatchLedger,
  breaker: CircuitBreaker | undefined,
  now: () => number,
): WriterResult {
  const { failures } = ledger;
  const batchItemFailures = records
    .filter((record) => settled.stillFailing.has(record.messageId))
    .map((record) => ({ itemIdentifier: record.messageId }));
  const delays = ledger.applied.map(({ change }) => now() - change.sourceTs);
  const firstReason = [...failures.values()][0]?.reason;
  const deferred = batchItemFailures.filter(
    ({ itemIdentifier }) => failures.get(itemIdentifier)?.deferred === true,
  ).length;
  return {
    batchItemFailures,
    summary: {
      messages: records.length,
      changes,
      upserted: tally.upserted,
      deleted: tally.deleted,
      deadLettered: ledger.deadLetters.length,
      retrying: batchItemFailures.length,
      requeued: settled.requeued,
      circuit: breaker?.state,
      maxIngestionDelayMs: delays.length === 0 ? undefined : Math.max(...delays),
      ingestionDelaysMs: delays,
      ...(firstReason === undefined ? {} : { retryReason: firstReason }),
      ...(deferred === 0 ? {} : { deferred }),
    },
  };
}
