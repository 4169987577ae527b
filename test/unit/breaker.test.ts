import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../functions/core/breaker.ts';

function breakerAt(start = 0) {
  const clock = { now: start };
  const breaker = new CircuitBreaker({
    failureThreshold: 3,
    probeMs: 1_000,
    maxProbeMs: 4_000,
    now: () => clock.now,
  });
  return { breaker, clock };
}

describe('CircuitBreaker', () => {
  it('stays closed below the threshold and resets the count on success', () => {
    const { breaker } = breakerAt();
    breaker.recordOutage();
    breaker.recordOutage();
    breaker.recordSuccess();
    breaker.recordOutage();
    breaker.recordOutage();
    expect(breaker.state).toBe('closed');
    expect(breaker.allowRequest()).toBe(true);
  });

  it('opens after the threshold of consecutive outages and refuses requests until the probe time', () => {
    const { breaker, clock } = breakerAt(10_000);
    for (let i = 0; i < 3; i++) breaker.recordOutage();
    expect(breaker.state).toBe('open');
    expect(breaker.opened).toBe(1);
    expect(breaker.allowRequest()).toBe(false);
    expect(breaker.retryAfterMs()).toBe(1_000);
    clock.now += 400;
    expect(breaker.retryAfterMs()).toBe(600);
    expect(breaker.allowRequest()).toBe(false);
    clock.now += 600;
    expect(breaker.allowRequest()).toBe(true);
    expect(breaker.state).toBe('half-open');
  });

  it('closes on a successful probe and reopens with a doubled wait, capped, on a failed one', () => {
    const { breaker, clock } = breakerAt();
    for (let i = 0; i < 3; i++) breaker.recordOutage();
    const waits: number[] = [];
    for (let probe = 0; probe < 4; probe++) {
      clock.now += breaker.retryAfterMs();
      expect(breaker.allowRequest()).toBe(true);
      breaker.recordOutage();
      waits.push(breaker.retryAfterMs());
    }
    expect(waits).toEqual([2_000, 4_000, 4_000, 4_000]);
    expect(breaker.opened).toBe(5);
    clock.now += breaker.retryAfterMs();
    breaker.allowRequest();
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    // The wait starts small again after a recovery.
    for (let i = 0; i < 3; i++) breaker.recordOutage();
    expect(breaker.retryAfterMs()).toBe(1_000);
  });
});
