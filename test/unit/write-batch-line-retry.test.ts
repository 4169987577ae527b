import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../functions/core/breaker.ts';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import type { RetryPolicy } from '../../functions/core/retry.ts';
import {
  type ImportOutcome,
  processChangeMessages,
  type ResyncWriterPorts,
  type WriterOptions,
  type WriterPorts,
} from '../../functions/core/write-batch.ts';
import { change, pkOf, sqsRecord } from '../helpers/factories.ts';

/**
 * The writer retries, inside the invocation, the documents Typesense failed for a passing reason
 * while it took the rest of the request: a lossy but working server. Everything else is as before.
 */

const ok: ImportOutcome = { success: true };
const lagging: ImportOutcome = { success: false, code: 503, error: 'Not Ready or Lagging' };
const idOf = (line: string) => (JSON.parse(line) as { id: string }).id;

/** A scripted answer for the `attempt`-th write (0-based) of a document id. */
type Script = (id: string, attempt: number) => ImportOutcome;

/** A fake Typesense over a fake clock; every read item has a new version, so a re-read would show. */
function typesense(script: Script, options: { invocationMs?: number; importMs?: number } = {}) {
  const clock = { now: 1_700_000_010_000 };
  const start = clock.now;
  const attempts = new Map<string, number>();
  const imports: string[][] = [];
  const deletes: string[][] = [];
  const pauses: number[] = [];
  const deadLetters: DeadLetter[] = [];
  const visibility: { receiptHandle: string; seconds: number }[] = [];
  let reads = 0;
  const answer = (id: string) => {
    const attempt = attempts.get(id) ?? 0;
    attempts.set(id, attempt + 1);
    return script(id, attempt);
  };
  const ports: WriterPorts = {
    async readItems(keys: MarshalledKey[]) {
      reads++;
      return keys.map(
        (key): Record<string, AttributeValue> => ({
          pk: { S: pkOf(key) },
          version: { N: String(reads) },
        }),
      );
    },
    async importDocuments(lines) {
      clock.now += options.importMs ?? 20;
      imports.push(lines);
      return lines.map((line) => answer(idOf(line)));
    },
    async deleteDocuments(ids) {
      clock.now += options.importMs ?? 20;
      deletes.push(ids);
      for (const id of ids) {
        const outcome = answer(id);
        if (!outcome.success)
          throw Object.assign(new Error(`HTTP ${outcome.code}`), { retryable: outcome.code >= 500 });
      }
      return ids.length;
    },
    async sendDeadLetters(letters) {
      deadLetters.push(...letters);
    },
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
  const remainingMs = () => (options.invocationMs ?? 30_000) - (clock.now - start);
  const advance = (ms: number) => {
    clock.now += ms;
  };
  return {
    ports,
    imports,
    deletes,
    pauses,
    deadLetters,
    visibility,
    remainingMs,
    advance,
    reads: () => reads,
  };
}

const retry: RetryPolicy = {
  baseSeconds: 2,
  maxSeconds: 300,
  maxReceiveCount: 10,
  budgetMs: 3_600_000,
  random: () => 0.5,
};
const batch = (receiveCount = 1) => [
  sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')], receiveCount }),
  sqsRecord({ messageId: 'm2', groupId: 'g1', changes: [change('b')], receiveCount }),
  sqsRecord({ messageId: 'm3', groupId: 'g1', changes: [change('c')], receiveCount }),
];
const failedIds = (result: { batchItemFailures: { itemIdentifier: string }[] }) =>
  result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier);
const writerOptions = (fake: ReturnType<typeof typesense>, extra: Partial<WriterOptions> = {}) => ({
  keyAttributes: ['pk'],
  retry,
  remainingMs: fake.remainingMs,
  ...extra,
});
/** `b` fails with 503 on its first `times` writes, then is taken; every other id is taken at once. */
const bFails =
  (times: number, outcome: ImportOutcome = lagging): Script =>
  (id, attempt) =>
    id === 'b' && attempt < times ? outcome : ok;

describe('processChangeMessages: in-invocation retry of documents a working server failed', () => {
  it('applies a line that failed with 503 once in the same invocation: no batch item failure, no backoff', async () => {
    const fake = typesense(bFails(1));
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake));
    expect(failedIds(result)).toEqual([]);
    expect(fake.visibility).toEqual([]);
    expect(result.summary.upserted).toBe(3);
    expect(result.summary.retrying).toBe(0);
    // Only the failed line again, byte for byte the state read once in this invocation.
    expect(fake.imports.map((lines) => lines.map(idOf))).toEqual([['a', 'b', 'c'], ['b']]);
    expect(fake.imports[1]?.[0]).toBe(fake.imports[0]?.[1]);
    expect(fake.reads()).toBe(1);
    // After a short jittered pause.
    expect(fake.pauses).toHaveLength(1);
    expect(fake.pauses[0]).toBeGreaterThan(0);
    expect(fake.pauses[0]).toBeLessThanOrEqual(100);
  });

  it('retries what still fails in up to 3 rounds, each re-sending only those lines, the pause doubling', async () => {
    const fake = typesense(bFails(3));
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake));
    expect(failedIds(result)).toEqual([]);
    expect(fake.imports.map((lines) => lines.map(idOf))).toEqual([['a', 'b', 'c'], ['b'], ['b'], ['b']]);
    // retry.random is 0.5: ¾ of 100 ms, doubling.
    expect(fake.pauses).toEqual([75, 150, 300]);
    expect(fake.reads()).toBe(1);
  });

  it('a line failing every time ends as before: backed off, its group blocked behind it', async () => {
    const fake = typesense(bFails(Number.POSITIVE_INFINITY));
    const result = await processChangeMessages(batch(3), fake.ports, writerOptions(fake));
    expect(failedIds(result)).toEqual(['m2', 'm3']);
    expect(fake.imports.map((lines) => lines.map(idOf))).toEqual([['a', 'b', 'c'], ['b'], ['b'], ['b']]);
    // The same backoff as without the in-invocation retry.
    const before = typesense(bFails(Number.POSITIVE_INFINITY));
    const unretried = await processChangeMessages(
      batch(3),
      before.ports,
      writerOptions(before, { lineRetries: 0 }),
    );
    expect(before.imports).toHaveLength(1);
    expect(failedIds(unretried)).toEqual(['m2', 'm3']);
    expect(fake.visibility).toEqual(before.visibility);
    expect(result.summary.retryReason).toBe(unretried.summary.retryReason);
  });

  it('a line failing every time is still re-sent on its last receives, never lettered for a passing reason', async () => {
    const fake = typesense(bFails(Number.POSITIVE_INFINITY));
    const requeued: string[] = [];
    fake.ports.requeue = async (messages) => {
      requeued.push(...messages.map(({ groupId }) => groupId));
      return [];
    };
    const result = await processChangeMessages(batch(10), fake.ports, writerOptions(fake));
    expect(fake.imports).toHaveLength(4);
    expect(result.summary.requeued).toBe(2);
    expect(requeued).toEqual(['g1', 'g1']);
    expect(fake.deadLetters).toEqual([]);
  });

  it('never retries a line Typesense refuses (400): dead-lettered after one import', async () => {
    const fake = typesense(
      bFails(Number.POSITIVE_INFINITY, { success: false, code: 400, error: 'bad field' }),
    );
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake));
    expect(fake.imports).toHaveLength(1);
    expect(fake.pauses).toEqual([]);
    expect(failedIds(result)).toEqual([]);
    expect(fake.deadLetters.map(({ id }) => id)).toEqual(['b']);
  });

  it('skips the retry when the time budget is almost spent', async () => {
    // 3.1 s left after the import: the reserve (3 s) and one import (1 s) do not fit.
    const fake = typesense(bFails(1), { invocationMs: 4_100, importMs: 1_000 });
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake));
    expect(fake.imports).toHaveLength(1);
    expect(fake.pauses).toEqual([]);
    expect(failedIds(result)).toEqual(['m2', 'm3']);
  });

  it('retries when the budget allows it, the same set-up with more time left', async () => {
    const fake = typesense(bFails(1), { invocationMs: 6_000, importMs: 1_000 });
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake));
    expect(fake.imports).toHaveLength(2);
    expect(failedIds(result)).toEqual([]);
  });

  it('never retries without a time budget: it could outrun the invocation', async () => {
    const fake = typesense(bFails(1));
    const result = await processChangeMessages(batch(), fake.ports, { keyAttributes: ['pk'], retry });
    expect(fake.imports).toHaveLength(1);
    expect(failedIds(result)).toEqual(['m2', 'm3']);
  });

  it('never retries when every line failed before the server ever answered (an outage? the circuit decides)', async () => {
    const fake = typesense((_id, attempt) => (attempt < 1 ? lagging : ok));
    const breaker = new CircuitBreaker({
      failureThreshold: 3,
      probeMs: 30_000,
      maxProbeMs: 300_000,
      now: fake.ports.now,
    });
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake, { breaker }));
    expect(fake.imports).toHaveLength(1);
    expect(failedIds(result)).toEqual(['m1', 'm2', 'm3']);
  });

  it('never retries a whole request that failed without a breaker to tell an outage', async () => {
    const fake = typesense(() => ok);
    let calls = 0;
    fake.ports.importDocuments = async () => {
      calls++;
      throw Object.assign(new Error('socket hang up'), { retryable: true });
    };
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake));
    expect(calls).toBe(1);
    expect(failedIds(result)).toEqual(['m1', 'm2', 'm3']);
  });

  it('retries a delete that failed with 503 while the import went through', async () => {
    const fake = typesense(bFails(1));
    const records = [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', groupId: 'g1', changes: [change('b', { op: 'delete' })] }),
    ];
    // `b` is gone from the table: the writer deletes it.
    const read = fake.ports.readItems;
    fake.ports.readItems = async (keys) => (await read(keys)).filter((item) => item.pk?.S !== 'b');
    const result = await processChangeMessages(records, fake.ports, writerOptions(fake));
    expect(fake.deletes).toEqual([['b'], ['b']]);
    expect(failedIds(result)).toEqual([]);
    expect(result.summary.deleted).toBe(1);
  });

  it("retries a line the re-sync's collection failed with 503, not the live write that went through", async () => {
    const fake = typesense(() => ok);
    const resyncImports: string[][] = [];
    const resyncAnswers = new Map<string, number>();
    const resync: ResyncWriterPorts = {
      active: async () => ({ jobId: 'r1', collection: 'products_r1' }),
      async importDocuments(_collection, lines) {
        resyncImports.push(lines.map(idOf));
        return lines.map((line) => {
          const attempt = resyncAnswers.get(idOf(line)) ?? 0;
          resyncAnswers.set(idOf(line), attempt + 1);
          return bFails(1)(idOf(line), attempt);
        });
      },
      deleteDocuments: async (_collection, ids) => ids.length,
      recordDeletes: async () => undefined,
      recordRejections: async () => undefined,
      clearRejections: async () => 0,
    };
    fake.ports.resync = resync;
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake));
    expect(failedIds(result)).toEqual([]);
    expect(resyncImports).toEqual([['a', 'b', 'c'], ['b']]);
    expect(fake.imports.map((lines) => lines.map(idOf))).toEqual([['a', 'b', 'c']]);
  });
});

/**
 * A whole request that failed for a passing reason (503/429/500 answers, a timeout, a lost answer) is
 * retried once in the invocation too, but only while the circuit breaker sees a lossy but working
 * server (closed, answered before, recent batches mostly fine): otherwise it may be an outage, and
 * the circuit decides as before.
 */
describe('processChangeMessages: in-invocation retry of a whole request that failed', () => {
  const lost = () => Object.assign(new Error('socket hang up'), { retryable: true });
  /** A breaker over the fake's clock that has seen the server answer: it looks working. */
  const workingBreaker = (fake: ReturnType<typeof typesense>) => {
    const breaker = new CircuitBreaker({
      failureThreshold: 3,
      probeMs: 1_000,
      maxProbeMs: 2_000,
      now: fake.ports.now,
    });
    breaker.recordSuccess();
    return breaker;
  };
  /** The first `times` imports throw `error` (after `failMs`), later ones go through. */
  const importFails = (
    fake: ReturnType<typeof typesense>,
    times: number,
    error: () => Error = lost,
    failMs = 20,
  ) => {
    const sent: string[][] = [];
    const importing = fake.ports.importDocuments;
    fake.ports.importDocuments = async (lines, remainingMs) => {
      sent.push(lines);
      if (sent.length > times) return importing(lines, remainingMs);
      fake.advance(failMs);
      throw error();
    };
    return sent;
  };

  it('applies a batch whose import failed whole once: the same lines again, no item failure', async () => {
    const fake = typesense(() => ok);
    const sent = importFails(fake, 1);
    const breaker = workingBreaker(fake);
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake, { breaker }));
    expect(failedIds(result)).toEqual([]);
    expect(fake.visibility).toEqual([]);
    expect(result.summary.upserted).toBe(3);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual(sent[0]);
    expect(fake.reads()).toBe(1);
    // At once: the breaker sees a lossy but working server, whose next request mostly gets through.
    expect(fake.pauses).toEqual([]);
    expect(breaker.state).toBe('closed');
  });

  it('retries a whole request 3 times: one failing 3 times in a row is applied on the fourth attempt', async () => {
    const fake = typesense(() => ok);
    const sent = importFails(fake, 3);
    const result = await processChangeMessages(
      batch(),
      fake.ports,
      writerOptions(fake, { breaker: workingBreaker(fake) }),
    );
    expect(failedIds(result)).toEqual([]);
    expect(fake.visibility).toEqual([]);
    expect(sent).toHaveLength(4);
    expect(sent[3]).toEqual(sent[0]);
    expect(fake.reads()).toBe(1);
    // The first retry at once, then 5–10 ms doubling (¾ of each with this test's random 0.5).
    expect(fake.pauses).toEqual([8, 15]);
  });

  it('gives a whole request that fails 4 times in a row back to SQS for its backoff', async () => {
    const fake = typesense(() => ok);
    const sent = importFails(fake, 4);
    const result = await processChangeMessages(
      batch(),
      fake.ports,
      writerOptions(fake, { breaker: workingBreaker(fake) }),
    );
    expect(sent).toHaveLength(4);
    expect(failedIds(result)).toHaveLength(batch().length);
  });

  it('retries failed lines at once while the breaker sees a lossy but working server, then after 5–10 ms, doubling', async () => {
    const fake = typesense(bFails(3));
    const result = await processChangeMessages(
      batch(),
      fake.ports,
      writerOptions(fake, { breaker: workingBreaker(fake) }),
    );
    expect(failedIds(result)).toEqual([]);
    expect(fake.imports.map((lines) => lines.map(idOf))).toEqual([['a', 'b', 'c'], ['b'], ['b'], ['b']]);
    expect(fake.pauses).toEqual([8, 15]);
  });

  it('gives a failed line its own 3 rounds after whole-request failures took rounds before it', async () => {
    // Two whole failures, then `b`'s line fails three times: rounds of the two kinds are counted apart.
    const fake = typesense(bFails(3));
    importFails(fake, 2);
    const result = await processChangeMessages(
      batch(),
      fake.ports,
      writerOptions(fake, { breaker: workingBreaker(fake) }),
    );
    expect(failedIds(result)).toEqual([]);
    expect(fake.imports.map((lines) => lines.map(idOf))).toEqual([['a', 'b', 'c'], ['b'], ['b'], ['b']]);
    expect(fake.reads()).toBe(1);
  });

  it('retries a timed-out import only when the time left covers another round as slow', async () => {
    // The import times out after 1 s with 4.6 s left: 3.6 s after it, the reserve (3 s) leaves too little.
    const short = typesense(() => ok, { invocationMs: 4_600 });
    const shortSent = importFails(short, 1, lost, 1_000);
    const shortResult = await processChangeMessages(
      batch(),
      short.ports,
      writerOptions(short, { breaker: workingBreaker(short) }),
    );
    expect(shortSent).toHaveLength(1);
    expect(failedIds(shortResult)).toEqual(['m1', 'm2', 'm3']);
    const long = typesense(() => ok, { invocationMs: 6_000 });
    const longSent = importFails(long, 1, lost, 1_000);
    const longResult = await processChangeMessages(
      batch(),
      long.ports,
      writerOptions(long, { breaker: workingBreaker(long) }),
    );
    expect(longSent).toHaveLength(2);
    expect(failedIds(longResult)).toEqual([]);
  });

  it('never retries a whole request before the server has answered once (it may be down)', async () => {
    const fake = typesense(() => ok);
    const sent = importFails(fake, 1);
    const breaker = new CircuitBreaker({
      failureThreshold: 3,
      probeMs: 1_000,
      maxProbeMs: 2_000,
      now: fake.ports.now,
    });
    const result = await processChangeMessages(batch(), fake.ports, writerOptions(fake, { breaker }));
    expect(sent).toHaveLength(1);
    expect(failedIds(result)).toEqual(['m1', 'm2', 'm3']);
  });

  it('never retries a whole request Typesense refused for good', async () => {
    const fake = typesense(() => ok);
    const refused = () => Object.assign(new Error('HTTP 400: bad request'), { retryable: false });
    const sent = importFails(fake, 1, refused);
    const result = await processChangeMessages(
      batch(),
      fake.ports,
      writerOptions(fake, { breaker: workingBreaker(fake) }),
    );
    expect(sent).toHaveLength(1);
    expect(fake.pauses).toEqual([]);
    expect(failedIds(result)).toEqual(['m1', 'm2', 'm3']);
  });

  it('stops retrying once 6 requests in a row went unanswered (an outage), however many retries are allowed', async () => {
    const fake = typesense(() => ok);
    const breaker = workingBreaker(fake);
    const sent = importFails(fake, Number.POSITIVE_INFINITY);
    const options = writerOptions(fake, { breaker, requestRetries: 10 });
    const first = await processChangeMessages(batch(), fake.ports, options);
    expect(sent).toHaveLength(6);
    expect(failedIds(first)).toEqual(['m1', 'm2', 'm3']);
    // The next batch asks /health first; the server is down: the circuit opens, no import is sent.
    fake.ports.health = async () => false;
    const second = await processChangeMessages(batch(2), fake.ports, options);
    expect(sent).toHaveLength(6);
    expect(breaker.state).toBe('open');
    expect(failedIds(second)).toEqual(['m1', 'm2', 'm3']);
  });

  it("keeps retrying while another batch's request is answered between the failures (a lossy server)", async () => {
    const fake = typesense(() => ok);
    const breaker = workingBreaker(fake);
    const importing = fake.ports.importDocuments;
    let attempts = 0;
    // Every other attempt of this batch sees an answer to a concurrent batch come between.
    fake.ports.importDocuments = async (lines, remainingMs) => {
      attempts++;
      if (attempts > 8) return importing(lines, remainingMs);
      if (attempts % 2 === 0) breaker.recordRequest(true);
      throw lost();
    };
    const result = await processChangeMessages(
      batch(),
      fake.ports,
      writerOptions(fake, { breaker, requestRetries: 10 }),
    );
    expect(attempts).toBe(9);
    expect(failedIds(result)).toEqual([]);
  });

  it('a whole request failing again ends as before: the same backoff, counted once by the circuit', async () => {
    const fake = typesense(() => ok);
    const breaker = workingBreaker(fake);
    importFails(fake, Number.POSITIVE_INFINITY);
    const result = await processChangeMessages(batch(3), fake.ports, writerOptions(fake, { breaker }));
    const before = typesense(() => ok);
    const beforeBreaker = workingBreaker(before);
    const beforeSent = importFails(before, Number.POSITIVE_INFINITY);
    const unretried = await processChangeMessages(
      batch(3),
      before.ports,
      writerOptions(before, { breaker: beforeBreaker, requestRetries: 0 }),
    );
    expect(beforeSent).toHaveLength(1);
    expect(failedIds(result)).toEqual(['m1', 'm2', 'm3']);
    expect(fake.visibility).toEqual(before.visibility);
    expect(result.summary.retryReason).toBe(unretried.summary.retryReason);
    // One outage each: two more such batches make the third in a row, which asks /health.
    for (const breakerOf of [breaker, beforeBreaker]) {
      breakerOf.recordOutage();
      expect(breakerOf.state).toBe('closed');
      breakerOf.recordOutage();
      expect(breakerOf.state).toBe('half-open');
    }
  });
});
