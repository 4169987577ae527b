import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  finishResync,
  type ResyncOptions,
  type ResyncPorts,
  resyncProgress,
  runResyncTask,
  runSegment,
  startResync,
} from '../../functions/core/resync.ts';
import type { Transform } from '../../functions/core/transform.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

/* The re-sync with the app's transform: its documents go in, its nulls are skipped and counted. */

const API_KEY = 'resync-transform-key';
const suite = typesenseSuite(API_KEY);
let run = 0;

type Item = Record<string, AttributeValue>;
const item = (id: string, title: string): Item => ({ pk: { S: id }, title: { S: title } });

/** Drafts are not indexed; the others get a lower-cased title; "boom" is a bug in the app. */
const transform: Transform = (document) => {
  if (document.title === 'boom') throw new Error('cannot lower-case boom');
  if (String(document.title).startsWith('draft')) return null;
  return { ...document, title_lower: String(document.title).toLowerCase() };
};

/** A fresh alias on `<alias>_v1`; 12 published items and 8 drafts in the table. */
async function setup() {
  const alias = `transformed${++run}`;
  await suite.typesense.createCollection({
    name: `${alias}_v1`,
    fields: [{ name: 'title', type: 'string' }],
  });
  await suite.typesense.upsertAlias(alias, `${alias}_v1`);
  const fakes = memoryResyncPorts(suite.typesense as unknown as ResyncPorts['typesense']);
  for (let n = 0; n < 20; n++)
    fakes.table.set(`k-${n}`, item(`k-${n}`, n < 12 ? `Title ${n}` : `draft ${n}`));
  const options: ResyncOptions = {
    alias,
    keyAttributes: ['pk'],
    transform,
    totalSegments: 2,
    pageSize: 3,
    pagesPerTask: 1_000,
    keepCollections: 2,
  };
  const started = async () => {
    const result = await startResync('operator', fakes.ports, options);
    if (!('started' in result)) throw new Error('not started');
    return result.started;
  };
  const runAll = async () => {
    for (let next = fakes.tasks.shift(); next !== undefined; next = fakes.tasks.shift())
      await runResyncTask(next.task, fakes.ports, options);
  };
  return { ...fakes, alias, options, started, runAll };
}

describe('re-sync with a transform', () => {
  it("imports the transform's documents, and skips and counts the items it answers null for", async () => {
    const env = await setup();
    const job = await env.started();
    await env.runAll();
    expect((await suite.typesense.getAlias(env.alias))?.collection_name).toBe(job.collection);
    const documents = await suite.typesense.exportDocuments(job.collection);
    expect(documents.map(({ id }) => String(id)).sort()).toEqual(
      Array.from({ length: 12 }, (_, n) => `k-${n}`).sort(),
    );
    expect(documents.find(({ id }) => id === 'k-3')).toMatchObject({
      title: 'Title 3',
      title_lower: 'title 3',
    });
    expect(await resyncProgress(env.store, 0)).toMatchObject({ scanned: 20, indexed: 12, filtered: 8 });
  });

  it('an item the transform stopped indexing during the backfill is re-applied before the swap when the backfill put it back', async () => {
    const env = await setup();
    const job = await env.started();
    for (const { task } of env.tasks.splice(0))
      while (
        (await runSegment(task as { jobId: string; segment: number }, env.ports, env.options)) === 'continued'
      );
    env.tasks.splice(0);
    // The writer saw k-1 become a draft and deleted (and tombstoned) it after the backfill copied it.
    env.table.set('k-1', item('k-1', 'draft now'));
    await env.store.recordDeletes(job.jobId, [{ id: 'k-1', key: { pk: { S: 'k-1' } } }]);
    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('waiting');
    expect(env.enqueued).toEqual([{ pk: { S: 'k-1' } }]);
  });

  it('refuses an item the transform throws for, naming its id and the message, and does not swap', async () => {
    const env = await setup();
    env.table.set('k-5', item('k-5', 'boom'));
    const job = await env.started();
    await env.runAll();
    expect((await suite.typesense.getAlias(env.alias))?.collection_name).toBe(`${env.alias}_v1`);
    const stored = await env.store.getJob(job.jobId);
    expect(stored?.phase).toBe('failed');
    expect(JSON.stringify(stored)).toContain('k-5');
    expect(JSON.stringify(stored)).toContain('transform threw: cannot lower-case boom');
    expect(stored?.message).toMatch(
      /^1 item of one page was refused: 1 transform-error \(refused by the transform\); first: k-5: /,
    );
  });
});
