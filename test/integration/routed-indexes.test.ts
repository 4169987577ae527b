import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { documentId } from '../../functions/core/keys.ts';
import { type ResyncProgress, resyncProgress } from '../../functions/core/resync.ts';
import { dynamoResyncStore } from '../../functions/shared/resync-store.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import { type LocalIndex, type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';
import { scanItems } from '../helpers/table-scan.ts';

/**
 * Two routed indexes of one single-table design table on the embedded stack (issue 20, item 1): customers
 * (`type` customer, their PROFILE items) and orders (`type` order, their ORDER# items), each its own
 * pipeline fed by the one batcher. Some items change type while the writes run, some are deleted: each index
 * must end holding exactly the items of its type (0 lost, 0 stale, 0 resurrected), `verify` clean, no dead
 * letter, every AWS call allowed by the calling index's own role; and again after a re-sync of one index
 * while writes run.
 */
const CUSTOMERS = 20;
const ORDERS_PER_CUSTOMER = 3;
const customersSchema: CollectionSchema = { name: 'customers', fields: [{ name: 'name', type: 'string' }] };
const ordersSchema: CollectionSchema = { name: 'orders', fields: [{ name: 'total', type: 'float' }] };
const random = seededRandom(42);
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    keyAttributes: ['pk', 'sk'],
    tableName: 'shop',
    schema: customersSchema,
    indexes: [
      { alias: 'customers', projection: { filter: { attribute: 'type', equals: 'customer' } } },
      {
        alias: 'orders',
        schema: ordersSchema,
        projection: { filter: { attribute: 'type', equals: 'order' }, exclude: ['name'] },
      },
    ],
    // Longer than a loaded writer batch (Lambda's 6× rule): at 1 s, messages still being written were
    // received again until the receive limit moved them to the DLQ (seen in the three-index test).
    visibilityTimeoutSeconds: 6,
    logLevel: 'ERROR',
    resync: { totalSegments: 2, pageSize: 20, workers: 2, visibilityTimeoutSeconds: 5 },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** An item of customer `c`: its profile (j undefined) or its order j, of the given type. */
const put = (c: number, j: number | undefined, type: 'customer' | 'order', revision: number) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: {
        pk: { S: `CUST#${c}` },
        sk: { S: j === undefined ? 'PROFILE' : `ORDER#${j}` },
        type: { S: type },
        // Both fields, so the item is a valid document of either index whatever its type.
        name: { S: `customer ${c} r${revision}` },
        total: { N: String(revision * 10 + (j ?? 0)) },
      },
    }),
  );

/** Rounds of concurrent writes: orders re-typed to customers and back, new revisions, a few deletes. */
async function churn(rounds: number, firstRevision: number) {
  for (let round = 0; round < rounds; round++)
    await Promise.all(
      Array.from({ length: 20 }, () => {
        const c = Math.floor(random() * CUSTOMERS);
        const j = Math.floor(random() * ORDERS_PER_CUSTOMER);
        if (random() < 0.1)
          return stack.dynamodb.send(
            new DeleteItemCommand({
              TableName: stack.tableName,
              Key: { pk: { S: `CUST#${c}` }, sk: { S: `ORDER#${j}` } },
            }),
          );
        return put(c, j, random() < 0.3 ? 'customer' : 'order', firstRevision + round);
      }),
    );
}

/** The ids of the table's items of `type`: what its index must hold. */
async function idsOfType(type: string): Promise<string[]> {
  const items = await scanItems(stack.dynamodb, stack.tableName);
  return items
    .filter((item) => item.type?.S === type)
    .map((item) => documentId(item, stack.keyAttributes))
    .sort();
}

const indexOf = (alias: string) => stack.indexes[alias] as LocalIndex;

async function expectEachIndexExact() {
  for (const [alias, type] of [
    ['customers', 'customer'],
    ['orders', 'order'],
  ] as const) {
    const index = indexOf(alias);
    const report = await index.verify();
    expect({ alias, missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      alias,
      missing: [],
      extra: [],
      stale: [],
    });
    const indexed = (await stack.typesense.exportDocuments(alias)).map(({ id }) => String(id)).sort();
    expect(indexed).toEqual(await idsOfType(type));
    expect(await index.drainDeadLetters()).toEqual([]);
  }
  expect(stack.iam.denials).toEqual([]);
}

describe('two routed indexes of one table on the embedded stack', () => {
  it('has one pipeline per index, under its own names', () => {
    expect(Object.keys(stack.indexes)).toEqual(['customers', 'orders']);
    expect(indexOf('customers').queueUrl).toBe(stack.queueUrl);
    expect(indexOf('orders').queueUrl).toMatch(/shop-orders-changes\.fifo$/);
    expect(stack.functions.batcher.config.QUEUES.map(({ queueUrl }) => queueUrl)).toEqual([
      indexOf('customers').queueUrl,
      indexOf('orders').queueUrl,
    ]);
  });

  it('routes each item to the index of its type, moving items that change type, removing deleted ones', async () => {
    for (let c = 0; c < CUSTOMERS; c++) {
      await Promise.all([
        put(c, undefined, 'customer', 1),
        ...Array.from({ length: ORDERS_PER_CUSTOMER }, (_, j) => put(c, j, 'order', 1)),
      ]);
    }
    await churn(4, 2);
    // One item known to change type twice, ending a customer: it must leave orders.
    await put(0, 0, 'order', 20);
    await put(0, 0, 'customer', 21);
    await stack.waitForIdle(180_000);
    await expectEachIndexExact();
    const moved = documentId({ pk: { S: 'CUST#0' }, sk: { S: 'ORDER#0' } }, stack.keyAttributes);
    expect(await idsOfType('customer')).toContain(moved);
    expect(await idsOfType('order')).not.toContain(moved);
  }, 300_000);

  it('a re-sync of one index (the CLI with --index) while writes run leaves both exact', async () => {
    const targetFile = join(await mkdtemp(join(tmpdir(), 'routed-')), 'target.json');
    await writeFile(targetFile, JSON.stringify(stack.target));
    const [started] = await Promise.all([
      cliAt(targetFile, '--index', 'orders', 'resync', 'start', '--wait'),
      churn(6, 30),
    ]);
    expect(started.err).toBe('');
    expect(started.code).toBe(EXIT.ok);
    const progress = (await cliAt(targetFile, '--json', '--index', 'orders', 'resync', 'status')).json();
    expect((progress as ResyncProgress).job).toMatchObject({ phase: 'done', alias: 'orders' });
    // The customers index had no re-sync: its state table has no job.
    const customers = dynamoResyncStore(stack.dynamodb, indexOf('customers').resyncStateTable);
    expect(await resyncProgress(customers, Date.now()).catch(() => undefined)).toBeUndefined();
    await stack.waitForIdle(180_000);
    await expectEachIndexExact();
    // `verify` per index through the CLI too: clean in both.
    for (const alias of ['customers', 'orders']) {
      const verified = await cliAt(targetFile, '--index', alias, 'verify');
      expect({ alias, code: verified.code }).toEqual({ alias, code: EXIT.ok });
    }
  }, 300_000);
});
