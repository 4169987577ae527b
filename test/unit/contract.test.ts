import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { targetSchema } from '../../bin/cli/operations/target.ts';
import * as contract from '../../functions/contract/index.ts';
import { DEFAULTS, LIMITS } from '../../functions/contract/limits.ts';
import { DEFAULT_METRICS_NAMESPACE, METRIC } from '../../functions/shared/metrics.ts';

const CONTRACT_DIR = new URL('../../functions/contract/', import.meta.url);

describe('functions/contract', () => {
  it('imports nothing but zod and itself, so deploy time can load it without runtime code', () => {
    const files = readdirSync(CONTRACT_DIR).filter((name) => name.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const source = readFileSync(new URL(file, CONTRACT_DIR), 'utf8');
      const specifiers = [...source.matchAll(/^(?:import|export)\b[^;]*?from\s+'([^']+)'/gms)].map(
        (match) => match[1],
      );
      for (const specifier of specifiers) {
        expect(
          specifier === 'zod' || (specifier?.startsWith('./') && !specifier.includes('/', 2)),
          `${file} imports ${specifier}`,
        ).toBe(true);
      }
    }
  });

  it('is the one definition the functions and the operator CLI use', () => {
    // The runtime modules re-export the contract's objects, not copies of them.
    expect(METRIC).toBe(contract.METRIC);
    expect(DEFAULT_METRICS_NAMESPACE).toBe(DEFAULTS.metricsNamespace);
    expect(targetSchema).toBe(contract.targetSchema);
    expect(contract.LIMITS).toBe(LIMITS);
  });

  it('limits its defaults to its ranges', () => {
    const inRange = (value: number, limit: { min: number; max: number }) =>
      value >= limit.min && value <= limit.max;
    expect(inRange(DEFAULTS.maxMessageBytes, LIMITS.maxMessageBytes)).toBe(true);
    expect(inRange(DEFAULTS.messageGroupBuckets, LIMITS.messageGroupBuckets)).toBe(true);
    expect(inRange(DEFAULTS.retryMaxSeconds, LIMITS.retryMaxSeconds)).toBe(true);
    expect(inRange(DEFAULTS.circuitMaxProbeSeconds, LIMITS.circuitMaxProbeSeconds)).toBe(true);
    expect(inRange(DEFAULTS.resyncTotalSegments, LIMITS.resyncTotalSegments)).toBe(true);
    expect(inRange(DEFAULTS.resyncPageSize, LIMITS.resyncPageSize)).toBe(true);
    expect(inRange(DEFAULTS.resyncKeepCollections, LIMITS.resyncKeepCollections)).toBe(true);
    expect(inRange(DEFAULTS.canaryTimeoutSeconds, LIMITS.canaryTimeoutSeconds)).toBe(true);
    expect(inRange(DEFAULTS.atlasVersionTtlDays, LIMITS.atlasVersionTtlDays)).toBe(true);
  });
});
