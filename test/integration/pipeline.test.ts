import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import type { ChangeMessage } from '../../functions/core/change.ts';
import { documentId } from '../../functions/core/keys.ts';
import { messageGroupOf } from '../../functions/core/pack.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import {
  itemKey,
  productItem,
  productSchema,
  runWorkload,
  seededRandom,
} from '../../infra/local/workload.ts';

const KEY_ATTRIBUTES = ['pk', 'sk'];
const POISON = [100_001, 100_002, 100_003];

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    keyAttributes: KEY_ATTRIBUTES,
    schema: productSchema,
    sourceTimestampAttribute: 'updatedAt',
    visibilityTimeoutSeconds: 1,
    logLevel: 'ERROR',
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('the embedded pipeline', () => {
  it('brings a mixed workload on composite keys into the index field by field, dead-lettering only poison', async () => {
    const workload = await runWorkload({
      dynamodb: stack.dynamodb,
      tableName: stack.tableName,
      keyAttributes: KEY_ATTRIBUTES,
      keys: 320,
      ops: 1_800,
      seed: 7,
      concurrency: 6,
    });
    expect(workload.total).toBeGreaterThanOrEqual(2_000);
    expect(workload.deletes).toBeGreaterThan(0);
    expect(workload.recreates).toBeGreaterThan(0);
    expect(workload.expiries).toBeGreaterThan(0);

    // Documents the collection schema rejects: `price` must be a float.
    const random = seededRandom(99);
    for (const n of POISON) {
      const item = productItem(random, KEY_ATTRIBUTES, n, 1, Date.now());
      item.price = { S: 'call for price' };
      await stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item: item }));
    }
    await stack.waitForIdle(120_000);

    const poisonIds = POISON.map((n) => documentId(itemKey(KEY_ATTRIBUTES, n), KEY_ATTRIBUTES)).sort();
    const report = await stack.verify();
    expect(report.extra).toEqual([]);
    expect(report.stale).toEqual([]);
    expect([...report.missing].sort()).toEqual(poisonIds);
    expect(report.indexDocuments).toBe(report.tableItems - POISON.length);
    expect(report.tableItems).toBeGreaterThan(100);

    const letters = await stack.drainDeadLetters();
    expect(letters.map((letter) => letter.id).sort()).toEqual(poisonIds);
    for (const letter of letters) {
      expect(letter).toMatchObject({ kind: 'dead-letter', stage: 'writer', reason: { code: 400 } });
      expect(letter.reason.message).toContain('price');
      expect(JSON.stringify(letter)).not.toContain('call for price');
    }
  });

  it('converges once a poison item is fixed at the source', async () => {
    const random = seededRandom(5);
    for (const n of POISON) {
      await stack.dynamodb.send(
        new PutItemCommand({
          TableName: stack.tableName,
          Item: productItem(random, KEY_ATTRIBUTES, n, 2, Date.now()),
        }),
      );
    }
    await stack.waitForIdle(60_000);
    const report = await stack.verify();
    expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      missing: [],
      extra: [],
      stale: [],
    });
    expect(report.indexDocuments).toBe(report.tableItems);
  });

  it('never lets a late, old change resurrect a deleted document or overwrite a newer one (as a redrive would)', async () => {
    const random = seededRandom(23);
    const keyed = (n: number) => {
      const key = itemKey(KEY_ATTRIBUTES, n);
      return { n, key, id: documentId(key, KEY_ATTRIBUTES) };
    };
    const deleted = keyed(200_001);
    const updated = keyed(200_002);
    for (const { n } of [deleted, updated]) {
      await stack.dynamodb.send(
        new PutItemCommand({
          TableName: stack.tableName,
          Item: productItem(random, KEY_ATTRIBUTES, n, 1, Date.now()),
        }),
      );
    }
    // Each key's first change, as it sat on the queue back then.
    const staleMessages = [deleted, updated].map(
      ({ key, id }): ChangeMessage => ({
        v: 1,
        changes: [{ id, key, op: 'upsert', version: '1', sourceTs: Date.now(), clock: 'item' }],
      }),
    );
    // Then the source moves on: one item is deleted, the other gets a newer revision.
    await stack.dynamodb.send(new DeleteItemCommand({ TableName: stack.tableName, Key: deleted.key }));
    await stack.dynamodb.send(
      new PutItemCommand({
        TableName: stack.tableName,
        Item: productItem(random, KEY_ATTRIBUTES, updated.n, 9, Date.now()),
      }),
    );
    await stack.waitForIdle(60_000);
    expect(await stack.typesense.getDocument(stack.alias, deleted.id)).toBeUndefined();

    // The old messages arrive late (a DLQ redrive, a duplicate): they must not undo anything.
    for (const message of staleMessages) {
      const id = message.changes[0]?.id as string;
      await stack.sqs.send(
        new SendMessageCommand({
          QueueUrl: stack.queueUrl,
          MessageBody: JSON.stringify(message),
          MessageGroupId: messageGroupOf(id, DEFAULTS.messageGroupBuckets),
          MessageDeduplicationId: `late-${id}`,
        }),
      );
    }
    await stack.waitForIdle(60_000);
    expect(await stack.typesense.getDocument(stack.alias, deleted.id)).toBeUndefined();
    expect(await stack.typesense.getDocument(stack.alias, updated.id)).toMatchObject({ revision: 9 });
    const report = await stack.verify();
    expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      missing: [],
      extra: [],
      stale: [],
    });
  });

  it('answers searches on the alias with documents shaped by the projection', async () => {
    const answer = await stack.typesense.search(stack.alias, { q: 'kettle', query_by: 'name', per_page: 5 });
    expect(answer.found).toBeGreaterThan(0);
    const document = answer.hits[0]?.document as Record<string, unknown>;
    expect(document.name).toEqual(expect.stringContaining('kettle'));
    // Binary as base64, a number beyond double precision kept exact as text, number sets sorted.
    expect(Buffer.from(String(document.thumbnail), 'base64')).toHaveLength(16);
    const n = Number(String(document.pk).slice(2));
    expect(document.serial).toBe(String(98_765_432_109_876_543_210n + BigInt(n)));
    expect(document.sizes).toEqual([38, 40.5, 42 + (n % 3)]);
    expect(document.id).toBe(`${document.pk}|${String(document.sk).replace('|', '\\|')}`);
  });
});
