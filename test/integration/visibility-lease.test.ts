import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import type { ChangeMessage } from '../../functions/core/change.ts';
import { documentId } from '../../functions/core/keys.ts';
import { messageGroupOf } from '../../functions/core/pack.ts';
import type { PollerFaults } from '../../infra/local/queue-poller.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';

const KEY_ATTRIBUTES = ['pk'];
const VISIBILITY_SECONDS = 12;
const LEASE_SECONDS = 1;

/** Crashes still to inject: each writer invocation that reads the rate while some are left dies after its writes. */
let crashesLeft = 0;
const pollerFaults: PollerFaults = {
  random: () => 0.5,
  get crashAfterInvokeRate() {
    if (crashesLeft === 0) return 0;
    crashesLeft--;
    return 1;
  },
};

describe('the writer’s visibility lease on the embedded stack', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    // The writer runs under its role (the IAM-true stack): the lease's ChangeMessageVisibility must be granted.
    stack = await startLocalStack({
      keyAttributes: KEY_ATTRIBUTES,
      schema: productSchema,
      sourceTimestampAttribute: 'updatedAt',
      visibilityTimeoutSeconds: VISIBILITY_SECONDS,
      visibilityLeaseSeconds: LEASE_SECONDS,
      writerConcurrency: 1,
      pollerFaults,
      logLevel: 'ERROR',
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('a writer that dies after its writes holds its message group about a lease, not the queue’s visibility timeout', async () => {
    const key = itemKey(KEY_ATTRIBUTES, 1);
    const id = documentId(key, KEY_ATTRIBUTES);
    await stack.dynamodb.send(
      new PutItemCommand({
        TableName: stack.tableName,
        Item: productItem(seededRandom(1), KEY_ATTRIBUTES, 1, 1, Date.now()),
      }),
    );
    await stack.waitForIdle(60_000);
    expect(await stack.typesense.getDocument(stack.alias, id)).toMatchObject({ revision: 1 });

    // A change of that key straight onto the changes queue (no stream record, so the batcher's poller
    // never reads the crash), and its writer dies once after writing.
    crashesLeft = 1;
    const message: ChangeMessage = {
      v: 1,
      changes: [{ id, key, op: 'upsert', version: '2', sourceTs: Date.now(), clock: 'item' }],
    };
    await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrl,
        MessageBody: JSON.stringify(message),
        MessageGroupId: messageGroupOf(id, DEFAULTS.messageGroupBuckets),
        MessageDeduplicationId: 'lease-crash',
      }),
    );
    await stack.waitForIdle(60_000);

    const { timing } = stack.queuePoller;
    expect(crashesLeft).toBe(0);
    expect(timing.redeliveries.crash).toBe(1);
    // Received again about a lease after the crash: well before the 12 s visibility timeout.
    expect(timing.invisibleMs.crash).toBeGreaterThan(0);
    expect(timing.invisibleMs.crash).toBeLessThan((VISIBILITY_SECONDS * 1000) / 2);
    expect(await stack.drainDeadLetters()).toEqual([]);
    const report = await stack.verify();
    expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      missing: [],
      extra: [],
      stale: [],
    });
  });
});

describe('the visibility lease without sqs:ChangeMessageVisibility in the writer’s role', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      keyAttributes: KEY_ATTRIBUTES,
      schema: productSchema,
      visibilityTimeoutSeconds: 2,
      visibilityLeaseSeconds: LEASE_SECONDS,
      logLevel: 'ERROR',
      iam: { revoke: [{ function: 'writer', action: 'sqs:ChangeMessageVisibility' }] },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('takes no lease: every batch fails before it reads or writes, and the refused call is the lease’s', async () => {
    await stack.dynamodb.send(
      new PutItemCommand({
        TableName: stack.tableName,
        Item: productItem(seededRandom(2), KEY_ATTRIBUTES, 2, 1, Date.now()),
      }),
    );
    const deadline = Date.now() + 30_000;
    while (stack.queuePoller.stats.failedInvocations === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));

    expect(stack.queuePoller.stats.failedInvocations).toBeGreaterThan(0);
    expect(stack.iam.denials).toContainEqual(
      expect.objectContaining({ function: 'writer', action: 'sqs:ChangeMessageVisibility' }),
    );
    const report = await stack.verify();
    expect({ tableItems: report.tableItems, missing: report.missing.length }).toEqual({
      tableItems: 1,
      missing: 1,
    });
  });
});
