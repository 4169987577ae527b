import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { CANARY_KEY_VALUE, canaryItem } from '../../functions/core/canary.ts';
import {
  cancelResync,
  FINISH_RECHECK_SECONDS,
  finishResync,
  jobIdAt,
  parseResyncTask,
  type ResyncOptions,
  type ResyncPorts,
  resyncProgress,
  runResyncTask,
  runSegment,
  startResync,
} from '../../functions/core/resync.ts';
import type { TypesenseClient } from '../../functions/shared/typesense.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

const API_KEY = 'resync-unit-key';
const suite = typesenseSuite(API_KEY);
let run = 0;

type Item = Record<string, AttributeValue>;
const item = (id: string, revision: number, price: AttributeValue = { N: '9.5' }): Item => ({
  pk: { S: id },
  name: { S: `name of ${id}` },
  price,
  revision: { N: String(revision) },
});

/** A fresh alias per test, pointing at `<alias>_v1` with a small schema, and a table of `items` items. */
async function setup(items: number, overrides: Partial<ResyncOptions> = {}) {
  const alias = `products${++run}`;
  await suite.typesense.createCollection({
    name: `${alias}_v1`,
    fields: [
      { name: 'name', type: 'string' },
      { name: 'price', type: 'float' },
    ],
  });
  await suite.typesense.upsertAlias(alias, `${alias}_v1`);
  let clock = 1_795_000_000_000;
  const fakes = memoryResyncPorts(suite.typesense as unknown as ResyncPorts['typesense'], () => clock);
  for (let n = 0; n < items; n++) fakes.table.set(`p-${n}`, item(`p-${n}`, 1));
  const options: ResyncOptions = {
    alias,
    keyAttributes: ['pk'],
    totalSegments: 3,
    pageSize: 4,
    pagesPerTask: 2,
    keepCollections: 2,
    ...overrides,
  };
  /** Runs queued tasks (delays ignored) until none is left or `until` says stop. */
  const drain = async () => {
    const outcomes: string[] = [];
    for (let next = fakes.tasks.shift(); next !== undefined; next = fakes.tasks.shift())
      outcomes.push(await runResyncTask(next.task, fakes.ports, options));
    return outcomes;
  };
  const live = async () => (await suite.typesense.getAlias(alias))?.collection_name;
  const tick = () => {
    clock += 1_000;
  };
  return { ...fakes, alias, options, drain, live, tick };
}

describe('full re-sync core', () => {
  let env: Awaited<ReturnType<typeof setup>>;

  describe('a clean run', () => {
    beforeEach(async () => {
      env = await setup(30);
    });

    it('backfills every segment into a new versioned collection, then swaps the alias once', async () => {
      const result = await startResync('operator', env.ports, env.options);
      if (!('started' in result)) throw new Error('not started');
      const job = result.started;
      expect(job.collection).toBe(`${env.alias}_${jobIdAt(1_795_000_000_000)}`);
      expect(await env.ports.store.active()).toEqual({ jobId: job.jobId, collection: job.collection });
      expect(env.tasks.map(({ task }) => task)).toEqual(
        [0, 1, 2].map((segment) => ({ action: 'segment', jobId: job.jobId, segment })),
      );

      const outcomes = await env.drain();
      // 30 items over 3 segments in pages of 4, 2 pages per task: segments hand on to fresh tasks.
      expect(outcomes).toContain('continued');
      expect(outcomes.at(-1)).toBe('swapped');
      expect(await env.live()).toBe(job.collection);
      expect((await suite.typesense.getCollection(job.collection))?.num_documents).toBe(30);
      expect(await env.ports.store.active()).toBeUndefined();
      const progress = await resyncProgress(env.store, 0);
      expect(progress).toMatchObject({
        job: { phase: 'done', previous: `${env.alias}_v1` },
        segmentsDone: 3,
        scanned: 30,
        indexed: 30,
        skipped: 0,
      });
    });

    it('starts only one re-sync at a time and names the running one', async () => {
      const first = await startResync('operator', env.ports, env.options);
      env.tick();
      const second = await startResync('schedule', env.ports, env.options);
      expect(second).toEqual({
        running: {
          jobId: (first as { started: { jobId: string } }).started.jobId,
          collection: expect.any(String),
        },
      });
    });

    it('a duplicate delivery of a segment task stops at its first checkpoint', async () => {
      const result = await startResync('operator', env.ports, env.options);
      const jobId = (result as { started: { jobId: string } }).started.jobId;
      const task = { jobId, segment: 0 };
      const outcomes = await Promise.all([
        runSegment(task, env.ports, env.options),
        runSegment(task, env.ports, env.options),
      ]);
      expect(outcomes.sort()).toEqual(['continued', 'stopped']);
    });

    it('of two finish tasks running at once, exactly one swaps the alias', async () => {
      const result = await startResync('operator', env.ports, env.options);
      const jobId = (result as { started: { jobId: string } }).started.jobId;
      const segments = env.tasks.splice(0).map(({ task }) => task as { jobId: string; segment: number });
      for (const task of segments) while ((await runSegment(task, env.ports, env.options)) === 'continued');
      env.tasks.splice(0);
      let swaps = 0;
      const upsertAlias = suite.typesense.upsertAlias.bind(suite.typesense);
      const counting = Object.create(suite.typesense) as TypesenseClient;
      counting.upsertAlias = async (alias, collection) => {
        swaps++;
        return upsertAlias(alias, collection);
      };
      env.ports.typesense = counting as unknown as ResyncPorts['typesense'];
      const outcomes = await Promise.allSettled([
        finishResync(jobId, env.ports, env.options),
        finishResync(jobId, env.ports, env.options),
      ]);
      expect(swaps).toBe(1);
      expect(
        outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value === 'swapped'),
      ).toHaveLength(1);
      expect((await env.store.getJob(jobId))?.phase).toBe('done');
    });

    it('cancel leaves the alias, drops the partial collection, and stops the segments', async () => {
      const result = await startResync('operator', env.ports, env.options);
      const job = (result as { started: { jobId: string; collection: string } }).started;
      const cancelled = await cancelResync(env.ports);
      expect(cancelled?.action).toBe('cancelled');
      expect(cancelled?.job).toMatchObject({ phase: 'cancelled', message: 'cancelled by the operator' });
      expect(await env.drain()).toEqual(['stopped', 'stopped', 'stopped']);
      expect(await env.live()).toBe(`${env.alias}_v1`);
      expect(await suite.typesense.getCollection(job.collection)).toBeUndefined();
      expect(await env.ports.store.active()).toBeUndefined();
      expect(await cancelResync(env.ports)).toBeUndefined();
    });

    it('keeps the newest `keepCollections` versioned collections besides the live one', async () => {
      const collections: string[] = [];
      for (let i = 0; i < 4; i++) {
        env.tick();
        const result = await startResync('schedule', env.ports, env.options);
        collections.push((result as { started: { collection: string } }).started.collection);
        await env.drain();
      }
      const names = (await suite.typesense.listCollections())
        .map(({ name }) => name)
        .filter((name) => name.startsWith(`${env.alias}_`));
      // The collection the alias started on is not ours to drop; the oldest versioned one is pruned.
      expect(names.sort()).toEqual([`${env.alias}_v1`, ...collections.slice(1)].sort());
    });
  });

  it("leaves the lag check's canary out of the new collection", async () => {
    env = await setup(5, { totalSegments: 1 });
    env.table.set(CANARY_KEY_VALUE, canaryItem(['pk'], 1_795_000_000_000));
    const result = await startResync('operator', env.ports, env.options);
    const { collection } = (result as { started: { collection: string } }).started;
    await env.drain();
    expect(await env.live()).toBe(collection);
    expect((await suite.typesense.getCollection(collection))?.num_documents).toBe(5);
    expect(await suite.typesense.getDocument(collection, CANARY_KEY_VALUE)).toBeUndefined();
    expect(await resyncProgress(env.store, 0)).toMatchObject({ scanned: 5, indexed: 5 });
  });

  describe('racing the stream', () => {
    it('a document the stream already wrote is not overwritten by the older scanned copy', async () => {
      env = await setup(1, { totalSegments: 1 });
      const result = await startResync('operator', env.ports, env.options);
      const { collection } = (result as { started: { collection: string } }).started;
      const scan = env.ports.scanPage;
      env.ports.scanPage = async (...args) => {
        const page = await scan(...args);
        // Between the scan and the import, the item changes and the writer applies it to both collections.
        env.table.set('p-0', item('p-0', 2));
        await suite.typesense.importDocuments(
          collection,
          [JSON.stringify({ id: 'p-0', name: 'name of p-0', price: 9.5, revision: 2 })],
          'upsert',
        );
        return page;
      };
      await env.drain();
      expect(await suite.typesense.getDocument(collection, 'p-0')).toMatchObject({ revision: 2 });
      expect(await resyncProgress(env.store, 0)).toMatchObject({
        job: { phase: 'done' },
        indexed: 0,
        skipped: 1,
      });
    });

    it('a key deleted before the import of its older copy is re-applied before the swap', async () => {
      env = await setup(2, { totalSegments: 1 });
      const result = await startResync('operator', env.ports, env.options);
      const { collection, jobId } = (result as { started: { collection: string; jobId: string } }).started;
      const scan = env.ports.scanPage;
      env.ports.scanPage = async (...args) => {
        const page = await scan(...args);
        // The item is deleted and the writer applies the delete (tombstone, then delete) before the import.
        env.table.delete('p-1');
        await env.store.recordDeletes(jobId, [{ id: 'p-1', key: { pk: { S: 'p-1' } } }]);
        await suite.typesense.deleteByIds(collection, ['p-1']);
        return page;
      };
      expect(await runSegment({ jobId, segment: 0 }, env.ports, env.options)).toBe('segment-done');
      expect(await finishResync(jobId, env.ports, env.options)).toBe('waiting');
      // The finisher found the resurrected copy: it re-applies the key and looks again later.
      expect(env.enqueued).toEqual([{ pk: { S: 'p-1' } }]);
      expect(await env.live()).toBe(`${env.alias}_v1`);
      expect((await env.store.getJob(jobId))?.finishChecks).toBe(1);

      // The writer applies the re-enqueued key: the item is gone, so the document goes too.
      await suite.typesense.deleteByIds(collection, ['p-1']);
      expect(await finishResync(jobId, env.ports, env.options)).toBe('swapped');
      expect(await env.live()).toBe(collection);
      expect(await suite.typesense.getDocument(collection, 'p-1')).toBeUndefined();
    });

    it('the finish re-check is delayed, not spun', async () => {
      env = await setup(1, { totalSegments: 1 });
      const result = await startResync('operator', env.ports, env.options);
      const { collection, jobId } = (result as { started: { collection: string; jobId: string } }).started;
      await env.drain();
      // Simulate a resurrection after the backfill: a tombstoned key whose document is back.
      env.table.delete('p-0');
      await env.store.transition(jobId, ['done'], { phase: 'finishing' });
      await env.store.claim({ jobId, collection });
      await env.store.recordDeletes(jobId, [{ id: 'p-0', key: { pk: { S: 'p-0' } } }]);
      expect(await finishResync(jobId, env.ports, env.options)).toBe('waiting');
      expect(env.tasks).toEqual([
        { task: { action: 'finish', jobId }, delaySeconds: FINISH_RECHECK_SECONDS },
      ]);
    });
  });

  describe('bad input', () => {
    it('a document the schema rejects fails the re-sync before the swap and names the key', async () => {
      env = await setup(5, { totalSegments: 1 });
      env.table.set('p-3', item('p-3', 1, { S: 'not a price' }));
      const result = await startResync('operator', env.ports, env.options);
      const { collection } = (result as { started: { collection: string } }).started;
      expect(await env.drain()).toEqual(['failed']);
      const progress = await resyncProgress(env.store, 0);
      expect(progress?.job).toMatchObject({
        phase: 'failed',
        message: expect.stringMatching(
          /^1 item of one page was refused: 1 Typesense 400 \(does not fit the collection schema\); first: p-3: 400/,
        ),
      });
      expect(progress?.rejections).toEqual([{ id: 'p-3', reason: expect.stringMatching(/^400: .*price/) }]);
      expect(await env.live()).toBe(`${env.alias}_v1`);
      expect(await suite.typesense.getCollection(collection)).toBeUndefined();
      expect(await env.ports.store.active()).toBeUndefined();
    });

    it('a missing alias without a schema is a clear error and creates nothing', async () => {
      env = await setup(1);
      await suite.typesense.deleteAlias(env.alias);
      await expect(startResync('operator', env.ports, env.options)).rejects.toThrow(
        `alias ${env.alias} does not exist and no schema was given`,
      );
      expect(await env.ports.store.latestJobs(1)).toEqual([]);
    });

    it.each([
      ['not json', 're-sync task is not JSON'],
      ['{"action":"start"}', 'not a re-sync task'],
      ['{"action":"start","trigger":"whenever"}', 'trigger'],
      ['{"action":"segment","jobId":"r1","segment":-1}', 'segment'],
      ['{"action":"explode"}', 'action'],
    ])('rejects the task %s, naming what is wrong', (body, problem) => {
      expect(() => parseResyncTask(body)).toThrow(problem);
    });
  });
});
