import { describe, expect, it } from 'vitest';
import { ingestionDelayOf, ingestionDelaySchema } from '../../lib/operations/lag.ts';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const figures = { dlqDepth: 2, circuit: 'closed' as const };

describe('ingestionDelayOf', () => {
  it('is the age of the oldest pending change while changes are stuck', () => {
    expect(ingestionDelayOf({ ...figures, lagMs: 800, oldestPendingAgeMs: 9_500 }, NOW)).toEqual({
      lagMs: 9_500,
      oldestPendingChangeAgeMs: 9_500,
      dlqDepth: 2,
      circuit: 'closed',
      measuredAt: '2026-11-23T12:00:00.000Z',
    });
  });

  it('is the delay of the changes just applied when that is larger', () => {
    expect(ingestionDelayOf({ ...figures, lagMs: 1_200, oldestPendingAgeMs: 300 }, NOW).lagMs).toBe(1_200);
  });

  it('is 0 with nothing pending and nothing applied lately, and says nothing is pending', () => {
    const delay = ingestionDelayOf({ ...figures, lagMs: undefined, oldestPendingAgeMs: undefined }, NOW);
    expect(delay).toMatchObject({ lagMs: 0, oldestPendingChangeAgeMs: null });
    expect(ingestionDelaySchema.parse(delay)).toEqual(delay);
  });
});
