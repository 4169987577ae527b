import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttributeValue,
  DeleteItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import type { ItemFilter } from '../../functions/contract/projection.ts';
import { documentId } from '../../functions/core/keys.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * A filtered index on the embedded stack: a table of orders and customers, an index of the orders only.
 * Items flip between the two types while the writes run; the index must end holding exactly the items
 * that are orders now (0 lost, 0 stale, 0 resurrected), before and after a full re-sync.
 */
const ITEMS = 300;
const ORDERS: ItemFilter = { attribute: 'type', equals: 'order' };
let stack: LocalStack;
let targetFile: string;
const random = seededRandom(20);

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    projection: { exclude: ['thumbnail'], filter: ORDERS },
    visibilityTimeoutSeconds: 1,
    logLevel: 'ERROR',
    resync: { totalSegments: 2, pageSize: 50, workers: 2, visibilityTimeoutSeconds: 5 },
  });
  targetFile = join(await mkdtemp(join(tmpdir(), 'filtered-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const put = (n: number, type: string, revision: number) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: { ...productItem(random, stack.keyAttributes, n, revision, Date.now()), type: { S: type } },
    }),
  );

/** Rounds of 40 concurrent writes: random keys flipped to a random type, one in ten deleted. */
async function flipTypes(rounds: number, firstRevision: number) {
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      Array.from({ length: 40 }, () => {
        const n = Math.floor(random() * ITEMS);
        if (random() < 0.1)
          return stack.dynamodb.send(
            new DeleteItemCommand({ TableName: stack.tableName, Key: itemKey(stack.keyAttributes, n) }),
          );
        return put(n, random() < 0.5 ? 'order' : 'customer', firstRevision + round);
      }),
    );
  }
}

/** The ids of the table's items the filter matches: what the index must hold. */
async function orderIds(): Promise<string[]> {
  const ids: string[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await stack.dynamodb.send(
      new ScanCommand({ TableName: stack.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    for (const item of page.Items ?? [])
      if (item.type?.S === 'order') ids.push(documentId(item, stack.keyAttributes));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return ids.sort();
}

const indexedIds = async () =>
  (await stack.typesense.exportDocuments(stack.alias)).map(({ id }) => String(id)).sort();

async function expectExactlyTheOrders() {
  const report = await stack.verify();
  expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
    missing: [],
    extra: [],
    stale: [],
  });
  const expected = await orderIds();
  expect(expected.length).toBeGreaterThan(ITEMS / 4);
  expect(expected.length).toBeLessThan(ITEMS);
  expect(await indexedIds()).toEqual(expected);
}

describe('a filtered index on the embedded stack', () => {
  it('holds exactly the matching items while items flip type under concurrent writes', async () => {
    // Half orders, half customers, written 10 at a time.
    for (let n = 0; n < ITEMS; n += 10)
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => put(n + i, (n + i) % 2 === 0 ? 'order' : 'customer', 1)),
      );
    // While the stream still carries those writes: flips (each key a few times), and some deletes.
    await flipTypes(4, 2);
    await stack.waitForIdle(180_000);
    await expectExactlyTheOrders();
    expect(await stack.drainDeadLetters()).toEqual([]);
  }, 300_000);

  it('a full re-sync while items keep flipping rebuilds the index from the matching items only', async () => {
    const [started] = await Promise.all([cliAt(targetFile, 'resync', 'start', '--wait'), flipTypes(6, 10)]);
    expect(started.err).toBe('');
    expect(started.code).toBe(EXIT.ok);
    await stack.waitForIdle(120_000);
    const progress = (await cliAt(targetFile, '--json', 'resync', 'status')).json() as ResyncProgress;
    expect(progress.job.phase).toBe('done');
    // Every scanned item was imported, found already written by the stream (409), or left out.
    expect(progress.filtered).toBeGreaterThan(0);
    expect(progress.indexed + progress.skipped + progress.filtered).toBe(progress.scanned);
    await expectExactlyTheOrders();
    expect(await stack.drainDeadLetters()).toEqual([]);
  }, 300_000);
});
