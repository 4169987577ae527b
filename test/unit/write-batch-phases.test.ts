import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { canaryItem } from '../../functions/core/canary.ts';
import { planWrites } from '../../functions/core/write-batch/documents.ts';
import { BatchLedger, type Pending } from '../../functions/core/write-batch/ledger.ts';
import { readBatch } from '../../functions/core/write-batch/messages.ts';
import { blockBehindFailures } from '../../functions/core/write-batch/settle.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

/*
 * The writer's phases on their own, without ports: each is a pure step over the batch and its ledger
 * (processChangeMessages, tested end to end in write-batch*.test.ts, runs them in sequence).
 */

const NOW = 1_700_000_010_000;
const pending = (id: string, ...messageIds: string[]): Pending => ({
  change: change(id),
  messageIds: new Set(messageIds.length === 0 ? [`m-${id}`] : messageIds),
});

describe('readBatch', () => {
  it("coalesces a key's changes across messages and dead-letters what is no change or not the table's key", () => {
    const records = [
      sqsRecord({ messageId: 'm1', changes: [change('a', { version: '1' }), change('b')] }),
      sqsRecord({ messageId: 'm2', changes: [change('a', { version: '2' })] }),
      sqsRecord({ messageId: 'm3', body: 'not json' }),
      sqsRecord({ messageId: 'm4', changes: [change('c', { key: { sku: { S: 'c' } } })] }),
    ];
    const ledger = new BatchLedger(records, NOW);
    const { messages, pending: keys } = readBatch(records, ['pk'], ledger);

    expect(keys.map(({ change: { id, version }, messageIds }) => [id, version, [...messageIds]])).toEqual([
      ['a', '2', ['m1', 'm2']],
      ['b', '100000000000000000001', ['m1']],
    ]);
    expect(
      ledger.deadLetters.map(({ letter, messageIds }) => [letter.reason.code, letter.id, [...messageIds]]),
    ).toEqual([
      ['bad-message', undefined, ['m3']],
      ['bad-key', 'c', ['m4']],
    ]);
    // A lettered change is no longer part of its message: a re-send must not letter it again.
    expect(messages.get('m4')?.changes).toEqual([]);
    expect(ledger.deadLetters[0]?.letter.firstSeen).toBe(1_700_000_001_500);
  });
});

describe('planWrites', () => {
  it('upserts a present item, deletes a gone one, routes heartbeats apart and dead-letters an unprojectable item', () => {
    const heartbeat = canaryItem(['pk'], NOW);
    const heartbeatId = String(heartbeat.pk?.S);
    const entries = [pending('a'), pending('gone'), pending('bad'), pending(heartbeatId)];
    const ledger = new BatchLedger(
      entries.flatMap(({ messageIds }) => [...messageIds].map((messageId) => sqsRecord({ messageId }))),
      NOW,
    );
    const current = new Map([
      ['a', { pk: { S: 'a' }, title: { S: 'A' } }],
      // An attribute value of no DynamoDB type cannot be projected.
      ['bad', { pk: { S: 'bad' }, broken: {} as AttributeValue }],
      [heartbeatId, heartbeat],
    ]);
    const plan = planWrites(entries, { current }, { keyAttributes: ['pk'] }, ledger);

    expect(plan.upserts.map(({ line }) => JSON.parse(line))).toEqual([{ id: 'a', pk: 'a', title: 'A' }]);
    expect(plan.deletes.map(({ change: { id } }) => id)).toEqual(['gone']);
    expect(plan.canaries.map(({ entry }) => entry.change.id)).toEqual([heartbeatId]);
    expect(ledger.deadLetters.map(({ letter }) => [letter.id, letter.reason.code])).toEqual([
      ['bad', 'projection'],
    ]);
  });
});

describe('blockBehindFailures', () => {
  it('fails every later message of a failed message’s group, and keeps a deferral a deferral', () => {
    const records = ['m1', 'm2', 'm3', 'm4', 'm5'].map((messageId, index) =>
      sqsRecord({ messageId, groupId: index < 3 ? 'g1' : 'g2' }),
    );
    const ledger = new BatchLedger(records, NOW);
    ledger.fail([pending('x', 'm2')], 'import 503: Not Ready or Lagging');
    ledger.defer([pending('y', 'm4')]);
    blockBehindFailures(records, ledger.failures);

    expect(Object.fromEntries(ledger.failures)).toEqual({
      m2: { reason: 'import 503: Not Ready or Lagging', retryable: true },
      m3: { reason: 'waits behind failed message m2 of its group', retryable: true },
      m4: {
        reason: 'left for redelivery: the invocation had no time left for it',
        retryable: true,
        deferred: true,
      },
      m5: { reason: 'waits behind failed message m4 of its group', retryable: true, deferred: true },
    });
  });
});
