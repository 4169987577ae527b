import type {
  CallOptions,
  ImportAction,
  ImportLineResult,
  TypesenseCollectionsPort,
  TypesenseDocumentsPort,
} from '../core/typesense-port.ts';
import { TypesenseError, TypesenseHttpError, TypesenseProtocolError } from './typesense-errors.ts';
import { parseJson, readText, TypesenseNodes, unavailable } from './typesense-nodes.ts';
import { chunkIdFilters, encode, isFilterSafeId, serverMessage } from './typesense-wire.ts';

export type { CallOptions, ImportAction, ImportLineResult } from '../core/typesense-port.ts';
export {
  TypesenseError,
  TypesenseHttpError,
  TypesenseNotSentError,
  TypesenseProtocolError,
  TypesenseUnavailableError,
} from './typesense-errors.ts';
export type { ApiKeyProvider, TypesenseClientOptions } from './typesense-nodes.ts';
export { chunkIdFilters, isFilterSafeId } from './typesense-wire.ts';

/**
 * A deliberately small Typesense HTTP client.
 *
 * Why not the `typesense` npm package: it retries on its own (numRetries defaults to 3), which would multiply
 * with the writer's single retry policy, and its `import` throws as soon as one line fails, hiding the
 * per-line outcomes the writer needs. Here one call is one HTTP request with one outcome; the caller decides
 * whether to retry, and every import line's result is returned.
 */

export type CollectionField = {
  name: string;
  type: string;
  optional?: boolean;
  facet?: boolean;
  index?: boolean;
  sort?: boolean;
  [key: string]: unknown;
};

export type CollectionSchema = {
  name: string;
  fields: CollectionField[];
  default_sorting_field?: string;
  enable_nested_fields?: boolean;
  [key: string]: unknown;
};

export type CollectionInfo = CollectionSchema & { num_documents: number; created_at: number };

export type AliasInfo = { name: string; collection_name: string };

/** A v27–v29 per-collection synonym or override (curation) rule, as Typesense lists it. */
export type SearchRule = { id: string; [key: string]: unknown };

/** v30 moved synonyms and overrides into named sets that collections reference. */
const SET_REFERENCES = ['synonym_sets', 'curation_sets'] as const;

/** What `copySearchSettings` carried over. */
export type CopiedSearchSettings = { synonyms: number; overrides: number; setReferences: string[] };

export type TypesenseDocument = Record<string, unknown>;

export type SearchHit = { document: TypesenseDocument; [key: string]: unknown };

export type SearchResponse = {
  found: number;
  hits: SearchHit[];
  page: number;
  out_of?: number;
  [key: string]: unknown;
};

/** Keeps generated URLs well under common proxy/server limits (Typesense itself allows more). */
export const MAX_URL_LENGTH = 4000;

/** The only document-level 404 message; every other 404 (e.g. `Not Found`) means the collection is missing. */
const DOCUMENT_NOT_FOUND_PREFIX = 'Could not find a document with id';

export class TypesenseClient
  extends TypesenseNodes
  implements TypesenseCollectionsPort, TypesenseDocumentsPort
{
  async importDocuments(
    collection: string,
    jsonLines: string[],
    action: ImportAction,
    call: CallOptions = {},
  ): Promise<ImportLineResult[]> {
    if (jsonLines.length === 0) return [];
    for (const [index, line] of jsonLines.entries()) {
      // Typesense splits the body on newlines and drops empty lines, which would shift every later result.
      if (line.includes('\n') || line.includes('\r') || line.trim() === '') {
        throw new TypeError(`importDocuments: line ${index} is empty or contains a line break`);
      }
    }
    const path = `/collections/${encode(collection)}/documents/import`;
    const text = await this.request('POST', path, {
      query: { action, return_id: true },
      body: jsonLines.join('\n'),
      contentType: 'text/plain',
      timeoutMs: call.timeoutMs ?? this.importTimeoutMs,
      ...(call.sendBy === undefined ? {} : { sendBy: call.sendBy }),
      // Sent twice, an upsert/update/emplace line lands the same; a create line would answer 409.
      idempotent: action !== 'create',
    });
    const resultLines = text.split('\n').filter((line) => line.trim() !== '');
    if (resultLines.length !== jsonLines.length) {
      throw new TypesenseProtocolError(
        `Typesense import into ${collection} returned ${resultLines.length} result lines for ${jsonLines.length} documents`,
      );
    }
    return resultLines.map((line, index) => parseImportLine(line, index));
  }

  /**
   * Deletes the given ids and returns how many documents were actually removed.
   *
   * Ids go into `filter_by=id:[...]` as backtick-quoted values, chunked so each URL stays under MAX_URL_LENGTH.
   * Ids a filter cannot express exactly are deleted one by one through the document endpoint instead:
   * Typesense's filter parser drops backticks (an escaped one keeps its backslash), trims surrounding
   * whitespace, and treats the value `*` as "every document". An id ending in `\` (every composite id
   * whose last key part ends in `\`) would escape its own closing backtick and swallow the rest of its
   * chunk (StringUtils::split_to_values), so such ids go one by one too. `call.timeoutMs` bounds each request, `call.sendBy` all of them.
   */
  async deleteByIds(collection: string, ids: string[], call: CallOptions = {}): Promise<number> {
    // No document can be addressed by an empty id, so there is nothing to delete for it.
    const unique = [...new Set(ids)].filter((id) => id !== '');
    const viaFilter = unique.filter(isFilterSafeId);
    const oneByOne = unique.filter((id) => !isFilterSafeId(id));
    const basePath = `/collections/${encode(collection)}/documents`;
    const longestNode = Math.max(...this.nodes.map((node) => node.length));
    let deleted = 0;

    for (const chunk of chunkIdFilters(
      viaFilter,
      MAX_URL_LENGTH - longestNode - basePath.length - '?filter_by='.length,
    )) {
      const text = await this.request('DELETE', basePath, {
        query: { filter_by: chunk },
        ...callBounds(call),
      });
      const body = parseJson(text, `delete from ${collection}`) as { num_deleted?: unknown };
      if (typeof body.num_deleted !== 'number') {
        throw new TypesenseProtocolError(`Typesense delete from ${collection} answered without num_deleted`);
      }
      deleted += body.num_deleted;
    }

    for (const id of oneByOne) {
      try {
        await this.request('DELETE', `${basePath}/${encode(id)}`, callBounds(call));
        deleted += 1;
      } catch (error) {
        if (!isDocumentNotFound(error)) throw error;
      }
    }
    return deleted;
  }

  /** The document, or undefined when the collection has no document with that id (a missing collection throws). */
  async getDocument(collection: string, id: string): Promise<TypesenseDocument | undefined> {
    const path = `/collections/${encode(collection)}/documents/${encode(id)}`;
    try {
      return parseJson(
        await this.request('GET', path),
        `get document from ${collection}`,
      ) as TypesenseDocument;
    } catch (error) {
      if (isDocumentNotFound(error)) return undefined;
      throw error;
    }
  }

  async exportDocuments(collection: string): Promise<TypesenseDocument[]> {
    const documents: TypesenseDocument[] = [];
    for await (const document of this.exportDocumentStream(collection)) documents.push(document);
    return documents;
  }

  /**
   * The collection's documents as the export streams them, one JSONL line at a time: memory stays at one
   * network chunk and one document whatever the collection's size. Bounded by `exportTimeoutMs`.
   */
  async *exportDocumentStream(collection: string): AsyncGenerator<TypesenseDocument> {
    const path = `/collections/${encode(collection)}/documents/export`;
    const exchange = await this.authorised('GET', path, { timeoutMs: this.exportTimeoutMs });
    if (exchange.response.status >= 400) {
      throw new TypesenseHttpError(
        exchange.response.status,
        serverMessage(await readText(exchange)),
        'GET',
        path,
      );
    }
    const body = exchange.response.body;
    if (body === null) return;
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of body) {
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        let newline = pending.indexOf('\n');
        while (newline !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim() !== '') yield parseJson(line, `export of ${collection}`) as TypesenseDocument;
          newline = pending.indexOf('\n');
        }
      }
    } catch (error) {
      if (error instanceof TypesenseError) throw error;
      throw unavailable(exchange, error);
    }
    pending += decoder.decode();
    if (pending.trim() !== '') yield parseJson(pending, `export of ${collection}`) as TypesenseDocument;
  }

  async search(collection: string, params: Record<string, string | number>): Promise<SearchResponse> {
    const path = `/collections/${encode(collection)}/documents/search`;
    return parseJson(
      await this.request('GET', path, { query: params }),
      `search in ${collection}`,
    ) as SearchResponse;
  }

  async createCollection(schema: CollectionSchema): Promise<CollectionInfo> {
    const text = await this.request('POST', '/collections', {
      body: JSON.stringify(schema),
      contentType: 'application/json',
    });
    return parseJson(text, 'create collection') as CollectionInfo;
  }

  async getCollection(name: string): Promise<CollectionInfo | undefined> {
    try {
      const text = await this.request('GET', `/collections/${encode(name)}`);
      return parseJson(text, 'get collection') as CollectionInfo;
    } catch (error) {
      if (error instanceof TypesenseHttpError && error.status === 404) return undefined;
      throw error;
    }
  }

  async listCollections(): Promise<CollectionInfo[]> {
    return parseJson(await this.request('GET', '/collections'), 'list collections') as CollectionInfo[];
  }

  async deleteCollection(name: string): Promise<CollectionInfo> {
    const text = await this.request('DELETE', `/collections/${encode(name)}`);
    return parseJson(text, 'delete collection') as CollectionInfo;
  }

  async listSynonyms(collection: string): Promise<SearchRule[]> {
    return this.listRules(collection, 'synonyms');
  }

  async upsertSynonym(collection: string, rule: SearchRule): Promise<SearchRule> {
    return this.upsertRule(collection, 'synonyms', rule);
  }

  async listOverrides(collection: string): Promise<SearchRule[]> {
    return this.listRules(collection, 'overrides');
  }

  async upsertOverride(collection: string, rule: SearchRule): Promise<SearchRule> {
    return this.upsertRule(collection, 'overrides', rule);
  }

  async updateCollection(name: string, patch: Record<string, unknown>): Promise<Record<string, unknown>> {
    const text = await this.request('PATCH', `/collections/${encode(name)}`, {
      body: JSON.stringify(patch),
      contentType: 'application/json',
    });
    return parseJson(text, 'update collection') as Record<string, unknown>;
  }

  /**
   * Gives collection `to` the search settings of `from` before a re-sync swaps the alias, or searches
   * would lose them with the swap. Typesense v30 lists `synonym_sets`/`curation_sets` in a collection:
   * `to` keeps the references its own schema names, and takes `from`'s where it names none. Before v30
   * synonyms and overrides belong to the collection and are copied rule by rule (idempotent upserts).
   */
  async copySearchSettings(from: string, to: string): Promise<CopiedSearchSettings> {
    const [source, target] = await Promise.all([this.getCollection(from), this.getCollection(to)]);
    if (source === undefined)
      throw new TypesenseProtocolError(`collection ${from} vanished before its settings were copied`);
    if (target === undefined)
      throw new TypesenseProtocolError(`collection ${to} vanished before settings were copied to it`);
    if (SET_REFERENCES.some((key) => key in source)) {
      const patch: Record<string, unknown> = {};
      for (const key of SET_REFERENCES) {
        const wanted = source[key];
        const own = target[key];
        if (Array.isArray(wanted) && wanted.length > 0 && !(Array.isArray(own) && own.length > 0))
          patch[key] = wanted;
      }
      if (Object.keys(patch).length > 0) await this.updateCollection(to, patch);
      return { synonyms: 0, overrides: 0, setReferences: Object.keys(patch) };
    }
    // A server without these routes (404; the collection itself exists) has no rules to copy.
    const orNone = (error: unknown): SearchRule[] => {
      if (error instanceof TypesenseHttpError && error.status === 404) return [];
      throw error;
    };
    const [synonyms, overrides] = await Promise.all([
      this.listSynonyms(from).catch(orNone),
      this.listOverrides(from).catch(orNone),
    ]);
    for (const rule of synonyms) await this.upsertSynonym(to, rule);
    for (const rule of overrides) await this.upsertOverride(to, rule);
    return { synonyms: synonyms.length, overrides: overrides.length, setReferences: [] };
  }

  private async listRules(collection: string, kind: 'synonyms' | 'overrides'): Promise<SearchRule[]> {
    const text = await this.request('GET', `/collections/${encode(collection)}/${kind}`);
    const rules = (parseJson(text, `list ${kind} of ${collection}`) as Record<string, unknown>)[kind];
    if (!Array.isArray(rules))
      throw new TypesenseProtocolError(`Typesense ${kind} of ${collection}: no list`);
    return rules as SearchRule[];
  }

  private async upsertRule(
    collection: string,
    kind: 'synonyms' | 'overrides',
    { id, ...rule }: SearchRule,
  ): Promise<SearchRule> {
    const text = await this.request('PUT', `/collections/${encode(collection)}/${kind}/${encode(id)}`, {
      body: JSON.stringify(rule),
      contentType: 'application/json',
    });
    return parseJson(text, `upsert ${kind} of ${collection}`) as SearchRule;
  }

  async upsertAlias(alias: string, collectionName: string): Promise<AliasInfo> {
    const text = await this.request('PUT', `/aliases/${encode(alias)}`, {
      body: JSON.stringify({ collection_name: collectionName }),
      contentType: 'application/json',
    });
    return parseJson(text, 'upsert alias') as AliasInfo;
  }

  async getAlias(alias: string): Promise<AliasInfo | undefined> {
    try {
      return parseJson(await this.request('GET', `/aliases/${encode(alias)}`), 'get alias') as AliasInfo;
    } catch (error) {
      if (error instanceof TypesenseHttpError && error.status === 404) return undefined;
      throw error;
    }
  }

  async deleteAlias(alias: string): Promise<AliasInfo> {
    return parseJson(await this.request('DELETE', `/aliases/${encode(alias)}`), 'delete alias') as AliasInfo;
  }
}

function isDocumentNotFound(error: unknown): boolean {
  return (
    error instanceof TypesenseHttpError &&
    error.status === 404 &&
    error.serverMessage.startsWith(DOCUMENT_NOT_FOUND_PREFIX)
  );
}

function parseImportLine(line: string, index: number): ImportLineResult {
  const parsed = parseJson(line, `import result line ${index}`) as Record<string, unknown>;
  if (parsed.success === true) {
    return typeof parsed.id === 'string' ? { success: true, id: parsed.id } : { success: true };
  }
  if (parsed.success === false && typeof parsed.code === 'number' && typeof parsed.error === 'string') {
    const result: ImportLineResult = { success: false, code: parsed.code, error: parsed.error };
    if (typeof parsed.document === 'string') result.document = parsed.document;
    return result;
  }
  throw new TypesenseProtocolError(`Typesense import result line ${index} has an unexpected shape`);
}

/** A call's bounds as request options: each request's timeout, and the time after which none is sent. */
const callBounds = ({ timeoutMs, sendBy }: CallOptions): { timeoutMs?: number; sendBy?: number } => ({
  ...(timeoutMs === undefined ? {} : { timeoutMs }),
  ...(sendBy === undefined ? {} : { sendBy }),
});
