import type { SQSRecord } from 'aws-lambda';
import type { Change, DeadLetter } from '../change.ts';

/** One changed key of the batch: its coalesced change and the messages that carried it. */
export interface Pending {
  change: Change;
  messageIds: Set<string>;
}

/** A changed key with the id of its document in the index (the projection's id rule, functions/core/document-id.ts). */
export interface Placed extends Pending {
  documentId: string;
}

export interface Failure {
  reason: string;
  retryable: boolean;
  /** Not done for lack of time: redelivered at once, not backed off. */
  deferred?: boolean;
}

export interface Lettered {
  letter: DeadLetter;
  messageIds: Set<string>;
}

export const reasonOf = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

const attemptsOf = (record: SQSRecord) => Number(record.attributes.ApproximateReceiveCount) || 1;

/**
 * What becomes of each message of one writer batch, filled in by the phases: the failures (the first
 * reason of a message wins), the dead letters, and the changes applied.
 */
export class BatchLedger {
  readonly failures = new Map<string, Failure>();
  readonly deadLetters: Lettered[] = [];
  /** Changes Typesense took (upserted, deleted, or a canary): their ingestion delays are reported. */
  readonly applied: Pending[] = [];
  private readonly recordsById: Map<string, SQSRecord>;

  constructor(
    records: readonly SQSRecord[],
    private readonly now: number,
  ) {
    this.recordsById = new Map(records.map((record) => [record.messageId, record]));
  }

  /** Fails the messages of these changes, unless they failed already. */
  fail(entries: Iterable<Pending>, reason: string, retryable = true): void {
    for (const entry of entries) {
      for (const messageId of entry.messageIds)
        if (!this.failures.has(messageId)) this.failures.set(messageId, { reason, retryable });
    }
  }

  /** Leaves the messages of these changes for redelivery: the invocation had no time left for them. */
  defer(entries: Iterable<Pending>): void {
    for (const entry of entries)
      for (const messageId of entry.messageIds)
        if (!this.failures.has(messageId))
          this.failures.set(messageId, {
            reason: 'left for redelivery: the invocation had no time left for it',
            retryable: true,
            deferred: true,
          });
  }

  /** Dead-letters a change with Typesense's (or the writer's) reason. */
  deadLetter(entry: Pending, code: number | string, message: string): void {
    const record = this.recordsById.get([...entry.messageIds][0] as string) as SQSRecord;
    this.deadLetters.push({
      letter: {
        v: 1,
        kind: 'dead-letter',
        stage: 'writer',
        change: entry.change,
        id: entry.change.id,
        reason: { code, message },
        firstSeen: this.firstSeenOf(record),
        attempts: attemptsOf(record),
      },
      messageIds: entry.messageIds,
    });
  }

  /** Dead-letters what a message carried when it is not a change (or not one of this table's keys). */
  deadLetterMessage(record: SQSRecord, content: Partial<DeadLetter>, reason: DeadLetter['reason']): void {
    this.deadLetters.push({
      letter: {
        v: 1,
        kind: 'dead-letter',
        stage: 'writer',
        ...content,
        reason,
        firstSeen: this.firstSeenOf(record),
        attempts: attemptsOf(record),
      },
      messageIds: new Set([record.messageId]),
    });
  }

  /** The record a message id names (every id the ledger sees is one of the batch's). */
  record(messageId: string): SQSRecord {
    return this.recordsById.get(messageId) as SQSRecord;
  }

  private firstSeenOf(record: SQSRecord): number {
    return (
      Number(record.attributes.ApproximateFirstReceiveTimestamp) ||
      Number(record.attributes.SentTimestamp) ||
      this.now
    );
  }
}
