import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { PROGRESS_EVERY_MS } from '../../functions/core/resync/backfill.ts';
import {
  cancelResync,
  finishResync,
  RECHECK_CHUNK,
  type ResyncOptions,
  type ResyncPorts,
  resyncProgress,
  rollbackResync,
  runResyncTask,
  runSegment,
  startResync,
  TASK_RESERVE_MS,
} from '../../functions/core/resync.ts';
import { TypesenseHttpError } from '../../functions/shared/typesense.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

/*
 * The re-sync must never stall silently: cancel works in every phase, the finisher's re-check is
 * chunked, parallel, resumable and time-bounded, segments hand on by remaining time and ride out
 * transient failures, fixed rejections do not fail the job, and rollback targets are never pruned.
 */

const API_KEY = 'resync-stalls-key';
const suite = typesenseSuite(API_KEY);
let run = 0;

type Item = Record<string, AttributeValue>;
const item = (id: string, price: AttributeValue = { N: '9.5' }): Item => ({
  pk: { S: id },
  name: { S: `name of ${id}` },
  price,
});

async function setup(items: number, overrides: Partial<ResyncOptions> = {}) {
  const alias = `stalls${++run}`;
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
  const slept: number[] = [];
  fakes.ports.sleep = async (ms) => {
    slept.push(ms);
  };
  for (let n = 0; n < items; n++) fakes.table.set(`p-${n}`, item(`p-${n}`));
  const options: ResyncOptions = {
    alias,
    keyAttributes: ['pk'],
    totalSegments: 1,
    pageSize: 4,
    pagesPerTask: 1_000,
    keepCollections: 2,
    ...overrides,
  };
  const drain = async () => {
    const outcomes: string[] = [];
    for (let next = fakes.tasks.shift(); next !== undefined; next = fakes.tasks.shift())
      outcomes.push(await runResyncTask(next.task, fakes.ports, options));
    return outcomes;
  };
  const started = async () => {
    const result = await startResync('operator', fakes.ports, options);
    if (!('started' in result)) throw new Error('not started');
    return result.started;
  };
  const live = async () => (await suite.typesense.getAlias(alias))?.collection_name;
  const tick = (ms = 1_000) => {
    clock += ms;
  };
  return { ...fakes, alias, options, drain, started, live, tick, slept, now: () => clock };
}

/** Runs the segments to their end without running the finish task they queue. */
async function backfill(env: Awaited<ReturnType<typeof setup>>) {
  const segments = env.tasks.splice(0).map(({ task }) => task as { jobId: string; segment: number });
  for (const task of segments) while ((await runSegment(task, env.ports, env.options)) === 'continued');
  env.tasks.splice(0);
}

describe('resync cancel in every unfinished phase', () => {
  it('cancels a finishing job: the pointer is released and a later finish task never swaps', async () => {
    const env = await setup(6);
    const job = await env.started();
    await backfill(env);
    // A tombstoned key is back in the new collection: the finisher waits in `finishing` for its fix.
    env.table.delete('p-1');
    await env.store.recordDeletes(job.jobId, [{ id: 'p-1', key: { pk: { S: 'p-1' } } }]);
    await suite.typesense.importDocuments(
      job.collection,
      [JSON.stringify({ id: 'p-1', name: 'x', price: 1 })],
      'upsert',
    );
    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('waiting');
    expect((await env.store.getJob(job.jobId))?.phase).toBe('finishing');

    const cancelled = await cancelResync(env.ports);
    expect(cancelled).toMatchObject({ action: 'cancelled', job: { phase: 'cancelled' } });
    expect(await env.store.active()).toBeUndefined();
    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('stopped');
    expect(await env.live()).toBe(`${env.alias}_v1`);
    expect(await suite.typesense.getCollection(job.collection)).toBeUndefined();
  });

  it('releases a pointer left behind by a job that is already done, and a new re-sync can start', async () => {
    const env = await setup(3);
    const job = await env.started();
    await env.drain();
    expect((await env.store.getJob(job.jobId))?.phase).toBe('done');
    // A crash between marking the job done and releasing the pointer leaves it held.
    await env.store.claim({ jobId: job.jobId, collection: job.collection });
    env.tick();
    expect(await startResync('schedule', env.ports, env.options)).toEqual({ running: expect.anything() });
    // Not silent: status names the leak and its age counts, so the stall alarm sees it.
    const leaked = await resyncProgress(env.store, env.now() + 60_000);
    expect(leaked?.waitingFor).toBe('ended (done) but still holds the active pointer: run resync cancel');
    expect(leaked?.progressAgeMs).toBe(env.now() + 60_000 - (leaked?.job.lastProgressAt as number));

    const released = await cancelResync(env.ports);
    expect(released).toMatchObject({ action: 'released', job: { jobId: job.jobId, phase: 'done' } });
    expect(await env.store.active()).toBeUndefined();
    // A done job's collection is the live one: it stays.
    expect(await env.live()).toBe(job.collection);
    expect(await suite.typesense.getCollection(job.collection)).toBeDefined();
    env.tick();
    expect(await startResync('schedule', env.ports, env.options)).toHaveProperty('started');
  });

  it('a swap claimed by a finisher that died is cancelled once its lease is over; the alias never moves', async () => {
    const env = await setup(3);
    const job = await env.started();
    await backfill(env);
    await env.store.transition(job.jobId, ['backfilling'], { phase: 'swapping', updatedAt: env.now() });
    await expect(cancelResync(env.ports)).rejects.toThrow(/is swapping the alias right now/);
    env.tick(61_000);
    expect(await cancelResync(env.ports)).toMatchObject({ action: 'cancelled', job: { phase: 'cancelled' } });
    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('stopped');
    expect(await env.live()).toBe(`${env.alias}_v1`);
  });
});

describe('cancel racing a finisher', () => {
  it('a settings copy that outlasts the lease: the finisher renews its claim before the swap, so a cancel cannot slip in', async () => {
    const env = await setup(3);
    const job = await env.started();
    await backfill(env);
    const real = env.ports.typesense;
    let cancel: Promise<unknown> | undefined;
    // The client's methods live on its prototype: keep them, replace two.
    env.ports.typesense = Object.assign(Object.create(real) as ResyncPorts['typesense'], {
      // v27-v29 copy rule by rule: a long copy outlasts the 60 s swap lease.
      copySearchSettings: async () => {
        env.tick(61_000);
        return { synonyms: 0, overrides: 0, setReferences: [] };
      },
      // An operator's cancel lands between the finisher's last look and its alias update.
      upsertAlias: async (alias: string, collection: string) => {
        cancel ??= cancelResync(env.ports).catch((error: unknown) => error);
        await cancel;
        return real.upsertAlias(alias, collection);
      },
    });
    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('swapped');
    expect(await cancel).toMatchObject({ message: expect.stringMatching(/is swapping the alias right now/) });
    expect((await env.store.getJob(job.jobId))?.phase).toBe('done');
    expect(await env.live()).toBe(job.collection);
  });

  it.each([0, 1, 2, 3])(
    'whichever conditional write lands first wins; a cancelled job never moves the alias (delay %i)',
    async (delay) => {
      const env = await setup(3);
      const job = await env.started();
      await backfill(env);
      const late = async <T>(run: () => Promise<T>) => {
        for (let i = 0; i < delay; i++) await Promise.resolve();
        return run();
      };
      const [cancelled, finished] = await Promise.allSettled([
        late(() => cancelResync(env.ports)),
        finishResync(job.jobId, env.ports, env.options),
      ]);
      const phase = (await env.store.getJob(job.jobId))?.phase;
      expect(['cancelled', 'done']).toContain(phase);
      if (phase === 'cancelled') {
        expect(cancelled).toMatchObject({ status: 'fulfilled', value: { action: 'cancelled' } });
        expect(finished).toMatchObject({ status: 'fulfilled', value: 'stopped' });
        expect(await env.live()).toBe(`${env.alias}_v1`);
      } else {
        expect(finished).toMatchObject({ status: 'fulfilled', value: 'swapped' });
        expect(await env.live()).toBe(job.collection);
      }
      expect(await env.store.active()).toBeUndefined();
    },
  );
});

describe("the finisher's re-check of deleted keys", () => {
  it('checks the tombstones in parallel chunks, saves its progress and hands on when time runs out', async () => {
    const env = await setup(0);
    const job = await env.started();
    await backfill(env);
    const tombstones = Array.from({ length: RECHECK_CHUNK * 2 + 50 }, (_, n) => {
      const id = `gone-${String(n).padStart(4, '0')}`;
      return { id, key: { pk: { S: id } } };
    });
    await env.store.recordDeletes(job.jobId, tombstones);
    // Three of them are back in the new collection (an older copy imported after the delete).
    const back = [tombstones[5], tombstones[RECHECK_CHUNK + 7], tombstones[RECHECK_CHUNK * 2 + 3]].map(
      (tombstone) => tombstone?.id as string,
    );
    await suite.typesense.importDocuments(
      job.collection,
      back.map((id) => JSON.stringify({ id, name: id, price: 1 })),
      'upsert',
    );
    let inFlight = 0;
    let maxInFlight = 0;
    const looked: string[] = [];
    const getDocument = suite.typesense.getDocument.bind(suite.typesense);
    env.ports.typesense = Object.assign(Object.create(suite.typesense), {
      async getDocument(collection: string, id: string) {
        looked.push(id);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
        return getDocument(collection, id);
      },
    }) as ResyncPorts['typesense'];
    // Time for one chunk in this invocation, then the reserve is reached.
    let chunks = 0;
    env.ports.remainingTimeMs = () => (chunks++ < 1 ? 300_000 : TASK_RESERVE_MS - 1);

    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('continued');
    expect(env.tasks).toEqual([{ task: { action: 'finish', jobId: job.jobId }, delaySeconds: undefined }]);
    const saved = (await env.store.getJob(job.jobId))?.recheck;
    expect(saved).toMatchObject({ pass: 1, checked: RECHECK_CHUNK, total: tombstones.length, found: 1 });
    expect(looked).toHaveLength(RECHECK_CHUNK);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(16);
    const progress = await resyncProgress(env.store, env.now());
    expect(progress?.waitingFor).toBe(`re-checking ${RECHECK_CHUNK}/${tombstones.length} deleted keys`);

    // The follow-up task resumes after the saved chunk: no key is looked up twice.
    env.tasks.splice(0);
    env.ports.remainingTimeMs = () => 300_000;
    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('waiting');
    expect(new Set(looked).size).toBe(tombstones.length);
    expect(looked).toHaveLength(tombstones.length);
    expect(env.enqueued.map((key) => key.pk?.S).sort()).toEqual([...back].sort());
  });
});

describe('backfill segments', () => {
  it('bounds each page import by what remains of the invocation, less half the reserve', async () => {
    const env = await setup(3);
    await env.started();
    const real = env.ports.typesense;
    const bounds: unknown[] = [];
    env.ports.typesense = Object.assign(Object.create(real) as ResyncPorts['typesense'], {
      importDocuments: (
        collection: string,
        lines: string[],
        action: 'create',
        call?: { timeoutMs?: number },
      ) => {
        bounds.push(call?.timeoutMs);
        return real.importDocuments(collection, lines, action);
      },
    });
    env.ports.remainingTimeMs = () => 45_000;
    await backfill(env);
    expect(bounds.length).toBeGreaterThan(0);
    expect(new Set(bounds)).toEqual(new Set([45_000 - TASK_RESERVE_MS / 2]));
  });

  it('hand on to a fresh task by remaining time, not only by page count', async () => {
    const env = await setup(20);
    const job = await env.started();
    env.tasks.splice(0);
    // Time runs low once two pages are imported.
    let pages = 0;
    const real = env.ports.typesense;
    env.ports.typesense = Object.assign(Object.create(real) as ResyncPorts['typesense'], {
      importDocuments: (collection: string, lines: string[], action: 'create') => {
        pages++;
        return real.importDocuments(collection, lines, action);
      },
    });
    env.ports.remainingTimeMs = () => (pages < 2 ? 300_000 : TASK_RESERVE_MS - 1);
    expect(await runSegment({ jobId: job.jobId, segment: 0 }, env.ports, env.options)).toBe('continued');
    expect(env.tasks).toEqual([
      { task: { action: 'segment', jobId: job.jobId, segment: 0 }, delaySeconds: undefined },
    ]);
    expect((await env.store.getSegment(job.jobId, 0))?.pages).toBe(2);
  });

  it('retry 503/429 lines, network errors and 422 out-of-resource inside the task, with backoff', async () => {
    const env = await setup(8);
    const job = await env.started();
    env.tasks.splice(0);
    const importDocuments = suite.typesense.importDocuments.bind(suite.typesense);
    const faults: (() => never | 'lines')[] = [
      () => 'lines',
      () => {
        throw new TypesenseHttpError(
          422,
          'Rejecting write: running out of resource type: OUT_OF_MEMORY',
          'POST',
          '/x',
        );
      },
      () => {
        throw Object.assign(new Error('socket hang up'), { retryable: true });
      },
    ];
    let calls = 0;
    env.ports.typesense = Object.assign(Object.create(suite.typesense), {
      async importDocuments(collection: string, lines: string[], action: 'create') {
        calls++;
        const fault = faults.shift();
        if (fault?.() === 'lines') {
          // The first line goes in; the others answer back-pressure.
          const [first] = await importDocuments(collection, lines.slice(0, 1), action);
          return [
            first,
            ...lines.slice(1).map(() => ({ success: false, code: 503, error: 'Not Ready or Lagging' })),
          ];
        }
        return importDocuments(collection, lines, action);
      },
    }) as ResyncPorts['typesense'];
    expect(await runSegment({ jobId: job.jobId, segment: 0 }, env.ports, env.options)).toBe('segment-done');
    expect(calls).toBeGreaterThan(4);
    expect(env.slept.length).toBeGreaterThanOrEqual(3);
    expect(env.slept[1]).toBeGreaterThan(0);
    // Every item indexed exactly once: the retry sent only the lines that had not gone in.
    expect(await resyncProgress(env.store, env.now())).toMatchObject({ scanned: 8, indexed: 8, skipped: 0 });
  });
});

describe('rejections fixed during the re-sync', () => {
  it('a later successful import of the same id by the backfill clears the rejection; the job swaps', async () => {
    const env = await setup(4);
    const job = await env.started();
    // The writer's import of an earlier state of p-2 was rejected by the new collection...
    await env.store.recordRejections(job.jobId, [{ id: 'p-2', reason: '400: bad price', at: env.now() }]);
    env.tick();
    // ...and the application fixed the item before the backfill scanned it.
    expect(await env.drain()).toContain('swapped');
    expect(await env.live()).toBe(job.collection);
    expect(await env.store.listRejections(job.jobId, 10)).toEqual([]);
  });

  it('a rejection recorded after the page was scanned is kept and fails the job', async () => {
    const env = await setup(4);
    const job = await env.started();
    await env.store.recordRejections(job.jobId, [
      { id: 'p-2', reason: '400: bad price', at: env.now() + 60_000 },
    ]);
    expect(await env.drain()).toContain('failed');
    expect((await env.store.getJob(job.jobId))?.message).toContain('p-2: 400: bad price');
  });
});

describe('pruning', () => {
  it("never drops a done job's previous collection: a rollback after earlier rollbacks still works", async () => {
    const env = await setup(2, { keepCollections: 1 });
    const run1 = await env.started();
    await env.drain();
    env.tick();
    const run2 = await env.started();
    await env.drain();
    await rollbackResync(env.ports, env.alias); // Back on run1's collection.
    env.tick();
    const run3 = await env.started();
    await env.drain();
    expect(await env.live()).toBe(run3.collection);
    expect((await env.store.getJob(run3.jobId))?.previous).toBe(run1.collection);
    expect(await suite.typesense.getCollection(run1.collection)).toBeDefined();
    await rollbackResync(env.ports, env.alias);
    expect(await env.live()).toBe(run1.collection);
    expect(run2.collection).not.toBe(run1.collection);
  });
});

describe('progress', () => {
  it('a start delivered twice: status shows the job that runs, not the duplicate that lost the claim', async () => {
    const env = await setup(3);
    let clock = env.now();
    env.ports.now = () => {
      clock += 1_000;
      return clock;
    };
    const [first, second] = await Promise.all([
      startResync('operator', env.ports, env.options),
      startResync('operator', env.ports, env.options),
    ]);
    const winner = 'started' in first ? first.started : (second as { started: { jobId: string } }).started;
    const jobs = await env.store.latestJobs(5);
    expect(jobs.map((job) => job.phase).sort()).toEqual(['backfilling', 'cancelled']);
    await env.drain();
    const progress = await resyncProgress(env.store, clock);
    expect(progress?.job).toMatchObject({ jobId: winner.jobId, phase: 'done' });
  });

  it('records lastProgressAt at a task’s first page and says what a running job waits for', async () => {
    const env = await setup(12);
    const job = await env.started();
    env.tasks.splice(0);
    env.tick(5_000);
    let pages = 0;
    env.ports.remainingTimeMs = () => (pages++ < 1 ? 300_000 : 0);
    await runSegment({ jobId: job.jobId, segment: 0 }, env.ports, env.options);
    const pageAt = env.now();
    env.tick(7_000);
    const progress = await resyncProgress(env.store, env.now());
    expect(progress?.job.lastProgressAt).toBe(pageAt);
    expect(progress?.progressAgeMs).toBe(7_000);
    expect(progress?.waitingFor).toBe('segments 0/1 backfilling');
  });

  it('refreshes lastProgressAt at most every PROGRESS_EVERY_MS and at the segment’s last page, not at every page', async () => {
    const env = await setup(40);
    const job = await env.started();
    env.tasks.splice(0);
    const { store } = env.ports;
    const transition = store.transition.bind(store);
    const recorded: number[] = [];
    store.transition = async (...args: Parameters<typeof transition>) => {
      const progressAt = args[2].lastProgressAt;
      if (progressAt !== undefined && args[1].includes('backfilling')) recorded.push(progressAt);
      return transition(...args);
    };
    // Each page's scan takes 2 s of the clock: 10 pages of 4 items.
    const scanPage = env.ports.scanPage;
    env.ports.scanPage = async (...args: Parameters<typeof scanPage>) => {
      env.tick(2_000);
      return scanPage(...args);
    };
    expect(await runSegment({ jobId: job.jobId, segment: 0 }, env.ports, env.options)).toBe('segment-done');
    expect(recorded.length).toBeGreaterThan(2);
    expect(recorded.length).toBeLessThan(10);
    // Apart from the last page's, each refresh comes PROGRESS_EVERY_MS or more after the one before.
    for (let n = 1; n < recorded.length - 1; n++)
      expect((recorded[n] as number) - (recorded[n - 1] as number)).toBeGreaterThanOrEqual(PROGRESS_EVERY_MS);
    expect((await env.store.getJob(job.jobId))?.lastProgressAt).toBe(recorded.at(-1));
    expect(recorded.at(-1)).toBe(env.now());
  });
});
