import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { TargetInput } from '../../bin/cli/operations/target.ts';

/** Every process below `pid`, from `ps` (children of children included). */
function descendants(pid: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const [child, ppid] of table) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

type Item = Record<string, AttributeValue>;

/** Every item of the demo's table, read consistently through the target `npm start` wrote. */
async function tableItems(target: TargetInput): Promise<Item[]> {
  const dynamodb = new DynamoDBClient({
    region: target.region,
    endpoint: target.endpoints?.dynamodb,
    credentials: target.credentials,
  });
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({ TableName: target.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  dynamodb.destroy();
  return items;
}

/** The documents behind an alias, by id, through Typesense's export endpoint. */
async function exported(target: TargetInput, alias: string): Promise<Map<string, Record<string, unknown>>> {
  const { nodes, apiKey } = target.typesense as { nodes: string[]; apiKey: string };
  const response = await fetch(`${nodes[0]}/collections/${alias}/documents/export`, {
    headers: { 'X-TYPESENSE-API-KEY': apiKey },
  });
  expect(response.status).toBe(200);
  const lines = (await response.text()).split('\n').filter((line) => line !== '');
  const documents = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return new Map(documents.map((document) => [String(document.id), document]));
}

/**
 * What the demo's table implies for its three indexes (README "npm start"): `products` holds each item
 * under sort key PRODUCT (by its partition key), `reviews` each item under REVIEW#…, and `catalogue` one document per product
 * (by its partition key) carrying exactly that product's reviews, by sort key.
 */
async function expectIndexesMatchTable(target: TargetInput) {
  const items = await tableItems(target);
  const idOf = (item: Item) => `${item.pk?.S}|${item.sk?.S}`;
  const products = items.filter((item) => item.sk?.S === 'PRODUCT');
  const reviews = items.filter((item) => item.sk?.S?.startsWith('REVIEW#'));
  expect(products.length).toBeGreaterThan(10);
  expect(reviews.length).toBeGreaterThan(10);
  expect(products.length + reviews.length).toBe(items.length);

  const sorted = (ids: Iterable<string>) => [...ids].sort();
  // products: named by the partition key alone (its projection.id).
  expect(sorted((await exported(target, 'products')).keys())).toEqual(
    sorted(products.map((product) => product.pk?.S as string)),
  );
  const reviewDocuments = await exported(target, 'reviews');
  expect(sorted(reviewDocuments.keys())).toEqual(sorted(reviews.map(idOf)));
  for (const review of reviews)
    expect(reviewDocuments.get(idOf(review))?.rating).toBe(Number(review.rating?.N));

  const expectedCatalogue = Object.fromEntries(
    products.map((product) => {
      const pk = product.pk?.S as string;
      const own = reviews.filter((review) => review.pk?.S === pk).map(idOf);
      return [pk, { name: product.name?.S, reviews: sorted(own) }];
    }),
  );
  const catalogue = Object.fromEntries(
    [...(await exported(target, 'catalogue'))].map(([id, document]) => [
      id,
      {
        name: document.name,
        reviews: (document.reviews as { id: string }[]).map((review) => review.id),
      },
    ]),
  );
  expect(catalogue).toEqual(expectedCatalogue);
}

describe('npm start (bin/local.ts)', () => {
  let demo: ChildProcess | undefined;
  afterAll(() => {
    if (demo?.exitCode === null) demo.kill('SIGKILL');
  });

  it('runs the demo to three verified indexes and search answers, then stops on Ctrl-C leaving no process behind', async () => {
    demo = spawn(
      process.execPath,
      ['--import', 'tsx', 'bin/local.ts', '--items', '40', '--ops', '60', '--rate', '500', '--keep-running'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } },
    );
    let output = '';
    demo.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    demo.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => demo?.once('exit', (code) => resolve(code)));

    for (let waited = 0; !output.includes('keep-running:'); waited += 200) {
      if (waited > 180_000 || demo.exitCode !== null) throw new Error(`demo did not come up:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // 40 products, 39 initial reviews (0, 1 or 2 each), then 60 operations.
    expect(output).toMatch(/wrote 139 changes \(products: 40 inserts, .*; reviews: \d+ written/);
    for (const alias of ['products', 'reviews', 'catalogue'])
      expect(output).toMatch(
        new RegExp(
          `verify ${alias}: clean — the index matches the table field by field \\(\\d+ table items, \\d+ documents\\)`,
        ),
      );
    expect(output).toMatch(/search products 'kettle' → \d+ found/);
    expect(output).toMatch(/search catalogue 'kettle' → \d+ found/);
    expect(output).not.toContain('local-typesense-key');
    const target = JSON.parse(await readFile('.local/target.json', 'utf8')) as TargetInput;
    await expectIndexesMatchTable(target);

    const children = descendants(demo.pid as number);
    expect(children.length).toBeGreaterThan(0); // DynamoDB Local's JVM at least
    const beforeStop = output.length;
    demo.kill('SIGINT');
    expect(await exited).toBe(130);
    // Stopping verifies every index once more.
    for (const alias of ['products', 'reviews', 'catalogue'])
      expect(output.slice(beforeStop)).toContain(`verify ${alias}: clean`);
    // Children exit on their own schedule once their parent is gone (a tool's pipe closes, the JVM
    // finishes its shutdown): none may survive, but give them a moment to go.
    for (let waited = 0; children.some(alive) && waited < 15_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(children.filter(alive)).toEqual([]);
  }, 300_000);
});
