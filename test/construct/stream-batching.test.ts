import { Duration } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import type { TypesenseSyncProps } from '../../lib/typesense-sync.ts';
import { minimalSyncTemplate } from './stacks.ts';

const synth = (props: Partial<TypesenseSyncProps> = {}): Template => minimalSyncTemplate('Batching', props);

/** The stream's event source mapping (the only one reading a DynamoDB stream). */
function streamMapping(template: Template): Record<string, unknown> {
  const mappings = Object.values(
    template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { StartingPosition: 'TRIM_HORIZON' },
    }),
  );
  expect(mappings).toHaveLength(1);
  return (mappings[0] as { Properties: Record<string, unknown> }).Properties;
}

describe('stream batching props', () => {
  it('gives the stream event source the default batch size and batching window', () => {
    const mapping = streamMapping(synth());
    expect(mapping.BatchSize).toBe(DEFAULTS.streamBatchSize);
    expect(mapping.MaximumBatchingWindowInSeconds).toBe(DEFAULTS.streamBatchingWindowSeconds);
    expect(DEFAULTS.streamBatchSize).toBe(10_000);
    // No window: the lag goal (p99 ≤ 1.5 s at 1,000 writes/s) is met only without one (bench P1).
    expect(DEFAULTS.streamBatchingWindowSeconds).toBe(0);
  });

  it('passes the configured batch size and window to the stream event source, and only to it', () => {
    const template = synth({ streamBatchSize: 2_500, streamMaxBatchingWindow: Duration.seconds(5) });
    expect(streamMapping(template)).toMatchObject({ BatchSize: 2_500, MaximumBatchingWindowInSeconds: 5 });
    // The FIFO queue's event source takes no batching window (AWS refuses one).
    const others = template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { StartingPosition: Match.absent() },
    });
    for (const mapping of Object.values(others) as { Properties: Record<string, unknown> }[]) {
      expect(mapping.Properties.MaximumBatchingWindowInSeconds).toBeUndefined();
    }
  });

  it('accepts the limits: 1 and 10,000 records, 0 and 300 seconds', () => {
    expect(
      streamMapping(synth({ streamBatchSize: 1, streamMaxBatchingWindow: Duration.seconds(0) })),
    ).toMatchObject({ BatchSize: 1, MaximumBatchingWindowInSeconds: 0 });
    expect(
      streamMapping(synth({ streamBatchSize: 10_000, streamMaxBatchingWindow: Duration.minutes(5) })),
    ).toMatchObject({ BatchSize: 10_000, MaximumBatchingWindowInSeconds: 300 });
  });

  it.each([0, 10_001, 2.5, -1])('rejects streamBatchSize %s, naming the prop and the range', (value) => {
    expect(() => synth({ streamBatchSize: value })).toThrow(
      `TypesenseSync: streamBatchSize must be an integer from 1 to 10000, got ${value}`,
    );
  });

  it.each([
    [Duration.seconds(301), '5 minutes 1 second'],
    [Duration.millis(500), '500 millis'],
    [Duration.minutes(6), '6 minutes'],
  ])('rejects streamMaxBatchingWindow %s, naming the prop and the range', (window, shown) => {
    expect(() => synth({ streamMaxBatchingWindow: window })).toThrow(
      `TypesenseSync: streamMaxBatchingWindow must be a whole number of seconds from 0 to 300, got ${shown}`,
    );
  });
});
