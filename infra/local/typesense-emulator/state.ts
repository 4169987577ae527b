/**
 * Collections, aliases, documents, synonyms and curations, routed as src/main/typesense_server.cpp registers
 * them, with the handlers' answers from src/core_api.cpp.
 */

import { type Operation, writeDocument } from './documents.ts';
import { compileFilter } from './filter.ts';
import { isObject, type JsonObject, type JsonValue, parseJson, stringifyJson } from './json.ts';
import { type Collection, type Doc, dirtyValuesFor, parseSchema, RequestError } from './schema.ts';
import { search } from './search.ts';
import { type ItemStore, parseSet, validateCuration, validateSynonym } from './synonyms.ts';
import type { VersionProfile } from './versions.ts';

export type HttpResult = { status: number; body: string; contentType?: string };
export type EmulatorCounters = { requests: number; importLines: number; deletes: number };

export const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/** JSON with the emulator's bigint integers written as plain numbers. */
export function json(status: number, value: unknown): HttpResult {
  const text = JSON.stringify(value, (_key, item) => (typeof item === 'bigint' ? `\u0000${item}` : item));
  return { status, body: text.replace(/"\\u0000(-?\d+)"/g, '$1'), contentType: JSON_TYPE };
}

export class EmulatorState {
  private readonly collections = new Map<string, Collection>();
  private readonly aliases = new Map<string, string>();
  private readonly synonyms = new Map<string, ItemStore>();
  private readonly overrides = new Map<string, ItemStore>();
  private readonly synonymSets = new Map<string, JsonObject>();
  private readonly curationSets = new Map<string, JsonObject>();
  private nextCollectionId = 0;

  constructor(private readonly profile: VersionProfile) {}

  route(
    method: string,
    segments: string[],
    query: URLSearchParams,
    body: string,
    stats: EmulatorCounters,
  ): HttpResult {
    const [root, name, sub, docId, extra] = segments;
    if (root === 'collections') {
      if (name === undefined) {
        if (method === 'GET') return json(200, this.listCollections());
        return json(201, this.createCollection(body));
      }
      if (sub === undefined) {
        if (method === 'GET') return json(200, this.summary(this.requireCollection(name)));
        return json(200, this.dropCollection(name));
      }
      if (sub === 'documents') return this.documents(method, name, docId, query, body, stats);
      const store = sub === 'synonyms' ? this.synonyms : this.overrides;
      const validate = sub === 'synonyms' ? validateSynonym : validateCuration;
      return itemRoute(method, this.itemsOf(store, name), docId, body, validate, sub, extra);
    }
    if (root === 'aliases') return this.aliasRoute(method, name, body);
    const sets = root === 'synonym_sets' ? this.synonymSets : this.curationSets;
    const validate = root === 'synonym_sets' ? validateSynonym : validateCuration;
    return setRoute(method, sets, name, sub === 'items' ? (docId ?? '') : undefined, body, validate);
  }

  private documents(
    method: string,
    name: string,
    docId: string | undefined,
    query: URLSearchParams,
    body: string,
    stats: EmulatorCounters,
  ): HttpResult {
    if (docId === 'import') return this.importDocuments(name, body, query, stats);
    if (docId === 'search' && this.resolve(name) === undefined) {
      throw new RequestError(404, this.profile.searchCollectionNotFound);
    }
    const collection = this.requireCollection(name);
    if (docId === undefined) {
      if (method === 'POST') {
        const outcome = writeDocument(
          collection,
          body,
          parseAction(query),
          undefined,
          dirtyValuesFor(collection, query.get('dirty_values')),
          this.profile.updateDropsArrayNulls,
        );
        return outcome.ok ? docResult(201, outcome.doc) : json(outcome.code, { message: outcome.error });
      }
      return json(200, this.deleteByFilter(collection, query, stats));
    }
    if (docId === 'export') return this.exportDocuments(collection, query);
    if (docId === 'search') return json(200, search(collection, query));
    if (method === 'PATCH') {
      const outcome = writeDocument(
        collection,
        body,
        'update',
        docId,
        dirtyValuesFor(collection, query.get('dirty_values')),
        this.profile.updateDropsArrayNulls,
      );
      return outcome.ok ? docResult(200, outcome.doc) : json(outcome.code, { message: outcome.error });
    }
    const doc = collection.docs.get(docId);
    if (doc === undefined) throw new RequestError(404, `Could not find a document with id: ${docId}`);
    if (method === 'DELETE') {
      collection.docs.delete(docId);
      stats.deletes += 1;
    }
    return docResult(200, doc);
  }

  private resolve(name: string): Collection | undefined {
    // A real collection name wins over an alias of the same name, as in Typesense.
    const direct = this.collections.get(name);
    if (direct !== undefined) return direct;
    const target = this.aliases.get(name);
    return target === undefined ? undefined : this.collections.get(target);
  }

  private requireCollection(name: string): Collection {
    const collection = this.resolve(name);
    if (collection === undefined) throw new RequestError(404, this.profile.collectionNotFound);
    return collection;
  }

  private itemsOf(stores: Map<string, ItemStore>, name: string): ItemStore {
    const collection = this.requireCollection(name);
    let store = stores.get(collection.name);
    if (store === undefined) {
      store = new Map();
      stores.set(collection.name, store);
    }
    return store;
  }

  private listCollections(): unknown[] {
    return [...this.collections.values()]
      .sort((a, b) => b.collectionId - a.collectionId)
      .map((collection) => this.summary(collection));
  }

  private createCollection(body: string): unknown {
    const schema = parseBody(body);
    const parsed = parseSchema(schema, this.profile.globalSynonymSets);
    if (this.collections.has(parsed.name)) {
      throw new RequestError(409, `A collection with name \`${parsed.name}\` already exists.`);
    }
    for (const set of parsed.synonymSets ?? []) {
      if (!this.synonymSets.has(set)) throw new RequestError(404, `Synonym set \`${set}\` not found.`);
    }
    for (const set of parsed.curationSets ?? []) {
      if (!this.curationSets.has(set)) throw new RequestError(404, `Curation set \`${set}\` not found.`);
    }
    const collection: Collection = {
      ...parsed,
      createdAt: Math.floor(Date.now() / 1000),
      docs: new Map(),
      nextSeqId: 0,
      collectionId: this.nextCollectionId++,
    };
    this.collections.set(collection.name, collection);
    return this.summary(collection);
  }

  private dropCollection(name: string): unknown {
    const collection = this.resolve(name);
    if (collection === undefined) throw new RequestError(404, `No collection with name \`${name}\` found.`);
    this.collections.delete(collection.name);
    this.synonyms.delete(collection.name);
    this.overrides.delete(collection.name);
    return this.summary(collection);
  }

  private summary(collection: Collection): Record<string, unknown> {
    const out: Record<string, unknown> = {
      created_at: collection.createdAt,
      default_sorting_field: collection.defaultSortingField,
      enable_nested_fields: collection.enableNestedFields,
      fields: collection.fields.map((field) => ({ ...field })),
      name: collection.name,
      num_documents: collection.docs.size,
      symbols_to_index: [],
      token_separators: [],
    };
    if (this.profile.globalSynonymSets) {
      out.synonym_sets = collection.synonymSets ?? [];
      out.curation_sets = collection.curationSets ?? [];
    }
    return out;
  }

  private aliasRoute(method: string, name: string | undefined, body: string): HttpResult {
    if (name === undefined) {
      return json(200, {
        aliases: [...this.aliases].map(([alias, target]) => ({ collection_name: target, name: alias })),
      });
    }
    if (method === 'PUT') {
      const request = parseBody(body);
      if (request.collection_name === undefined)
        throw new RequestError(400, 'Parameter `collection_name` is required.');
      if (typeof request.collection_name !== 'string') {
        throw new RequestError(400, 'Parameter `collection_name` must be a string.');
      }
      // CollectionManager::upsert_symlink answers a name clash with a 500.
      if (this.collections.has(name)) {
        throw new RequestError(500, `Name \`${name}\` conflicts with an existing collection name.`);
      }
      this.aliases.set(name, request.collection_name);
      return json(200, { collection_name: request.collection_name, name });
    }
    const target = this.aliases.get(name);
    if (target === undefined) throw new RequestError(404, this.profile.collectionNotFound);
    if (method === 'DELETE') this.aliases.delete(name);
    return json(200, { collection_name: target, name });
  }

  private importDocuments(
    name: string,
    body: string,
    query: URLSearchParams,
    stats: EmulatorCounters,
  ): HttpResult {
    // post_import_documents checks its parameters before it looks the collection up.
    const batchSize = query.get('batch_size') ?? '40';
    if (!/^\d+$/.test(batchSize) || Number(batchSize) > 4_294_967_295 || Number(batchSize) === 0) {
      throw new RequestError(400, 'Parameter `batch_size` must be a positive integer.');
    }
    const action = parseAction(query);
    const returnDoc = parseBoolParam(query, 'return_doc');
    const returnId = parseBoolParam(query, 'return_id');
    const collection = this.requireCollection(name);
    const dirty = dirtyValuesFor(collection, query.get('dirty_values'));
    // StringUtils::split(body, lines, "\n", keep_empty=false, trim_space=false): whitespace-only lines stay.
    const lines = body.split('\n').filter((line) => line !== '');
    stats.importLines += lines.length;
    const results = lines.map((line) => {
      const outcome = writeDocument(
        collection,
        line,
        action,
        undefined,
        dirty,
        this.profile.updateDropsArrayNulls,
      );
      // Keys in alphabetical order, as nlohmann::json writes them.
      if (!outcome.ok) {
        const result: Record<string, unknown> = { code: outcome.code };
        if (returnDoc || this.profile.failedLineDocumentAlways) result.document = line;
        result.error = outcome.error;
        if (returnId && outcome.id !== undefined) result.id = outcome.id;
        result.success = false;
        return json(200, result).body;
      }
      const parts = [];
      if (returnDoc) parts.push(`"document":${stringifyJson(outcome.doc)}`);
      if (returnId) parts.push(`"id":${JSON.stringify(outcome.doc.id)}`);
      parts.push('"success":true');
      return `{${parts.join(',')}}`;
    });
    return { status: 200, body: results.join('\n'), contentType: TEXT_TYPE };
  }

  private exportDocuments(collection: Collection, query: URLSearchParams): HttpResult {
    const filterBy = query.get('filter_by');
    const matches =
      filterBy === null || filterBy.trim() === '' ? () => true : compileFilter(collection, filterBy);
    const list = (name: string) => {
      const raw = query.get(name);
      return raw === null
        ? undefined
        : new Set(
            raw
              .split(',')
              .map((item) => item.trim())
              .filter((item) => item !== ''),
          );
    };
    const include = list('include_fields');
    const exclude = list('exclude_fields');
    const rows: string[] = [];
    for (const doc of collection.docs.values()) {
      if (!matches(doc)) continue;
      const shown = Object.fromEntries(
        Object.entries(doc).filter(
          ([key]) =>
            (include === undefined || include.has(key)) && (exclude === undefined || !exclude.has(key)),
        ),
      );
      rows.push(stringifyJson(shown));
    }
    return { status: 200, body: rows.join('\n'), contentType: 'application/octet-stream' };
  }

  private deleteByFilter(collection: Collection, query: URLSearchParams, stats: EmulatorCounters): unknown {
    const filter = query.get('filter_by');
    if (filter === null) throw new RequestError(400, 'Parameter `filter_by` must be provided.');
    const matches = compileFilter(collection, filter);
    let deleted = 0;
    for (const [id, doc] of [...collection.docs]) {
      if (matches(doc)) {
        collection.docs.delete(id);
        deleted += 1;
      }
    }
    stats.deletes += deleted;
    return { num_deleted: deleted };
  }
}

function docResult(status: number, doc: Doc): HttpResult {
  return { status, body: stringifyJson(doc), contentType: JSON_TYPE };
}

/** `/collections/{c}/synonyms[/{id}]` and `/collections/{c}/overrides[/{id}]` (v27 to v29). */
function itemRoute(
  method: string,
  store: ItemStore,
  id: string | undefined,
  body: string,
  validate: (id: string, item: JsonObject) => JsonObject,
  kind: string,
  _extra: string | undefined,
): HttpResult {
  if (id === undefined) return json(200, { [kind]: [...store.values()] });
  if (method === 'PUT') {
    const item = validate(id, parseBody(body));
    store.set(id, item);
    return json(200, item);
  }
  const item = store.get(id);
  if (item === undefined) throw new RequestError(404, 'Could not find that `id`.');
  if (method === 'DELETE') {
    store.delete(id);
    return json(200, { id });
  }
  return json(200, item);
}

/** `/synonym_sets[/{name}[/items[/{id}]]]` and the same for `/curation_sets` (v30). */
function setRoute(
  method: string,
  sets: Map<string, JsonObject>,
  name: string | undefined,
  itemId: string | undefined,
  body: string,
  validate: (id: string, item: JsonObject) => JsonObject,
): HttpResult {
  if (name === undefined) return json(200, [...sets.values()]);
  if (itemId === undefined && method === 'PUT') {
    const set = parseSet(name, parseBody(body), validate);
    sets.set(name, set);
    return json(200, set);
  }
  const set = sets.get(name);
  if (set === undefined) throw new RequestError(404, 'Not Found');
  const items = set.items as JsonObject[];
  if (itemId === undefined) {
    if (method === 'DELETE') {
      sets.delete(name);
      return json(200, { name });
    }
    return json(200, set);
  }
  if (itemId === '') return json(200, items);
  if (method === 'PUT') {
    const item = validate(itemId, parseBody(body));
    set.items = [...items.filter((existing) => existing.id !== itemId), item];
    return json(200, item);
  }
  const item = items.find((existing) => existing.id === itemId);
  if (item === undefined) throw new RequestError(404, 'Not Found');
  if (method === 'DELETE') {
    set.items = items.filter((existing) => existing.id !== itemId);
    return json(200, { id: itemId });
  }
  return json(200, item);
}

function parseBody(body: string): JsonObject {
  let value: JsonValue;
  try {
    value = parseJson(body);
  } catch {
    throw new RequestError(400, 'Bad JSON.');
  }
  if (!isObject(value)) throw new RequestError(400, 'Bad JSON.');
  return value;
}

function parseAction(query: URLSearchParams): Operation {
  const action = query.get('action') ?? 'create';
  if (action === 'create' || action === 'upsert' || action === 'update' || action === 'emplace')
    return action;
  throw new RequestError(400, 'Parameter `action` must be a create|update|upsert.');
}

function parseBoolParam(query: URLSearchParams, name: string): boolean {
  const value = query.get(name) ?? 'false';
  if (value !== 'true' && value !== 'false')
    throw new RequestError(400, `Parameter \`${name}\` must be a true|false.`);
  return value === 'true';
}
