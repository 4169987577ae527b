import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Change, MarshalledKey } from '../core/change.ts';
import { coalesce } from '../core/coalesce.ts';
import { documentId, pickKey, toWireKey } from '../core/keys.ts';
import { packChanges, packingLimit } from '../core/pack.ts';
import { sendSplitting } from '../core/send.ts';
import { refusalLetter } from '../core/stream-batch.ts';
import { sendDeadLetters, sendPackedMessages } from './aws.ts';

/** The changes queue and the settings the batcher packs its messages with. */
export interface ChangesQueue {
  queueUrl: string;
  messageGroupBuckets: number;
  maxMessageBytes: number;
  /** Where a change SQS refuses on its own is dead-lettered; without it, such a change is `failed`. */
  dlqUrl?: string | undefined;
}

export interface EnqueueResult {
  /** Changes now on the changes queue. */
  enqueued: Change[];
  /** Changes that are not, with why. */
  failed: { id: string; reason: string }[];
  /** Changes SQS refused on their own, now on the DLQ with SQS's reason (only with `dlqUrl`). */
  deadLettered: { id: string; reason: string }[];
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
  // Wire form (B as base64): the change travels as JSON, on the queue, in letters and redrives.
  const picked = toWireKey(pickKey(key, keyAttributes));
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
    packingLimit(target.maxMessageBytes),
    since,
  );
  const sent = await sendSplitting(
    messages,
    { sendMessages: sendPackedMessages(sqs, target.queueUrl) },
    { attempts: 3 },
  );
  const lastReason =
    sent.lastRefusal === undefined ? '' : ` (${sent.lastRefusal.code}: ${sent.lastRefusal.message})`;
  const failed = [
    ...oversize.map((error) => ({ id: error.id, reason: error.message })),
    ...sent.failed.flatMap((message) =>
      message.changes.map((change) => ({
        id: change.id,
        reason: `the changes queue refused the message${lastReason}`,
      })),
    ),
  ];
  const refusals = sent.isolated.map((refusal) => ({
    id: refusal.change.id,
    reason: `the changes queue refused it: ${refusal.code}: ${refusal.message}`,
  }));
  let deadLettered: EnqueueResult['deadLettered'] = [];
  if (refusals.length > 0 && target.dlqUrl !== undefined) {
    try {
      const now = Date.now();
      await sendDeadLetters(
        sqs,
        target.dlqUrl,
      )(sent.isolated.map((refusal) => refusalLetter(refusal, now, 'batcher')));
      deadLettered = refusals;
    } catch (error) {
      failed.push(
        ...refusals.map(({ id, reason }) => ({
          id,
          reason: `${reason}; dead-lettering failed: ${(error as Error).message}`,
        })),
      );
    }
  } else failed.push(...refusals);
  const notEnqueued = new Set([...failed, ...deadLettered].map(({ id }) => id));
  return {
    enqueued: changes.filter((change) => !notEnqueued.has(change.id)),
    failed,
    deadLettered,
  };
}
