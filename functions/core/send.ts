import type { Change } from './change.ts';
import {
  type PackedMessage,
  packGroup,
  parseChangeMessage,
  type RefusedMessage,
  type SendRefusal,
  toSendBatches,
} from './pack.ts';

/** One SendMessageBatch call (≤ 10 entries, ≤ 1 MiB). Resolves with the entries SQS refused. */
export interface SendPorts {
  sendMessages(messages: PackedMessage[]): Promise<RefusedMessage[]>;
}

/** A change SQS refused on its own (SenderFault): it can never be sent as it is, so it is dead-lettered. */
export interface IsolatedRefusal extends SendRefusal {
  change: Change;
}

export interface SendOutcome {
  /** Messages still refused after `attempts` sends for a passing reason (or an unknown one). */
  failed: PackedMessage[];
  /** Changes SQS refused alone, each with SQS's code and message. */
  isolated: IsolatedRefusal[];
  /** The last refusal seen, for the log. */
  lastRefusal?: SendRefusal;
}

/**
 * Splits a message in two, each half in the same group with the same envelope. Both are smaller than
 * the original, so each packs into one message.
 */
function halves(message: PackedMessage): PackedMessage[] {
  const envelope = parseChangeMessage(message.body);
  const middle = Math.ceil(message.changes.length / 2);
  return [message.changes.slice(0, middle), message.changes.slice(middle)].flatMap(
    (changes) =>
      packGroup(changes, message.groupId, message.bytes, {
        since: envelope?.since,
        requeues: envelope?.requeues,
      }).messages,
  );
}

/**
 * Sends packed messages in SendMessageBatch calls (≤ 10 entries, ≤ 1 MiB each). An entry SQS refuses
 * for its content (SenderFault, e.g. InvalidMessageContents) is split in halves and the halves sent
 * again, until the one change SQS refuses stands alone: it is returned in `isolated`, so the caller
 * dead-letters it and its batch-mates go through. Anything else refused, or a call that fails, is sent
 * again up to `attempts` times and then returned in `failed`. One piece of code for every path that
 * enqueues changes: the batcher, the writer's re-sends, replays, repairs, redrives and re-syncs.
 */
export async function sendSplitting(
  messages: readonly PackedMessage[],
  ports: SendPorts,
  options: { attempts: number },
): Promise<SendOutcome> {
  const outcome: SendOutcome = { failed: [], isolated: [] };
  // Sends so far, per message (deduplication id = group + body); halves start afresh.
  const tries = new Map<string, number>();
  let pending = [...messages];
  // The refused entries' own messages, so a retry sends the very message (and nothing SQS added).
  const byId = new Map(pending.map((message) => [message.deduplicationId, message]));
  while (pending.length > 0) {
    const next: PackedMessage[] = [];
    const refusedPerBatch = await Promise.all(
      toSendBatches(pending).map(async (batch): Promise<RefusedMessage[]> => {
        try {
          return await ports.sendMessages(batch);
        } catch (error) {
          // The whole call failed (throttling, network): every entry is still pending.
          const refusal = {
            code: (error as Error).name,
            message: (error as Error).message,
            senderFault: false,
          };
          return batch.map((message) => ({ ...message, refusal }));
        }
      }),
    );
    for (const refused of refusedPerBatch.flat()) {
      const { refusal, ...copy } = refused;
      const message = byId.get(copy.deduplicationId) ?? copy;
      if (refusal !== undefined) outcome.lastRefusal = refusal;
      if (refusal?.senderFault === true && message.changes.length === 1)
        outcome.isolated.push({ change: message.changes[0] as Change, ...refusal });
      else if (refusal?.senderFault === true) {
        const split = halves(message);
        for (const half of split) byId.set(half.deduplicationId, half);
        next.push(...split);
      } else {
        const sent = (tries.get(message.deduplicationId) ?? 0) + 1;
        tries.set(message.deduplicationId, sent);
        if (sent >= options.attempts) outcome.failed.push(message);
        else next.push(message);
      }
    }
    pending = next;
  }
  return outcome;
}
