/**
 * One set of assertions about Typesense's HTTP behaviour, run against the emulator and, when TYPESENSE_URL is
 * set, against a real server too. Anything the writer relies on belongs here, so the emulator cannot drift
 * from the real thing unnoticed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffSchemas } from '../../functions/core/collection-schema-diff.ts';
import {
  type CollectionInfo,
  type CollectionSchema,
  type ImportLineResult,
  TypesenseClient,
  TypesenseHttpError,
} from '../../functions/shared/typesense.ts';
import type { TypesenseVersion } from '../../infra/local/typesense-emulator.ts';
import { collectionNotFound, contractTargets, failedLine, searchCollectionNotFound } from './targets.ts';

const targets = contractTargets();
if (process.env.TYPESENSE_URL === undefined || process.env.TYPESENSE_URL === '') {
  console.info(
    'Typesense contract suite ran against the emulator only. To also run it against a real server, set ' +
      'TYPESENSE_URL (e.g. http://127.0.0.1:8108) and TYPESENSE_API_KEY; it creates and deletes its own collections.',
  );
}

const FORBIDDEN = 'Forbidden - a valid `x-typesense-api-key` header must be sent.';

describe.each(targets)('Typesense contract: $name', (target) => {
  const run = `ct_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const products = `${run}_products`;
  const alias = `${run}_alias`;
  const created: string[] = [];
  let url = '';
  let apiKey = '';
  let version: TypesenseVersion = 30;
  let client: TypesenseClient;

  const productSchema: CollectionSchema = {
    name: products,
    fields: [
      { name: 'title', type: 'string' },
      { name: 'brand', type: 'string', facet: true },
      { name: 'price', type: 'float' },
      { name: 'tags', type: 'string[]', optional: true },
      { name: 'in_stock', type: 'bool', optional: true },
    ],
  };

  async function raw(method: string, path: string, body?: string, key: string | null = apiKey) {
    const headers: Record<string, string> = {};
    if (key !== null) headers['X-TYPESENSE-API-KEY'] = key;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json: json as Record<string, unknown> };
  }

  async function createCollection(schema: CollectionSchema) {
    const info = await client.createCollection(schema);
    created.push(schema.name);
    return info;
  }

  const line = (doc: Record<string, unknown>) => JSON.stringify(doc);

  beforeAll(async () => {
    ({ url, apiKey, version } = await target.start());
    client = new TypesenseClient({ nodes: [url], apiKey, timeoutMs: 10_000 });
    await createCollection(productSchema);
  });

  afterAll(async () => {
    if (client !== undefined) {
      await client.deleteAlias(alias).catch(() => undefined);
      for (const name of created) await client.deleteCollection(name).catch(() => undefined);
    }
    await target.stop();
  });

  describe('health and auth', () => {
    it('GET /health answers {"ok":true} without a key', async () => {
      const response = await raw('GET', '/health', undefined, null);
      expect(response.status).toBe(200);
      expect(response.json).toEqual({ ok: true });
      expect(await client.health()).toBe(true);
    });

    it('a missing or wrong key is a 401 with the Typesense message', async () => {
      for (const key of [null, `${apiKey}-wrong`]) {
        const response = await raw('GET', '/collections', undefined, key);
        expect(response.status).toBe(401);
        expect(response.json).toEqual({ message: FORBIDDEN });
      }
    });

    it('the key may also be sent as the x-typesense-api-key query parameter', async () => {
      const response = await raw(
        'GET',
        `/collections/${products}?x-typesense-api-key=${encodeURIComponent(apiKey)}`,
        undefined,
        null,
      );
      expect(response.status).toBe(200);
    });

    it('the client reports a 401 as a non-retryable TypesenseHttpError that does not leak the key', async () => {
      const wrongKey = `${apiKey}-wrong`;
      const bad = new TypesenseClient({ nodes: [url], apiKey: wrongKey });
      const error = await bad.getCollection(products).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypesenseHttpError);
      expect(error).toMatchObject({ status: 401, retryable: false, serverMessage: FORBIDDEN });
      expect(String((error as Error).message)).not.toContain(wrongKey);
    });
  });

  describe('collections', () => {
    it('create answers 201 with the schema, num_documents and created_at', async () => {
      const name = `${run}_created`;
      const response = await raw(
        'POST',
        '/collections',
        JSON.stringify({ name, fields: [{ name: 'n', type: 'int32' }], default_sorting_field: 'n' }),
      );
      created.push(name);
      expect(response.status).toBe(201);
      expect(response.json).toMatchObject({ name, num_documents: 0, default_sorting_field: 'n' });
      expect(typeof response.json.created_at).toBe('number');
      expect(response.json.fields).toEqual([
        expect.objectContaining({ name: 'n', type: 'int32', facet: false, optional: false, index: true }),
      ]);
    });

    it('creating an existing collection is a 409', async () => {
      const error = await client.createCollection(productSchema).catch((e: unknown) => e);
      expect(error).toMatchObject({
        status: 409,
        retryable: false,
        serverMessage: `A collection with name \`${products}\` already exists.`,
      });
    });

    it('an unknown field type is a 400', async () => {
      const name = `${run}_badtype`;
      const response = await raw(
        'POST',
        '/collections',
        JSON.stringify({ name, fields: [{ name: 'x', type: 'strong' }] }),
      );
      if (response.status === 201) created.push(name);
      expect(response.status).toBe(400);
      expect(response.json).toEqual({
        message: 'Field `x` has an invalid data type `strong`, see docs for supported data types.',
      });
    });

    it('get returns the collection with its document count; unknown names are 404 (src/core_api.cpp get_collection_summary)', async () => {
      expect(await client.getCollection(products)).toMatchObject({
        name: products,
        num_documents: expect.any(Number),
      });
      expect(await client.getCollection(`${run}_nope`)).toBeUndefined();
      const response = await raw('GET', `/collections/${run}_nope`);
      expect(response.status).toBe(404);
      expect(response.json).toEqual({ message: collectionNotFound(version) });
    });

    it('list names every collection; a fetched schema creates an equal collection (what a re-sync does)', async () => {
      const names = (await client.listCollections()).map(({ name }) => name);
      expect(names).toContain(products);
      const {
        name: _name,
        num_documents: _count,
        created_at: _created,
        ...schema
      } = (await client.getCollection(products)) as CollectionInfo;
      const copy = `${run}_copy`;
      await createCollection({ ...schema, name: copy });
      const fieldsOf = (info: CollectionInfo | undefined) =>
        info?.fields.map(({ name, type, optional, facet }) => ({ name, type, optional, facet }));
      expect(fieldsOf(await client.getCollection(copy))).toEqual(
        fieldsOf(await client.getCollection(products)),
      );
    });

    it('a stored schema lists each field with the defaults Typesense fills in, and the collection-level ones (src/collection.cpp Collection::get_summary_json, src/field.cpp json_field_to_field)', async () => {
      const name = `${run}_defaults`;
      await createCollection({
        name,
        fields: [
          { name: 'title', type: 'string' },
          { name: 'rank', type: 'int32' },
          { name: 'attr_.*', type: 'string' },
        ],
      });
      const info = (await client.getCollection(name)) as CollectionInfo;
      const defaults = { facet: false, index: true, infix: false, locale: '', stem: false, store: true };
      expect(info.fields).toEqual([
        expect.objectContaining({ name: 'title', type: 'string', optional: false, sort: false, ...defaults }),
        expect.objectContaining({ name: 'rank', type: 'int32', optional: false, sort: true, ...defaults }),
        expect.objectContaining({
          name: 'attr_.*',
          type: 'string',
          optional: true,
          sort: false,
          ...defaults,
        }),
      ]);
      expect(info).toMatchObject({
        default_sorting_field: '',
        enable_nested_fields: false,
        token_separators: [],
        symbols_to_index: [],
      });
      // What the index custom resource relies on: the live schema equals the deployed one once normalised.
      expect(
        diffSchemas(
          {
            fields: [
              { name: 'rank', type: 'int32' },
              { name: 'attr_.*', type: 'string' },
              { name: 'title', type: 'string' },
            ],
          },
          info,
        ),
      ).toEqual([]);
    });

    it('the key is checked before the body: a create whose `fields` is not a list is a 400 with the key, a 401 without (src/http_server.cpp catch_all_handler, src/collection_manager.cpp create_collection)', async () => {
      const name = `${run}_probe`;
      const body = JSON.stringify({ name, fields: 'probe' });
      const refused = await raw('POST', '/collections', body, 'not-the-key');
      expect(refused.status).toBe(401);
      const allowed = await raw('POST', '/collections', body);
      if (allowed.status === 201) created.push(name);
      expect(allowed.status).toBe(400);
      expect(await client.getCollection(name)).toBeUndefined();
    });

    it('delete returns the collection; deleting an unknown one is a 404', async () => {
      const name = `${run}_todelete`;
      await createCollection({ name, fields: [{ name: 't', type: 'string' }] });
      expect(await client.deleteCollection(name)).toMatchObject({ name });
      expect(await client.getCollection(name)).toBeUndefined();
      const response = await raw('DELETE', `/collections/${name}`);
      expect(response.status).toBe(404);
      expect(response.json).toEqual({ message: `No collection with name \`${name}\` found.` });
    });
  });

  describe('aliases', () => {
    it('upsert, get and resolve an alias for collection and document requests', async () => {
      expect(await client.upsertAlias(alias, products)).toEqual({ name: alias, collection_name: products });
      expect(await client.getAlias(alias)).toEqual({ name: alias, collection_name: products });
      expect(await client.getCollection(alias)).toMatchObject({ name: products });

      expect(
        await client.importDocuments(
          alias,
          [line({ id: 'via-alias', title: 'Alias', brand: 'Z', price: 1 })],
          'upsert',
        ),
      ).toEqual([{ success: true, id: 'via-alias' }]);
      expect(await client.getDocument(products, 'via-alias')).toMatchObject({ title: 'Alias' });
      expect(await client.deleteByIds(alias, ['via-alias'])).toBe(1);

      const list = await raw('GET', '/aliases');
      expect(list.json.aliases).toEqual(expect.arrayContaining([{ name: alias, collection_name: products }]));
    });

    it('an unknown alias is a 404 (src/core_api.cpp get_alias)', async () => {
      expect(await client.getAlias(`${run}_noalias`)).toBeUndefined();
      const response = await raw('GET', `/aliases/${run}_noalias`);
      expect(response.status).toBe(404);
      expect(response.json).toEqual({ message: collectionNotFound(version) });
    });
  });

  describe('import', () => {
    const name = `${run}_import`;

    beforeAll(async () => {
      await createCollection({ ...productSchema, name });
    });

    it('create imports new documents and reports 409 for an existing id (echoing the line in v27: src/collection.cpp Collection::batch_index)', async () => {
      const lines = [
        line({ id: 'i1', title: 'One', brand: 'A', price: 1.5 }),
        line({ id: 'i2', title: 'Two', brand: 'B', price: 2 }),
      ];
      expect(await client.importDocuments(name, lines, 'create')).toEqual([
        { success: true, id: 'i1' },
        { success: true, id: 'i2' },
      ]);
      const again = line({ id: 'i1', title: 'One again', brand: 'A', price: 1 });
      expect(await client.importDocuments(name, [again], 'create')).toEqual([
        failedLine(
          version,
          { success: false, code: 409, error: 'A document with id i1 already exists.' },
          again,
        ),
      ]);
    });

    it('reports per-line 400s for type errors, missing fields, non-string ids and bad JSON, and keeps going', async () => {
      const wrongType = line({ id: 'bad1', title: 'T', brand: 'B', price: 'cheap' });
      const missing = line({ id: 'bad2', brand: 'B', price: 1 });
      const numericId = line({ id: 3, title: 'T', brand: 'B', price: 1 });
      const badJson = '{"id": "bad4", "title": ';
      const wrongArray = line({ id: 'bad5', title: 'T', brand: 'B', price: 1, tags: 'not-an-array' });
      const good = line({ id: 'good1', title: 'Fine', brand: 'B', price: 1 });
      const results = await client.importDocuments(
        name,
        [wrongType, missing, numericId, badJson, wrongArray, good],
        'upsert',
      );

      expect(results[0]).toEqual(
        failedLine(
          version,
          { success: false, code: 400, error: 'Field `price` must be a float.' },
          wrongType,
        ),
      );
      expect(results[1]).toEqual(
        failedLine(
          version,
          {
            success: false,
            code: 400,
            error: 'Field `title` has been declared in the schema, but is not found in the document.',
          },
          missing,
        ),
      );
      expect(results[2]).toEqual(
        failedLine(
          version,
          { success: false, code: 400, error: "Document's `id` field should be a string." },
          numericId,
        ),
      );
      expect(results[3]).toEqual(
        failedLine(
          version,
          { success: false, code: 400, error: expect.stringMatching(/^Bad JSON/) },
          badJson,
        ),
      );
      expect((results[3] as Extract<ImportLineResult, { success: false }>).error).toMatch(/^Bad JSON/);
      expect(results[4]).toEqual(
        failedLine(
          version,
          { success: false, code: 400, error: 'Field `tags` must be an array.' },
          wrongArray,
        ),
      );
      expect(results[5]).toEqual({ success: true, id: 'good1' });
      expect(await client.getDocument(name, 'bad1')).toBeUndefined();
    });

    it('update patches existing documents and reports 404 for missing ones', async () => {
      const missing = line({ id: 'nope', price: 9 });
      const results = await client.importDocuments(
        name,
        [line({ id: 'i2', price: 3.25 }), missing],
        'update',
      );
      expect(results).toEqual([
        { success: true, id: 'i2' },
        failedLine(
          version,
          { success: false, code: 404, error: 'Could not find a document with id: nope' },
          missing,
        ),
      ]);
      expect(await client.getDocument(name, 'i2')).toEqual({
        id: 'i2',
        title: 'Two',
        brand: 'B',
        price: 3.25,
      });
    });

    it('update still type-checks the fields it is given', async () => {
      const wrong = line({ id: 'i2', price: 'x' });
      expect(await client.importDocuments(name, [wrong], 'update')).toEqual([
        failedLine(version, { success: false, code: 400, error: 'Field `price` must be a float.' }, wrong),
      ]);
    });

    it('upsert replaces the whole document, dropping fields it does not send', async () => {
      await client.importDocuments(
        name,
        [line({ id: 'u1', title: 'U', brand: 'A', price: 1, tags: ['x'] })],
        'upsert',
      );
      expect(
        await client.importDocuments(name, [line({ id: 'u1', title: 'U2', brand: 'A', price: 2 })], 'upsert'),
      ).toEqual([{ success: true, id: 'u1' }]);
      expect(await client.getDocument(name, 'u1')).toEqual({ id: 'u1', title: 'U2', brand: 'A', price: 2 });
    });

    it('upsert of a partial document fails on missing required fields', async () => {
      const partial = line({ id: 'u1', price: 5 });
      expect(await client.importDocuments(name, [partial], 'upsert')).toEqual([
        failedLine(
          version,
          {
            success: false,
            code: 400,
            error: 'Field `title` has been declared in the schema, but is not found in the document.',
          },
          partial,
        ),
      ]);
    });

    it('emplace creates when missing (full document required) and patches when present', async () => {
      const partialNew = line({ id: 'e1', price: 1 });
      const results = await client.importDocuments(
        name,
        [
          partialNew,
          line({ id: 'e2', title: 'E', brand: 'C', price: 1, in_stock: true }),
          line({ id: 'e2', price: 7 }),
        ],
        'emplace',
      );
      expect(results).toEqual([
        failedLine(
          version,
          {
            success: false,
            code: 400,
            error: 'Field `title` has been declared in the schema, but is not found in the document.',
          },
          partialNew,
        ),
        { success: true, id: 'e2' },
        { success: true, id: 'e2' },
      ]);
      expect(await client.getDocument(name, 'e2')).toEqual({
        id: 'e2',
        title: 'E',
        brand: 'C',
        price: 7,
        in_stock: true,
      });
    });

    it('a document without an id gets a generated string id', async () => {
      const [result] = await client.importDocuments(
        name,
        [line({ title: 'No id', brand: 'N', price: 0 })],
        'create',
      );
      expect(result).toMatchObject({ success: true, id: expect.any(String) });
      const id = (result as { id: string }).id;
      expect(await client.getDocument(name, id)).toMatchObject({ id, title: 'No id' });
    });

    it('importing into an unknown collection is a 404 for the whole request', async () => {
      const error = await client
        .importDocuments(`${run}_missing`, [line({ id: '1' })], 'upsert')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        status: 404,
        retryable: false,
        serverMessage: collectionNotFound(version),
      });
    });
  });

  describe('single documents', () => {
    const name = `${run}_single`;

    beforeAll(async () => {
      await createCollection({ ...productSchema, name });
    });

    it('POST creates (201), a second create is a 409, an update of a missing id a 404', async () => {
      const doc = { id: 's1', title: 'S', brand: 'B', price: 1 };
      const first = await raw('POST', `/collections/${name}/documents`, JSON.stringify(doc));
      expect(first.status).toBe(201);
      expect(first.json).toEqual(doc);
      const second = await raw('POST', `/collections/${name}/documents`, JSON.stringify(doc));
      expect(second.status).toBe(409);
      expect(second.json).toEqual({ message: 'A document with id s1 already exists.' });
      const update = await raw(
        'POST',
        `/collections/${name}/documents?action=update`,
        JSON.stringify({ id: 'zz', price: 2 }),
      );
      expect(update.status).toBe(404);
      expect(update.json).toEqual({ message: 'Could not find a document with id: zz' });
    });

    it('GET and DELETE of a missing document are 404 with the document message', async () => {
      for (const method of ['GET', 'DELETE']) {
        const response = await raw(method, `/collections/${name}/documents/missing-doc`);
        expect(response.status).toBe(404);
        expect(response.json).toEqual({ message: 'Could not find a document with id: missing-doc' });
      }
      expect(await client.getDocument(name, 'missing-doc')).toBeUndefined();
    });

    it('document requests on an unknown collection are 404 (src/core_api.cpp get_fetch_document), and getDocument throws', async () => {
      const response = await raw('GET', `/collections/${run}_nocoll/documents/x`);
      expect(response.status).toBe(404);
      expect(response.json).toEqual({ message: collectionNotFound(version) });
      await expect(client.getDocument(`${run}_nocoll`, 'x')).rejects.toMatchObject({ status: 404 });
    });

    it('DELETE of one document returns it', async () => {
      const response = await raw('DELETE', `/collections/${name}/documents/s1`);
      expect(response.status).toBe(200);
      expect(response.json).toMatchObject({ id: 's1', title: 'S' });
    });
  });

  describe('delete by id filter', () => {
    const name = `${run}_ids`;
    const awkward = [
      'a,b',
      'with space',
      'back`tick',
      'pipe|x',
      'ünïcødé-日本',
      'amp&&x',
      'paren(x)',
      'slash/x',
      'percent%20x',
      'plus+x',
      'hash#x',
    ];

    beforeAll(async () => {
      await createCollection({ name, fields: [{ name: 'title', type: 'string' }] });
    });

    it('deletes exactly the given ids, whatever characters they contain', async () => {
      const docs = [...awkward, 'keep-me', 'a', 'b'].map((id) => line({ id, title: id }));
      const imported = await client.importDocuments(name, docs, 'upsert');
      expect(imported.every((result) => result.success)).toBe(true);

      expect(await client.deleteByIds(name, [...awkward, 'not-there'])).toBe(awkward.length);
      const remaining = (await client.exportDocuments(name)).map((doc) => doc.id).sort();
      expect(remaining).toEqual(['a', 'b', 'keep-me']);
    });

    it('a "*" id deletes nothing but a document with that id', async () => {
      expect(await client.deleteByIds(name, ['*'])).toBe(0);
      expect((await client.exportDocuments(name)).length).toBe(3);
    });

    it('raw filter: backtick-quoted values, id:= and num_deleted', async () => {
      await client.importDocuments(
        name,
        [line({ id: 'x,y', title: 't' }), line({ id: 'z w', title: 't' })],
        'upsert',
      );
      const list = await raw(
        'DELETE',
        `/collections/${name}/documents?filter_by=${encodeURIComponent('id:[`x,y`, `z w`]')}`,
      );
      expect(list.status).toBe(200);
      expect(list.json).toEqual({ num_deleted: 2 });
      const single = await raw(
        'DELETE',
        `/collections/${name}/documents?filter_by=${encodeURIComponent('id:=a')}`,
      );
      expect(single.json).toEqual({ num_deleted: 1 });
      const none = await raw(
        'DELETE',
        `/collections/${name}/documents?filter_by=${encodeURIComponent('id:[nope]')}`,
      );
      expect(none.json).toEqual({ num_deleted: 0 });
    });

    it('a delete without filter_by is a 400', async () => {
      const response = await raw('DELETE', `/collections/${name}/documents`);
      expect(response.status).toBe(400);
      expect(response.json).toEqual({ message: 'Parameter `filter_by` must be provided.' });
    });
  });

  describe('export and search', () => {
    const name = `${run}_search`;
    const docs = [
      { id: 'p1', title: 'Wireless Mouse', brand: 'Acme', price: 20, tags: ['usb'] },
      { id: 'p2', title: 'Wired Keyboard', brand: 'Acme', price: 35 },
      { id: 'p3', title: 'Wireless Headphones', brand: 'Sonic', price: 99.5 },
    ];

    beforeAll(async () => {
      await createCollection({ ...productSchema, name });
      await client.importDocuments(name, docs.map(line), 'create');
    });

    it('export returns every document as JSONL', async () => {
      const exported = await client.exportDocuments(name);
      expect(exported.sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual(docs);
      const response = await raw('GET', `/collections/${name}/documents/export`);
      expect(response.text.split('\n').filter((row) => row !== '')).toHaveLength(3);
    });

    it('q=* matches everything, with the documented response shape', async () => {
      const result = await client.search(name, { q: '*' });
      expect(result).toMatchObject({ found: 3, out_of: 3, page: 1, facet_counts: [] });
      expect(result.hits).toHaveLength(3);
      expect(result.hits[0]).toMatchObject({ document: expect.objectContaining({ id: expect.any(String) }) });
      expect(typeof result.search_time_ms).toBe('number');
      expect(result.request_params).toMatchObject({ collection_name: name, per_page: 10, q: '*' });
    });

    it('q with query_by finds matching words', async () => {
      const result = await client.search(name, { q: 'wireless', query_by: 'title' });
      expect(result.found).toBe(2);
      expect(result.hits.map((hit) => hit.document.id).sort()).toEqual(['p1', 'p3']);
    });

    it('filter_by narrows by string field and by id', async () => {
      const byBrand = await client.search(name, { q: '*', filter_by: 'brand:=Acme' });
      expect(byBrand.hits.map((hit) => hit.document.id).sort()).toEqual(['p1', 'p2']);
      const combined = await client.search(name, {
        q: 'wireless',
        query_by: 'title',
        filter_by: 'brand:=Acme',
      });
      expect(combined.hits.map((hit) => hit.document.id)).toEqual(['p1']);
      const byId = await client.search(name, { q: '*', filter_by: 'id:[p2,p3]' });
      expect(byId.hits.map((hit) => hit.document.id).sort()).toEqual(['p2', 'p3']);
    });

    it('per_page and page paginate', async () => {
      const first = await client.search(name, { q: '*', per_page: 2, page: 1 });
      const second = await client.search(name, { q: '*', per_page: 2, page: 2 });
      expect(first.hits).toHaveLength(2);
      expect(second.hits).toHaveLength(1);
      expect(first.found).toBe(3);
      const ids = [...first.hits, ...second.hits].map((hit) => hit.document.id).sort();
      expect(ids).toEqual(['p1', 'p2', 'p3']);
    });

    it('facet_by counts the values of facet fields, most frequent first; a field that is no facet is a 404 (src/collection.cpp Collection::search)', async () => {
      const result = await client.search(name, { q: '*', facet_by: 'brand' });
      expect(result.facet_counts).toEqual([
        expect.objectContaining({
          field_name: 'brand',
          counts: [
            expect.objectContaining({ count: 2, value: 'Acme' }),
            expect.objectContaining({ count: 1, value: 'Sonic' }),
          ],
          stats: expect.objectContaining({ total_values: 2 }),
        }),
      ]);
      const notFacet = await raw('GET', `/collections/${name}/documents/search?q=*&facet_by=title`);
      expect(notFacet.status).toBe(404);
      expect(notFacet.json).toEqual({ message: 'Could not find a facet field named `title` in the schema.' });
    });

    it('a search without q is a 400; on an unknown collection a 404 (src/collection_manager.cpp CollectionManager::do_search)', async () => {
      const missingQ = await raw('GET', `/collections/${name}/documents/search?query_by=title`);
      expect(missingQ.status).toBe(400);
      expect(missingQ.json).toEqual({ message: 'Parameter `q` is required.' });
      const unknown = await raw('GET', `/collections/${run}_nosearch/documents/search?q=*`);
      expect(unknown.status).toBe(404);
      expect(unknown.json).toEqual({ message: searchCollectionNotFound(version) });
    });
  });
});
