/**
 * Server behaviours beyond the writer's basic path, per version, each with the server source it was read
 * from (github.com/typesense/typesense, tags v27.1, v28.0, v29.0 and the v30 line). Runs against every
 * emulator profile and, with TYPESENSE_URL, a real server; emulator-only controls are skipped there by
 * choosing the assertions, never by skipping tests.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import type { TypesenseEmulator, TypesenseVersion } from '../../infra/local/typesense-emulator.ts';
import { contractTargets } from './targets.ts';

describe.each(contractTargets())('Typesense contract (versions): $name', (target) => {
  const run = `cv_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const created: string[] = [];
  let url = '';
  let apiKey = '';
  let version: TypesenseVersion = 30;
  let emulator: TypesenseEmulator | undefined;
  let client: TypesenseClient;

  async function raw(method: string, path: string, body?: string, key: string | null = apiKey) {
    const headers: Record<string, string> = {};
    if (key !== null) headers['X-TYPESENSE-API-KEY'] = key;
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON (export, import)
    }
    return { status: response.status, text, json };
  }

  async function create(schema: Record<string, unknown>) {
    const response = await raw('POST', '/collections', JSON.stringify(schema));
    if (response.status === 201) created.push(String(schema.name));
    return response;
  }

  const importLines = async (name: string, body: string, params = 'action=upsert') =>
    (await raw('POST', `/collections/${name}/documents/import?${params}`, body)).text
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  beforeAll(async () => {
    ({ url, apiKey, version, emulator } = await target.start());
    client = new TypesenseClient({ nodes: [url], apiKey, timeoutMs: 30_000 });
  });

  afterAll(async () => {
    for (const name of created) await client.deleteCollection(name).catch(() => undefined);
    await target.stop();
  });

  it('/debug reports the version; /metrics.json and /stats.json exist (src/core_api.cpp get_debug, get_metrics_json, get_stats_json)', async () => {
    const debug = await raw('GET', '/debug');
    expect(debug.status).toBe(200);
    expect(String(debug.json.version)).toMatch(new RegExp(`^v?${version}\\.`));
    expect((await raw('GET', '/metrics.json')).status).toBe(200);
    expect((await raw('GET', '/stats.json')).status).toBe(200);
  });

  it('an unknown route is a 404 before the API key is checked (src/http_server.cpp catch_all_handler)', async () => {
    const response = await raw('GET', '/no/such/route', undefined, null);
    expect(response.status).toBe(404);
    expect(response.json).toEqual({ message: 'Not Found' });
    expect((await raw('GET', '/collections', undefined, null)).status).toBe(401);
  });

  it('a search query string over 4000 characters is a 400 (src/http_server.cpp catch_all_handler)', async () => {
    const response = await raw('GET', `/collections/any/documents/search?q=${'a'.repeat(4001)}`);
    expect(response.status).toBe(400);
    expect(response.json.message).toBe(
      'Query string exceeds max allowed length of 4000. Use the /multi_search end-point for larger payloads.',
    );
  });

  it('schema refusals (src/collection_manager.cpp create_collection, src/field.cpp json_field_to_field and fields_to_json_fields)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { name: `${run}_r1`, fields: [] },
        'The `fields` value should be an array of objects containing `name`, `type` and optionally, `facet` properties.',
      ],
      [
        { name: `${run}_r2`, fields: [{ name: 'a', type: 'string', optional: 'yes' }] },
        'The `optional` property of the field `a` should be a boolean.',
      ],
      [
        { name: `${run}_r3`, fields: [{ name: 'a', type: 'string', index: false, facet: true }] },
        "Field `a` cannot be a facet since it's marked as non-indexable.",
      ],
      [
        { name: `${run}_r4`, fields: [{ name: 'a', type: 'string[]', sort: true }] },
        'Field `a` cannot be a sortable field.',
      ],
      [{ name: '', fields: [{ name: 'a', type: 'string' }] }, 'Parameter `name` must be a non-empty string.'],
    ];
    for (const [schema, message] of cases) {
      const response = await create(schema);
      expect(response.status).toBe(400);
      expect(response.json).toEqual({ message });
    }
  });

  it('an alias named like an existing collection is refused with a 500 (src/collection_manager.cpp upsert_symlink)', async () => {
    const name = `${run}_aliasclash`;
    await create({ name, fields: [{ name: 't', type: 'string' }] });
    const response = await raw('PUT', `/aliases/${name}`, JSON.stringify({ collection_name: name }));
    expect(response.status).toBe(500);
    expect(response.json).toEqual({
      message: `Name \`${name}\` conflicts with an existing collection name.`,
    });
  });

  describe('documents', () => {
    const name = `${run}_docs`;

    beforeAll(async () => {
      await create({
        name,
        fields: [
          { name: 'title', type: 'string' },
          { name: 'n', type: 'int32', optional: true },
          { name: 'big', type: 'int64', optional: true },
        ],
      });
    });

    it('import refusals: batch_size <= 0, empty id, 1.0 in an int32 field, whitespace-only lines (src/core_api.cpp post_import_documents, src/collection.cpp Collection::to_doc, src/validator.cpp coerce_int32_t)', async () => {
      for (const size of ['0', '-1']) {
        const response = await raw('POST', `/collections/${name}/documents/import?batch_size=${size}`, '{}');
        expect(response.status).toBe(400);
        expect(response.json).toEqual({ message: 'Parameter `batch_size` must be a positive integer.' });
      }
      const lines = await importLines(name, '{"id":"","title":"x"}\n{"id":"f","title":"x","n":1.0}\n   ');
      expect(lines[0]).toMatchObject({ success: false, code: 400, error: 'The `id` should not be empty.' });
      expect(lines[1]).toMatchObject({ success: false, code: 400, error: 'Field `n` must be an int32.' });
      expect(lines[2]).toMatchObject({
        success: false,
        code: 400,
        error: expect.stringMatching(/^Bad JSON: /),
      });
    });

    it('a JSON integer above INT32_MAX in an int32 field is accepted (validator.cpp checks the range only on coerced values); int64 is exact', async () => {
      const lines = await importLines(name, '{"id":"big","title":"x","n":3000000000,"big":9007199254740993}');
      expect(lines[0]).toEqual({ success: true });
      const doc = await raw('GET', `/collections/${name}/documents/big`);
      expect(doc.text).toContain('"n":3000000000');
      expect(doc.text).toContain('"big":9007199254740993');
    });

    it('failed lines carry `document` in v27 or with return_doc=true, and `id` with return_id=true (src/collection.cpp Collection::batch_index)', async () => {
      const line = '{"id":"nope","title":"x"}';
      const [plain] = await importLines(name, line, 'action=update');
      expect(plain).toEqual({
        code: 404,
        error: 'Could not find a document with id: nope',
        success: false,
        ...(version === 27 ? { document: line } : {}),
      });
      const [both] = await importLines(name, line, 'action=update&return_doc=true&return_id=true');
      expect(both).toEqual({
        code: 404,
        document: line,
        error: 'Could not find a document with id: nope',
        id: 'nope',
        success: false,
      });
    });

    it('upsert replaces without its nulls; update deep-merges nested objects (src/index.cpp Index::get_doc_changes)', async () => {
      const nested = `${run}_nested`;
      await create({
        name: nested,
        enable_nested_fields: true,
        fields: [
          { name: 'title', type: 'string' },
          { name: '.*', type: 'auto' },
        ],
      });
      await importLines(nested, '{"id":"m","title":"a","o":{"x":1,"y":2},"gone":"z"}');
      await importLines(nested, '{"id":"m","o":{"y":3,"x":null}}', 'action=update');
      expect((await raw('GET', `/collections/${nested}/documents/m`)).json).toEqual({
        id: 'm',
        title: 'a',
        o: { y: 3 },
        gone: 'z',
      });
      await importLines(nested, '{"id":"m","title":"b","gone":null}');
      expect((await raw('GET', `/collections/${nested}/documents/m`)).json).toEqual({ id: 'm', title: 'b' });
    });

    it('a new document keeps nested nulls; an update drops nulls in replaced arrays from v29 (src/index.cpp Index::get_doc_changes, process_value)', async () => {
      const nested = `${run}_nulls`;
      await create({
        name: nested,
        enable_nested_fields: true,
        fields: [
          { name: 'title', type: 'string' },
          { name: '.*', type: 'auto' },
        ],
      });
      await importLines(nested, '{"id":"k","title":"a","o":{"n":null,"arr":[1,null]}}', 'action=create');
      expect((await raw('GET', `/collections/${nested}/documents/k`)).json).toEqual({
        id: 'k',
        title: 'a',
        o: { n: null, arr: [1, null] },
      });
      await importLines(nested, '{"id":"k","o":{"arr":[2,null]}}', 'action=update');
      const arr = version >= 29 ? [2] : [2, null];
      expect((await raw('GET', `/collections/${nested}/documents/k`)).json).toEqual({
        id: 'k',
        title: 'a',
        o: { n: null, arr },
      });
      await importLines(nested, '{"id":"k","title":"b","o":{"n":null,"x":1}}', 'action=upsert');
      expect((await raw('GET', `/collections/${nested}/documents/k`)).json).toEqual({
        id: 'k',
        title: 'b',
        o: { x: 1 },
      });
    });

    it('a required nested object that is missing is a per-line 404, a wrong type a 400 (src/field.cpp field::flatten_field)', async () => {
      const nested = `${run}_nestreq`;
      await create({ name: nested, enable_nested_fields: true, fields: [{ name: 'addr', type: 'object' }] });
      const lines = await importLines(
        nested,
        '{"id":"1"}\n{"id":"2","addr":"x"}\n{"id":"3","addr":{"c":"y"}}',
      );
      expect(lines[0]).toMatchObject({ success: false, code: 404, error: 'Field `addr` not found.' });
      expect(lines[1]).toMatchObject({
        success: false,
        code: 400,
        error: 'Field `addr` has an incorrect type.',
      });
      expect(lines[2]).toEqual({ success: true });
    });

    it("an aggregate's list of objects in a field the schema does not declare is stored and returned as sent, without enable_nested_fields (docs api/collections: fields not in the schema are stored on disk, not indexed)", async () => {
      const aggregated = `${run}_aggregate`;
      await create({ name: aggregated, fields: [{ name: 'title', type: 'string' }] });
      const order = {
        id: 'o1',
        title: 'order',
        lines: [
          { id: 'o1|LINE#1', sku: 'a', qty: 1 },
          { id: 'o1|LINE#2', sku: 'b', qty: 2.5 },
        ],
      };
      expect(await importLines(aggregated, JSON.stringify(order))).toEqual([{ success: true }]);
      expect((await raw('GET', `/collections/${aggregated}/documents/o1`)).json).toEqual(order);
      const fewer = { ...order, lines: [order.lines[1]] };
      await importLines(aggregated, JSON.stringify(fewer));
      const exported = await raw('GET', `/collections/${aggregated}/documents/export`);
      expect(JSON.parse(exported.text)).toEqual(fewer);
    });

    it('export honours filter_by, include_fields and exclude_fields (src/core_api.cpp get_export_documents)', async () => {
      await importLines(name, '{"id":"e1","title":"keep","n":1}\n{"id":"e2","title":"drop","n":2}');
      const picked = await raw(
        'GET',
        `/collections/${name}/documents/export?filter_by=${encodeURIComponent('id:[e1]')}&include_fields=id,title`,
      );
      expect(picked.text.trim()).toBe('{"id":"e1","title":"keep"}');
      const rest = await raw(
        'GET',
        `/collections/${name}/documents/export?filter_by=${encodeURIComponent('id:[e2]')}&exclude_fields=n`,
      );
      expect(JSON.parse(rest.text)).toEqual({ id: 'e2', title: 'drop' });
    });
  });

  it('auto and wildcard fields: typed by the first value, appended to the schema, later values coerced or rejected (src/collection.cpp detect_new_fields, parse_dirty_values_option; src/validator.cpp)', async () => {
    const name = `${run}_auto`;
    const response = await create({
      name,
      fields: [
        { name: '.*', type: 'auto' },
        { name: 'tag_.*', type: 'string' },
        { name: 'a', type: 'auto' },
      ],
    });
    expect(response.status).toBe(201);
    expect(response.json.fields).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'a', optional: true })]),
    );
    const first = await importLines(name, '{"id":"1","n":5,"f":1.5,"s":"x","tag_a":7}');
    expect(first).toEqual([{ success: true }]);
    const fields = (
      (await raw('GET', `/collections/${name}`)).json.fields as { name: string; type: string }[]
    ).map(({ name: n, type }) => `${n}:${type}`);
    expect(fields).toEqual(expect.arrayContaining(['n:int64', 'f:float', 's:string', 'tag_a:string']));
    const later = await importLines(
      name,
      '{"id":"2","n":"+12","f":"2","s":3.14159265,"tag_a":true}\n{"id":"3","n":"x"}\n{"id":"4","n":2.9}',
    );
    expect(later[0]).toEqual({ success: true });
    expect((await raw('GET', `/collections/${name}/documents/2`)).json).toEqual({
      id: '2',
      n: 12,
      f: 2,
      s: '3.14159',
      tag_a: 'true',
    });
    expect(later[1]).toMatchObject({ success: false, code: 400, error: 'Field `n` must be an int64.' });
    expect(later[2]).toEqual({ success: true });
    expect((await raw('GET', `/collections/${name}/documents/4`)).json.n).toBe(2);
  });

  it('synonyms: per collection up to v29, global synonym_sets referenced from the schema in v30 (src/main/typesense_server.cpp routes)', async () => {
    const name = `${run}_syn`;
    const synonym = JSON.stringify({ synonyms: ['tv', 'television'] });
    if (version < 30) {
      await create({ name, fields: [{ name: 't', type: 'string' }] });
      const put = await raw('PUT', `/collections/${name}/synonyms/s1`, synonym);
      expect(put.status).toBe(200);
      expect(put.json).toMatchObject({ id: 's1', synonyms: ['tv', 'television'] });
      expect((await raw('GET', `/collections/${name}/synonyms`)).json.synonyms).toHaveLength(1);
      expect(
        (
          await raw(
            'PUT',
            `/collections/${name}/overrides/o1`,
            JSON.stringify({ rule: { query: 'tv', match: 'exact' }, includes: [{ id: '1', position: 1 }] }),
          )
        ).status,
      ).toBe(200);
      expect((await raw('GET', `/synonym_sets`)).status).toBe(404);
    } else {
      expect(
        (
          await raw(
            'PUT',
            `/synonym_sets/${run}_set`,
            JSON.stringify({ items: [{ id: 's1', synonyms: ['tv', 'television'] }] }),
          )
        ).status,
      ).toBe(200);
      const missing = await create({
        name: `${name}_x`,
        fields: [{ name: 't', type: 'string' }],
        synonym_sets: [`${run}_none`],
      });
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ message: `Synonym set \`${run}_none\` not found.` });
      const ok = await create({
        name,
        fields: [{ name: 't', type: 'string' }],
        synonym_sets: [`${run}_set`],
      });
      expect(ok.status).toBe(201);
      expect(ok.json.synonym_sets).toEqual([`${run}_set`]);
      expect((await raw('PUT', `/collections/${name}/synonyms/s1`, synonym)).status).toBe(404);
      await raw('DELETE', `/synonym_sets/${run}_set`);
    }
  });

  it('out of resources: writes get a whole-request 422, /health stays 200 with resource_error (src/raft_server.cpp ReplicationState::write, src/core_api.cpp get_health)', async () => {
    const name = `${run}_res`;
    await create({ name, fields: [{ name: 't', type: 'string' }] });
    if (emulator === undefined) return; // a real server cannot be made to run out of memory on demand
    emulator.setResourceError('OUT_OF_MEMORY');
    try {
      const health = await raw('GET', '/health', undefined, null);
      expect(health.status).toBe(200);
      expect(health.json).toEqual({ ok: true, resource_error: 'OUT_OF_MEMORY' });
      const write = await raw(
        'POST',
        `/collections/${name}/documents/import?action=upsert`,
        '{"id":"1","t":"x"}',
      );
      expect(write.status).toBe(422);
      expect(write.json).toEqual({ message: 'Rejecting write: running out of resource type: OUT_OF_MEMORY' });
      // The node recovers once memory frees up, so the client must let the writer retry, not dead-letter.
      const error = await client
        .importDocuments(name, ['{"id":"2","t":"y"}'], 'upsert')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 422, retryable: true });
      expect(
        (await raw('DELETE', `/collections/${name}/documents?filter_by=${encodeURIComponent('id:[1]')}`))
          .status,
      ).toBe(200);
    } finally {
      emulator.setResourceError(undefined);
    }
  });

  it('a node lagging behind its writes answers writes 503 "Not Ready or Lagging" while reads and /health go on (src/raft_server.cpp ReplicationState::refresh_catchup_status, src/http_server.cpp HttpServer::catch_all_handler)', async () => {
    const name = `${run}_lag`;
    await create({ name, fields: [{ name: 't', type: 'string' }] });
    // A real node lags only under a load this suite will not put on a shared server.
    if (emulator === undefined) return;
    emulator.setWriteLag({ documentsPerSecond: 100, healthyWriteLag: 0 });
    try {
      const lines = Array.from({ length: 30 }, (_, i) => `{"id":"${i}","t":"x"}`).join('\n');
      const first = raw('POST', `/collections/${name}/documents/import?action=upsert`, lines);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const refused = await raw(
        'POST',
        `/collections/${name}/documents/import?action=upsert`,
        '{"id":"a","t":"y"}',
      );
      expect(refused.status).toBe(503);
      expect(refused.json).toEqual({ message: 'Not Ready or Lagging' });
      const error = await client
        .importDocuments(name, ['{"id":"b","t":"y"}'], 'upsert')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 503, retryable: true });
      // Health follows the read lag (default 1000), above the write lag (default 500): still healthy.
      expect((await raw('GET', '/health', undefined, null)).json).toEqual({ ok: true });
      expect((await raw('GET', `/collections/${name}`)).status).toBe(200);
      const applied = await first;
      expect(applied.status).toBe(200);
      expect(applied.text.split('\n').map((line) => JSON.parse(line))).toEqual(
        Array.from({ length: 30 }, () => ({ success: true })),
      );
      // Caught up again: the next write is taken.
      expect(
        (await raw('POST', `/collections/${name}/documents/import?action=upsert`, '{"id":"c","t":"z"}'))
          .status,
      ).toBe(200);
      expect(emulator.writeLag).toMatchObject({ appliedDocuments: 31, lagRejections: 2 });
    } finally {
      emulator.setWriteLag(undefined);
    }
  });

  it("flattened documents (projection nested: 'flatten'): without enable_nested_fields a dotted name is one plain field, filterable and a default sorting field, and an int64 up to 2^63 - 1 is exported exactly (src/field.cpp field::json_field_to_field: a name with '.' is nested only with enable_nested_fields)", async () => {
    const name = `${run}_flat`;
    expect(
      await create({
        name,
        default_sorting_field: 'createdAt',
        fields: [
          { name: 'address.city', type: 'string', facet: true },
          { name: 'lines.sku', type: 'string[]' },
          { name: 'createdAt', type: 'int64' },
          { name: 'big', type: 'int64', optional: true },
        ],
      }),
    ).toMatchObject({ status: 201 });
    // The first document is the newer one by createdAt, the older one by sequence id.
    const sent = [
      '{"id":"1","address.city":"Oslo","lines.sku":["a","b"],"createdAt":1709337600,"big":9223372036854775807}',
      '{"id":"2","address.city":"Bergen","lines.sku":[],"createdAt":1709294400}',
    ];
    expect(await importLines(name, sent.join('\n'))).toEqual([{ success: true }, { success: true }]);
    const filter = encodeURIComponent('address.city:=Oslo');
    const found = await raw('GET', `/collections/${name}/documents/search?q=*&filter_by=${filter}`);
    expect(found.json).toMatchObject({
      found: 1,
      hits: [{ document: { id: '1', 'lines.sku': ['a', 'b'] } }],
    });
    const ranked = await raw('GET', `/collections/${name}/documents/search?q=*`);
    const hits = ranked.json.hits as { document: { id: string } }[];
    expect(hits.map(({ document }) => document.id)).toEqual(['1', '2']);
    const exported = (await raw('GET', `/collections/${name}/documents/export`)).text;
    expect(exported).toContain('"big":9223372036854775807');
    expect(exported).toContain('"address.city":"Oslo"');
  });

  it('a body far above 64 MiB is accepted (no request size limit in src/http_server.cpp)', async () => {
    if (emulator === undefined) return; // 70 MiB against a shared real server is not polite
    const name = `${run}_big`;
    await create({ name, fields: [{ name: 't', type: 'string' }] });
    const line = JSON.stringify({ t: 'x'.repeat(1024 * 1024) });
    const body = Array.from({ length: 70 }, (_, i) => line.replace('{', `{"id":"${i}",`)).join('\n');
    const response = await raw('POST', `/collections/${name}/documents/import?action=create`, body);
    expect(response.status).toBe(200);
    expect(response.text.split('\n')).toHaveLength(70);
  }, 60_000);
});
