import { Duration } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import type { TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { minimalSyncTemplate } from './stacks.ts';

const synth = (props: Partial<TypesenseSyncProps> = {}): Template => minimalSyncTemplate('Writes', props);

type FunctionResource = { Properties: { Environment?: { Variables?: Record<string, unknown> } } };
type MappingResource = { Properties: { ScalingConfig?: { MaximumConcurrency?: number } } };

/** The writer (the only function with MAX_RECEIVE_COUNT): its environment and its SQS event source. */
function writer(template: Template) {
  const functions = Object.entries(
    template.findResources('AWS::Lambda::Function') as Record<string, FunctionResource>,
  ).filter(([, resource]) => resource.Properties.Environment?.Variables?.MAX_RECEIVE_COUNT !== undefined);
  expect(functions).toHaveLength(1);
  const [id, resource] = functions[0] as [string, FunctionResource];
  const mappings = Object.values(
    template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { FunctionName: { Ref: id } },
    }) as Record<string, MappingResource>,
  );
  expect(mappings).toHaveLength(1);
  return {
    env: resource.Properties.Environment?.Variables ?? {},
    maxConcurrency: mappings[0]?.Properties.ScalingConfig?.MaximumConcurrency,
  };
}

describe('write concurrency props', () => {
  it('by default leaves the cap to the function (N − 2 of 6 cores = the 4 message groups) and the event source unbounded', () => {
    const { env, maxConcurrency } = writer(synth());
    expect(env.TYPESENSE_MAX_CONCURRENT_IMPORTS).toBeUndefined();
    expect(maxConcurrency).toBeUndefined();
    expect(DEFAULTS.maxConcurrentImports).toBe(DEFAULTS.typesenseNodeCores - 2);
    expect(DEFAULTS.maxConcurrentImports).toBe(DEFAULTS.messageGroupBuckets);
  });

  it('follows N − 2 of the configured cores, and bounds the event source by it when below the message groups', () => {
    const { env, maxConcurrency } = writer(synth({ writer: { typesenseCores: 5 } }));
    expect(env.TYPESENSE_MAX_CONCURRENT_IMPORTS).toBe('3');
    expect(maxConcurrency).toBe(3);
  });

  it('never gives the event source less than its minimum of 2', () => {
    const { env, maxConcurrency } = writer(synth({ writer: { typesenseCores: 3 } }));
    expect(env.TYPESENSE_MAX_CONCURRENT_IMPORTS).toBe('1');
    expect(maxConcurrency).toBe(2);
  });

  it('leaves the event source to the message groups when the cap is not below them', () => {
    const { env, maxConcurrency } = writer(
      synth({ messageGroupBuckets: 8, writer: { maxConcurrentImports: 8 } }),
    );
    expect(env.TYPESENSE_MAX_CONCURRENT_IMPORTS).toBe('8');
    expect(maxConcurrency).toBeUndefined();
  });

  it('keeps an explicit maxConcurrency and an explicit cap over the cores', () => {
    const { env, maxConcurrency } = writer(
      synth({ writer: { typesenseCores: 16, maxConcurrentImports: 2, maxConcurrency: 3 } }),
    );
    expect(env.TYPESENSE_MAX_CONCURRENT_IMPORTS).toBe('2');
    expect(maxConcurrency).toBe(3);
  });

  it("takes a lease up to just under the changes queue's visibility timeout, also a longer one set by queueProps", () => {
    expect(
      writer(synth({ writer: { visibilityLease: Duration.seconds(179) } })).env.VISIBILITY_LEASE_SECONDS,
    ).toBe('179');
    const longerQueue = synth({
      writer: { visibilityLease: Duration.minutes(5) },
      queueProps: { visibilityTimeout: Duration.minutes(10) },
    });
    expect(writer(longerQueue).env.VISIBILITY_LEASE_SECONDS).toBe('300');
  });

  it("leases by default for a sixth of the changes queue's visibility timeout, the props' lease when they give one, none for 0 s", () => {
    // 6 × writerTimeout: a dying writer holds its groups one writer timeout, not six.
    expect(writer(synth()).env.VISIBILITY_LEASE_SECONDS).toBe('30');
    expect(writer(synth({ writerTimeout: Duration.seconds(10) })).env.VISIBILITY_LEASE_SECONDS).toBe('10');
    expect(
      writer(synth({ queueProps: { visibilityTimeout: Duration.minutes(10) } })).env.VISIBILITY_LEASE_SECONDS,
    ).toBe('100');
    expect(
      writer(synth({ writer: { visibilityLease: Duration.seconds(5) } })).env.VISIBILITY_LEASE_SECONDS,
    ).toBe('5');
    expect(
      writer(synth({ writer: { visibilityLease: Duration.seconds(0) } })).env.VISIBILITY_LEASE_SECONDS,
    ).toBeUndefined();
  });

  it.each([
    [{ typesenseCores: 2 }, 'writer.typesenseCores must be an integer from 3 to 1024, got 2'],
    [{ maxConcurrentImports: 0 }, 'writer.maxConcurrentImports must be an integer from 1 to 1000, got 0'],
    [
      { visibilityLease: Duration.millis(1_500) },
      'writer.visibilityLease must be a whole number of seconds from 1 to 43200, got 1 second 500 millis',
    ],
    [
      { visibilityLease: Duration.hours(13) },
      'writer.visibilityLease must be a whole number of seconds from 1 to 43200, got 13 hours',
    ],
    [
      // The queue's visibility timeout is 6 × writerTimeout (30 s): a lease as long would hold a dying
      // invocation's groups as long as without one.
      { visibilityLease: Duration.minutes(3) },
      "writer.visibilityLease (180 s) must be shorter than the changes queue's visibility timeout (180 s)",
    ],
    [
      { typesenseCores: 4, reservedConcurrentExecutions: 1 },
      'writer.reservedConcurrentExecutions (1) must be at least writer.maxConcurrency (2)',
    ],
  ])('rejects %o', (props, message) => {
    expect(() => synth({ writer: props })).toThrow(message);
  });
});
