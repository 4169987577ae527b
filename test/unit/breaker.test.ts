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
  /**
   * A writer instance busy with a backlog, as processChangeMessages drives it: one batch every 100 ms;
   * while half-open the batch asks /health first. Batch failures come from a seeded RNG.
   */
  function drive(
    breaker: CircuitBreaker,
    clock: { now: number },
    batches: number,
    fails: () => boolean,
    healthy: () => boolean,
  ) {
    let maxRun = 0;
    let run = 0;
    for (let i = 0; i < batches; i++) {
      clock.now += 100;
      if (!breaker.allowRequest()) continue;
      if (breaker.state === 'half-open') {
        const ok = healthy();
        breaker.recordHealth(ok);
        if (!ok) continue;
      }
      if (fails()) {
        breaker.recordOutage();
        maxRun = Math.max(maxRun, ++run);
      } else {
        breaker.recordSuccess();
        run = 0;
      }
    }
    return maxRun;
  }
  function seeded(seed: number) {
    let state = seed;
    return () => {
      state = (state * 48_271) % 2_147_483_647;
      return state / 2_147_483_647;
    };
  }

  it('stays closed when a third of the batches fail at random and /health answers, runs of failures included', () => {
    const { breaker, clock } = breakerAt(0);
    const random = seeded(1);
    breaker.recordSuccess();
    // The chaos defaults fail ~30 % of write requests: runs of 3+ failures are common (the old rule opened on them).
    const maxRun = drive(
      breaker,
      clock,
      5_000,
      () => random() < 0.35,
      () => true,
    );
    expect(maxRun).toBeGreaterThanOrEqual(5);
    expect(breaker.opened).toBe(0);
  });

  it('opens on the health check after a run of failures when the server is down, lossy history or not', () => {
    const { breaker, clock } = breakerAt(0);
    const random = seeded(2);
    breaker.recordSuccess();
    drive(
      breaker,
      clock,
      200,
      () => random() < 0.35,
      () => true,
    );
    expect(breaker.opened).toBe(0);
    // Down: every write fails and so does /health. Open after the threshold's run plus one probe.
    let batches = 0;
    while (breaker.state !== 'open' && batches < 50) {
      drive(
        breaker,
        clock,
        1,
        () => true,
        () => false,
      );
      batches++;
    }
    expect(breaker.state).toBe('open');
    expect(batches).toBeLessThanOrEqual(3 + 1);
    expect(breaker.retryAfterMs()).toBe(1_000);
  });

  it('opens at once when most of a full window of batches fail (a mostly dead server)', () => {
    const { breaker, clock } = breakerAt(0);
    for (const outcome of 'SFFFFSFFFFSFFFFSFFFF') {
      clock.now += 10;
      if (outcome === 'S') breaker.recordSuccess();
      else breaker.recordOutage();
    }
    // 16 of the last 20 failed (80 %), the last 4 in a row: the ratio opens it, health check or not.
    expect(breaker.state).toBe('open');
  });

  it('counts failures of batches already in flight while a health check is pending, without opening', () => {
    const { breaker } = breakerAt(0);
    breaker.recordSuccess();
    for (let i = 0; i < 3; i++) breaker.recordOutage();
    expect(breaker.state).toBe('half-open');
    // Two concurrent batches that started before fail too; only the health answer decides.
    breaker.recordOutage();
    breaker.recordOutage();
    expect(breaker.state).toBe('half-open');
    breaker.recordHealth(true);
    expect(breaker.state).toBe('closed');
    expect(breaker.opened).toBe(0);
  });

  it('looks working (a whole failed request worth one more try) only when closed, answered before, and mostly fine', () => {
    const { breaker } = breakerAt(0);
    expect(breaker.looksWorking).toBe(false); // never answered: it may be down
    breaker.recordSuccess();
    expect(breaker.looksWorking).toBe(true);
    breaker.recordOutage();
    breaker.recordOutage();
    expect(breaker.looksWorking).toBe(true); // a lossy server: failures between successes
    breaker.recordOutage();
    expect(breaker.state).toBe('half-open');
    expect(breaker.looksWorking).toBe(false); // a run asks /health first
    breaker.recordHealth(false);
    expect(breaker.looksWorking).toBe(false); // open
  });
});

describe('CircuitBreaker: the run of failed requests (an outage, told from loss by answers between)', () => {
  it('stops looking working after 6 requests in a row failed with no answer between, across batches', () => {
    const { breaker } = breakerAt(0);
    breaker.recordSuccess();
    for (let i = 0; i < 5; i++) breaker.recordRequest(false);
    expect(breaker.looksWorking).toBe(true); // one batch's first attempt and 4 retries: loss is possible
    breaker.recordRequest(false);
    expect(breaker.looksWorking).toBe(false); // no answer in 6 requests: an outage is likelier, retry no more
    // As after a run of failed batches: the next batch asks /health, which decides.
    expect(breaker.state).toBe('half-open');
    expect(breaker.opened).toBe(0);
    breaker.recordHealth(false);
    expect(breaker.state).toBe('open');
  });

  it('closes again when /health answers after such a run (a lossy server), and never opened', () => {
    const { breaker } = breakerAt(0);
    breaker.recordSuccess();
    for (let i = 0; i < 6; i++) breaker.recordRequest(false);
    breaker.recordHealth(true);
    expect(breaker.state).toBe('closed');
    expect(breaker.looksWorking).toBe(true);
    expect(breaker.opened).toBe(0);
  });

  it('stays half-open when a batch that was answered before the run ends with success: only /health decides', () => {
    const { breaker } = breakerAt(0);
    breaker.recordSuccess();
    for (let i = 0; i < 6; i++) breaker.recordRequest(false);
    // A batch whose first round was answered before the outage, whose retries then went unanswered.
    breaker.recordSuccess();
    expect(breaker.state).toBe('half-open');
    expect(breaker.looksWorking).toBe(false);
    breaker.recordHealth(false);
    expect(breaker.state).toBe('open');
  });

  it('keeps looking working while answered requests come between the failed ones (a lossy server)', () => {
    const { breaker } = breakerAt(0);
    breaker.recordSuccess();
    for (let i = 0; i < 100; i++) {
      breaker.recordRequest(false);
      breaker.recordRequest(false);
      breaker.recordRequest(false);
      breaker.recordRequest(i % 2 === 0);
      breaker.recordRequest(true);
    }
    expect(breaker.looksWorking).toBe(true);
  });

  it('ends the run on an answered request or a healthy /health', () => {
    for (const end of ['request', 'health'] as const) {
      const { breaker } = breakerAt(0);
      breaker.recordSuccess();
      for (let i = 0; i < 6; i++) breaker.recordRequest(false);
      expect(breaker.looksWorking).toBe(false);
      if (end === 'request') breaker.recordRequest(true);
      else breaker.recordHealth(true);
      expect(breaker.looksWorking, end).toBe(true);
    }
  });

  it('takes the run length from its options', () => {
    const breaker = new CircuitBreaker({
      failureThreshold: 3,
      probeMs: 1_000,
      maxProbeMs: 4_000,
      now: () => 0,
      requestFailureRun: 2,
    });
    breaker.recordSuccess();
    breaker.recordRequest(false);
    expect(breaker.looksWorking).toBe(true);
    breaker.recordRequest(false);
    expect(breaker.looksWorking).toBe(false);
  });
});
