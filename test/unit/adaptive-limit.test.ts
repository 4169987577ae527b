import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AdaptiveLimit, type AdaptiveLimitOptions } from '../../functions/core/adaptive-limit.ts';

function limitAt(options: Omit<AdaptiveLimitOptions, 'now'>) {
  const clock = { now: 1_000 };
  const limit = new AdaptiveLimit({ ...options, now: () => clock.now });
  /** One import: acquired now, answered `ms` later. */
  const run = async (ms: number, overloaded = false) => {
    const startedAt = await limit.acquire();
    clock.now += ms;
    limit.release({ startedAt, overloaded });
  };
  return { limit, clock, run };
}

/** Lets the promise callbacks of admitted imports run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AdaptiveLimit', () => {
  it('grows by about one slot per round of successful imports with good latency, up to the cap', async () => {
    const { limit, run } = limitAt({ cap: 6, initial: 1, latencyTargetMs: 1_000 });
    await run(100);
    expect(limit.limit).toBe(2);
    await run(100);
    await run(100);
    expect(limit.limit).toBeCloseTo(2.5 + 1 / 2.5, 5);
    for (let i = 0; i < 100; i++) await run(100);
    expect(limit.limit).toBe(6);
  });

  it('halves on a 503/429 answer', async () => {
    const { limit, run } = limitAt({ cap: 8 });
    await run(50, true);
    expect(limit.limit).toBe(4);
    expect(limit.decreases).toBe(1);
  });

  it('halves when an import takes longer than the latency target', async () => {
    const { limit, run } = limitAt({ cap: 8, latencyTargetMs: 500 });
    await run(499);
    expect(limit.limit).toBe(8);
    await run(501);
    expect(limit.limit).toBe(4);
  });

  it('halves once per congestion event: imports sent before the last halving do not halve again', async () => {
    const { limit, clock } = limitAt({ cap: 8 });
    const started = await Promise.all([limit.acquire(), limit.acquire(), limit.acquire()]);
    clock.now += 10;
    for (const startedAt of started) limit.release({ startedAt, overloaded: true });
    expect(limit.limit).toBe(4);
    const later = await limit.acquire();
    clock.now += 10;
    limit.release({ startedAt: later, overloaded: true });
    expect(limit.limit).toBe(2);
  });

  it('keeps its limit through 503/429 answers that stay a small share of the recent ones (random losses)', async () => {
    const { limit, run } = limitAt({ cap: 8 });
    for (let i = 0; i < 40; i++) await run(10);
    // One answer in five refused, spread out: a lossy but working server, not an overload.
    for (let i = 0; i < 200; i++) await run(10, i % 5 === 0);
    expect(limit.decreases).toBe(0);
    expect(limit.limit).toBe(8);
  });

  it('halves once the 503/429 answers exceed the tolerated share of the last ones, counting slow ones', async () => {
    const { limit, run } = limitAt({
      cap: 8,
      latencyTargetMs: 500,
      overloadWindow: 10,
      overloadTolerance: 0.3,
    });
    for (let i = 0; i < 10; i++) await run(10);
    await run(10, true);
    await run(600);
    await run(10, true);
    // 3 of the last 10: at the tolerance, not above it.
    expect(limit.limit).toBe(8);
    await run(10, true);
    expect(limit.limit).toBe(4);
    expect(limit.decreases).toBe(1);
  });

  it('refuses a tolerance outside [0, 1) and a window below 1', () => {
    expect(() => new AdaptiveLimit({ cap: 2, overloadTolerance: 1, now: Date.now })).toThrow(
      /overloadTolerance must be in \[0, 1\)/,
    );
    expect(() => new AdaptiveLimit({ cap: 2, overloadWindow: 0, now: Date.now })).toThrow(
      /overloadWindow must be an integer ≥ 1/,
    );
  });

  it('never goes below 1 and recovers to the cap once Typesense keeps up again', async () => {
    const { limit, run } = limitAt({ cap: 4 });
    for (let i = 0; i < 10; i++) await run(10, true);
    expect(limit.limit).toBe(1);
    for (let i = 0; i < 20; i++) await run(10);
    expect(limit.limit).toBe(4);
  });

  it('holds imports beyond the limit until one finishes, first come first served', async () => {
    const { limit, clock } = limitAt({ cap: 2 });
    const first = await limit.acquire();
    await limit.acquire();
    const order: string[] = [];
    const third = limit.acquire().then(() => order.push('third'));
    const fourth = limit.acquire().then(() => order.push('fourth'));
    await settle();
    expect(order).toEqual([]);
    expect(limit.active).toBe(2);
    clock.now += 5;
    limit.release({ startedAt: first, overloaded: false });
    await third;
    expect(order).toEqual(['third']);
    expect(limit.active).toBe(2);
    limit.release({ startedAt: first, overloaded: false });
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
  });

  it('after a halving lets no more imports in than the new limit', async () => {
    const { limit, clock } = limitAt({ cap: 4 });
    const started = await Promise.all([1, 2, 3, 4].map(() => limit.acquire()));
    let admitted = 0;
    const waiting = [1, 2, 3].map(() => limit.acquire().then(() => admitted++));
    clock.now += 10;
    limit.release({ startedAt: started[0] as number, overloaded: true });
    await settle();
    // Limit 2 with 3 still in flight: nobody gets in until one more finishes... and another.
    expect(admitted).toBe(0);
    limit.release({ startedAt: started[1] as number, overloaded: false });
    limit.release({ startedAt: started[2] as number, overloaded: false });
    await settle();
    expect(admitted).toBe(1);
    limit.release({ startedAt: started[3] as number, overloaded: false });
    // Three successes have grown the limit back above 3: both waiting imports go.
    await Promise.all(waiting);
    expect(limit.limit).toBeGreaterThan(3);
    expect(admitted).toBe(3);
    expect(limit.active).toBe(3);
  });

  it('stays within [1, cap] whatever the sequence of answers (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.record({ ms: fc.integer({ min: 0, max: 3_000 }), overloaded: fc.boolean() }), {
          maxLength: 200,
        }),
        async (cap, answers) => {
          const { limit, run } = limitAt({ cap, latencyTargetMs: 1_000 });
          for (const { ms, overloaded } of answers) {
            await run(ms, overloaded);
            expect(limit.limit).toBeGreaterThanOrEqual(1);
            expect(limit.limit).toBeLessThanOrEqual(cap);
          }
        },
      ),
    );
  });

  it('refuses a cap below 1', () => {
    expect(() => new AdaptiveLimit({ cap: 0, now: Date.now })).toThrow(/cap must be at least 1/);
  });
});
