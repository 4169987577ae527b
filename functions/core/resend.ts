import type { Change, ChangeMessage } from './change.ts';
import { type PackedMessage, packGroup } from './pack.ts';
import type { FailedMessage } from './retry.ts';
import { type SendPorts, sendSplitting } from './send.ts';

/**
 * Re-sends messages at the receive limit, each to its group with `since` and a higher `requeues`:
 * repacked to fit the queue's message size (a re-send is longer than the original) and sent through
 * the splitter, so each SendMessageBatch stays within 1 MiB. A message counts as re-sent when all
 * its changes are on the queue, or the few SQS refuses alone are to be dead-lettered (`refused`).
 */
export async function resend(
  failed: readonly FailedMessage[],
  messages: ReadonlyMap<string, ChangeMessage>,
  sendMessages: SendPorts['sendMessages'],
  maxMessageBytes: number,
) {
  const recordOf = new Map<Change, string>();
  const packed: PackedMessage[] = [];
  const oversize: { change: Change; code: string; message: string }[] = [];
  for (const { record, since } of failed) {
    const message = messages.get(record.messageId) as ChangeMessage;
    for (const change of message.changes) recordOf.set(change, record.messageId);
    const repacked = packGroup(
      message.changes,
      record.attributes.MessageGroupId ?? 'requeued',
      maxMessageBytes,
      {
        since,
        requeues: (message.requeues ?? 0) + 1,
      },
    );
    packed.push(...repacked.messages);
    for (const error of repacked.oversize) {
      const change = message.changes.find(({ id }) => id === error.id) as Change;
      oversize.push({ change, code: 'oversize', message: error.message });
    }
  }
  const outcome = await sendSplitting(packed, { sendMessages }, { attempts: 3 });
  const unsent = new Set(
    outcome.failed.flatMap(({ changes }) => changes.map((change) => recordOf.get(change))),
  );
  return {
    sent: failed.map(({ record }) => record.messageId).filter((messageId) => !unsent.has(messageId)),
    refused: [...oversize, ...outcome.isolated],
    recordOf,
  };
}
