import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { aggregationOf } from '../../functions/core/aggregate.ts';
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

/*
 * The re-sync of an aggregated index. The in-memory table is scanned by its whole key (partition and sort
 * key), a few items a page, its segments hashed on the whole key: a partition spans pages and segments,
 * as a DynamoDB Scan may make it (nothing documents that one partition stays in one page or segment).
 */

const API_KEY = 'resync-aggregate-key';
const suite = typesenseSuite(API_KEY);
let run = 0;

type Item = Record<string, AttributeValue>;
const TABLE_KEY = ['pk', 'sk'];
const aggregation = aggregationOf(TABLE_KEY, {
  parent: { prefix: 'ORDER#' },
  children: { lines: { prefix: 'LINE#' } },
});
const item = (pk: string, sk: string, fields: Item = {}): Item => ({
  pk: { S: pk },
  sk: { S: sk },
  ...fields,
});

async function setup() {
  const alias = `aggregated${++run}`;
  await suite.typesense.createCollection({
    name: `${alias}_v1`,
    fields: [{ name: 'customer', type: 'string' }],
  });
  await suite.typesense.upsertAlias(alias, `${alias}_v1`);
  const fakes = memoryResyncPorts(suite.typesense as unknown as ResyncPorts['typesense']);
  const put = (stored: Item) => fakes.table.set(`${stored.pk?.S}|${stored.sk?.S}`, stored);
  for (let order = 1; order <= 5; order++) {
    put(item(`o${order}`, `ORDER#o${order}`, { customer: { S: `c${order}` } }));
    for (let line = 1; line <= 3; line++)
      put(item(`o${order}`, `LINE#${line}`, { qty: { N: String(line) } }));
  }
  // Lines whose order is gone: no aggregate.
  put(item('o9', 'LINE#1'));
  const ports: ResyncPorts = {
    ...fakes.ports,
    readPartition: async (key, limit) =>
      [...fakes.table.values()]
        .filter((stored) => stored.pk?.S === key.pk?.S)
        .slice(0, limit)
        .map((stored) => structuredClone(stored)),
  };
  const options: ResyncOptions = {
    alias,
    keyAttributes: TABLE_KEY,
    ...(aggregation && { aggregation }),
    totalSegments: 3,
    pageSize: 2,
    pagesPerTask: 1_000,
    keepCollections: 2,
  };
  const started = async () => {
    const result = await startResync('operator', ports, options);
    if (!('started' in result)) throw new Error('not started');
    return result.started;
  };
  const documents = async (collection: string) =>
    Object.fromEntries(
      (await suite.typesense.exportDocuments(collection)).map((document) => [String(document.id), document]),
    );
  return { ...fakes, ports, alias, options, started, documents };
}

describe('re-sync of an aggregated index', () => {
  it('builds every aggregate whole from a Query of its partition, though partitions span pages and segments', async () => {
    const env = await setup();
    // The premise: some partition's items fall into more than one segment.
    const segmentsOf = new Map<string, Set<number>>();
    for (let segment = 0; segment < 3; segment++)
      for (let page = await env.ports.scanPage(segment, 3, 2, undefined); ; ) {
        for (const stored of page.items)
          segmentsOf.set(
            String(stored.pk?.S),
            (segmentsOf.get(String(stored.pk?.S)) ?? new Set()).add(segment),
          );
        if (page.lastKey === undefined) break;
        page = await env.ports.scanPage(segment, 3, 2, page.lastKey);
      }
    expect([...segmentsOf.values()].some((segments) => segments.size > 1)).toBe(true);

    const job = await env.started();
    for (let next = env.tasks.shift(); next !== undefined; next = env.tasks.shift())
      await runResyncTask(next.task, env.ports, env.options);
    expect((await suite.typesense.getAlias(env.alias))?.collection_name).toBe(job.collection);
    const documents = await env.documents(job.collection);
    expect(Object.keys(documents).sort()).toEqual(['o1', 'o2', 'o3', 'o4', 'o5']);
    for (let order = 1; order <= 5; order++)
      expect(documents[`o${order}`]).toEqual({
        id: `o${order}`,
        pk: `o${order}`,
        sk: `ORDER#o${order}`,
        customer: `c${order}`,
        lines: [1, 2, 3].map((line) => ({
          id: `o${order}|LINE#${line}`,
          pk: `o${order}`,
          sk: `LINE#${line}`,
          qty: line,
        })),
      });
  });

  it('re-checks the partitions deleted during the backfill: one the backfill put back is re-applied', async () => {
    const env = await setup();
    const job = await env.started();
    for (const { task } of env.tasks.splice(0))
      while (
        (await runSegment(task as { jobId: string; segment: number }, env.ports, env.options)) === 'continued'
      );
    env.tasks.splice(0);
    // The writer saw o1 lose its order item and deleted (and tombstoned) the aggregate before the
    // backfill's older copy landed; o2 was tombstoned too but has its order again: it stays.
    env.table.delete('o1|ORDER#o1');
    await env.store.recordDeletes(job.jobId, [
      { id: 'o1', key: { pk: { S: 'o1' } } },
      { id: 'o2', key: { pk: { S: 'o2' } } },
    ]);
    expect(Object.keys(await env.documents(job.collection))).toContain('o1');
    expect(await finishResync(job.jobId, env.ports, env.options)).toBe('waiting');
    expect(env.enqueued).toEqual([{ pk: { S: 'o1' } }]);
  });
});
