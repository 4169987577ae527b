import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { type ResyncProgress, resyncProgress } from '../../functions/core/resync.ts';
import type { FaultProxy } from '../../infra/local/fault-proxy.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, loadItems, productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * Done-when for "nothing stalls silently": a re-sync runs while keys are deleted, items expire
 * (TTL-style removes of items whose `expiresAt` passed) and Typesense answers 503 bursts, whole
 * requests and single import lines. It must finish and swap by itself, and the index must then
 * equal the table. The re-sync function's timeout is short, so its tasks hand on by remaining time.
 */
const ITEMS = Number(process.env.RESYNC_FAULT_ITEMS ?? 3_000);
/** Items created with an `expiresAt` in the past: "expired" (removed) while the re-sync runs. */
const EXPIRING = 150;

let stack: LocalStack;
let faults: FaultProxy;
let targetFile: string;
const random = seededRandom(23);

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    sourceTimestampAttribute: 'updatedAt',
    // Lambda's rule: visibility ≥ 6 × the function's time (a writer batch takes up to ~1 s here).
    visibilityTimeoutSeconds: 6,
    retry: { baseSeconds: 1, maxSeconds: 2 },
    logLevel: 'ERROR',
    writerConcurrency: 4,
    faultInjection: true,
    resync: {
      totalSegments: 4,
      pageSize: 100,
      // No page cap worth the name: tasks hand on by the time left (21 s timeout, 20 s reserve).
      pagesPerTask: 10_000,
      timeoutSeconds: 21,
      workers: 4,
      visibilityTimeoutSeconds: 10,
    },
  });
  faults = stack.faults as FaultProxy;
  targetFile = join(await mkdtemp(join(tmpdir(), 'resync-faults-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const cli = (...args: string[]) => cliAt(targetFile, ...args);
const put = (n: number, revision: number, expired = false) => {
  const item = productItem(random, stack.keyAttributes, n, revision, Date.now());
  if (expired) item.expiresAt = { N: String(Math.floor(Date.now() / 1000) - 60) };
  return stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item: item }));
};
const remove = (n: number) =>
  stack.dynamodb.send(
    new DeleteItemCommand({ TableName: stack.tableName, Key: itemKey(stack.keyAttributes, n) }),
  );

describe('a re-sync under deletes, expiries and 503 bursts', () => {
  it('finishes, swaps once, and leaves the index equal to the table', async () => {
    await loadItems({
      dynamodb: stack.dynamodb,
      tableName: stack.tableName,
      keyAttributes: stack.keyAttributes,
      first: 0,
      count: ITEMS,
      concurrency: 8,
    });
    for (let n = ITEMS; n < ITEMS + EXPIRING; n++) await put(n, 1, true);
    await stack.waitForIdle(120_000);

    faults.setFaults({ seed: 31, httpErrors: { 503: 0.15 }, importLineFailures: 0.1 });
    const started = await cli('--json', 'resync', 'start');
    expect(started.err).toBe('');
    const job = started.json() as ResyncProgress['job'];
    const { store } = stack.functions.resync.adapters;

    // While it runs: deletes, expiries, updates, and a burst of 503s straight from Typesense.
    const seen = new Set<string>();
    let deletes = 0;
    let expiries = 0;
    let statusLine = '';
    const deadline = Date.now() + 240_000;
    for (let round = 0; Date.now() < deadline; round++) {
      const progress = await resyncProgress(store, Date.now(), job.jobId);
      if (progress === undefined) throw new Error(`re-sync ${job.jobId} is gone`);
      seen.add(String(progress.waitingFor).replace(/\d[\d,]*/g, 'n'));
      if (progress.job.phase !== 'backfilling' && progress.job.phase !== 'finishing') break;
      if (round === 2) {
        stack.emulator?.failNext(15, 503);
        const status = await cli('resync', 'status');
        statusLine = status.out;
      }
      if (round < 40) {
        const n = Math.floor(random() * ITEMS);
        if (n % 3 === 0) await put(n, 2 + round);
        else {
          await remove(n);
          deletes++;
        }
        const expiring = ITEMS + round;
        if (round < EXPIRING) {
          await remove(expiring);
          expiries++;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    faults.setFaults(undefined);
    await stack.waitForIdle(120_000);

    const final = await resyncProgress(store, Date.now(), job.jobId);
    expect(final?.job).toMatchObject({ phase: 'done', previous: stack.collection });
    expect((await stack.typesense.getAlias(stack.alias))?.collection_name).toBe(job.collection);
    expect(await store.active()).toBeUndefined();
    expect(final?.progressAgeMs).toBeUndefined();
    expect(final?.job.lastProgressAt).toBeGreaterThan(job.startedAt);
    expect(deletes + expiries).toBeGreaterThan(0);
    // The faults did happen, and were ridden out inside the tasks.
    expect(faults.faultStats.http503).toBeGreaterThan(0);
    expect(faults.faultStats.importLineFailures).toBeGreaterThan(0);
    // Ridden out inside the tasks, not by SQS redelivery: at most the finish tasks that lost the
    // swap claim to another one failed (one per segment), however many 503s were answered.
    expect(stack.resyncPoller.stats.messagesFailed).toBeLessThanOrEqual(4);
    // Segments handed on by time: more segment runs than segments.
    expect(stack.resyncPoller.stats.invocations).toBeGreaterThan(4 + 1 + 1);
    expect([...seen]).toContain('segments n/n backfilling');
    expect(statusLine).toMatch(/last progress \d+ s ago/);
    expect((await cli('resync', 'status')).code).toBe(EXIT.ok);

    const report = await stack.verify();
    expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      missing: [],
      extra: [],
      stale: [],
    });
  }, 400_000);
});
