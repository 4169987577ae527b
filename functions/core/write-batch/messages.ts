import type { SQSRecord } from 'aws-lambda';
import type { Change, ChangeMessage } from '../change.ts';
import { coalesce } from '../coalesce.ts';
import { documentId } from '../keys.ts';
import { readChangeMessage } from '../pack.ts';
import type { BatchLedger, Pending } from './ledger.ts';

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

export interface ReadBatch {
  /** Each message's applicable changes, by message id. */
  messages: Map<string, ChangeMessage>;
  /** One entry per changed key: the batch's changes of a key coalesced into one. */
  pending: Pending[];
}

/**
 * The batch's messages parsed and classified: a body that is no change message, and a change whose
 * key does not fit the table, are dead-lettered; the rest are coalesced per key.
 */
export function readBatch(
  records: readonly SQSRecord[],
  keyAttributes: readonly string[],
  ledger: BatchLedger,
): ReadBatch {
  const pendingById = new Map<string, Pending>();
  const messages = new Map<string, ChangeMessage>();
  const keyAttributeNames = [...keyAttributes].sort().join('\u0000');
  for (const record of records) {
    const read = readChangeMessage(record.body);
    if (read === undefined) {
      ledger.deadLetterMessage(
        record,
        { record: { messageId: record.messageId, bodyBytes: Buffer.byteLength(record.body) } },
        { code: 'bad-message', message: 'message body is not a typesense-sync change message (v1)' },
      );
      continue;
    }
    const { message, malformed } = read;
    // A key DynamoDB would refuse fails the one BatchGetItem all keys of the batch share: such a change
    // is dead-lettered alone instead, before anything is read.
    const applicable = message.changes.filter((change) => {
      const problem = keyProblem(change, keyAttributes, keyAttributeNames);
      if (problem !== undefined) malformed.push({ change, id: change.id, reason: problem });
      return problem === undefined;
    });
    // Without its lettered changes: a re-send or the receive limit must not letter them again.
    messages.set(record.messageId, { ...message, changes: applicable });
    for (const { change, id, reason } of malformed) {
      ledger.deadLetterMessage(
        record,
        {
          ...(isChangeLike(change) ? { change } : { record: { messageId: record.messageId } }),
          ...(id === undefined ? {} : { id }),
        },
        { code: 'bad-key', message: reason },
      );
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
  return { messages, pending: [...pendingById.values()] };
}
