import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../functions/core/adaptive-limit.ts';
import { CircuitBreaker } from '../../functions/core/breaker.ts';
import type { MarshalledKey } from '../../functions/core/change.ts';
import { OVERLOAD_RETRIES } from '../../functions/core/write-batch/adaptive-import.ts';
import { processChangeMessages, type WriterPorts } from '../../functions/core/write-batch.ts';
import { change, pkOf, sqsRecord } from '../helpers/factories.ts';

/**
 * The writer under an adaptive import limit: a whole import answered 503 "Not Ready or Lagging" or
 * 429 halves the limit and is sent again after a pause inside the invocation; an outage still fails.
 */

/** Typesense's client error for an HTTP answer, as the writer sees it (status and retryable). */
const httpError = (status: number) =>
  Object.assign(new Error(`HTTP ${status}`), { status, retryable: status === 429 || status >= 500 });
const unreachable = () => Object.assign(new Error('ECONNREFUSED'), { retryable: true });

/** A fake Typesense whose n-th import (0-based) throws `answers(n)`, or takes the lines when undefined. */
function typesense(answers: (attempt: number) => Error | undefined, invocationMs = 30_000) {
  const clock = { now: 1_700_000_010_000 };
  const start = clock.now;
  const imports: string[][] = [];
  const pauses: number[] = [];
  const visibility: { receiptHandle: string; seconds: number }[] = [];
  const ports: WriterPorts = {
    async readItems(keys: MarshalledKey[]) {
      return keys.map((key): Record<string, AttributeValue> => ({ pk: { S: pkOf(key) } }));
    },
    async importDocuments(lines) {
      const error = answers(imports.length);
      imports.push(lines);
      clock.now += 50;
      if (error !== undefined) throw error;
      return lines.map(() => ({ success: true as const }));
    },
    async deleteDocuments(ids) {
      return ids.length;
    },
    async sendDeadLetters() {},
    async changeVisibility(entries) {
      visibility.push(...entries);
    },
    async health() {
      return true;
    },
    async sleep(ms) {
      pauses.push(ms);
      clock.now += ms;
    },
    now: () => clock.now,
  };
  const remainingMs = () => invocationMs - (clock.now - start);
  const importLimit = new AdaptiveLimit({ cap: 4, now: () => clock.now });
  const breaker = new CircuitBreaker({
    failureThreshold: 1,
    probeMs: 1_000,
    maxProbeMs: 4_000,
    now: () => clock.now,
  });
  const options = {
    keyAttributes: ['pk'],
    retry: { baseSeconds: 2, maxSeconds: 300, maxReceiveCount: 10, budgetMs: 3_600_000, random: () => 0.5 },
    remainingMs,
    importLimit,
    breaker,
  };
  return { ports, imports, pauses, visibility, options, importLimit, breaker };
}

const batch = () => [
  sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
  sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('b')] }),
];
const failedIds = (result: { batchItemFailures: { itemIdentifier: string }[] }) =>
  result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier);

describe('processChangeMessages under an adaptive import limit', () => {
  it('retries a first 503 from a server that looks lossy but working after 5–10 ms, later ones backing off as before', async () => {
    const fake = typesense((attempt) => (attempt < 2 ? httpError(503) : undefined));
    fake.breaker.recordSuccess();
    const result = await processChangeMessages(batch(), fake.ports, fake.options);
    expect(failedIds(result)).toEqual([]);
    expect(fake.imports).toHaveLength(3);
    // ¾ of 10 ms, then ¾ of 200 ms: a second overload answer in a row is backed off from.
    expect(fake.pauses).toEqual([8, 150]);
    expect(fake.importLimit.decreases).toBe(2);
  });

  it.each([503, 429])(
    'sends an import answered %i again after a pause, halving the limit: nothing goes back to SQS',
    async (status) => {
      const fake = typesense((attempt) => (attempt < 2 ? httpError(status) : undefined));
      const result = await processChangeMessages(batch(), fake.ports, fake.options);
      expect(failedIds(result)).toEqual([]);
      expect(result.summary.upserted).toBe(2);
      expect(fake.visibility).toEqual([]);
      // The very same lines, three times; pauses growing (jittered within [½, 1] of 100, then 200 ms).
      expect(fake.imports).toHaveLength(3);
      expect(fake.imports[2]).toEqual(fake.imports[0]);
      expect(fake.pauses).toEqual([75, 150]);
      // Two halvings from the cap of 4, then one success: 1 + 1/1.
      expect(fake.importLimit.decreases).toBe(2);
      expect(fake.importLimit.limit).toBe(2);
      // The server answered: the circuit stays closed, even with a threshold of one failure.
      expect(result.summary.circuit).toBe('closed');
      expect(fake.breaker.opened).toBe(0);
    },
  );

  it('gives up after the last retry: the batch fails as before and the circuit counts the outage', async () => {
    const fake = typesense(() => httpError(503));
    const result = await processChangeMessages(batch(), fake.ports, fake.options);
    expect(fake.imports).toHaveLength(1 + OVERLOAD_RETRIES);
    expect(failedIds(result)).toEqual(['m1', 'm2']);
    expect(result.summary.retryReason).toMatch(/HTTP 503/);
    expect(fake.breaker.opened).toBe(1);
  });

  it('stops retrying when the invocation has no time left for a pause and another import', async () => {
    const fake = typesense(() => httpError(503), 3_100);
    const result = await processChangeMessages(batch(), fake.ports, fake.options);
    expect(fake.imports).toHaveLength(1);
    expect(failedIds(result)).toEqual(['m1', 'm2']);
  });

  it('does not retry an unreachable server in the invocation: that is the circuit breaker’s call', async () => {
    const fake = typesense(() => unreachable());
    const result = await processChangeMessages(batch(), fake.ports, fake.options);
    expect(fake.imports).toHaveLength(1);
    expect(fake.pauses).toEqual([]);
    expect(failedIds(result)).toEqual(['m1', 'm2']);
    expect(fake.breaker.opened).toBe(1);
  });

  it('without a limit an overloaded import fails the batch at once, as before', async () => {
    const fake = typesense((attempt) => (attempt < 1 ? httpError(503) : undefined));
    const { importLimit: _none, ...options } = fake.options;
    const result = await processChangeMessages(batch(), fake.ports, options);
    expect(fake.imports).toHaveLength(1);
    expect(failedIds(result)).toEqual(['m1', 'm2']);
  });

  it('an overload the limit gave up on is not retried again by the whole-request retry (no compounding)', async () => {
    const fake = typesense(() => httpError(503));
    // A breaker that saw the server work: the whole-request retry would fire for any other failure.
    fake.breaker.recordSuccess();
    const result = await processChangeMessages(batch(), fake.ports, {
      ...fake.options,
      breaker: fake.breaker,
    });
    expect(fake.imports).toHaveLength(1 + OVERLOAD_RETRIES);
    expect(failedIds(result)).toEqual(['m1', 'm2']);
  });
});
