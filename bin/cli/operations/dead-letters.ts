import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Change, DeadLetter, MarshalledKey } from '../../../functions/core/change.ts';
import { OperatorError } from '../../../functions/core/errors.ts';
import { KeyError } from '../../../functions/core/keys.ts';
import { parseChangeMessage } from '../../../functions/core/pack.ts';
import { changeVisibility, queueDepth } from '../../../functions/shared/aws.ts';
import { changeOfKey } from '../../../functions/shared/enqueue.ts';

/** One message on the DLQ, read for an operator: what it is about, why it is there, how to redrive it. */
export interface DeadLetterEntry {
  messageId: string;
  receiptHandle: string;
  /**
   * `letter`: written by the batcher, writer or Atlas ingest with a reason; `moved`: a change message the changes
   * queue moved after maxReceiveCount receives (the writer crashed or timed out on it each time);
   * `unreadable`: anything else.
   */
  kind: 'letter' | 'moved' | 'unreadable';
  stage: DeadLetter['stage'] | 'queue' | 'unknown';
  /** Document ids concerned. */
  ids: string[];
  reason: { code: number | string; message: string };
  /** When the change first failed (letters) or was sent (moved messages), ms. */
  firstSeen: number | undefined;
  attempts: number | undefined;
  /** What a redrive enqueues: one change per key. */
  changes: Change[];
  /** Why it cannot be redriven, when `changes` is empty. */
  notRedrivable?: string;
}

const LETTER_STAGES: ReadonlySet<string> = new Set<DeadLetter['stage']>(['batcher', 'writer', 'atlas']);

/**
 * Why an Atlas letter is kept. It stands for an event the ingest could not mirror (no usable `_id`, an
 * operation that is no document change, a document DynamoDB cannot hold…); the letter carries no
 * document, and re-applying its key would only re-index what the mirror already has, so the fix is
 * upstream. Its reason says what was wrong.
 */
const ATLAS_NOT_REDRIVABLE =
  'a MongoDB Atlas trigger event the ingest could not mirror; a redrive cannot change that. Fix what the reason ' +
  'names (the document, or the trigger settings), then update the document in MongoDB, which triggers a new ' +
  'event, or send the event to the Atlas ingest queue again. The letter stays on the DLQ until it expires';

const RECEIVE_LIMIT_REASON = {
  code: 'receive-limit',
  message:
    'moved by the changes queue after maxReceiveCount receives without an answer (the writer crashed or timed out on it)',
};

/**
 * Reads a DLQ message body. Redrives carry keys only: the writer re-reads every key, so redriving an
 * old change can only write the key's current state (the consistency contract).
 */
export function describeDeadLetter(
  message: Pick<Message, 'MessageId' | 'ReceiptHandle' | 'Body' | 'Attributes'>,
  keyAttributes: readonly string[],
  now: number,
): DeadLetterEntry {
  const base = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
  };
  const body = message.Body ?? '';
  const moved = parseChangeMessage(body);
  if (moved !== undefined) {
    return {
      ...base,
      kind: 'moved',
      stage: 'queue',
      ids: moved.changes.map(({ id }) => id),
      reason: RECEIVE_LIMIT_REASON,
      firstSeen: moved.since ?? (Number(message.Attributes?.SentTimestamp) || undefined),
      attempts: Number(message.Attributes?.ApproximateReceiveCount) || undefined,
      changes: moved.changes,
    };
  }
  let letter: Partial<DeadLetter> | undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null && (parsed as DeadLetter).kind === 'dead-letter')
      letter = parsed as Partial<DeadLetter>;
  } catch {
    // Not JSON: reported as unreadable below.
  }
  if (letter === undefined || typeof letter.reason !== 'object' || letter.reason === null) {
    return {
      ...base,
      kind: 'unreadable',
      stage: 'unknown',
      ids: [],
      reason: { code: 'unreadable', message: 'not a typesense-sync dead letter or change message' },
      firstSeen: Number(message.Attributes?.SentTimestamp) || undefined,
      attempts: undefined,
      changes: [],
      notRedrivable: 'the message is not a typesense-sync dead letter or change message',
    };
  }
  const entry: DeadLetterEntry = {
    ...base,
    kind: 'letter',
    stage: LETTER_STAGES.has(String(letter.stage)) ? (letter.stage as DeadLetter['stage']) : 'unknown',
    ids: [],
    reason: { code: letter.reason.code ?? 'unknown', message: String(letter.reason.message ?? '') },
    firstSeen: letter.firstSeen,
    attempts: letter.attempts,
    changes: [],
  };
  if (letter.change !== undefined) {
    entry.changes = [letter.change];
    entry.ids = [letter.change.id];
    return entry;
  }
  if (entry.stage === 'atlas') {
    entry.ids = typeof letter.id === 'string' ? [letter.id] : [];
    entry.notRedrivable = ATLAS_NOT_REDRIVABLE;
    return entry;
  }
  // A stream record the batcher could not normalise: redrivable only if its keys are usable now.
  const keys = (letter.record as { keys?: MarshalledKey } | undefined)?.keys;
  try {
    if (keys === undefined) throw new KeyError('the record has no keys');
    const change = changeOfKey(keys, keyAttributes, now);
    entry.changes = [change];
    entry.ids = [change.id];
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    entry.notRedrivable = `its stream record has no usable key (${error.message}); fix the item in the table instead`;
  }
  return entry;
}

/** How `dlq redrive --filter` selects: `code=400`, `stage=writer`, `id=p-1`, `reason~price`, `kind=moved`. */
export interface DeadLetterFilter {
  field: 'code' | 'stage' | 'id' | 'reason' | 'kind';
  op: '=' | '~';
  value: string;
}

export class FilterError extends OperatorError {
  override name = 'FilterError';
}

export function parseFilter(text: string): DeadLetterFilter {
  const match = /^(code|stage|id|reason|kind)(=|~)(.+)$/.exec(text);
  if (match === null)
    throw new FilterError(
      `bad filter '${text}': use FIELD=VALUE (exact) or FIELD~TEXT (contains), FIELD one of code, stage, id, reason, kind`,
    );
  return {
    field: match[1] as DeadLetterFilter['field'],
    op: match[2] as '=' | '~',
    value: match[3] as string,
  };
}

/** True when the entry passes every filter. */
export function matchesFilters(entry: DeadLetterEntry, filters: readonly DeadLetterFilter[]): boolean {
  return filters.every(({ field, op, value }) => {
    const candidates =
      field === 'code'
        ? [String(entry.reason.code)]
        : field === 'stage'
          ? [entry.stage]
          : field === 'kind'
            ? [entry.kind]
            : field === 'reason'
              ? [entry.reason.message]
              : entry.ids;
    return candidates.some((candidate) => (op === '=' ? candidate === value : candidate.includes(value)));
  });
}

/** Dead letters grouped by stage, code and reason text (digits folded), largest group first. */
export function groupByReason(entries: readonly DeadLetterEntry[]) {
  const groups = new Map<
    string,
    { stage: string; code: string; reason: string; count: number; ids: string[] }
  >();
  for (const entry of entries) {
    const reason = entry.reason.message.replace(/\d+/g, 'N');
    const key = `${entry.stage}\u0000${entry.reason.code}\u0000${reason}`;
    const group = groups.get(key) ?? {
      stage: entry.stage,
      code: String(entry.reason.code),
      reason,
      count: 0,
      ids: [],
    };
    group.count++;
    group.ids.push(...entry.ids);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

/** The DLQ's messages, each held invisible for `holdSeconds` until `release` or `remove`. */
export interface DeadLetterRead {
  entries: DeadLetterEntry[];
  /** Messages on the DLQ that could not be read now (FIFO hides a group's messages while others of it are held). */
  unread: number;
  release(entries: readonly DeadLetterEntry[]): Promise<void>;
  remove(entries: readonly DeadLetterEntry[]): Promise<void>;
}

/**
 * Receives every message it can from the DLQ and holds them. Reading a queue is receiving it: a
 * listing gives the messages back (visibility 0) when done. On a FIFO queue a message group's later
 * messages stay hidden while earlier ones are held, so `unread` says how many were out of reach.
 */
export async function readDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  keyAttributes: readonly string[],
  holdSeconds: number,
  now: () => number = Date.now,
): Promise<DeadLetterRead> {
  const before = await queueDepth(sqs, dlqUrl);
  const entries: DeadLetterEntry[] = [];
  let emptyReceives = 0;
  // Two empty answers in a row, the second after a short wait: SQS may answer empty while messages exist.
  while (emptyReceives < 2) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: holdSeconds,
        WaitTimeSeconds: emptyReceives === 0 ? 0 : 1,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    emptyReceives = Messages.length === 0 ? emptyReceives + 1 : 0;
    for (const message of Messages) entries.push(describeDeadLetter(message, keyAttributes, now()));
  }
  const release = changeVisibility(sqs, dlqUrl);
  return {
    entries,
    unread: Math.max(0, before.visible - entries.length),
    release: (held) => release(held.map(({ receiptHandle }) => ({ receiptHandle, seconds: 0 }))),
    async remove(done) {
      for (let start = 0; start < done.length; start += 10) {
        const result = await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: dlqUrl,
            Entries: done.slice(start, start + 10).map(({ receiptHandle }, index) => ({
              Id: String(index),
              ReceiptHandle: receiptHandle,
            })),
          }),
        );
        if ((result.Failed ?? []).length > 0)
          throw new Error(`${result.Failed?.length} DLQ messages could not be deleted after their redrive`);
      }
    },
  };
}

/** A look at the DLQ that changes nothing: every message read is given straight back. */
export async function peekDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  keyAttributes: readonly string[],
): Promise<Pick<DeadLetterRead, 'entries' | 'unread'>> {
  const read = await readDeadLetters(sqs, dlqUrl, keyAttributes, 30);
  await read.release(read.entries);
  return { entries: read.entries, unread: read.unread };
}
