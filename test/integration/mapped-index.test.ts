import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import type { ProjectionConfig } from '../../functions/contract/projection.ts';
import { documentId } from '../../functions/core/keys.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, productItem, seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * A mapped index on the embedded stack: attributes renamed, nested maps flattened into a collection
 * without nested fields, an ISO date converted to epoch seconds and a number beyond 2^53 to an exact int64.
 * Items whose date is no date are dead-lettered with the reason; every other item is indexed as mapped, and
 * `verify` finds the index clean (what the writer sends is what Typesense stores), before and after a re-sync.
 */
const ITEMS = 60;
const BASE = Date.parse('2024-03-01T00:00:00Z');
const projection: ProjectionConfig = {
  exclude: ['thumbnail'],
  rename: { created_at: 'createdAt', attributes: 'attr' },
  nested: 'flatten',
  convert: { createdAt: 'epochSeconds', orderNo: 'int64', 'attr.weightKg': 'float' },
};
const schema: CollectionSchema = {
  name: 'mapped',
  default_sorting_field: 'createdAt',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'createdAt', type: 'int64' },
    { name: 'orderNo', type: 'int64' },
    { name: 'attr.color', type: 'string', facet: true },
    { name: 'attr.weightKg', type: 'float' },
  ],
};
/** Items whose `created_at` is no date (until the application fixes them): the writer dead-letters them. */
const BAD = [7, 27, 47];
let fixed = false;
const badDate = (n: number) => !fixed && BAD.includes(n);
let stack: LocalStack;
let targetFile: string;
const random = seededRandom(21);

beforeAll(async () => {
  stack = await startLocalStack({
    schema,
    projection,
    visibilityTimeoutSeconds: 1,
    logLevel: 'ERROR',
    resync: { totalSegments: 2, pageSize: 20, workers: 2, visibilityTimeoutSeconds: 5 },
  });
  targetFile = join(await mkdtemp(join(tmpdir(), 'mapped-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const put = (n: number, revision: number) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: {
        ...productItem(random, stack.keyAttributes, n, revision, Date.now()),
        created_at: { S: badDate(n) ? 'not a date' : new Date(BASE + n * 60_000 + revision).toISOString() },
        orderNo: { N: String(9_007_199_254_740_993n + BigInt(n)) },
      },
    }),
  );

const idOf = (n: number) =>
  documentId(itemKey(stack.keyAttributes, n) as Record<string, AttributeValue>, stack.keyAttributes);
const badIds = () => BAD.map(idOf).sort();

async function expectMappedAndClean(unprojectable: string[]) {
  const report = await stack.verify();
  expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
    missing: [],
    extra: [],
    stale: [],
  });
  expect(report.indexDocuments).toBe(ITEMS - unprojectable.length);
  expect(report.unprojectable.map(({ id }) => id).sort()).toEqual(unprojectable);
  const exported = (await stack.typesense.exportDocuments(stack.alias)).find(({ id }) => id === idOf(1));
  expect(exported).toMatchObject({
    createdAt: Math.floor((BASE + 60_000) / 1000),
    'attr.color': expect.any(String),
    'attr.dimensions': [10, 20, expect.any(Number)],
  });
  expect(exported).not.toHaveProperty('created_at');
  expect(exported).not.toHaveProperty('attributes');
  // Ranked by the converted date (the collection's default sorting field), newest first.
  const page = await stack.typesense.search(stack.alias, { q: '*', per_page: 3 });
  expect(page.hits.map(({ document }) => document.id)).toEqual([59, 58, 57].map(idOf));
}

describe('a mapped index on the embedded stack', () => {
  it('indexes every item as mapped and dead-letters the ones whose date does not convert, with the reason', async () => {
    for (let n = 0; n < ITEMS; n += 10)
      await Promise.all(Array.from({ length: 10 }, (_, i) => put(n + i, 1)));
    await stack.waitForIdle(180_000);
    const letters = await stack.drainDeadLetters();
    expect(letters.map(({ id }) => id).sort()).toEqual(badIds());
    for (const letter of letters)
      expect(letter.reason).toEqual({
        code: 'projection',
        message: `cannot project item: field createdAt: epochSeconds needs an ISO-8601 date/time string, got "not a date"`,
      });
    await expectMappedAndClean(badIds());
  }, 300_000);

  it('a re-sync refuses to swap while items do not convert (the live index stays), and swaps once they are fixed', async () => {
    const refused = await cliAt(targetFile, 'resync', 'start', '--wait');
    expect(refused.code).toBe(EXIT.problem);
    const failed = (await cliAt(targetFile, '--json', 'resync', 'status')).json() as ResyncProgress;
    expect(failed.job.phase).toBe('failed');
    expect(failed.rejections.length).toBeGreaterThan(0);
    for (const rejection of failed.rejections) {
      expect(badIds()).toContain(rejection.id);
      expect(rejection.reason).toMatch(/field createdAt: epochSeconds needs an ISO-8601 date\/time string/);
    }
    await expectMappedAndClean(badIds());

    // The application fixes its dates; a re-sync while other items change then rebuilds the mapped index.
    fixed = true;
    await Promise.all(BAD.map((n) => put(n, 2)));
    await stack.waitForIdle(120_000);
    const rewrites = async () => {
      for (let n = 0; n < ITEMS; n += 3) await put(n, 3);
    };
    const [started] = await Promise.all([cliAt(targetFile, 'resync', 'start', '--wait'), rewrites()]);
    expect(started.err).toBe('');
    expect(started.code).toBe(EXIT.ok);
    await stack.waitForIdle(120_000);
    const progress = (await cliAt(targetFile, '--json', 'resync', 'status')).json() as ResyncProgress;
    expect(progress.job.phase).toBe('done');
    await expectMappedAndClean([]);
    expect(await stack.drainDeadLetters()).toEqual([]);
  }, 300_000);
});
