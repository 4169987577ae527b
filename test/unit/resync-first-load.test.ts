import { describe, expect, it } from 'vitest';
import {
  type ResyncOptions,
  type ResyncPorts,
  resyncProgress,
  runResyncTask,
  startResync,
} from '../../functions/core/resync.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

/* The first load (issue 19): a re-sync started without an alias, with a schema, creates the alias. */

const API_KEY = 'first-load-key';
const suite = typesenseSuite(API_KEY);

const schema = {
  fields: [
    { name: 'name', type: 'string' },
    { name: 'price', type: 'float' },
  ],
};

describe('first load', () => {
  it('builds the first collection from the schema; its swap creates the alias', async () => {
    const fakes = memoryResyncPorts(suite.typesense as unknown as ResyncPorts['typesense']);
    for (let n = 0; n < 12; n++)
      fakes.table.set(`p-${n}`, { pk: { S: `p-${n}` }, name: { S: `n${n}` }, price: { N: '1.5' } });
    const options: ResyncOptions = {
      alias: 'fresh',
      keyAttributes: ['pk'],
      schema,
      totalSegments: 2,
      pageSize: 5,
      pagesPerTask: 2,
      keepCollections: 2,
    };
    const result = await startResync('deploy', fakes.ports, options);
    if (!('started' in result)) throw new Error('not started');
    const { jobId, collection } = result.started;
    expect(result.started).toMatchObject({ trigger: 'deploy', firstLoad: true });
    // The writer reads this pointer: it writes into the new collection only while it says firstLoad.
    expect(await fakes.store.active()).toEqual({ jobId, collection, firstLoad: true });
    expect(await suite.typesense.getAlias('fresh')).toBeUndefined();

    for (let next = fakes.tasks.shift(); next !== undefined; next = fakes.tasks.shift())
      await runResyncTask(next.task, fakes.ports, options);
    expect((await suite.typesense.getAlias('fresh'))?.collection_name).toBe(collection);
    expect((await suite.typesense.getCollection(collection))?.num_documents).toBe(12);
    const progress = await resyncProgress(fakes.store, 0);
    expect(progress?.job).toMatchObject({ phase: 'done', firstLoad: true });
    expect(progress?.job.previous).toBeUndefined();
    expect(await fakes.store.active()).toBeUndefined();
  });
});
