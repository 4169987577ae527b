import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffSeconds,
  type FailedMessage,
  planRetries,
  type RetryPolicy,
} from '../../functions/core/retry.ts';
import { sqsRecord } from '../helpers/factories.ts';

const policy = (random = 0.5): RetryPolicy => ({
  baseSeconds: 2,
  maxSeconds: 300,
  maxReceiveCount: 10,
  budgetMs: 3_600_000,
  random: () => random,
});

const failed = (receiveCount: number, extra: Partial<FailedMessage> = {}): FailedMessage => ({
  record: sqsRecord({ messageId: `m${receiveCount}`, groupId: 'b1', receiveCount }),
  since: 1_000_000,
  retryable: true,
  reason: 'import 503: Not Ready or Lagging',
  ...extra,
});

describe('backoffSeconds', () => {
  it('doubles per receive from the base up to the cap, with half of each step jittered', () => {
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, policy(0)))).toEqual([1, 2, 4, 8]);
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, policy(1)))).toEqual([2, 4, 8, 16]);
    expect(backoffSeconds(30, policy(1))).toBe(300);
  });

  it('property: always within [step/2, step] and at least 1 s', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, r) => {
          const step = Math.min(300, 2 * 2 ** (n - 1));
          const seconds = backoffSeconds(n, policy(r));
          expect(seconds).toBeGreaterThanOrEqual(Math.max(1, Math.floor(step / 2)));
          expect(seconds).toBeLessThanOrEqual(step);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('planRetries', () => {
  const now = 2_000_000;

  it('backs off an early retryable failure', () => {
    const plan = planRetries([failed(3)], policy(0), now);
    expect(plan.delay.map(({ seconds }) => seconds)).toEqual([4]);
    expect(plan.requeue).toEqual([]);
    expect(plan.expire).toEqual([]);
  });

  it('re-sends a retryable failure on its last receives instead of letting it reach the DLQ', () => {
    const plan = planRetries([failed(9), failed(10), failed(12)], policy(), now);
    expect(plan.requeue.map(({ record }) => record.messageId)).toEqual(['m9', 'm10', 'm12']);
    expect(plan.delay).toEqual([]);
  });

  it('backs a non-retryable failure off, then dead-letters it with its reason on its last receive', () => {
    const plan = planRetries(
      [failed(9, { retryable: false }), failed(10, { retryable: false }), failed(11, { retryable: false })],
      policy(0),
      now,
    );
    expect(plan.requeue).toEqual([]);
    expect(plan.delay.map(({ record }) => record.messageId)).toEqual(['m9']);
    expect(plan.deadLetter.map(({ record }) => record.messageId)).toEqual(['m10', 'm11']);
  });

  it('expires a retryable failure older than the budget', () => {
    const plan = planRetries(
      [failed(2, { since: now - 3_600_001 }), failed(2, { since: now - 3_600_000 })],
      policy(),
      now,
    );
    expect(plan.expire).toHaveLength(1);
    expect(plan.delay).toHaveLength(1);
  });

  it('keeps a message invisible at least until the circuit probes again', () => {
    const plan = planRetries([failed(1)], policy(0), now, 42_500);
    expect(plan.delay.map(({ seconds }) => seconds)).toEqual([43]);
  });

  it('never asks for more than the 12 h SQS visibility limit', () => {
    const plan = planRetries([failed(1)], policy(0), now, 100 * 3_600_000);
    expect(plan.delay.map(({ seconds }) => seconds)).toEqual([43_200]);
  });
});
