import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { ItemFilter } from '../../functions/contract/projection.ts';
import { CANARY_KEY_VALUE, canaryItem } from '../../functions/core/canary.ts';
import {
  finishResync,
  type ResyncOptions,
  type ResyncPorts,
  resyncProgress,
  runResyncTask,
  runSegment,
  startResync,
} from '../../functions/core/resync.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

/* The re-sync with a projection filter: only matching items go into the new collection. */

const API_KEY = 'resync-filter-key';
const suite = typesenseSuite(API_KEY);
let run = 0;

type Item = Record<string, AttributeValue>;
const ORDERS: ItemFilter = { attribute: 'type', equals: 'order' };
const item = (id: string, type: string): Item => ({ pk: { S: id }, type: { S: type } });

/** A fresh alias on `<alias>_v1`; 12 orders and 8 customers (and the canary) in the table. */
async function setup() {
  const alias = `filtered${++run}`;
  await suite.typesense.createCollection({ name: `${alias}_v1`, fields: [{ name: 'type', type: 'string' }] });
  await suite.typesense.upsertAlias(alias, `${alias}_v1`);
  const fakes = memoryResyncPorts(suite.typesense as unknown as ResyncPorts['typesense']);
  for (let n = 0; n < 20; n++) fakes.table.set(`k-${n}`, item(`k-${n}`, n < 12 ? 'order' : 'customer'));
  fakes.table.set(CANARY_KEY_VALUE, canaryItem(['pk'], 1_795_000_000_000));
  const options: ResyncOptions = {
    alias,
    keyAttributes: ['pk'],
    projection: { filter: ORDERS },
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
  const ids = async (collection: string) =>
    (await suite.typesense.exportDocuments(collection)).map(({ id }) => String(id)).sort();
  return { ...fakes, alias, options, started, ids };
}

describe('re-sync with a projection filter', () => {
  it('imports only the matching items and counts the others as filtered', async () => {
    const env = await setup();
    const job = await env.started();
    for (let next = env.tasks.shift(); next !== undefined; next = env.tasks.shift())
      await runResyncTask(next.task, env.ports, env.options);
    expect((await suite.typesense.getAlias(env.alias))?.collection_name).toBe(job.collection);
    expect(await env.ids(job.collection)).toEqual(Array.from({ length: 12 }, (_, n) => `k-${n}`).sort());
    expect(await resyncProgress(env.store, 0)).toMatchObject({ scanned: 20, indexed: 12, filtered: 8 });
  });

  it('an item that stopped matching during the backfill is re-applied before the swap when the backfill put it back', async () => {
    const env = await setup();
    const job = await env.started();
    for (const { task } of env.tasks.splice(0))
      while (
        (await runSegment(task as { jobId: string; segment: number }, env.ports, env.options)) === 'continued'
      );
    env.tasks.splice(0);
    // The writer saw k-1 become a customer and deleted (and tombstoned) it before the backfill's older
    // copy of it landed: the new collection holds a document the table no longer asks for.
    env.table.set('k-1', item('k-1', 'customer'));
    await env.store.recordDeletes(job.jobId, [{ id: 'k-1', key: { pk: { S: 'k-1' } } }]);
    expect(await env.ids(job.collection)).toContain('k-1');
    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('waiting');
    expect(env.enqueued).toEqual([{ pk: { S: 'k-1' } }]);
  });
});
