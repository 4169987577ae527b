import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, DynamoDBServiceException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import type { AggregateConfig } from '../../functions/contract/aggregate.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';
import { bySortKey, type PlainItem, plainItem, scanItems } from '../helpers/table-scan.ts';

/**
 * An aggregated index on the embedded stack: orders and their lines in one table (single-table design),
 * one document per order holding its lines. Lines and orders are inserted, updated and deleted under
 * concurrent writes, in any order; the index must end holding exactly each order's aggregate of its
 * items now (0 lost, 0 stale, 0 resurrected), before and after a full re-sync that runs while the
 * writes go on. One partition over `maxItems` is dead-lettered, and it alone.
 */
const ORDERS = 30;
const AGGREGATE: AggregateConfig = {
  parent: { prefix: 'ORDER#' },
  children: { lines: { prefix: 'LINE#' } },
  maxItems: 20,
};
const SCHEMA = {
  name: 'orders',
  fields: [
    { name: 'customer', type: 'string' },
    { name: 'status', type: 'string', facet: true },
  ],
};
const random = seededRandom(42);
let stack: LocalStack;
let targetFile: string;

beforeAll(async () => {
  stack = await startLocalStack({
    keyAttributes: ['pk', 'sk'],
    alias: 'orders',
    tableName: 'orders',
    schema: SCHEMA,
    aggregate: AGGREGATE,
    // Longer than a loaded writer batch (Lambda's 6× rule): at 1 s, messages still being written were
    // received again until the receive limit moved them to the DLQ (seen in the three-index test).
    visibilityTimeoutSeconds: 6,
    logLevel: 'ERROR',
    resync: { totalSegments: 3, pageSize: 7, workers: 2, visibilityTimeoutSeconds: 5 },
  });
  targetFile = join(await mkdtemp(join(tmpdir(), 'aggregated-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const order = (n: number) => `order-${n}`;
const putOrder = (pk: string, revision: number) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: {
        pk: { S: pk },
        sk: { S: `ORDER#${pk}` },
        customer: { S: `customer ${revision}` },
        status: { S: random() < 0.5 ? 'open' : 'paid' },
      },
    }),
  );
const putLine = (pk: string, line: number, revision: number) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: {
        pk: { S: pk },
        sk: { S: `LINE#${String(line).padStart(3, '0')}` },
        sku: { S: `sku-${line}` },
        qty: { N: String(revision) },
      },
    }),
  );
const remove = (pk: string, sk: string) =>
  stack.dynamodb.send(
    new DeleteItemCommand({ TableName: stack.tableName, Key: { pk: { S: pk }, sk: { S: sk } } }),
  );

/** Rounds of 30 concurrent writes to random orders: lines added, changed or deleted; orders deleted or rewritten. */
async function churn(rounds: number, firstRevision: number) {
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      Array.from({ length: 30 }, () => {
        const pk = order(Math.floor(random() * ORDERS));
        const roll = random();
        const line = 1 + Math.floor(random() * 6);
        if (roll < 0.1) return remove(pk, `ORDER#${pk}`);
        if (roll < 0.3) return remove(pk, `LINE#${String(line).padStart(3, '0')}`);
        if (roll < 0.5) return putOrder(pk, firstRevision + round);
        return putLine(pk, line, firstRevision + round);
      }),
    );
  }
}

/** Each order's aggregate as docs/configuration.md defines it, from a consistent scan of the table. */
async function expectedAggregates(): Promise<Record<string, unknown>> {
  const partitions = new Map<string, PlainItem[]>();
  for (const item of await scanItems(stack.dynamodb, stack.tableName)) {
    const pk = String(item.pk?.S);
    partitions.set(pk, [...(partitions.get(pk) ?? []), plainItem(item)]);
  }
  const expected: Record<string, unknown> = {};
  for (const [pk, items] of partitions) {
    const parent = items.find((item) => String(item.sk).startsWith('ORDER#'));
    if (parent === undefined || items.length > (AGGREGATE.maxItems ?? 0)) continue;
    const lines = items
      .filter((item) => String(item.sk).startsWith('LINE#'))
      .sort((a, b) => bySortKey(String(a.sk), String(b.sk)))
      .map((item) => ({ id: `${pk}|${item.sk}`, ...item }));
    expected[pk] = { id: pk, ...parent, lines };
  }
  return expected;
}

async function indexed(): Promise<Record<string, unknown>> {
  const documents = await stack.typesense.exportDocuments(stack.alias);
  return Object.fromEntries(documents.map((document) => [String(document.id), document]));
}

/** The index holds exactly the aggregates, and verify agrees (the oversized partition is unprojectable). */
async function expectExactlyTheAggregates(oversized: string[]) {
  const expected = await expectedAggregates();
  expect(Object.keys(expected).length).toBeGreaterThan(ORDERS / 3);
  expect(await indexed()).toEqual(expected);
  const report = await stack.verify();
  expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
    missing: [],
    extra: [],
    stale: [],
  });
  expect(report.unprojectable.map(({ id, code }) => [id, code])).toEqual(
    oversized.map((id) => [id, 'aggregate-too-large']),
  );
}

describe('an aggregated index on the embedded stack', () => {
  it('holds exactly each order’s aggregate of its current items under concurrent writes in any order', async () => {
    // Lines before their orders for half of them, after for the others; all at once.
    await Promise.all(
      Array.from({ length: ORDERS }, async (_, n) => {
        const lines = () => Promise.all([1, 2, 3].map((line) => putLine(order(n), line, 1)));
        if (n % 2 === 0) await lines();
        await putOrder(order(n), 1);
        if (n % 2 === 1) await lines();
      }),
    );
    // The oversized partition: an order with more lines than maxItems allows. Its lines go in before the
    // order: a batch that read the partition while it still fitted would index it, and an oversized
    // partition leaves the document the index held as it was (docs/configuration.md, "Limits"); without
    // its parent a partition has no document, so its first aggregate is already too large.
    await Promise.all(Array.from({ length: 25 }, (_, line) => putLine('big', line, 1)));
    await putOrder('big', 1);
    await churn(5, 2);
    await stack.waitForIdle(180_000);
    await expectExactlyTheAggregates(['big']);
    const letters = await stack.drainDeadLetters();
    expect(letters.length).toBeGreaterThan(0);
    expect(new Set(letters.map((letter) => `${letter.id} ${letter.reason.code}`))).toEqual(
      new Set(['big aggregate-too-large']),
    );
    expect(letters[0]?.reason.message).toBe('the partition holds more than 20 items (aggregate.maxItems)');
  }, 300_000);

  it('a full re-sync while the writes go on rebuilds every aggregate, with no dead letter', async () => {
    // Trimmed below the limit first: a partition the index cannot hold fails a re-sync, as an item the
    // projection refuses does (docs/configuration.md "Aggregation").
    await Promise.all(
      Array.from({ length: 10 }, (_, line) => remove('big', `LINE#${String(line).padStart(3, '0')}`)),
    );
    await stack.waitForIdle(120_000);
    const [started] = await Promise.all([cliAt(targetFile, 'resync', 'start', '--wait'), churn(6, 20)]);
    expect(started.err).toBe('');
    expect(started.code).toBe(EXIT.ok);
    await stack.waitForIdle(180_000);
    const progress = (await cliAt(targetFile, '--json', 'resync', 'status')).json() as ResyncProgress;
    expect(progress.job.phase).toBe('done');
    await expectExactlyTheAggregates([]);
    expect((await indexed()).big).toMatchObject({ id: 'big', lines: expect.any(Array) });
    expect(await stack.drainDeadLetters()).toEqual([]);
    const verified = await cliAt(targetFile, 'verify');
    expect(verified.code).toBe(EXIT.ok);
    // `preview --key` of any item of a partition shows the document the index holds for the partition.
    const big = (await indexed()).big as { lines: { pk: string; sk: string }[] };
    const [anyLine] = big.lines;
    const previewed = await cliAt(
      targetFile,
      '--json',
      'preview',
      '--key',
      JSON.stringify({ pk: anyLine?.pk, sk: anyLine?.sk }),
    );
    expect(previewed.err).toBe('');
    expect(previewed.code).toBe(EXIT.ok);
    expect((previewed.json() as { indexes: unknown[] }).indexes).toEqual([
      { index: 'orders', id: 'big', outcome: 'indexed', document: big },
    ]);
  }, 300_000);

  it('carries the lag check’s canary under the table’s whole key, outside the aggregates', async () => {
    const reading = await stack.checkLag();
    expect(reading.problems).toEqual([]);
    expect(reading.canaryDelayMs).not.toBeNull();
    await expectExactlyTheAggregates([]);
    expect(await stack.drainDeadLetters()).toEqual([]);
  }, 120_000);
});

/** The IAM-true stack proves the writer's dynamodb:Query grant is needed: without it the re-read is refused. */
describe('an aggregated index without the writer’s Query grant', () => {
  it('fails the partition re-read with AccessDeniedException, and indexes nothing', async () => {
    const revoked = await startLocalStack({
      keyAttributes: ['pk', 'sk'],
      tableName: 'revoked',
      alias: 'revoked',
      schema: SCHEMA,
      aggregate: AGGREGATE,
      visibilityTimeoutSeconds: 1,
      logLevel: 'ERROR',
      iam: { revoke: [{ function: 'writer', action: 'dynamodb:Query' }] },
    });
    const errors: unknown[] = [];
    const { adapters } = revoked.functions.writer;
    const readPartition = adapters.readPartition;
    if (readPartition === undefined) throw new Error('the aggregated writer has no readPartition port');
    adapters.readPartition = async (key, limit) => {
      try {
        return await readPartition(key, limit);
      } catch (error) {
        errors.push(error);
        throw error;
      }
    };
    try {
      await revoked.dynamodb.send(
        new PutItemCommand({
          TableName: revoked.tableName,
          Item: { pk: { S: 'o1' }, sk: { S: 'ORDER#o1' }, customer: { S: 'ada' }, status: { S: 'open' } },
        }),
      );
      const deadline = Date.now() + 30_000;
      while (errors.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const [refused] = errors;
      expect(refused).toBeInstanceOf(DynamoDBServiceException);
      expect(refused).toMatchObject({ name: 'AccessDeniedException' });
      const resource = `arn:aws:dynamodb:us-east-1:000000000000:table/${revoked.tableName}`;
      expect((refused as Error).message).toContain(
        `is not authorized to perform: dynamodb:Query on resource: ${resource}`,
      );
      expect(revoked.iam.denials).toContainEqual({
        function: 'writer',
        action: 'dynamodb:Query',
        resource,
        decision: 'implicit-deny',
      });
      expect(await revoked.typesense.exportDocuments(revoked.alias)).toEqual([]);
    } finally {
      await revoked.stop();
    }
  }, 120_000);
});
