import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import type { Change, DeadLetter, MarshalledKey } from './change.ts';
import { isRetryableStatus } from './classify.ts';
import { coalesce } from './coalesce.ts';
import { ProjectionError } from './errors.ts';
import { documentId } from './keys.ts';
import { parseChangeMessage } from './pack.ts';
import { type Projection, projectItem } from './project.ts';

/** One line of a Typesense import answer (the HTTP status is 200 whatever the lines say). */
export type ImportOutcome = { success: true } | { success: false; code: number; error: string };

export interface WriterPorts {
  /** Strongly consistent read of the current items; absent keys are simply missing from the result. */
  readItems(keys: MarshalledKey[]): Promise<Record<string, AttributeValue>[]>;
  /** JSONL import with action=upsert: one outcome per line, in order. */
  importDocuments(jsonLines: string[]): Promise<ImportOutcome[]>;
  deleteDocuments(ids: string[]): Promise<number>;
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  now(): number;
}

export interface WriterOptions {
  keyAttributes: readonly string[];
  projection?: Projection;
}

export interface WriterSummary {
  messages: number;
  changes: number;
  upserted: number;
  deleted: number;
  deadLettered: number;
  retrying: number;
  /** Largest `now − sourceTs` over the changes applied by this batch, ms. */
  maxIngestionDelayMs: number | undefined;
  /** The reason of the first retryable failure, for the log. */
  retryReason?: string;
}

export interface WriterResult extends SQSBatchResponse {
  summary: WriterSummary;
}

interface Pending {
  change: Change;
  messageIds: Set<string>;
}

const reasonOf = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * Applies a batch of change messages to Typesense. For every changed key it writes the item's
 * current state, read with a strongly consistent read: present → upsert, absent → delete. So an
 * old, duplicated or redriven change can only ever (re)write the newest state (see README).
 * Changes Typesense will never accept are dead-lettered with their reason; messages with a change
 * that failed retryably are returned in `batchItemFailures` so SQS redelivers them.
 */
export async function processChangeMessages(
  records: readonly SQSRecord[],
  ports: WriterPorts,
  options: WriterOptions,
): Promise<WriterResult> {
  const now = ports.now();
  const failedMessages = new Set<string>();
  const deadLetters: { letter: DeadLetter; messageIds: Set<string> }[] = [];
  let retryReason: string | undefined;
  const pendingById = new Map<string, Pending>();

  const attemptsOf = (record: SQSRecord) => Number(record.attributes.ApproximateReceiveCount) || 1;
  const firstSeenOf = (record: SQSRecord) =>
    Number(record.attributes.ApproximateFirstReceiveTimestamp) ||
    Number(record.attributes.SentTimestamp) ||
    now;
  const recordsById = new Map(records.map((record) => [record.messageId, record]));

  for (const record of records) {
    const message = parseChangeMessage(record.body);
    if (message === undefined) {
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
    for (const change of message.changes) {
      const pending = pendingById.get(change.id);
      if (pending === undefined)
        pendingById.set(change.id, { change, messageIds: new Set([record.messageId]) });
      else {
        pending.change = coalesce([pending.change, change])[0] as Change;
        pending.messageIds.add(record.messageId);
      }
    }
  }

  const failAll = (entries: Iterable<Pending>, reason: string) => {
    retryReason ??= reason;
    for (const entry of entries) for (const messageId of entry.messageIds) failedMessages.add(messageId);
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
  let current: Map<string, Record<string, AttributeValue>> | undefined;
  try {
    const items = await ports.readItems(pending.map(({ change }) => change.key));
    current = new Map(items.map((item) => [documentId(item, options.keyAttributes), item]));
  } catch (error) {
    failAll(pending, `reading the source failed: ${reasonOf(error)}`);
  }

  if (current !== undefined) {
    const upserts: { entry: Pending; line: string }[] = [];
    const deletes: Pending[] = [];
    for (const entry of pending) {
      const item = current.get(entry.change.id);
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

    const importing =
      upserts.length === 0
        ? Promise.resolve()
        : ports.importDocuments(upserts.map(({ line }) => line)).then(
            (outcomes) =>
              upserts.forEach(({ entry }, index) => {
                const outcome = outcomes[index];
                // A line without an answer was not confirmed: retry it rather than acknowledge it.
                if (outcome === undefined) failAll([entry], 'import answered fewer lines than were sent');
                else if (outcome.success) {
                  upserted++;
                  applied.push(entry);
                } else if (isRetryableStatus(outcome.code))
                  failAll([entry], `import ${outcome.code}: ${outcome.error}`);
                else deadLetter(entry, outcome.code, outcome.error);
              }),
            (error: unknown) =>
              failAll(
                upserts.map(({ entry }) => entry),
                `import failed: ${reasonOf(error)}`,
              ),
          );
    const deleting =
      deletes.length === 0
        ? Promise.resolve()
        : ports.deleteDocuments(deletes.map(({ change }) => change.id)).then(
            () => {
              deleted += deletes.length;
              applied.push(...deletes);
            },
            (error: unknown) => failAll(deletes, `delete failed: ${reasonOf(error)}`),
          );
    await Promise.all([importing, deleting]);
  }

  if (deadLetters.length > 0) {
    try {
      await ports.sendDeadLetters(deadLetters.map(({ letter }) => letter));
    } catch (error) {
      retryReason ??= `dead-lettering failed: ${reasonOf(error)}`;
      for (const { messageIds } of deadLetters)
        for (const messageId of messageIds) failedMessages.add(messageId);
    }
  }

  // FIFO: a message group must not move past a failed message, so every later message of that
  // group in this batch fails too (AWS: return the failed message and all after it).
  const blockedGroups = new Set<string>();
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const record of records) {
    const group = record.attributes.MessageGroupId;
    if (failedMessages.has(record.messageId) || (group !== undefined && blockedGroups.has(group))) {
      if (group !== undefined) blockedGroups.add(group);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }

  const delays = applied.map(({ change }) => ports.now() - change.sourceTs);
  return {
    batchItemFailures,
    summary: {
      messages: records.length,
      changes: pending.length,
      upserted,
      deleted,
      deadLettered: deadLetters.length,
      retrying: batchItemFailures.length,
      maxIngestionDelayMs: delays.length === 0 ? undefined : Math.max(...delays),
      ...(retryReason === undefined ? {} : { retryReason }),
    },
  };
}
