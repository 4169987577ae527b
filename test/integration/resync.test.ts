import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import { dynamoResyncStore } from '../../functions/shared/resync-store.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, loadItems, productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * The full re-sync on the embedded stack. The issue asks for ≥ 100k items; CI runs a scaled-down
 * table (RESYNC_TEST_ITEMS, default 10k) through exactly the same path. The full size:
 *   RESYNC_TEST_ITEMS=100000 npx vitest run test/integration/resync.test.ts
 */
const ITEMS = Number(process.env.RESYNC_TEST_ITEMS ?? 10_000);
/** Rollback's repair and the drift re-sync go over the whole table: their time grows with it. */
const SLOW = Math.max(1, ITEMS / 10_000);

let stack: LocalStack;
let targetFile: string;
const random = seededRandom(5);

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    sourceTimestampAttribute: 'updatedAt',
    // Longer than a writer batch takes on a loaded machine: with 1 s, a full-suite run redelivered
    // batches still running until 15 changes reached the DLQ (AWS avoids it with a visibility of
    // 6 × the writer's timeout). Nothing here waits for a changes-queue redelivery.
    visibilityTimeoutSeconds: 60,
    logLevel: 'ERROR',
    writerConcurrency: 4,
    resync: { totalSegments: 4, pageSize: 250, pagesPerTask: 8, workers: 4, visibilityTimeoutSeconds: 1 },
  });
  targetFile = join(await mkdtemp(join(tmpdir(), 'resync-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const cli = (...args: string[]) => cliAt(targetFile, ...args);

const status = async () => (await cli('--json', 'resync', 'status')).json() as ResyncProgress;
const liveCollection = async () => (await stack.typesense.getAlias(stack.alias))?.collection_name;
const put = (n: number, revision: number) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: productItem(random, stack.keyAttributes, n, revision, Date.now()),
    }),
  );
const remove = (n: number) =>
  stack.dynamodb.send(
    new DeleteItemCommand({ TableName: stack.tableName, Key: itemKey(stack.keyAttributes, n) }),
  );

/** Updates, deletes and re-creates random existing keys, one operation at a time. */
async function mutate(operations: number, keys: number, exists: Set<number>) {
  let deletes = 0;
  for (let i = 0; i < operations; i++) {
    const n = Math.floor(random() * keys);
    if (!exists.has(n)) {
      await put(n, 3);
      exists.add(n);
    } else if (random() < 0.6) await put(n, 2);
    else {
      await remove(n);
      exists.delete(n);
      deletes++;
    }
  }
  return deletes;
}

describe('full re-sync on the embedded stack', () => {
  let swappedJob: ResyncProgress['job'];

  it(`backfills ${ITEMS} items into a new collection while the stream runs, survives a crash mid-segment, swaps once`, async () => {
    await loadItems({
      dynamodb: stack.dynamodb,
      tableName: stack.tableName,
      keyAttributes: stack.keyAttributes,
      first: 0,
      count: ITEMS,
      concurrency: 8,
    });

    // The adapters the stack's re-sync handler calls through: wrapping one injects faults into the real path.
    const ports = stack.functions.resync.adapters;
    let crashes = 0;
    const swaps: string[] = [];
    let crashed: { segment: number; resumeFrom: unknown } | undefined;
    // Start keys of the crashed segment's scans after the crash (a slow task may also be redelivered).
    const resumedFrom: unknown[] = [];
    const scanPage = ports.scanPage;
    const putSegment = ports.store.putSegment;
    const upsertAlias = ports.typesense.upsertAlias;
    const boundUpsertAlias = upsertAlias.bind(ports.typesense);
    ports.scanPage = (segment, ...rest) => {
      if (crashed?.segment === segment) resumedFrom.push(rest[2] ?? 'the start');
      return scanPage(segment, ...rest);
    };
    // A crash after pages were imported and before their checkpoint (the segment's second): the worst moment.
    ports.store.putSegment = async (jobId, segment, previousPages) => {
      if (segment.pages > 1 && crashed === undefined) {
        crashes++;
        // Claimed before the first await, so segments reaching page 3 together crash only once.
        crashed = { segment: segment.segment, resumeFrom: undefined };
        crashed.resumeFrom = (await ports.store.getSegment(jobId, segment.segment))?.lastKey;
        throw new Error('injected crash between a page import and its checkpoint');
      }
      return putSegment(jobId, segment, previousPages);
    };
    ports.typesense.upsertAlias = async (...args) => {
      swaps.push(args[1]);
      return boundUpsertAlias(...args);
    };
    try {
      // The stream is still applying the load while the re-sync starts, and keeps changing keys.
      const exists = new Set(Array.from({ length: ITEMS }, (_, n) => n));
      const [started, deletes] = await Promise.all([
        cli('resync', 'start', '--wait'),
        mutate(Math.min(3_000, ITEMS / 4), ITEMS, exists),
      ]);
      expect(started.err).toBe('');
      expect(started.code).toBe(EXIT.ok);
      expect(deletes).toBeGreaterThan(0);
      await stack.waitForIdle(120_000);

      const progress = await status();
      swappedJob = progress.job;
      expect(progress.job).toMatchObject({ phase: 'done', trigger: 'operator', previous: 'products_v1' });
      expect(await liveCollection()).toBe(progress.job.collection);
      // The alias moved once: every swap request named the new collection.
      expect(new Set(swaps)).toEqual(new Set([progress.job.collection]));
      expect(crashes).toBe(1);
      // Resumed, not restarted: the redelivered task scanned on from the last checkpoint (page 1).
      expect(crashed?.resumeFrom).toEqual(expect.objectContaining({ pk: expect.anything() }));
      expect(resumedFrom).toContainEqual(crashed?.resumeFrom);
      expect(resumedFrom).not.toContain('the start');
      expect(progress.segmentsDone).toBe(4);
      expect(progress.scanned).toBeGreaterThanOrEqual(ITEMS - deletes);
      expect(progress.indexed + progress.skipped).toBe(progress.scanned);
      // Deletes during the backfill were tombstoned for the finisher's re-check.
      expect((await ports.store.listDeletes(progress.job.jobId)).length).toBeGreaterThan(0);

      // Nothing given up on the way: a change in the DLQ or lost by the stream poller would show
      // below only as a missing, extra or stale document.
      expect(await stack.status()).toMatchObject({ dlqDepth: 0, streamRecordsGivenUp: 0 });
      const report = await stack.verify();
      expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
        missing: [],
        extra: [],
        stale: [],
      });
      expect(report.tableItems).toBe(exists.size);
    } finally {
      ports.scanPage = scanPage;
      ports.store.putSegment = putSegment;
      ports.typesense.upsertAlias = upsertAlias;
    }
  }, 300_000);

  it('the state table clears a rejection only when it was recorded before the write that fixed its id', async () => {
    const store = dynamoResyncStore(stack.dynamodb, stack.resyncStateTable);
    const jobId = 'r-clear-rejections';
    await store.recordRejections(jobId, [
      { id: 'a', reason: '400: before the first write', at: 1_000 },
      { id: 'b', reason: '400: after the first write', at: 2_500 },
      { id: 'c', reason: '400: before the second write', at: 2_500 },
      { id: 'd', reason: '400: not written', at: 1_000 },
    ]);
    const cleared = await store.clearRejections(jobId, [
      { ids: ['a', 'b'], before: 2_000 },
      { ids: ['c'], before: 3_000 },
    ]);
    expect(cleared).toBe(2);
    expect((await store.listRejections(jobId, 10)).map(({ id }) => id)).toEqual(['b', 'd']);
  });

  it('a document the schema rejects fails the re-sync before the swap and names the key', async () => {
    const bad = productItem(random, stack.keyAttributes, ITEMS + 1, 1, Date.now());
    bad.price = { S: 'not a price' };
    await stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item: bad }));
    await stack.waitForIdle(30_000);

    const run = await cli('resync', 'start', '--wait');
    expect(run.code).toBe(EXIT.problem);
    const badId = `p-${String(ITEMS + 1).padStart(6, '0')}`;
    expect(run.out).toContain('failed');
    expect(run.out).toContain(`rejected ${badId}: 400`);
    const progress = await status();
    expect(progress.job.phase).toBe('failed');
    expect(progress.rejections[0]?.id).toBe(badId);
    // The old collection stays live and the partial one is gone.
    expect(await liveCollection()).toBe(swappedJob.collection);
    expect(await stack.typesense.getCollection(progress.job.collection)).toBeUndefined();
    expect((await cli('resync', 'status')).code).toBe(EXIT.problem);

    await remove(ITEMS + 1);
    await stack.waitForIdle(30_000);
    await stack.drainDeadLetters();
  }, 120_000);

  it('one re-sync at a time; cancel leaves the live alias untouched and drops the partial collection', async () => {
    // The adapters the stack's re-sync handler calls through: wrapping one injects faults into the real path.
    const ports = stack.functions.resync.adapters;
    const scanPage = ports.scanPage;
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    ports.scanPage = async (...args) => {
      await gate;
      return scanPage(...args);
    };
    try {
      const started = await cli('--json', 'resync', 'start');
      expect(started.code).toBe(EXIT.ok);
      const job = started.json() as ResyncProgress['job'];

      const second = await cli('resync', 'start');
      expect(second.code).toBe(EXIT.error);
      expect(second.err).toContain(`re-sync ${job.jobId} is running`);

      const cancelled = await cli('resync', 'cancel');
      expect(cancelled.code).toBe(EXIT.ok);
      expect(cancelled.out).toContain(`cancelled re-sync ${job.jobId}`);
      open();
      await stack.waitForIdle(60_000);

      expect((await status()).job).toMatchObject({ jobId: job.jobId, phase: 'cancelled' });
      expect(await liveCollection()).toBe(swappedJob.collection);
      expect(await stack.typesense.getCollection(job.collection)).toBeUndefined();
      expect((await cli('resync', 'cancel')).code).toBe(EXIT.error);
    } finally {
      open();
      ports.scanPage = scanPage;
    }
  }, 120_000);

  it(
    'rollback points the alias at the replaced collection and repairs what it missed',
    async () => {
      await put(1, 9);
      await remove(2);
      await stack.waitForIdle(30_000);

      const rolledBack = await cli('resync', 'rollback');
      expect(rolledBack.err).toBe('');
      expect(rolledBack.code).toBe(EXIT.ok);
      expect(rolledBack.out).toContain('points at products_v1 again');
      expect(rolledBack.out).toMatch(/repaired \d+ documents/);
      expect(await liveCollection()).toBe('products_v1');
      const report = await stack.verify();
      expect(report.missing.length + report.extra.length + report.stale.length).toBe(0);

      const again = await cli('resync', 'rollback');
      expect(again.code).toBe(EXIT.error);
      expect(again.err).toContain('no swapped re-sync to roll back');
    },
    120_000 * SLOW,
  );

  it(
    'verify --resync-above starts a re-sync when drift is above the threshold',
    async () => {
      const live = (await liveCollection()) as string;
      const ids = Array.from({ length: 50 }, (_, n) => `p-${String(n + 10).padStart(6, '0')}`);
      await stack.typesense.deleteByIds(live, ids);

      // 50 of 10k items is 0.5 % drift, of 100k 0.05 %: both above the threshold.
      const verified = await cli('verify', '--resync-above', '0.01');
      expect(verified.code).toBe(EXIT.problem);
      expect(verified.out).toMatch(/drift \d+\.\d+ % is above 0.01 %: started re-sync r\d{17}/);
      const deadline = Date.now() + 120_000 * SLOW;
      while ((await status()).job.phase !== 'done' && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 250));
      expect((await status()).job).toMatchObject({ trigger: 'drift', phase: 'done' });
      await stack.waitForIdle(30_000);
      expect((await stack.verify()).missing).toEqual([]);
      // Rollback kept products_v1 plus at most `keepCollections` (2) versioned ones.
      const versioned = (await stack.typesense.listCollections()).filter(({ name }) =>
        /_r\d{17}$/.test(name),
      );
      expect(versioned.length).toBeLessThanOrEqual(3);
    },
    180_000 * SLOW,
  );
});
