import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../functions/core/change.ts';
import {
  messageGroupOf,
  type PackedMessage,
  packChanges,
  parseChangeMessage,
  type RefusedMessage,
  sqsJson,
} from '../../functions/core/pack.ts';
import { sendSplitting } from '../../functions/core/send.ts';
import { oneQueuePorts, processStreamRecords } from '../../functions/core/stream-batch.ts';
import { change, seq, streamRecord } from '../helpers/factories.ts';

/** What SQS accepts in a message body (SendMessage: "Valid unicode characters are …"). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: SQS's character set is defined by these code points
const SQS_REFUSES = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const HOSTILE_IDS = [
  'emoji-😀',
  'ctl-\u0001',
  'nc-\uFFFF',
  'nc-\uFFFE',
  'lone-\uD83D',
  'low-\uDE00x',
  'nul-\u0000',
];

describe('message bodies SQS accepts, whatever the key holds', () => {
  it('escapes U+FFFE/U+FFFF, controls and lone surrogates; parsing gives back the exact id', () => {
    const changes = HOSTILE_IDS.map((id) => change(id));
    const { messages } = packChanges(changes, 1, 262_144);
    expect(messages).toHaveLength(1);
    const body = (messages[0] as PackedMessage).body;
    expect(SQS_REFUSES.test(body)).toBe(false);
    expect(body).toContain('😀'); // allowed as is: no needless escaping
    expect(parseChangeMessage(body)?.changes).toEqual(changes);
    expect((messages[0] as PackedMessage).bytes).toBe(Buffer.byteLength(body));
  });

  it('property: any string round-trips through sqsJson and never holds a character SQS refuses', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(
            fc.constantFrom('\uFFFE', '\uFFFF', '\u0001', '\uD800', '\uDFFF', '😀'),
            fc.string({ unit: 'binary', maxLength: 1 }),
          ),
        }),
        fc.string({ unit: 'grapheme' }),
        (a, b) => {
          const value = { a, b, nested: [a + b] };
          const text = sqsJson(value);
          expect(SQS_REFUSES.test(text)).toBe(false);
          expect(JSON.parse(text)).toEqual(value);
        },
      ),
    );
  });
});

/** An SQS stand-in that refuses, per entry, any body holding one of `poison` (as SQS would a raw U+0001). */
function refusingQueue(poison: readonly string[], transient: (call: number) => boolean = () => false) {
  const calls: PackedMessage[][] = [];
  const accepted: PackedMessage[] = [];
  return {
    calls,
    accepted,
    async sendMessages(messages: PackedMessage[]): Promise<RefusedMessage[]> {
      calls.push(messages);
      const refused: RefusedMessage[] = [];
      for (const message of messages) {
        const ids = message.changes.map(({ id }) => id);
        if (ids.some((id) => poison.includes(id)))
          refused.push({
            ...message,
            refusal: {
              code: 'InvalidMessageContents',
              message: 'Invalid characters found.',
              senderFault: true,
            },
          });
        else if (transient(calls.length))
          refused.push({
            ...message,
            refusal: { code: 'InternalError', message: 'try again', senderFault: false },
          });
        else accepted.push(message);
      }
      return refused;
    },
  };
}

describe('sendSplitting: a refused entry is split until the one refused change is isolated', () => {
  it('sends every other change of the message and isolates the refused one with SQS code and message', async () => {
    const changes = Array.from({ length: 19 }, (_, n) => change(`k-${n}`));
    const { messages } = packChanges(changes, 1, 262_144);
    expect(messages).toHaveLength(1);
    const queue = refusingQueue(['k-7']);
    const result = await sendSplitting(messages, queue, { attempts: 3 });
    expect(result.failed).toEqual([]);
    expect(result.isolated.map(({ change: c, code, message }) => [c.id, code, message])).toEqual([
      ['k-7', 'InvalidMessageContents', 'Invalid characters found.'],
    ]);
    const sent = queue.accepted.flatMap((message) => parseChangeMessage(message.body)?.changes ?? []);
    expect(sent.map(({ id }) => id).sort()).toEqual(
      changes
        .map(({ id }) => id)
        .filter((id) => id !== 'k-7')
        .sort(),
    );
    // Splitting halves: log2(19) rounds, not one call per change.
    expect(queue.calls.length).toBeLessThanOrEqual(8);
  });

  it('retries transient refusals up to the attempts, then reports the message failed (not isolated)', async () => {
    const { messages } = packChanges([change('a'), change('b')], 1, 262_144);
    const queue = refusingQueue([], () => true);
    const result = await sendSplitting(messages, queue, { attempts: 3 });
    expect(queue.calls).toHaveLength(3);
    expect(result.isolated).toEqual([]);
    expect(result.failed.flatMap((m) => m.changes.map(({ id }) => id))).toEqual(['a', 'b']);
    expect(result.lastRefusal).toEqual({ code: 'InternalError', message: 'try again', senderFault: false });
  });
});

describe('processStreamRecords: one refused key never blocks the shard', () => {
  it('dead-letters only the refused change, with the SQS reason; the others are enqueued and nothing fails', async () => {
    const ids = Array.from({ length: 19 }, (_, n) => `item-${n}`);
    const records = ids.map((id, n) => streamRecord({ sequenceNumber: seq(n + 1), id }));
    const letters: DeadLetter[] = [];
    const queue = refusingQueue(['item-4']);
    const ports = {
      sendMessages: queue.sendMessages,
      sendDeadLetters: async (sent: DeadLetter[]) => {
        letters.push(...sent);
      },
      now: () => 1_700_000_000_000,
    };
    const result = await processStreamRecords(records, oneQueuePorts(ports), {
      keyAttributes: ['pk'],
      buckets: 1,
      maxMessageBytes: 262_144,
    });
    expect(messageGroupOf('item-4', 1)).toBe(messageGroupOf('item-5', 1));
    expect(result.batchItemFailures).toEqual([]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      stage: 'batcher',
      id: 'item-4',
      change: { id: 'item-4' },
      reason: { code: 'InvalidMessageContents', message: 'Invalid characters found.' },
    });
    expect(result.summary.refusals).toEqual([
      { id: 'item-4', code: 'InvalidMessageContents', message: 'Invalid characters found.' },
    ]);
    const sent = queue.accepted.flatMap((message) => parseChangeMessage(message.body)?.changes ?? []);
    expect(sent).toHaveLength(18);
  });
});
