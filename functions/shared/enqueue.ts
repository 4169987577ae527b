import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Change, MarshalledKey } from '../core/change.ts';
import { coalesce } from '../core/coalesce.ts';
import { documentId, pickKey } from '../core/keys.ts';
import { packChanges, toSendBatches } from '../core/pack.ts';
import { sendWithRetry } from '../core/stream-batch.ts';
import { sendPackedMessages } from './aws.ts';

/** The changes queue and the settings the batcher packs its messages with. */
export interface ChangesQueue {
  queueUrl: string;
  messageGroupBuckets: number;
  maxMessageBytes: number;
}

export interface EnqueueResult {
  /** Changes now on the changes queue. */
  enqueued: Change[];
  /** Changes that are not, with why. */
  failed: { id: string; reason: string }[];
}

/**
 * A change that makes the writer re-apply a key. It carries the key only, like every change: the
 * writer re-reads the item, so whatever the key's state is when it is applied is what gets written.
 */
export function changeOfKey(
  key: MarshalledKey,
  keyAttributes: readonly string[],
  sourceTs: number,
  op: Change['op'] = 'upsert',
): Change {
  const picked = pickKey(key, keyAttributes);
  return { id: documentId(picked, keyAttributes), key: picked, op, version: '0', sourceTs, clock: 'stream' };
}

/**
 * Puts changes on the changes queue exactly as the batcher does: packed, each key in its own
 * message group (so they are serialised with the key's stream changes), refused entries retried.
 * `since` marks them as re-enqueued now (see `packChanges`).
 */
export async function enqueueChanges(
  sqs: SQSClient,
  target: ChangesQueue,
  changes: readonly Change[],
  since: number,
): Promise<EnqueueResult> {
  const { messages, oversize } = packChanges(
    coalesce(changes),
    target.messageGroupBuckets,
    target.maxMessageBytes,
    since,
  );
  const ports = { sendMessages: sendPackedMessages(sqs, target.queueUrl) };
  const refused = (
    await Promise.all(toSendBatches(messages).map((batch) => sendWithRetry(batch, ports, 3)))
  ).flat();
  const failed = [
    ...oversize.map((error) => ({ id: error.id, reason: error.message })),
    ...refused.flatMap((message) =>
      message.changes.map((change) => ({ id: change.id, reason: 'the changes queue refused the message' })),
    ),
  ];
  const failedIds = new Set(failed.map(({ id }) => id));
  return {
    enqueued: changes.filter((change) => !failedIds.has(change.id)),
    failed,
  };
}
