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

describe('CircuitBreaker: an outage, not a lossy but working server', () => {
  /** A writer instance busy with a backlog: one batch outcome every 100 ms, from a seeded RNG. */
  function lossy(failureRate: number, batches: number, seed = 1) {
    const { breaker, clock } = breakerAt(0);
    let state = seed;
    const random = () => {
      state = (state * 48_271) % 2_147_483_647;
      return state / 2_147_483_647;
    };
    for (let i = 0; i < 10; i++) {
      breaker.recordSuccess();
      clock.now += 100;
    }
    let maxRun = 0;
    let run = 0;
    for (let i = 0; i < batches; i++) {
      clock.now += 100;
      if (!breaker.allowRequest()) continue;
      if (random() < failureRate) {
        breaker.recordOutage();
        maxRun = Math.max(maxRun, ++run);
      } else {
        breaker.recordSuccess();
        run = 0;
      }
    }
    return { breaker, clock, maxRun };
  }

  it('stays closed when a third of the batches fail at random, runs of failures included', () => {
    // The chaos defaults fail ~30 % of write requests; runs of 3+ failures are common (the old rule opened on them).
    const { breaker, maxRun } = lossy(0.3, 5_000);
    expect(maxRun).toBeGreaterThanOrEqual(5);
    expect(breaker.opened).toBe(0);
    expect(breaker.state).toBe('closed');
  });

  it('still opens, within the silence span, when every batch fails after a lossy period', () => {
    const { breaker, clock } = lossy(0.3, 200);
    expect(breaker.opened).toBe(0);
    const outageStart = clock.now;
    while (breaker.state === 'closed' && clock.now - outageStart < 10_000) {
      clock.now += 100;
      breaker.recordOutage();
    }
    expect(breaker.state).toBe('open');
    // The silence span defaults to the probe wait (1 s here): no success for that long, failures still coming.
    expect(clock.now - outageStart).toBeLessThanOrEqual(1_100);
  });

  it('opens at once when most of a full window of batches fail (a mostly dead server)', () => {
    const { breaker, clock } = breakerAt(0);
    for (const outcome of 'SFFFFSFFFFSFFFFSFFFF') {
      clock.now += 10;
      if (outcome === 'S') breaker.recordSuccess();
      else breaker.recordOutage();
    }
    // 16 of 20 failed (80 %), the last 4 in a row, within 200 ms: no silence span, the ratio decides.
    expect(breaker.state).toBe('open');
  });
});
