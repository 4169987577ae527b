import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import { waitFor } from '../../infra/local/processes.ts';
import { type LocalIndex, type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { cliAt } from '../helpers/cli.ts';
import { openStatusPage } from '../helpers/status-page.ts';

/**
 * The status page of a stack with two routed indexes (issue 20, item 3): a row per index with its own
 * documents, lag, queues, circuit and re-sync, and the figures above it the first index's as before.
 */
const productsSchema: CollectionSchema = {
  name: 'products',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'price', type: 'float' },
  ],
};
const reviewsSchema: CollectionSchema = {
  name: 'reviews',
  fields: [
    { name: 'title', type: 'string' },
    { name: 'rating', type: 'int32' },
  ],
};
const PRODUCTS = 30;
const REVIEWS = 20;

let stack: LocalStack;
let browser: Browser;
let page: Page;
let requested: string[];
let pageErrors: string[];

beforeAll(async () => {
  stack = await startLocalStack({
    tableName: 'status-shop',
    schema: productsSchema,
    indexes: [
      { alias: 'products', projection: { filter: { attribute: 'type', equals: 'product' } } },
      {
        alias: 'reviews',
        schema: reviewsSchema,
        projection: { filter: { attribute: 'type', equals: 'review' } },
      },
    ],
    sourceTimestampAttribute: 'updatedAt',
    // The paused writer holds a received batch for several seconds: it must not be redelivered meanwhile.
    visibilityTimeoutSeconds: 60,
    logLevel: 'ERROR',
  });
  ({ browser, page, requested, pageErrors } = await openStatusPage(stack.statusPageUrl));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const put = (pk: string, attributes: Record<string, { S: string } | { N: string }>) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: { pk: { S: pk }, updatedAt: { N: String(Date.now()) }, ...attributes },
    }),
  );
const product = (n: number) =>
  put(`P#${n}`, { type: { S: 'product' }, name: { S: `p${n}` }, price: { N: '1.5' } });
const review = (n: number, rating = '4') =>
  put(`R#${n}`, { type: { S: 'review' }, title: { S: `r${n}` }, rating: { N: rating } });

/** A cell of an index's row as the page shows it. */
const cell = (alias: string, field: string) =>
  page.locator(`[data-testid="index-row"][data-alias="${alias}"] [data-field="${field}"]`).textContent();
const numberIn = async (alias: string, field: string) => Number(await cell(alias, field));
const indexOf = (alias: string) => stack.indexes[alias] as LocalIndex;

describe('the status page of two routed indexes in headless Chromium', () => {
  it("shows each index's documents and its own DLQ; the figures above stay the first index's", async () => {
    await Promise.all([
      ...Array.from({ length: PRODUCTS }, (_, n) => product(n)),
      ...Array.from({ length: REVIEWS }, (_, n) => review(n)),
    ]);
    // A review without its title: the reviews collection refuses it, so it is dead-lettered there only.
    await put('R#bad', { type: { S: 'review' }, rating: { N: '1' } });
    await stack.waitForIdle(120_000);
    // The page shows what its last refresh read: wait until it has read the idle queues too.
    await waitFor(
      'each row to show its documents, DLQ and no pending message',
      async () =>
        (await numberIn('products', 'documents')) === PRODUCTS &&
        (await numberIn('reviews', 'documents')) === REVIEWS &&
        (await numberIn('reviews', 'dlq-depth')) === 1 &&
        (await numberIn('products', 'pending-messages')) === 0 &&
        (await numberIn('reviews', 'pending-messages')) === 0,
      60_000,
    );
    const rows = page.getByTestId('index-row');
    expect(await rows.evaluateAll((each) => each.map((row) => row.getAttribute('data-alias')))).toEqual([
      'products',
      'reviews',
    ]);
    expect(await numberIn('products', 'dlq-depth')).toBe(0);
    expect(
      await page.locator('[data-alias="reviews"] [data-field="dlq-depth"]').getAttribute('data-alert'),
    ).toBe('true');
    // As before there were several indexes: the DLQ figure at the top is the first index's.
    expect(Number(await page.getByTestId('dlq-depth').textContent())).toBe(0);
    for (const alias of ['products', 'reviews']) {
      expect(await cell(alias, 'circuit')).toBe('closed');
      expect(await cell(alias, 'load')).toBe('none');
    }
    const [letter] = await indexOf('reviews').drainDeadLetters();
    expect(letter?.id).toBe('R#bad');
  }, 240_000);

  it("shows the lag of the index whose writer holds a change, not the other's", async () => {
    indexOf('reviews').queuePoller.pause();
    await review(100);
    try {
      await waitFor(
        // One condition over one moment of the page: each figure is sampled apart (the queue's
        // counts come from SQS, the lag from the poller), so separate reads can straddle two samples.
        'the reviews lag above 1.5 s with its change pending, while the products lag is 0',
        async () =>
          (await numberIn('reviews', 'lag-ms')) > 1_500 &&
          (await numberIn('reviews', 'pending-messages')) > 0 &&
          (await numberIn('products', 'lag-ms')) === 0,
        60_000,
      );
    } finally {
      indexOf('reviews').queuePoller.resume();
    }
    await waitFor(
      'the reviews lag back to 0',
      async () => (await numberIn('reviews', 'lag-ms')) === 0,
      60_000,
    );
    expect(await numberIn('reviews', 'documents')).toBe(REVIEWS + 1);
  }, 180_000);

  it('shows a re-sync on the row of its index only', async () => {
    const targetFile = join(await mkdtemp(join(tmpdir(), 'status-indexes-')), 'target.json');
    await writeFile(targetFile, JSON.stringify(stack.target));
    // The re-sync function starts the job, then its segment tasks wait at a gate: the job stays running.
    const resync = indexOf('reviews').functions.resync;
    const handler = resync.handler;
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let invocations = 0;
    // Only the call matters to the poller, not the middy handler's other members.
    resync.handler = (async (...args: Parameters<typeof handler>) => {
      if (++invocations > 1) await gate;
      return handler(...args);
    }) as typeof handler;
    try {
      const started = await cliAt(targetFile, '--index', 'reviews', 'resync', 'start');
      expect({ code: started.code, err: started.err }).toEqual({ code: EXIT.ok, err: '' });
      await waitFor(
        'the reviews row to show the re-sync',
        async () => (await cell('reviews', 'load')) !== 'none',
        60_000,
      );
      expect(await cell('reviews', 'load')).toMatch(/^re-sync \d+/);
      expect(await cell('products', 'load')).toBe('none');
    } finally {
      open();
      resync.handler = handler;
    }
    await waitFor(
      'the re-sync to finish on the page',
      async () => (await cell('reviews', 'load')) === 'none',
      120_000,
    );
    await stack.waitForIdle(120_000);
    expect(await numberIn('reviews', 'documents')).toBe(REVIEWS + 1);

    expect(pageErrors).toEqual([]);
    const origin = new URL(stack.statusPageUrl).origin;
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
  }, 240_000);
});
