import { mkdir } from 'node:fs/promises';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchIngestionDelay } from '../../bin/cli/operations/lag.ts';
import { waitFor } from '../../infra/local/processes.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import type { HistorySample } from '../../infra/local/status-page.ts';
import { productItem, productSchema, runWorkload, seededRandom } from '../../infra/local/workload.ts';
import { openStatusPage } from '../helpers/status-page.ts';

let stack: LocalStack;
let browser: Browser;
let page: Page;
let requested: string[];
let pageErrors: string[];

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    sourceTimestampAttribute: 'updatedAt',
    // The paused writer holds a received batch for several seconds: it must not be redelivered meanwhile.
    visibilityTimeoutSeconds: 60,
    logLevel: 'ERROR',
  });
  ({ browser, page, requested, pageErrors } = await openStatusPage(stack.statusPageUrl));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A figure as the page shows it; NaN until the first sample arrives. */
const figure = async (testId: string) => Number(await page.getByTestId(testId).textContent());

/** The chart's point count and the sample count it was drawn from, read from one render. */
async function chartReading(): Promise<{ points: number; samples: number }> {
  for (;;) {
    const before = await page.getByTestId('lag-chart').getAttribute('data-sample-count');
    const points = (await page.getByTestId('lag-line').getAttribute('points')) ?? '';
    const after = await page.getByTestId('lag-chart').getAttribute('data-sample-count');
    if (before === after) return { points: points.split(' ').filter(Boolean).length, samples: Number(after) };
  }
}

const history = async (): Promise<HistorySample[]> =>
  ((await (await fetch(new URL('/v1/history', stack.statusPageUrl))).json()) as { samples: HistorySample[] })
    .samples;

describe('the local status page in headless Chromium', () => {
  it('charts the lag sample by sample, shows throughput while changes apply, and the DLQ and circuit the endpoint answers', async () => {
    const workload = runWorkload({
      dynamodb: stack.dynamodb,
      tableName: stack.tableName,
      keyAttributes: stack.keyAttributes,
      keys: 100,
      ops: 400,
      seed: 3,
      // Spread over about five seconds, so several one-second samples see changes applied.
      rate: 100,
    });
    await waitFor('throughput above 0 on the page', async () => (await figure('throughput')) > 0, 60_000);
    await workload;
    await stack.waitForIdle(60_000);
    expect((await stack.status()).changesApplied).toBeGreaterThan(0);

    await waitFor('several samples on the chart', async () => (await chartReading()).samples >= 5, 60_000);
    const chart = await chartReading();
    expect(chart.points).toBe(chart.samples);
    expect(chart.samples).toBeLessThanOrEqual((await history()).length);

    await waitFor(
      'the page to show what the ingestion-delay endpoint answers',
      async () => {
        const delay = await fetchIngestionDelay(stack.ingestionDelayUrl);
        return (
          (await figure('dlq-depth')) === delay.dlqDepth &&
          (await page.getByTestId('circuit').textContent()) === delay.circuit
        );
      },
      30_000,
    );
    expect(await figure('dlq-depth')).toBe(0);
    expect(await page.getByTestId('circuit').textContent()).toBe('closed');
    // One index: one row, its documents those of the collection behind the alias.
    const row = page.getByTestId('index-row');
    expect(await row.getAttribute('data-alias')).toBe(stack.alias);
    const documents = (await stack.typesense.getCollection(stack.alias))?.num_documents;
    await waitFor(
      'the row to show the documents',
      async () => Number(await row.locator('[data-field="documents"]').textContent()) === documents,
      30_000,
    );
  });

  it('shows the lag growing while the writer holds a change and falling back once it applies', async () => {
    // Start from a settled page, so the lag seen below is the held change's and not the workload's.
    await waitFor('the displayed lag at 0', async () => (await figure('lag-ms')) === 0, 60_000);
    stack.queuePoller.pause();
    const item = productItem(seededRandom(8), stack.keyAttributes, 5_000, 1, Date.now());
    await stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item: item }));
    try {
      await waitFor('the displayed lag above 1.5 s', async () => (await figure('lag-ms')) > 1_500, 60_000);
      expect((await fetchIngestionDelay(stack.ingestionDelayUrl)).oldestPendingChangeAgeMs).toBeGreaterThan(
        1_500,
      );
    } finally {
      stack.queuePoller.resume();
    }
    await waitFor('the displayed lag back to 0', async () => (await figure('lag-ms')) === 0, 60_000);
    expect(await stack.typesense.getDocument(stack.alias, 'p-005000')).toMatchObject({ revision: 1 });
    const samples = await history();
    expect(samples.some((sample) => sample.lagMs > 1_500)).toBe(true);
    expect(samples.at(-1)?.lagMs).toBe(0);

    await mkdir('.local', { recursive: true });
    await page.screenshot({ path: '.local/status-page.png', fullPage: true });
    expect(pageErrors).toEqual([]);
    // Self-contained: the page fetched nothing but itself and its history.
    const origin = new URL(stack.statusPageUrl).origin;
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
  });
});
