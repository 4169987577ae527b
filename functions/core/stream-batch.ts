import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import type { Change, DeadLetter } from './change.ts';
import { coalesce } from './coalesce.ts';
import { type NormaliseOptions, normaliseRecords } from './normalise.ts';
import { packChanges, packingLimit } from './pack.ts';
import { type IsolatedRefusal, type SendPorts, sendSplitting } from './send.ts';

export interface BatcherPorts extends SendPorts {
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  now(): number;
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

/**
 * Stream records → packed messages on the changes queue. Records that can never become a change
 * are dead-lettered with their reason. The response names the first record whose change did not
 * reach a queue, so Lambda retries from there (ReportBatchItemFailures checkpointing).
 */
export async function processStreamRecords(
  records: readonly DynamoDBRecord[],
  ports: BatcherPorts,
  options: BatcherOptions,
): Promise<BatcherResult> {
  const { changes, rejected } = normaliseRecords(records, options);
  const latest = coalesce(changes.map(({ change }) => change));
  // Room for the fields the writer adds when it re-sends a message at the receive limit.
  const { messages, oversize } = packChanges(latest, options.buckets, packingLimit(options.maxMessageBytes));

  const now = ports.now();
  const deadLetters = stageLetters(rejected, oversize, latest, now);

  const failedIds = new Set<string>();
  const failedIndexes: number[] = [];
  const sent = await sendSplitting(messages, ports, { attempts: options.maxSendAttempts ?? 3 });
  for (const message of sent.failed) for (const change of message.changes) failedIds.add(change.id);
  for (const refusal of sent.isolated) {
    deadLetters.push({
      letter: refusalLetter(refusal, now, 'batcher'),
      recordIds: new Set([refusal.change.id]),
      index: undefined,
    });
  }

  if (deadLetters.length > 0) {
    try {
      await ports.sendDeadLetters(deadLetters.map(({ letter }) => letter));
    } catch {
      for (const { recordIds, index } of deadLetters) {
        if (index !== undefined) failedIndexes.push(index);
        for (const id of recordIds ?? []) failedIds.add(id);
      }
    }
  }

  // Lambda resumes the shard at the reported record, so report the earliest record of any failure:
  // a failed change's id may stand in several records, the first of which must be replayed.
  for (const { index, change } of changes) if (failedIds.has(change.id)) failedIndexes.push(index);
  const firstFailed =
    failedIndexes.length === 0 ? undefined : records[failedIndexes.reduce((a, b) => Math.min(a, b))];
  const sequenceNumber = firstFailed?.dynamodb?.SequenceNumber ?? firstFailed?.eventID;

  return {
    batchItemFailures: sequenceNumber === undefined ? [] : [{ itemIdentifier: sequenceNumber }],
    summary: {
      records: records.length,
      changes: latest.length,
      messages: messages.length,
      deadLettered: deadLetters.length,
      failedChanges: failedIds.size,
      ...(sent.isolated.length === 0
        ? {}
        : {
            refusals: sent.isolated
              .slice(0, MAX_REFUSALS_NAMED)
              .map(({ change, code, message }) => ({ id: change.id, code, message })),
          }),
      ...(sent.failed.length === 0 || sent.lastRefusal === undefined
        ? {}
        : { lastRefusal: `${sent.lastRefusal.code}: ${sent.lastRefusal.message}` }),
    },
  };
}

/** A dead letter of the batcher, and what it stands for: stream records by index, or changes by id. */
type StageLetter = { letter: DeadLetter; recordIds: Set<string> | undefined; index: number | undefined };

/** Letters for the records that are no change, and for the changes too large for any message. */
function stageLetters(
  rejected: ReturnType<typeof normaliseRecords>['rejected'],
  oversize: ReturnType<typeof packChanges>['oversize'],
  latest: readonly Change[],
  now: number,
): StageLetter[] {
  return [
    ...rejected.map(({ index, record, error }) => ({
      letter: {
        v: 1 as const,
        kind: 'dead-letter' as const,
        stage: 'batcher' as const,
        record: recordReference(record),
        reason: { code: 'bad-record', message: error.message },
        firstSeen: now,
        attempts: 1,
      },
      recordIds: undefined,
      index,
    })),
    ...oversize.map((error) => ({
      letter: {
        v: 1 as const,
        kind: 'dead-letter' as const,
        stage: 'batcher' as const,
        change: latest.find((change) => change.id === error.id) as Change,
        id: error.id,
        reason: { code: 'oversize', message: error.message },
        firstSeen: now,
        attempts: 1,
      },
      recordIds: new Set([error.id]),
      index: undefined,
    })),
  ];
}
