import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import type { Change, DeadLetter } from './change.ts';
import { coalesce } from './coalesce.ts';
import { type NormaliseOptions, normaliseRecords } from './normalise.ts';
import { packChanges, packingLimit } from './pack.ts';
import { type IsolatedRefusal, type SendPorts, sendSplitting } from './send.ts';

/** One changes queue the batcher feeds (an index's), with the DLQ for what it refuses. */
export interface BatcherTarget extends SendPorts {
  /** The key attributes of this queue's changes. @default the table's (`BatcherOptions.keyAttributes`) */
  keyAttributes?: readonly string[] | undefined;
  /** Where a change this queue refuses alone, or one too large for its messages, is dead-lettered. */
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
}

export interface BatcherPorts {
  /** Every index's changes queue: each change is enqueued on all of them. */
  targets: readonly BatcherTarget[];
  /** Where records that are no change at all are dead-lettered. */
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  now(): number;
}

/** The ports of a batcher feeding one changes queue, whose DLQ also takes the records that are no change. */
export function oneQueuePorts(queue: SendPorts & Omit<BatcherPorts, 'targets'>): BatcherPorts {
  const { sendMessages, sendDeadLetters, now } = queue;
  return { targets: [{ sendMessages, sendDeadLetters }], sendDeadLetters, now };
}

export interface BatcherOptions extends NormaliseOptions {
  buckets: number;
  maxMessageBytes: number;
  /** Attempts per SendMessageBatch before its refused entries fail the records (default 3). */
  maxSendAttempts?: number;
}

export interface BatcherSummary {
  records: number;
  changes: number;
  messages: number;
  deadLettered: number;
  failedChanges: number;
  /** Changes SQS refused on their own (dead-lettered): key and SQS's reason, never the document. */
  refusals?: { id: string; code: string; message: string }[];
  /** Why the last entry was refused, when some changes could not be enqueued. */
  lastRefusal?: string;
}

export interface BatcherResult extends DynamoDBBatchResponse {
  summary: BatcherSummary;
}

/** Only what identifies a record: images may hold whole documents and must not reach logs or DLQ. */
function recordReference(record: DynamoDBRecord) {
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventSourceARN: record.eventSourceARN,
    sequenceNumber: record.dynamodb?.SequenceNumber,
    keys: record.dynamodb?.Keys,
  };
}

/** A dead letter for a change SQS refused alone, with SQS's code and message as the reason. */
export function refusalLetter(refusal: IsolatedRefusal, now: number, stage: DeadLetter['stage']): DeadLetter {
  return {
    v: 1,
    kind: 'dead-letter',
    stage,
    change: refusal.change,
    id: refusal.change.id,
    reason: { code: refusal.code, message: refusal.message },
    firstSeen: now,
    attempts: 1,
  };
}

/** At most this many refusals are named in a summary, so a log line stays short. */
const MAX_REFUSALS_NAMED = 10;

/** What one target made of its messages: the ids it did not take, and its dead letters. */
interface TargetOutcome {
  failedIds: Set<string>;
  deadLettered: number;
  sent: Awaited<ReturnType<typeof sendSplitting>>;
}

/**
 * Sends one key form's packed messages to one target; a change refused alone, or too large for any message,
 * goes to the target's DLQ. An id fails when its message was not taken or its dead letter not stored.
 */
async function sendToTarget(
  target: BatcherTarget,
  packed: ReturnType<typeof packChanges>,
  latest: readonly Change[],
  now: number,
  attempts: number,
): Promise<TargetOutcome> {
  const sent = await sendSplitting(packed.messages, target, { attempts });
  const failedIds = new Set(sent.failed.flatMap((message) => message.changes.map(({ id }) => id)));
  const letters = [
    ...oversizeLetters(packed.oversize, latest, now),
    ...sent.isolated.map((refusal) => refusalLetter(refusal, now, 'batcher')),
  ];
  if (letters.length > 0) {
    try {
      await target.sendDeadLetters(letters);
    } catch {
      for (const letter of letters) if (letter.id !== undefined) failedIds.add(letter.id);
    }
  }
  return { failedIds, deadLettered: letters.length, sent };
}

/**
 * The targets grouped by the key attributes of their changes: one normalisation, coalescing and packing per
 * key form, however many targets share it.
 */
function targetsByKeyForm(targets: readonly BatcherTarget[], tableKey: readonly string[]) {
  const forms = new Map<string, { keyAttributes: readonly string[]; targets: BatcherTarget[] }>();
  for (const target of targets) {
    const keyAttributes = target.keyAttributes ?? tableKey;
    const form = keyAttributes.join(',');
    const group = forms.get(form) ?? { keyAttributes, targets: [] };
    group.targets.push(target);
    forms.set(form, group);
  }
  return [...forms.values()];
}

/**
 * Stream records → packed messages on every target's changes queue. Records that can never become a change
 * are dead-lettered with their reason. A record counts as enqueued only when every target took its change:
 * the response names the first record whose change did not reach a queue, so Lambda retries from there
 * (ReportBatchItemFailures checkpointing); the targets that already took it get it again, which is harmless
 * (the writer re-reads the item).
 */
export async function processStreamRecords(
  records: readonly DynamoDBRecord[],
  ports: BatcherPorts,
  options: BatcherOptions,
): Promise<BatcherResult> {
  const now = ports.now();
  const attempts = options.maxSendAttempts ?? 3;
  const failedIndexes: number[] = [];
  const rejectedRecords = new Map<number, ReturnType<typeof normaliseRecords>['rejected'][number]>();
  const summary: BatcherSummary = {
    records: records.length,
    changes: 0,
    messages: 0,
    deadLettered: 0,
    failedChanges: 0,
  };
  const isolated: IsolatedRefusal[] = [];
  for (const form of targetsByKeyForm(ports.targets, options.keyAttributes)) {
    const { changes, rejected } = normaliseRecords(records, {
      ...options,
      keyAttributes: form.keyAttributes,
    });
    for (const rejection of rejected) rejectedRecords.set(rejection.index, rejection);
    const latest = coalesce(changes.map(({ change }) => change));
    // Room for the fields the writer adds when it re-sends a message at the receive limit.
    const packed = packChanges(latest, options.buckets, packingLimit(options.maxMessageBytes));
    const outcomes = await Promise.all(
      form.targets.map((target) => sendToTarget(target, packed, latest, now, attempts)),
    );
    const failedIds = new Set(outcomes.flatMap(({ failedIds }) => [...failedIds]));
    for (const { index, change } of changes) if (failedIds.has(change.id)) failedIndexes.push(index);
    summary.changes += latest.length;
    for (const outcome of outcomes) {
      summary.messages += packed.messages.length;
      summary.deadLettered += outcome.deadLettered;
      isolated.push(...outcome.sent.isolated);
      if (outcome.sent.failed.length > 0 && outcome.sent.lastRefusal !== undefined)
        summary.lastRefusal = `${outcome.sent.lastRefusal.code}: ${outcome.sent.lastRefusal.message}`;
    }
    summary.failedChanges += failedIds.size;
  }
  if (rejectedRecords.size > 0) {
    summary.deadLettered += rejectedRecords.size;
    try {
      await ports.sendDeadLetters(
        [...rejectedRecords.values()].map((rejection) => badRecordLetter(rejection, now)),
      );
    } catch {
      failedIndexes.push(...rejectedRecords.keys());
    }
  }
  if (isolated.length > 0)
    summary.refusals = isolated
      .slice(0, MAX_REFUSALS_NAMED)
      .map(({ change, code, message }) => ({ id: change.id, code, message }));

  // Lambda resumes the shard at the reported record, so report the earliest record of any failure:
  // a failed change's id may stand in several records, the first of which must be replayed.
  const firstFailed =
    failedIndexes.length === 0 ? undefined : records[failedIndexes.reduce((a, b) => Math.min(a, b))];
  const sequenceNumber = firstFailed?.dynamodb?.SequenceNumber ?? firstFailed?.eventID;
  return {
    batchItemFailures: sequenceNumber === undefined ? [] : [{ itemIdentifier: sequenceNumber }],
    summary,
  };
}

/** The letter of a record that is no change: what identifies it and why, never its images. */
function badRecordLetter(
  { record, error }: ReturnType<typeof normaliseRecords>['rejected'][number],
  now: number,
): DeadLetter {
  return {
    v: 1,
    kind: 'dead-letter',
    stage: 'batcher',
    record: recordReference(record),
    reason: { code: 'bad-record', message: error.message },
    firstSeen: now,
    attempts: 1,
  };
}

/** The letters of the changes too large for any message, each with its change. */
function oversizeLetters(
  oversize: ReturnType<typeof packChanges>['oversize'],
  latest: readonly Change[],
  now: number,
): DeadLetter[] {
  return oversize.map((error) => ({
    v: 1,
    kind: 'dead-letter',
    stage: 'batcher',
    change: latest.find((change) => change.id === error.id) as Change,
    id: error.id,
    reason: { code: 'oversize', message: error.message },
    firstSeen: now,
    attempts: 1,
  }));
}
