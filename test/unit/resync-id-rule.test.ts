import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  finishResync,
  type ResyncOptions,
  type ResyncPorts,
  runResyncTask,
  runSegment,
  startResync,
} from '../../functions/core/resync.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

/* The re-sync with an id rule (projection.id): documents named by the rule, collisions refused by name. */

const API_KEY = 'resync-id-rule-key';
const suite = typesenseSuite(API_KEY);
let run = 0;

type Item = Record<string, AttributeValue>;
const customer = (pk: string): Item => ({ pk: { S: pk }, name: { S: `name of ${pk}` } });

async function setup(pks: readonly string[]) {
  const alias = `customers${++run}`;
  await suite.typesense.createCollection({ name: `${alias}_v1`, fields: [{ name: 'name', type: 'string' }] });
  await suite.typesense.upsertAlias(alias, `${alias}_v1`);
  const fakes = memoryResyncPorts(suite.typesense as unknown as ResyncPorts['typesense']);
  for (const pk of pks) fakes.table.set(pk, customer(pk));
  const options: ResyncOptions = {
    alias,
    keyAttributes: ['pk'],
    projection: { id: { stripPrefix: { pk: 'CUSTOMER#' } } },
    totalSegments: 1,
    pageSize: 100,
    pagesPerTask: 1_000,
    keepCollections: 2,
  };
  const result = await startResync('operator', fakes.ports, options);
  if (!('started' in result)) throw new Error('not started');
  const ids = async (collection: string) =>
    (await suite.typesense.exportDocuments(collection)).map(({ id }) => String(id)).sort();
  return { ...fakes, alias, options, job: result.started, ids };
}

describe('re-sync with an id rule', () => {
  it('names every document by the rule, and re-checks a tombstone by the id the writer recorded', async () => {
    const env = await setup(['CUSTOMER#1', 'CUSTOMER#2', '3']);
    for (const { task } of env.tasks.splice(0))
      while (
        (await runSegment(task as { jobId: string; segment: number }, env.ports, env.options)) === 'continued'
      );
    env.tasks.splice(0);
    expect(await env.ids(env.job.collection)).toEqual(['1', '2', '3']);
    // The writer deleted CUSTOMER#2 (tombstoned under its document id) before the backfill's copy landed.
    env.table.delete('CUSTOMER#2');
    await env.store.recordDeletes(env.job.jobId, [{ id: '2', key: { pk: { S: 'CUSTOMER#2' } } }]);
    expect(await finishResync(env.job.jobId, env.ports, env.options)).toBe('waiting');
    expect(env.enqueued).toEqual([{ pk: { S: 'CUSTOMER#2' } }]);
  });

  it('fails the job on two keys with one document id, naming both keys, as it does on a refused item', async () => {
    const env = await setup(['CUSTOMER#7', '7', 'CUSTOMER#8']);
    for (let next = env.tasks.shift(); next !== undefined; next = env.tasks.shift())
      await runResyncTask(next.task, env.ports, env.options);
    const job = await env.store.getJob(env.job.jobId);
    expect(job?.phase).toBe('failed');
    // The message names the collision, not the collection schema.
    expect(job?.message).toMatch(
      /^1 item of one page was refused: 1 id-collision \(keys with one document id under projection\.id\); first: 7: keys '(CUSTOMER#7|7)' and '(CUSTOMER#7|7)' have the same document id '7' \(projection\.id\)/,
    );
    expect(await env.store.listRejections(env.job.jobId, 10)).toEqual([
      { id: '7', reason: expect.stringContaining("have the same document id '7'") },
    ]);
    // The alias stays on the collection it had.
    expect((await suite.typesense.getAlias(env.alias))?.collection_name).toBe(`${env.alias}_v1`);
  });
  it('counts a page of mixed rejections per kind: the collision apart from what Typesense refused', async () => {
    const env = await setup(['CUSTOMER#7', '7', 'CUSTOMER#8']);
    env.table.set('CUSTOMER#9', { pk: { S: 'CUSTOMER#9' }, name: { N: '9' } });
    env.table.set('CUSTOMER#10', { pk: { S: 'CUSTOMER#10' }, name: { N: '10' } });
    for (let next = env.tasks.shift(); next !== undefined; next = env.tasks.shift())
      await runResyncTask(next.task, env.ports, env.options);
    const job = await env.store.getJob(env.job.jobId);
    expect(job?.phase).toBe('failed');
    expect(job?.message).toMatch(
      /^3 items of one page were refused: 1 id-collision \(keys with one document id under projection\.id\), 2 Typesense 400 \(does not fit the collection schema\); first: 7: keys /,
    );
  });
});
