import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MarshalledKey } from '../../functions/core/change.ts';
import {
  CHECKPOINT_EVERY_MS,
  JOB_REREAD_MS,
  type ResyncOptions,
  type ResyncPorts,
  runSegment,
  TASK_RESERVE_MS,
} from '../../functions/core/resync.ts';
import { memoryResyncStore } from '../helpers/resync-fakes.ts';

/*
 * The backfill's one-page read-ahead: the next page is scanned and projected while this one is
 * imported, and the previous page's bookkeeping (rejection clearing, checkpoint) runs beside the
 * next import, without giving up a guarantee: a checkpoint only records an imported page, cancel
 * is seen between pages, and a page read ahead that a hand-on drops cannot fail the process.
 */

type Item = Record<string, AttributeValue>;

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise chain and I/O callback run. */
const settle = async () => {
  for (let n = 0; n < 5; n++) await new Promise((resolve) => setImmediate(resolve));
};

const JOB = 'job-1';

/**
 * One segment of `items` items in pages of 2, on ports whose scans, imports and rejection clearing
 * each wait on a gate the test may hold. `events` tells the order things happened in; projecting a
 * page reads its items' `name`, which logs `project <page>`. The clock stands still unless a scan or
 * an import moves it on (`scanMs`, `importMs`).
 */
async function setup(items: number, { scanMs = 0, importMs = 0 } = {}) {
  const events: string[] = [];
  const ids = Array.from({ length: items }, (_, n) => `p-${String(n).padStart(3, '0')}`);
  const pageOf = (id: string) => Math.floor(ids.indexOf(id) / 2) + 1;
  const itemOf = (id: string): Item => {
    const item: Item = { pk: { S: id }, price: { N: '1' } };
    Object.defineProperty(item, 'name', {
      enumerable: true,
      get() {
        if (!events.includes(`project ${pageOf(id)}`)) events.push(`project ${pageOf(id)}`);
        return { S: `name of ${id}` };
      },
    });
    return item;
  };
  const gates = {
    scan: undefined as Promise<void> | undefined,
    import: undefined as Promise<void> | undefined,
    clear: undefined as Promise<void> | undefined,
  };
  const imported: string[][] = [];
  const scanStarts: (string | undefined)[] = [];
  const store = memoryResyncStore();
  // The test moves the clock, and may drop the job's collection as `abandon` does.
  const clock = { now: 1_795_000_000_000 };
  const collection = { gone: false };
  const ports: ResyncPorts = {
    store,
    typesense: {
      async importDocuments(_collection: string, lines: string[]) {
        if (collection.gone) throw new Error('404: Not Found - collection products_v2 not found');
        const page = imported.push(lines.map((line) => (JSON.parse(line) as { id: string }).id));
        events.push(`import ${page} start`);
        clock.now += importMs;
        await gates.import;
        events.push(`import ${page} done`);
        return lines.map(() => ({ success: true }));
      },
    } as unknown as ResyncPorts['typesense'],
    async scanPage(_segment: number, _total: number, limit: number, startKey?: MarshalledKey) {
      const from = startKey === undefined ? 0 : ids.indexOf(startKey.pk?.S as string) + 1;
      const page = from / 2 + 1;
      scanStarts.push(startKey?.pk?.S);
      events.push(`scan ${page} start`);
      await gates.scan;
      clock.now += scanMs;
      const slice = ids.slice(from, from + limit);
      const last = slice.at(-1);
      return from + limit < ids.length && last !== undefined
        ? { items: slice.map(itemOf), lastKey: { pk: { S: last } } }
        : { items: slice.map(itemOf) };
    },
    readItems: async () => [],
    estimateItemCount: async () => items,
    sendTasks: async () => undefined,
    enqueueKeys: async () => undefined,
    now: () => clock.now,
    sleep: async () => undefined,
  };
  const clearRejections = store.clearRejections.bind(store);
  store.clearRejections = async (jobId, writes) => {
    const pages = writes.map(({ ids }) => pageOf(ids[0] as string)).join(',');
    events.push(`clear ${pages} start`);
    await gates.clear;
    events.push(`clear ${pages} done`);
    return clearRejections(jobId, writes);
  };
  await store.putJob({
    jobId: JOB,
    alias: 'products',
    collection: 'products_v2',
    phase: 'backfilling',
    trigger: 'operator',
    totalSegments: 1,
    startedAt: 1,
    updatedAt: 1,
  });
  await store.putSegment(JOB, { segment: 0, done: false, pages: 0, scanned: 0, indexed: 0, skipped: 0 });
  const options: ResyncOptions = {
    alias: 'products',
    keyAttributes: ['pk'],
    totalSegments: 1,
    pageSize: 2,
    pagesPerTask: 1_000,
    keepCollections: 2,
  };
  const segment = () => runSegment({ jobId: JOB, segment: 0 }, ports, options);
  return { events, gates, imported, scanStarts, store, ports, segment, ids, clock, collection };
}

describe('backfill read-ahead', () => {
  it("scans and projects the next page while this page's import is still running", async () => {
    const env = await setup(6);
    const holdImport = deferred();
    env.gates.import = holdImport.promise;
    const running = env.segment();
    await vi.waitFor(() => expect(env.events).toContain('import 1 start'));
    await settle();
    // Page 1's import has not answered, yet page 2 is already scanned and projected.
    expect(env.events).not.toContain('import 1 done');
    expect(env.events).toContain('scan 2 start');
    expect(env.events).toContain('project 2');
    holdImport.resolve();
    expect(await running).toBe('segment-done');
    expect(env.imported).toEqual([env.ids.slice(0, 2), env.ids.slice(2, 4), env.ids.slice(4, 6)]);
    expect(await env.store.getSegment(JOB, 0)).toMatchObject({ done: true, pages: 3, indexed: 6 });
  });

  it("starts the next import without waiting for the previous page's rejection clearing and checkpoint", async () => {
    const env = await setup(6);
    const holdClear = deferred();
    env.gates.clear = holdClear.promise;
    const running = env.segment();
    await vi.waitFor(() => expect(env.events).toContain('import 2 start'));
    expect(env.events).toContain('clear 1 start');
    expect(env.events).not.toContain('clear 1 done');
    // The checkpoint of page 1 waits for its clearing: it is not written yet.
    expect((await env.store.getSegment(JOB, 0))?.pages).toBe(0);
    holdClear.resolve();
    expect(await running).toBe('segment-done');
    expect(await env.store.getSegment(JOB, 0)).toMatchObject({ done: true, pages: 3, indexed: 6 });
  });

  /**
   * A segment of 8 items whose first import is held while the job is cancelled; `then` runs before the
   * import answers. Answers what the segment returned.
   */
  async function cancelledDuringFirstImport(then: (env: Awaited<ReturnType<typeof setup>>) => void) {
    const env = await setup(8);
    const holdImport = deferred();
    env.gates.import = holdImport.promise;
    const running = env.segment();
    await vi.waitFor(() => expect(env.events).toContain('import 1 start'));
    await env.store.transition(JOB, ['backfilling'], { phase: 'cancelled' });
    then(env);
    holdImport.resolve();
    return { env, outcome: await running };
  }

  it('a job that left the backfill during a page import is seen by the next import once a re-read is due', async () => {
    const { env, outcome } = await cancelledDuringFirstImport(({ clock }) => {
      clock.now += JOB_REREAD_MS;
    });
    expect(outcome).toBe('stopped');
    // Page 2's import re-reads the job (a re-read is due) and sees the cancel, so nothing after page 2
    // is imported (and page 3, read ahead, is dropped).
    expect(env.imported).toEqual([env.ids.slice(0, 2), env.ids.slice(2, 4)]);
  });

  it("a cancel stops the segment at its next import: the job's collection is gone", async () => {
    // As `abandon` does: the phase moves, then the collection is dropped. No re-read is due.
    const { env, outcome } = await cancelledDuringFirstImport(({ collection }) => {
      collection.gone = true;
    });
    expect(outcome).toBe('stopped');
    expect(env.imported).toEqual([env.ids.slice(0, 2)]);
  });

  it('re-reads the job at most every JOB_REREAD_MS, not at every page (bench P4)', async () => {
    const env = await setup(10);
    const getJob = env.store.getJob.bind(env.store);
    let reads = 0;
    env.store.getJob = async (jobId) => {
      reads++;
      return getJob(jobId);
    };
    expect(await env.segment()).toBe('segment-done');
    // 5 pages within one moment: only the task's own read at its start.
    expect(env.imported).toHaveLength(5);
    expect(reads).toBe(1);
  });
});

describe('checkpoints at most every CHECKPOINT_EVERY_MS (bench P4)', () => {
  /** The segment's page counts as its checkpoints are written; `failAt` makes that one's write die. */
  function recordCheckpoints(env: Awaited<ReturnType<typeof setup>>, failAt?: number) {
    const putSegment = env.store.putSegment.bind(env.store);
    const written: number[] = [];
    env.store.putSegment = async (jobId, state, previousPages) => {
      if (state.pages === failAt) throw new Error('task died');
      written.push(state.pages);
      return putSegment(jobId, state, previousPages);
    };
    return written;
  }

  it('writes one after the first page, then when one is due, and after the last page', async () => {
    const still = await setup(10);
    const writtenStill = recordCheckpoints(still);
    expect(await still.segment()).toBe('segment-done');
    expect(writtenStill).toEqual([1, 5]);

    // Pages half an interval apart: every other page.
    const paced = await setup(10, { importMs: CHECKPOINT_EVERY_MS / 2 });
    const writtenPaced = recordCheckpoints(paced);
    expect(await paced.segment()).toBe('segment-done');
    expect(writtenPaced).toEqual([1, 3, 5]);
    expect(await paced.store.getSegment(JOB, 0)).toMatchObject({
      done: true,
      pages: 5,
      scanned: 10,
      indexed: 10,
    });
  });

  it.each([
    {
      crash: 'at page 2, each page checkpointed (imports an interval apart)',
      items: 6,
      importMs: CHECKPOINT_EVERY_MS,
      failAt: 2,
    },
    { crash: 'after page 5, pages 2 to 5 within one interval', items: 10, importMs: 0, failAt: 5 },
  ])(
    'a crash before a checkpoint ($crash) re-runs every page since the one before, and counts none twice',
    async ({ items, importMs, failAt }) => {
      const env = await setup(items, { importMs });
      const putSegment = env.store.putSegment;
      recordCheckpoints(env, failAt);
      await expect(env.segment()).rejects.toThrow('task died');
      expect(env.imported.flat()).toEqual(expect.arrayContaining(env.ids.slice(0, 2 * failAt)));
      expect(await env.store.getSegment(JOB, 0)).toMatchObject({
        pages: 1,
        lastKey: { pk: { S: env.ids[1] } },
      });

      // The redelivered task starts where the last checkpoint says: page 2 again, and imports the rest once.
      env.store.putSegment = putSegment;
      const before = env.imported.length;
      env.scanStarts.splice(0);
      expect(await env.segment()).toBe('segment-done');
      expect(env.scanStarts[0]).toBe(env.ids[1]);
      expect(env.imported.slice(before).flat()).toEqual(env.ids.slice(2));
      expect(await env.store.getSegment(JOB, 0)).toMatchObject({
        done: true,
        pages: items / 2,
        scanned: items,
        indexed: items,
      });
    },
  );

  it("clears each page's fixed rejections by that page's scan time, in one call for the pages of a checkpoint", async () => {
    // Scans 10 ms apart: page n is scanned at T + 10 (n - 1); every page within one interval.
    const env = await setup(6, { scanMs: 10 });
    const t = env.clock.now;
    await env.store.recordRejections(JOB, [
      { id: env.ids[0] as string, reason: 'after page 1 was scanned', at: t + 5 },
      { id: env.ids[2] as string, reason: 'before page 2 was scanned', at: t + 5 },
      { id: env.ids[3] as string, reason: 'after page 2 was scanned', at: t + 15 },
      { id: env.ids[4] as string, reason: 'before page 3 was scanned', at: t + 15 },
    ]);
    expect(await env.segment()).toBe('segment-done');
    // A rejection recorded after its page was scanned may be of a state the scan did not see: it stays.
    expect((await env.store.listRejections(JOB, 10)).map(({ id }) => id).sort()).toEqual([
      env.ids[0],
      env.ids[3],
    ]);
    expect(env.events.filter((event) => event.startsWith('clear') && event.endsWith('start'))).toEqual([
      'clear 1 start',
      'clear 2,3 start',
    ]);
  });
});

describe('a page read ahead that a hand-on drops', () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.splice(0);
    process.on('unhandledRejection', record);
  });
  afterEach(() => {
    process.off('unhandledRejection', record);
  });

  it('fails later without an unhandled rejection, and the next task reads that page again', async () => {
    const env = await setup(6);
    const sent: unknown[] = [];
    env.ports.sendTasks = async (tasks) => {
      sent.push(...tasks);
    };
    // Time runs low once page 1 is imported; page 2's scan, read ahead, is still running then.
    env.ports.remainingTimeMs = () => (env.imported.length < 1 ? 300_000 : TASK_RESERVE_MS - 1);
    const holdScan = deferred();
    let scans = 0;
    const scanPage = env.ports.scanPage.bind(env.ports);
    env.ports.scanPage = async (...args) => {
      if (++scans === 2) await holdScan.promise;
      return scanPage(...args);
    };
    expect(await env.segment()).toBe('continued');
    expect(scans).toBe(2);
    expect(sent).toEqual([{ action: 'segment', jobId: JOB, segment: 0 }]);
    holdScan.reject(new Error('ProvisionedThroughputExceededException'));
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(unhandled).toEqual([]);
    expect(await env.store.getSegment(JOB, 0)).toMatchObject({
      pages: 1,
      lastKey: { pk: { S: env.ids[1] } },
    });
  });
});
