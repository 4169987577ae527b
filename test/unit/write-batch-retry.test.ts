import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../functions/core/breaker.ts';
import type { Change, ChangeMessage, DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import {
  MAX_BATCH_BYTES,
  type PackedMessage,
  parseChangeMessage,
  RESEND_HEADROOM,
  type RefusedMessage,
} from '../../functions/core/pack.ts';
import type { RetryPolicy } from '../../functions/core/retry.ts';
import { oneQueuePorts, processStreamRecords } from '../../functions/core/stream-batch.ts';
import {
  type ImportOutcome,
  processChangeMessages,
  type WriterPorts,
} from '../../functions/core/write-batch.ts';
import { change, pkOf, seq, sqsRecord, streamRecord } from '../helpers/factories.ts';

const NOW = 1_700_000_010_000;

/** An error as our Typesense client raises it: `retryable` says whether it is an outage. */
const typesenseError = (retryable: boolean) =>
  Object.assign(new Error(retryable ? 'connect ECONNREFUSED' : 'HTTP 404'), { retryable });

function ports(
  behaviour: {
    importError?: Error;
    outcomes?: ImportOutcome[];
    healthy?: boolean;
    requeueFails?: boolean;
  } = {},
) {
  const calls = {
    read: 0,
    import: 0,
    health: 0,
    visibility: [] as { receiptHandle: string; seconds: number }[],
    requeue: [] as { groupId: string; body: string }[],
    deadLetters: [] as DeadLetter[],
  };
  const writerPorts: WriterPorts = {
    async readItems(keys: MarshalledKey[]) {
      calls.read++;
      return keys.map((key): Record<string, AttributeValue> => ({ pk: { S: pkOf(key) }, title: { S: 't' } }));
    },
    async importDocuments(lines: string[]) {
      calls.import++;
      if (behaviour.importError !== undefined) throw behaviour.importError;
      return behaviour.outcomes ?? lines.map(() => ({ success: true }) as const);
    },
    async deleteDocuments(ids: string[]) {
      return ids.length;
    },
    async sendDeadLetters(letters: DeadLetter[]) {
      calls.deadLetters.push(...letters);
    },
    async health() {
      calls.health++;
      return behaviour.healthy ?? true;
    },
    async changeVisibility(entries) {
      calls.visibility.push(...entries);
    },
    async requeue(messages) {
      if (behaviour.requeueFails === true) throw new Error('SQS refused');
      calls.requeue.push(...messages);
      return [];
    },
    now: () => NOW,
  };
  return { writerPorts, calls };
}

const retry: RetryPolicy = {
  baseSeconds: 2,
  maxSeconds: 300,
  maxReceiveCount: 10,
  budgetMs: 3_600_000,
  random: () => 0,
};
const clock = { now: NOW };
const newBreaker = () =>
  new CircuitBreaker({ failureThreshold: 2, probeMs: 30_000, maxProbeMs: 300_000, now: () => clock.now });
const batch = (receiveCount = 1) => [
  sqsRecord({ messageId: 'm1', groupId: 'b1', changes: [change('a')], receiveCount }),
  sqsRecord({ messageId: 'm2', groupId: 'b2', changes: [change('b')], receiveCount }),
];
const failedIds = (result: { batchItemFailures: { itemIdentifier: string }[] }) =>
  result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier);

describe('processChangeMessages: backoff', () => {
  it('keeps retryably failed messages invisible for their backoff', async () => {
    const { writerPorts, calls } = ports({
      outcomes: [{ success: true }, { success: false, code: 503, error: 'lagging' }],
    });
    const result = await processChangeMessages(batch(3), writerPorts, { keyAttributes: ['pk'], retry });
    expect(failedIds(result)).toEqual(['m2']);
    expect(calls.visibility).toEqual([{ receiptHandle: 'AQEB-m2', seconds: 4 }]);
  });

  it('re-sends a retryably failing message on its last receives, to its own group, and acknowledges it', async () => {
    const { writerPorts, calls } = ports({ importError: typesenseError(true) });
    const result = await processChangeMessages(batch(9), writerPorts, { keyAttributes: ['pk'], retry });
    expect(failedIds(result)).toEqual([]);
    expect(result.summary.requeued).toBe(2);
    expect(calls.requeue.map(({ groupId }) => groupId)).toEqual(['b1', 'b2']);
    const body = JSON.parse(calls.requeue[0]?.body ?? '') as ChangeMessage;
    expect(body).toMatchObject({ v: 1, requeues: 1, since: 1_700_000_001_000, changes: [{ id: 'a' }] });
    expect(calls.deadLetters).toEqual([]);
  });

  it('re-sends only the changes it can apply: a change lettered for its key is not re-sent or lettered again', async () => {
    const { writerPorts, calls } = ports({ importError: typesenseError(true) });
    const badKey = { ...change('bad'), key: { other: { S: 'bad' } } };
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'b1', changes: [badKey, change('a')], receiveCount: 9 }),
    ];
    const result = await processChangeMessages(records, writerPorts, { keyAttributes: ['pk'], retry });
    expect(failedIds(result)).toEqual([]);
    expect(
      calls.requeue.flatMap(({ body }) => parseChangeMessage(body)?.changes.map(({ id }) => id)),
    ).toEqual(['a']);
    expect(calls.deadLetters.map((letter) => [letter.id, letter.reason.code])).toEqual([['bad', 'bad-key']]);
  });

  it('keeps a message failed when re-sending it fails, so it is never lost', async () => {
    const { writerPorts } = ports({ importError: typesenseError(true), requeueFails: true });
    const result = await processChangeMessages(batch(9), writerPorts, { keyAttributes: ['pk'], retry });
    expect(failedIds(result)).toEqual(['m1', 'm2']);
  });

  it('does not re-send a message failing for a reason that will not pass (it may reach the DLQ)', async () => {
    const { writerPorts, calls } = ports({ importError: typesenseError(false) });
    const result = await processChangeMessages(batch(9), writerPorts, { keyAttributes: ['pk'], retry });
    expect(failedIds(result)).toEqual(['m1', 'm2']);
    expect(calls.requeue).toEqual([]);
  });

  it('dead-letters a message failing for a lasting reason on its last receive, with that reason, and acknowledges it', async () => {
    const { writerPorts, calls } = ports({ importError: typesenseError(false) });
    const result = await processChangeMessages(batch(10), writerPorts, { keyAttributes: ['pk'], retry });
    expect(failedIds(result)).toEqual([]);
    expect(calls.requeue).toEqual([]);
    expect(calls.deadLetters.map(({ id, reason }) => ({ id, code: reason.code }))).toEqual([
      { id: 'a', code: 'receive-limit' },
      { id: 'b', code: 'receive-limit' },
    ]);
    expect(calls.deadLetters[0]?.reason.message).toMatch(/import failed: .*HTTP 404/);
    expect(calls.deadLetters[0]).toMatchObject({ stage: 'writer', attempts: 10, change: { id: 'a' } });
  });

  it('dead-letters the changes of a message that failed retryably beyond the budget', async () => {
    const { writerPorts, calls } = ports({ importError: typesenseError(true) });
    const result = await processChangeMessages(batch(2), writerPorts, {
      keyAttributes: ['pk'],
      retry: { ...retry, budgetMs: NOW - 1_700_000_001_000 - 1 },
    });
    expect(failedIds(result)).toEqual([]);
    expect(calls.deadLetters.map(({ id, reason }) => [id, reason.code])).toEqual([
      ['a', 'retry-budget-exhausted'],
      ['b', 'retry-budget-exhausted'],
    ]);
    expect(calls.deadLetters[0]?.reason.message).toContain('ECONNREFUSED');
  });
});

describe('processChangeMessages: circuit breaker', () => {
  it('opens after consecutive outages, then skips Typesense and the source until the probe time', async () => {
    clock.now = NOW;
    const breaker = newBreaker();
    const down = ports({ importError: typesenseError(true) });
    await processChangeMessages(batch(), down.writerPorts, { keyAttributes: ['pk'], retry, breaker });
    expect(breaker.state).toBe('closed');
    await processChangeMessages(batch(), down.writerPorts, { keyAttributes: ['pk'], retry, breaker });
    expect(breaker.state).toBe('open');

    const later = ports();
    clock.now = NOW + 10_000;
    const result = await processChangeMessages(batch(), later.writerPorts, {
      keyAttributes: ['pk'],
      retry,
      breaker,
    });
    expect(failedIds(result)).toEqual(['m1', 'm2']);
    expect(result.summary.circuit).toBe('open');
    expect(result.summary.retryReason).toMatch(/circuit open/);
    expect([later.calls.read, later.calls.import, later.calls.health]).toEqual([0, 0, 0]);
    // Invisible until the probe is due (20 s left), not just the short backoff.
    expect(later.calls.visibility.map(({ seconds }) => seconds)).toEqual([20, 20]);
  });

  it('does not open on non-outage failures (a 404 is a configuration problem, not an outage)', async () => {
    const breaker = newBreaker();
    const wrong = ports({ importError: typesenseError(false) });
    for (let i = 0; i < 3; i++)
      await processChangeMessages(batch(), wrong.writerPorts, { keyAttributes: ['pk'], breaker });
    expect(breaker.state).toBe('closed');
  });

  it('probes health when half-open: unhealthy reopens without touching the source, healthy resumes and closes', async () => {
    clock.now = NOW;
    const breaker = newBreaker();
    const down = ports({ importError: typesenseError(true) });
    for (let i = 0; i < 2; i++)
      await processChangeMessages(batch(), down.writerPorts, { keyAttributes: ['pk'], breaker });

    clock.now += 30_000;
    const stillDown = ports({ healthy: false });
    await processChangeMessages(batch(), stillDown.writerPorts, { keyAttributes: ['pk'], breaker });
    expect([stillDown.calls.health, stillDown.calls.read]).toEqual([1, 0]);
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs()).toBe(60_000);

    clock.now += 60_000;
    const back = ports({ healthy: true });
    const result = await processChangeMessages(batch(), back.writerPorts, { keyAttributes: ['pk'], breaker });
    expect(failedIds(result)).toEqual([]);
    expect([back.calls.health, back.calls.import]).toEqual([1, 1]);
    expect(breaker.state).toBe('closed');
  });
});

/** A changes queue that checks what SQS checks: each body ≤ its maximum size, each call ≤ 1 MiB in all. */
function sizeCheckingQueue(maxMessageBytes: number) {
  const accepted: PackedMessage[] = [];
  const calls: number[] = [];
  return {
    accepted,
    calls,
    async requeue(messages: PackedMessage[]): Promise<RefusedMessage[]> {
      const total = messages.reduce((sum, { body }) => sum + Buffer.byteLength(body), 0);
      calls.push(total);
      if (total > MAX_BATCH_BYTES)
        throw Object.assign(new Error('Batch requests cannot be longer than 1048576 bytes.'), {
          name: 'BatchRequestTooLong',
        });
      return messages.flatMap((message): RefusedMessage[] => {
        if (Buffer.byteLength(message.body) <= maxMessageBytes) {
          accepted.push(message);
          return [];
        }
        const reason = `Message must be shorter than ${maxMessageBytes} bytes.`;
        return [
          { ...message, refusal: { code: 'InvalidParameterValue', message: reason, senderFault: true } },
        ];
      });
    },
  };
}

/** Changes (ids of about `idBytes` ASCII characters) whose message body, as first sent, is `bodyBytes` or one less. */
function nearLimitChanges(prefix: string, bodyBytes: number, idBytes: number): Change[] {
  const changes: Change[] = [];
  let bytes = Buffer.byteLength(JSON.stringify({ v: 1, changes: [] }));
  for (let n = 0; ; n++) {
    const next = change(`${prefix}-${String(n).padStart(6, '0')}-${'x'.repeat(idBytes)}`);
    const nextBytes = Buffer.byteLength(JSON.stringify(next)) + (changes.length === 0 ? 0 : 1);
    if (bytes + nextBytes > bodyBytes) break;
    changes.push(next);
    bytes += nextBytes;
  }
  // Lengthen the last id (it is also the key's pk: two bytes per character) up to the target.
  const last = changes.pop() as Change;
  const id = `${last.id}${'y'.repeat(Math.floor((bodyBytes - bytes) / 2))}`;
  changes.push(change(id));
  return changes;
}

describe('processChangeMessages: re-sends at the receive limit fit SQS limits', () => {
  const resentIds = (messages: PackedMessage[]) =>
    messages.flatMap(({ body }) => parseChangeMessage(body)?.changes.map(({ id }) => id) ?? []).sort();

  it('re-sends a message that was near the size limit, repacked so every body fits', async () => {
    const maxMessageBytes = 8_192;
    const changes = nearLimitChanges('k', maxMessageBytes - 4, 60);
    const { writerPorts } = ports({ importError: typesenseError(true) });
    const queue = sizeCheckingQueue(maxMessageBytes);
    const record = sqsRecord({ messageId: 'm1', groupId: 'b1', changes, receiveCount: 9 });
    expect(Buffer.byteLength(record.body)).toBeGreaterThan(maxMessageBytes - 60);
    const result = await processChangeMessages(
      [record],
      { ...writerPorts, requeue: queue.requeue },
      {
        keyAttributes: ['pk'],
        retry,
        maxMessageBytes,
      },
    );
    expect(failedIds(result)).toEqual([]);
    expect(result.summary.requeued).toBe(1);
    expect(resentIds(queue.accepted)).toEqual(changes.map(({ id }) => id).sort());
    for (const message of queue.accepted) {
      expect(message.groupId).toBe('b1');
      expect(parseChangeMessage(message.body)).toMatchObject({ requeues: 1, since: 1_700_000_001_000 });
    }
  });

  it('keeps each SendMessageBatch of re-sends within 1 MiB in all', async () => {
    const maxMessageBytes = 262_144;
    const records = Array.from({ length: 10 }, (_, n) =>
      sqsRecord({
        messageId: `m${n}`,
        groupId: `b${n}`,
        changes: nearLimitChanges(`g${n}`, 200_000, 200),
        receiveCount: 9,
      }),
    );
    const { writerPorts } = ports({ importError: typesenseError(true) });
    const queue = sizeCheckingQueue(maxMessageBytes);
    const result = await processChangeMessages(
      records,
      { ...writerPorts, requeue: queue.requeue },
      {
        keyAttributes: ['pk'],
        retry,
        maxMessageBytes,
      },
    );
    expect(failedIds(result)).toEqual([]);
    expect(result.summary.requeued).toBe(10);
    expect(Math.max(...queue.calls)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(resentIds(queue.accepted)).toEqual(
      records.flatMap((record) => parseChangeMessage(record.body)?.changes.map(({ id }) => id) ?? []).sort(),
    );
  });
});

describe('processStreamRecords: first sends leave room for a re-send', () => {
  it('packs every message at least RESEND_HEADROOM under the queue limit', async () => {
    const maxMessageBytes = 8_192;
    const sent: PackedMessage[] = [];
    const records = Array.from({ length: 200 }, (_, n) =>
      streamRecord({
        sequenceNumber: seq(n + 1),
        id: `item-${String(n).padStart(4, '0')}-${'z'.repeat(40)}`,
      }),
    );
    await processStreamRecords(
      records,
      oneQueuePorts({
        sendMessages: async (messages) => {
          sent.push(...messages);
          return [];
        },
        sendDeadLetters: async () => undefined,
        now: () => NOW,
      }),
      { keyAttributes: ['pk'], buckets: 1, maxMessageBytes },
    );
    expect(sent.length).toBeGreaterThan(1);
    for (const message of sent) expect(message.bytes).toBeLessThanOrEqual(maxMessageBytes - RESEND_HEADROOM);
    // And the fullest one is close to that: the headroom is all that is given up.
    expect(Math.max(...sent.map(({ bytes }) => bytes))).toBeGreaterThan(
      maxMessageBytes - RESEND_HEADROOM - 400,
    );
  });
});
