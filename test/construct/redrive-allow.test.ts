import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';
import { appWithoutBundling, defaultStack, ENV, fullyFeaturedStack } from './stacks.ts';

/** The queue's name and its DLQ's RedriveAllowPolicy, as the template has them. */
function redrivePair(stack: Stack, source: sqs.IQueue, deadLetters: sqs.IQueue) {
  const resources = Template.fromStack(stack).toJSON().Resources as Record<
    string,
    { Properties: Record<string, unknown> }
  >;
  const properties = (queue: sqs.IQueue) => {
    const id = stack.getLogicalId(queue.node.defaultChild as never);
    const resource = resources[id];
    if (resource === undefined) throw new Error(`no resource ${id}`);
    return resource.Properties;
  };
  return {
    sourceName: properties(source).QueueName,
    allow: stack.resolve(properties(deadLetters).RedriveAllowPolicy) as {
      redrivePermission: string;
      sourceQueueArns: unknown[];
    },
  };
}

// The region and account are known, so the partition is a literal (cdk.json's enablePartitionLiterals).
const arnOf = (name: unknown) => `arn:aws:sqs:eu-west-1:123456789012:${String(name)}`;

describe('DLQs accept redrives from their own source queue only (RedriveAllowPolicy byQueue)', () => {
  it('the changes DLQ and the re-sync DLQ name their source queue, which has that fixed name', () => {
    const stack = defaultStack();
    const { sync } = stack;
    const changes = redrivePair(stack, sync.changesQueue, sync.deadLetterQueue);
    expect(changes.sourceName).toMatch(/^[A-Za-z0-9_-]{1,67}-changes\.fifo$/);
    expect(changes.allow).toEqual({
      redrivePermission: 'byQueue',
      sourceQueueArns: [arnOf(changes.sourceName)],
    });
    const resync = redrivePair(stack, sync.resyncQueue, sync.resyncDeadLetterQueue);
    expect(resync.sourceName).toMatch(/^[A-Za-z0-9_-]{1,73}-resync$/);
    expect(resync.allow).toEqual({
      redrivePermission: 'byQueue',
      sourceQueueArns: [arnOf(resync.sourceName)],
    });
  });

  it('the Atlas ingest DLQ names the ingest queue; names stay unique per construct', () => {
    const { stack, sync } = fullyFeaturedStack();
    const atlas = sync.atlasSource;
    if (atlas === undefined) throw new Error('the fully featured stack has an Atlas source');
    const ingest = redrivePair(stack, atlas.ingestQueue, atlas.ingestDeadLetterQueue);
    expect(ingest.allow).toEqual({
      redrivePermission: 'byQueue',
      sourceQueueArns: [arnOf(ingest.sourceName)],
    });
    const names = [
      ingest.sourceName,
      redrivePair(stack, sync.changesQueue, sync.deadLetterQueue).sourceName,
      redrivePair(stack, sync.resyncQueue, sync.resyncDeadLetterQueue).sourceName,
    ];
    expect(new Set(names).size).toBe(3);
    expect(names.every((name) => typeof name === 'string' && name.length <= 80)).toBe(true);
  });

  it('a name too long for SQS keeps its start, ends in a hash of the whole, and stays unique per stack', () => {
    const names = ['A', 'B'].map((last) => {
      const stack = new TypesenseSyncStack(appWithoutBundling(), `${'x'.repeat(120)}${last}`, { env: ENV });
      return redrivePair(stack, stack.sync.changesQueue, stack.sync.deadLetterQueue).sourceName as string;
    });
    for (const name of names) expect(name).toMatch(/^x{50,}-[0-9a-f]{8}-changes\.fifo$/);
    expect(names.every((name) => name.length === 80)).toBe(true);
    expect(names[0]).not.toBe(names[1]);
  });
});
