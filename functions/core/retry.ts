import type { SQSRecord } from 'aws-lambda';

export interface RetryPolicy {
  baseSeconds: number;
  maxSeconds: number;
  /** The changes queue's redrive maxReceiveCount. */
  maxReceiveCount: number;
  /** How long a change may keep failing retryably before it is dead-lettered anyway. */
  budgetMs: number;
  random: () => number;
}

/**
 * Exponential backoff with "equal jitter": half the step fixed, half random, so retries of many
 * messages spread out instead of arriving together when Typesense comes back.
 */
export function backoffSeconds(receiveCount: number, policy: RetryPolicy): number {
  const step = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.max(0, receiveCount - 1));
  return Math.max(1, Math.round(equalJitter(step, policy.random())));
}

/** "Equal jitter" of one backoff step: half of it fixed, half scaled by `random` (0..1). */
export function equalJitter(step: number, random: number): number {
  return step / 2 + (step / 2) * random;
}

export interface FailedMessage {
  record: SQSRecord;
  /** When the message's changes were first enqueued, ms. */
  since: number;
  /** False when the failure will not pass by waiting (e.g. Typesense answered 401 or 404). */
  retryable: boolean;
  reason: string;
}

export interface RetryPlan {
  /** Messages to leave on the queue, invisible for `seconds`. */
  delay: { record: SQSRecord; seconds: number }[];
  /** Messages about to exceed the receive limit for a passing reason: re-send, then acknowledge. */
  requeue: FailedMessage[];
  /** Messages that failed retryably for longer than the budget: dead-letter, then acknowledge. */
  expire: FailedMessage[];
  /**
   * Messages failing for a lasting reason on their last receive: dead-letter them with that reason,
   * then acknowledge, rather than let SQS move them to the DLQ with no reason at all.
   */
  deadLetter: FailedMessage[];
}

/**
 * What to do with each failed message. A retryable failure must never reach the DLQ through the
 * receive limit (an outage is not poison), so a message on its last receive is re-sent as a new
 * message of the same group; the retry budget bounds that. A non-retryable failure just backs off
 * and is dead-lettered with its reason on its last receive, from where it can be redriven once fixed.
 */
export function planRetries(
  failed: readonly FailedMessage[],
  policy: RetryPolicy,
  now: number,
  circuitWaitMs = 0,
): RetryPlan {
  const plan: RetryPlan = { delay: [], requeue: [], expire: [], deadLetter: [] };
  for (const message of failed) {
    const receives = Number(message.record.attributes.ApproximateReceiveCount) || 1;
    if (message.retryable && now - message.since > policy.budgetMs) plan.expire.push(message);
    else if (message.retryable && receives >= policy.maxReceiveCount - 1) plan.requeue.push(message);
    else if (!message.retryable && receives >= policy.maxReceiveCount) plan.deadLetter.push(message);
    else {
      const backoff = backoffSeconds(receives, policy);
      const circuit = Math.ceil(circuitWaitMs / 1000);
      plan.delay.push({ record: message.record, seconds: Math.min(43_200, Math.max(backoff, circuit)) });
    }
  }
  return plan;
}
