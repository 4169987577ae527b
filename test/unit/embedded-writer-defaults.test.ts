import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import { chaosStackOptions } from '../../infra/local/chaos.ts';
import { writerLeaseSeconds } from '../../infra/local/stack-options.ts';

describe("the embedded writer's defaults, as deployed", () => {
  it.each([
    [{}, undefined], // the embedded 2 s visibility: a sixth is under a second
    [{ visibilityTimeoutSeconds: 6 }, 1],
    [{ visibilityTimeoutSeconds: 60 }, 10],
    [{ visibilityTimeoutSeconds: 60, visibilityLeaseSeconds: 3 }, 3],
    [{ visibilityTimeoutSeconds: 60, visibilityLeaseSeconds: 0 }, undefined],
  ])('leases for a sixth of the visibility timeout unless told: %o → %s s', (options, lease) => {
    expect(writerLeaseSeconds(options)).toBe(lease);
  });

  it('runs chaos with one writer poller per message group, as Lambda scales a FIFO source, and its lease', () => {
    const faults = { random: Math.random };
    const small = chaosStackOptions({ seed: 1, keys: 10, ops: 10 }, faults);
    expect(small).toMatchObject({ buckets: 16, writerConcurrency: 16, visibilityTimeoutSeconds: 6 });
    expect(writerLeaseSeconds(small)).toBe(1);
    const shaped = chaosStackOptions({ seed: 1, keys: 10, ops: 10, messages: 'default' }, faults);
    expect(shaped).toMatchObject({
      buckets: DEFAULTS.messageGroupBuckets,
      writerConcurrency: DEFAULTS.messageGroupBuckets,
    });
    const told = chaosStackOptions(
      { seed: 1, keys: 10, ops: 10, messageGroups: 64, writerConcurrency: 3 },
      faults,
    );
    expect(told).toMatchObject({ buckets: 64, writerConcurrency: 3 });
  });
});
