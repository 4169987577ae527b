import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../functions/core/change.ts';
import { documentId } from '../../functions/core/keys.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import {
  itemKey,
  productItem,
  productSchema,
  runWorkload,
  seededRandom,
} from '../../infra/local/workload.ts';
import { verifyIndex } from '../../lib/operations/verify.ts';

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

const verify = () =>
  verifyIndex({
    dynamodb: stack.dynamodb,
    tableName: stack.tableName,
    keyAttributes: KEY_ATTRIBUTES,
    typesense: stack.typesense,
    collection: stack.alias,
  });

async function drainDeadLetters(): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for (;;) {
    const { Messages } = await stack.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages === undefined || Messages.length === 0) return letters;
    for (const message of Messages) letters.push(JSON.parse(message.Body ?? '') as DeadLetter);
  }
}

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
    const report = await verify();
    expect(report.extra).toEqual([]);
    expect(report.stale).toEqual([]);
    expect([...report.missing].sort()).toEqual(poisonIds);
    expect(report.indexDocuments).toBe(report.tableItems - POISON.length);
    expect(report.tableItems).toBeGreaterThan(100);

    const letters = await drainDeadLetters();
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
    const report = await verify();
    expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      missing: [],
      extra: [],
      stale: [],
    });
    expect(report.indexDocuments).toBe(report.tableItems);
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
