import { describe, expect, it } from 'vitest';
import { AdaptiveTimeout } from '../../functions/core/adaptive-timeout.ts';

/** `count` successes of `ms` each, for requests of `size`. */
const seen = (timeout: AdaptiveTimeout, count: number, ms: number, size = 10) => {
  for (let index = 0; index < count; index++) timeout.succeeded(ms, size);
  return timeout;
};

describe('AdaptiveTimeout: a hung write is abandoned after ~10× the normal latency', () => {
  it('gives the configured timeout until enough successes are seen', () => {
    const timeout = seen(new AdaptiveTimeout(), 19, 30);
    expect(timeout.timeoutMs(10, 1_000)).toBe(1_000);
    timeout.succeeded(30, 10);
    expect(timeout.timeoutMs(10, 1_000)).toBe(300);
  });

  it('is 10× the median latency, or 2× the p99 when a slow tail makes that longer', () => {
    const steady = seen(new AdaptiveTimeout(), 49, 30);
    steady.succeeded(70, 10);
    expect(steady.timeoutMs(10, 5_000)).toBe(300);
    const tailed = seen(new AdaptiveTimeout(), 49, 30);
    tailed.succeeded(200, 10);
    expect(tailed.timeoutMs(10, 5_000)).toBe(400);
  });

  it('never goes below the floor nor above the configured timeout', () => {
    expect(seen(new AdaptiveTimeout({ floorMs: 250 }), 50, 2).timeoutMs(10, 1_000)).toBe(250);
    expect(seen(new AdaptiveTimeout(), 50, 2).timeoutMs(10, 1_000)).toBe(100);
    expect(seen(new AdaptiveTimeout(), 50, 400).timeoutMs(10, 1_000)).toBe(1_000);
  });

  it('gives a request larger than any seen proportionally more time', () => {
    const timeout = seen(new AdaptiveTimeout(), 50, 40, 100);
    expect(timeout.timeoutMs(50, 60_000)).toBe(400);
    expect(timeout.timeoutMs(800, 60_000)).toBe(3_200);
  });

  it('doubles after each timeout and halves back after each success: a machine that slowed down gets its full timeout', () => {
    const timeout = seen(new AdaptiveTimeout(), 50, 30);
    timeout.timedOut();
    expect(timeout.timeoutMs(10, 1_000)).toBe(600);
    timeout.timedOut();
    expect(timeout.timeoutMs(10, 1_000)).toBe(1_000);
    timeout.succeeded(30, 10);
    expect(timeout.timeoutMs(10, 1_000)).toBe(600);
    timeout.succeeded(30, 10);
    expect(timeout.timeoutMs(10, 1_000)).toBe(300);
  });

  it('forgets old latencies: the p99 is over the last `window` successes', () => {
    const timeout = seen(new AdaptiveTimeout({ window: 50 }), 50, 200);
    expect(timeout.timeoutMs(10, 5_000)).toBe(2_000);
    seen(timeout, 49, 30);
    // One of the slow ones is still among the last 50: 2 × 200 ms.
    expect(timeout.timeoutMs(10, 5_000)).toBe(400);
    seen(timeout, 1, 30);
    expect(timeout.timeoutMs(10, 5_000)).toBe(300);
  });
});
