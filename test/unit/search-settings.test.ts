import { afterEach, describe, expect, it } from 'vitest';
import { finishResync, type ResyncPorts, runResyncTask, startResync } from '../../functions/core/resync.ts';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { startTypesenseEmulator, type TypesenseEmulator } from '../../infra/local/typesense-emulator.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';

const API_KEY = 'settings-unit-key';
let emulator: TypesenseEmulator | undefined;
afterEach(async () => {
  await emulator?.stop();
  emulator = undefined;
});

type Rule = Record<string, unknown> & { id: string };
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/**
 * The emulator plus the routes it lacks, as Typesense serves them (typesense src/main/typesense_server.cpp):
 * v29 `/collections/{c}/synonyms|overrides[/{id}]` (list answers `{"synonyms":[...]}` / `{"overrides":[...]}`,
 * src/core_api.cpp get_synonyms/get_overrides); v30 drops those routes, lists `synonym_sets`/`curation_sets` in
 * the collection and takes them on create and PATCH (core_api.cpp patch_update_collection).
 */
function typesenseOf(version: 29 | 30, url: string) {
  const perCollection = new Map<string, { synonyms: Map<string, Rule>; overrides: Map<string, Rule> }>();
  const sets = new Map<string, { synonym_sets: string[]; curation_sets: string[] }>();
  const settingsOf = (name: string) => {
    let entry = perCollection.get(name);
    if (entry === undefined) {
      entry = { synonyms: new Map(), overrides: new Map() };
      perCollection.set(name, entry);
    }
    return entry;
  };
  const layered = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const target = new URL(String(input));
    const [root, name, sub, id] = target.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : {};
    if (root === 'collections' && name !== undefined && (sub === 'synonyms' || sub === 'overrides')) {
      if (version === 30) return json(404, { message: 'Not Found' });
      const rules = settingsOf(name)[sub];
      if (id === undefined && method === 'GET') return json(200, { [sub]: [...rules.values()] });
      if (id !== undefined && method === 'PUT') {
        rules.set(id, { ...body, id });
        return json(200, { ...body, id });
      }
    }
    if (version === 30 && root === 'collections') {
      if (name === undefined && method === 'POST') {
        const { synonym_sets = [], curation_sets = [], ...schema } = body;
        sets.set(String(schema.name), {
          synonym_sets: synonym_sets as string[],
          curation_sets: curation_sets as string[],
        });
        return fetch(input, { ...init, body: JSON.stringify(schema) });
      }
      if (name !== undefined && sub === undefined && method === 'PATCH') {
        const current = sets.get(name) ?? { synonym_sets: [], curation_sets: [] };
        sets.set(name, { ...current, ...(body as object) });
        return json(200, body);
      }
      if (name !== undefined && sub === undefined && method === 'GET') {
        const answer = await fetch(input, init);
        if (answer.status !== 200) return answer;
        const info = (await answer.json()) as { name: string };
        return json(200, { ...info, ...(sets.get(info.name) ?? { synonym_sets: [], curation_sets: [] }) });
      }
    }
    return fetch(input, init);
  };
  const client = new TypesenseClient({ nodes: [url], apiKey: API_KEY, fetch: layered as typeof fetch });
  return { client, perCollection, sets };
}

async function liveCollection(version: 29 | 30) {
  emulator = await startTypesenseEmulator({ apiKey: API_KEY, version });
  const typesense = typesenseOf(version, emulator.url);
  await typesense.client.createCollection({
    name: 'products_v1',
    fields: [{ name: 'name', type: 'string' }],
    ...(version === 30 ? { synonym_sets: ['catalog'], curation_sets: ['promos'] } : {}),
  });
  await typesense.client.upsertAlias('products', 'products_v1');
  return typesense;
}

const SYNONYM = { id: 'tv', synonyms: ['tv', 'television'] };
const OVERRIDE = {
  id: 'pin',
  rule: { query: 'apple', match: 'exact' },
  includes: [{ id: '1', position: 1 }],
};

let clock = 1_795_000_000_000;

async function resync(typesense: TypesenseClient, schema?: { fields: Record<string, unknown>[] }) {
  clock += 3_600_000;
  const now = clock;
  const fakes = memoryResyncPorts(typesense as unknown as ResyncPorts['typesense'], () => now);
  fakes.table.set('p-1', { pk: { S: 'p-1' }, name: { S: 'one' } });
  const options = {
    alias: 'products',
    keyAttributes: ['pk'],
    totalSegments: 1,
    pageSize: 10,
    pagesPerTask: 1,
    keepCollections: 2,
    ...(schema === undefined ? {} : { schema }),
  };
  const started = await startResync('operator', fakes.ports, options);
  const job = (started as { started?: { jobId: string; collection: string } }).started;
  if (job === undefined) throw new Error('the re-sync did not start');
  for (let next = fakes.tasks.shift(); next !== undefined; next = fakes.tasks.shift())
    await runResyncTask(next.task, fakes.ports, options);
  expect(await finishResync(job.jobId, fakes.ports, options)).toBe('stopped'); // already swapped by its task
  return job.collection;
}

describe('synonyms and overrides survive a re-sync', () => {
  it('v27–v29: the client lists and upserts per-collection synonyms and overrides', async () => {
    const { client } = await liveCollection(29);
    await client.upsertSynonym('products_v1', SYNONYM);
    await client.upsertOverride('products_v1', OVERRIDE);
    expect(await client.listSynonyms('products_v1')).toEqual([SYNONYM]);
    expect(await client.listOverrides('products_v1')).toEqual([OVERRIDE]);
  });

  it('v27–v29: the new collection gets the live one’s synonyms and overrides before the swap', async () => {
    const { client } = await liveCollection(29);
    await client.upsertSynonym('products_v1', SYNONYM);
    await client.upsertOverride('products_v1', OVERRIDE);
    const collection = await resync(client);
    expect((await client.getAlias('products'))?.collection_name).toBe(collection);
    expect(await client.listSynonyms(collection)).toEqual([SYNONYM]);
    expect(await client.listOverrides(collection)).toEqual([OVERRIDE]);
  });

  it('v30: the new collection keeps the live set references, also when the re-sync brings its own schema', async () => {
    const { client, sets } = await liveCollection(30);
    const fromLive = await resync(client);
    expect(sets.get(fromLive)).toEqual({ synonym_sets: ['catalog'], curation_sets: ['promos'] });
    const fromOwnSchema = await resync(client, { fields: [{ name: 'name', type: 'string' }] });
    expect(sets.get(fromOwnSchema)).toEqual({ synonym_sets: ['catalog'], curation_sets: ['promos'] });
  });
});
