import { describe, expect, it } from 'vitest';
import {
  type IndexOnDelete,
  indexResourcePropertiesSchema,
} from '../../functions/contract/index-resource.ts';
import {
  applyIndexRequest,
  type IndexLifecyclePorts,
  type IndexRequestType,
  type NodeProbe,
} from '../../functions/core/index-lifecycle.ts';
import { type ResyncPorts, runResyncTask, startResync } from '../../functions/core/resync.ts';
import { nodeProbe } from '../../functions/shared/index-resource-adapters.ts';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { startTypesenseEmulator } from '../../infra/local/typesense-emulator.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

const API_KEY = 'index-lifecycle-key';
const suite = typesenseSuite(API_KEY);
let run = 0;

const schema = {
  fields: [
    { name: 'name', type: 'string' },
    { name: 'price', type: 'float' },
  ],
};
const withFacet = {
  fields: [...schema.fields, { name: 'brand', type: 'string', facet: true, optional: true }],
};
const OPTIONS = { keyAttributes: ['pk'], totalSegments: 2, pageSize: 5, pagesPerTask: 2, keepCollections: 2 };

/** A fresh alias, a table of 8 items, and the core's ports over the emulator. */
function setup(nodes?: NodeProbe[]) {
  const alias = `idx${++run}`;
  let clock = 1_795_000_000_000;
  const fakes = memoryResyncPorts(suite.typesense as unknown as ResyncPorts['typesense'], () => clock);
  for (let n = 0; n < 8; n++)
    fakes.table.set(`p-${n}`, { pk: { S: `p-${n}` }, name: { S: `n${n}` }, price: { N: '2' } });
  const ports: IndexLifecyclePorts = {
    resync: fakes.ports,
    deleteAlias: (name) => suite.typesense.deleteAlias(name),
    nodes: nodes ?? [nodeProbe(suite.typesense, suite.emulator.url)],
  };
  const request = (
    requestType: IndexRequestType,
    properties: { Schema?: object; CheckNodes?: boolean; OnDelete?: IndexOnDelete } = {},
    physicalResourceId?: string,
  ) => {
    clock += 60_000;
    return applyIndexRequest(
      {
        requestType,
        properties: indexResourcePropertiesSchema.parse({
          Alias: alias,
          ...(properties.Schema === undefined ? {} : { Schema: JSON.stringify(properties.Schema) }),
          CheckNodes: String(properties.CheckNodes ?? true),
          OnDelete: properties.OnDelete ?? 'retain',
        }),
        physicalResourceId,
      },
      ports,
      OPTIONS,
    );
  };
  const drain = async () => {
    for (let next = fakes.tasks.shift(); next !== undefined; next = fakes.tasks.shift())
      await runResyncTask(next.task, fakes.ports, { ...OPTIONS, alias });
  };
  const live = async () => (await suite.typesense.getAlias(alias))?.collection_name;
  const names = async () =>
    (await suite.typesense.listCollections())
      .map(({ name }) => name)
      .filter((name) => name.startsWith(`${alias}_`));
  return { alias, fakes, request, drain, live, names };
}

describe('index custom resource: create and update', () => {
  it('create without an alias starts the first load and returns at once; its swap creates the alias', async () => {
    const env = setup();
    const outcome = await env.request('Create', { Schema: schema });
    expect(outcome).toEqual({
      physicalResourceId: env.alias,
      data: {
        Action: 'created',
        Collection: expect.stringMatching(`^${env.alias}_r\\d{17}$`),
        JobId: expect.any(String),
      },
    });
    expect(await env.live()).toBeUndefined();
    await env.drain();
    expect(await env.live()).toBe(outcome.data.Collection);
    expect((await suite.typesense.getCollection(outcome.data.Collection))?.num_documents).toBe(8);
  });

  it('an unchanged schema starts nothing, whatever Typesense added to it or the field order', async () => {
    const env = setup();
    await env.request('Create', { Schema: schema });
    await env.drain();
    const reordered = {
      fields: [
        { name: 'price', type: 'float', sort: true },
        { name: 'name', type: 'string' },
      ],
    };
    const outcome = await env.request('Update', { Schema: reordered }, env.alias);
    expect(outcome.data).toEqual({ Action: 'unchanged', Collection: await env.live() });
    expect(env.fakes.tasks).toEqual([]);
    expect(await env.fakes.store.latestJobs(5)).toHaveLength(1);
  });

  it('a changed schema starts a migration; the old collection serves until the swap and is kept', async () => {
    const env = setup();
    await env.request('Create', { Schema: schema });
    await env.drain();
    const before = await env.live();
    const outcome = await env.request('Update', { Schema: withFacet }, env.alias);
    expect(outcome.data).toMatchObject({ Action: 'migrating', JobId: expect.any(String) });
    expect(await env.live()).toBe(before);
    await env.drain();
    expect(await env.live()).toBe(outcome.data.Collection);
    expect(
      (await suite.typesense.getCollection(outcome.data.Collection))?.fields.map(({ name }) => name),
    ).toContain('brand');
    expect(await env.names()).toContain(before);
  });

  it('without a schema it adopts an existing alias, and fails when there is none', async () => {
    const env = setup();
    await expect(env.request('Create')).rejects.toThrow(
      `alias ${env.alias} does not exist: give the index a schema`,
    );
    await suite.typesense.createCollection({ ...schema, name: `${env.alias}_v1` });
    await suite.typesense.upsertAlias(env.alias, `${env.alias}_v1`);
    expect((await env.request('Create')).data).toEqual({ Action: 'adopted', Collection: `${env.alias}_v1` });
    expect(env.fakes.tasks).toEqual([]);
  });

  it('a schema Typesense refuses fails the deploy with its reason and creates nothing', async () => {
    const env = setup();
    const refused = { fields: [{ name: 'x', type: 'strong' }] };
    await expect(env.request('Create', { Schema: refused })).rejects.toThrow(
      'Field `x` has an invalid data type `strong`, see docs for supported data types.',
    );
    expect(await env.names()).toEqual([]);
    expect(await env.fakes.store.latestJobs(5)).toEqual([]);
    expect(await env.fakes.store.active()).toBeUndefined();
  });

  it('a running re-sync of the same schema is adopted; of another schema it fails the deploy, naming it', async () => {
    const env = setup();
    const first = await env.request('Create', { Schema: schema });
    expect((await env.request('Create', { Schema: schema })).data).toEqual(first.data);
    await expect(env.request('Update', { Schema: withFacet }, env.alias)).rejects.toThrow(
      new RegExp(`re-sync ${first.data.JobId} is running .*fields\\.brand: added.*resync cancel`),
    );
  });

  it('a deploy back to the live schema (a rolled-back update) cancels the migration it started', async () => {
    const env = setup();
    await env.request('Create', { Schema: schema });
    await env.drain();
    const migration = await env.request('Update', { Schema: withFacet }, env.alias);
    const rolledBack = await env.request('Update', { Schema: schema }, env.alias);
    expect(rolledBack.data.Action).toBe('unchanged');
    expect(await env.fakes.store.getJob(migration.data.JobId as string)).toMatchObject({
      phase: 'cancelled',
    });
    expect(await env.names()).not.toContain(migration.data.Collection);
  });
});

describe('index custom resource: the node check', () => {
  it('an unreachable node or a refused key fails with one error naming node and reason, before anything is created', async () => {
    const down = await startTypesenseEmulator({ apiKey: API_KEY });
    down.setDown(true);
    const refusing = new TypesenseClient({ nodes: [suite.emulator.url], apiKey: 'not-the-key' });
    const env = setup([
      nodeProbe(suite.typesense, suite.emulator.url),
      nodeProbe(new TypesenseClient({ nodes: [down.url], apiKey: API_KEY, timeoutMs: 500 }), down.url),
      nodeProbe(refusing, 'http://refusing'),
    ]);
    try {
      const error = await env.request('Create', { Schema: schema }).catch((caught: unknown) => caught);
      expect(String(error)).toMatch(
        new RegExp(
          `${down.url}: unreachable or unhealthy.*http://refusing: the API key cannot read the alias: HTTP 401 Forbidden`,
        ),
      );
      expect(await env.names()).toEqual([]);
      expect(await env.fakes.store.latestJobs(1)).toEqual([]);
      // Opted out (Typesense not there yet): the deploy goes on.
      expect((await env.request('Create', { Schema: schema, CheckNodes: false })).data.Action).toBe(
        'created',
      );
    } finally {
      await down.stop();
    }
  });
});

describe('index custom resource: delete', () => {
  it('retain leaves the alias and collections; drop removes them and cancels a running load', async () => {
    const env = setup();
    await env.request('Create', { Schema: schema });
    await env.drain();
    const kept = await env.names();
    expect((await env.request('Delete', { Schema: schema }, env.alias)).data.Action).toBe('retained');
    expect(await env.names()).toEqual(kept);
    await startResync('operator', env.fakes.ports, { ...OPTIONS, alias: env.alias });
    const dropped = await env.request('Delete', { Schema: schema, OnDelete: 'drop' }, env.alias);
    expect(dropped.data).toEqual({ Action: 'dropped', Collection: kept[0] });
    expect(await env.live()).toBeUndefined();
    expect(await env.names()).toEqual([]);
    expect(await env.fakes.store.active()).toBeUndefined();
  });

  it('the delete after a failed create succeeds and touches nothing', async () => {
    const env = setup();
    const marker = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';
    const outcome = await env.request('Delete', { Schema: schema, OnDelete: 'drop' }, marker);
    expect(outcome).toEqual({ physicalResourceId: marker, data: { Action: 'retained', Collection: '' } });
    const nothing = await env.request('Delete', { Schema: schema, OnDelete: 'drop' }, env.alias);
    expect(nothing.data).toEqual({ Action: 'dropped', Collection: '' });
  });
});
