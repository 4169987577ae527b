/**
 * A deliberately small Typesense HTTP client.
 *
 * Why not the `typesense` npm package: it retries on its own (numRetries defaults to 3), which would multiply
 * with the writer's single retry policy, and its `import` throws as soon as one line fails, hiding the
 * per-line outcomes the writer needs. Here one call is one HTTP request with one outcome; the caller decides
 * whether to retry, and every import line's result is returned.
 */

export type ImportAction = 'create' | 'upsert' | 'update' | 'emplace';

export type ImportLineResult =
  | { success: true; id?: string }
  | { success: false; code: number; error: string; document?: string };

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

export type TypesenseDocument = Record<string, unknown>;

export type SearchHit = { document: TypesenseDocument; [key: string]: unknown };

export type SearchResponse = {
  found: number;
  hits: SearchHit[];
  page: number;
  out_of?: number;
  [key: string]: unknown;
};

/**
 * Supplies the API key per request, so it should cache. `invalidate` drops a cached key: the client
 * calls it when Typesense answers 401, so a rotated key is fetched at once instead of after the cache
 * expires.
 */
export type ApiKeyProvider = (() => Promise<string>) & { invalidate?: () => void };

export type TypesenseClientOptions = {
  /** Base URLs such as `http://127.0.0.1:8108`; requests rotate over them round-robin. */
  nodes: string[];
  /** The key itself, or a provider (e.g. a cached Secrets Manager lookup). */
  apiKey: string | ApiKeyProvider;
  /** Per-request timeout covering connect, headers and body. Default 5000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
};

/** Keeps generated URLs well under common proxy/server limits (Typesense itself allows more). */
export const MAX_URL_LENGTH = 4000;

export abstract class TypesenseError extends Error {
  abstract readonly retryable: boolean;
}

/** Typesense answered with an HTTP error status. */
export class TypesenseHttpError extends TypesenseError {
  override name = 'TypesenseHttpError';
  readonly retryable: boolean;

  constructor(
    readonly status: number,
    readonly serverMessage: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(`Typesense ${method} ${path} failed with HTTP ${status}: ${serverMessage}`);
    // 408/429/5xx are load or leadership conditions (e.g. 503 "Not Ready or Lagging") that pass; so is the 422
    // a node short of memory or disk answers every write (src/raft_server.cpp ReplicationState::write).
    // Other 4xx won't pass.
    this.retryable =
      status === 408 ||
      status === 429 ||
      status >= 500 ||
      (status === 422 && serverMessage.startsWith(OUT_OF_RESOURCE_PREFIX));
  }
}

/** No usable answer: connection refused/reset, DNS failure or timeout. The request may or may not have been applied. */
export class TypesenseUnavailableError extends TypesenseError {
  override name = 'TypesenseUnavailableError';
  readonly retryable = true;
}

/** Typesense answered 2xx with something this client cannot interpret: retrying will not help. */
export class TypesenseProtocolError extends TypesenseError {
  override name = 'TypesenseProtocolError';
  readonly retryable = false;
}

type RequestOptions = {
  query?: Record<string, string | number | boolean>;
  body?: string;
  contentType?: string;
};

type RawResponse = { status: number; text: string };

/** Typesense's whole-request 422 while memory or disk is above its limit; passes once it is not. */
const OUT_OF_RESOURCE_PREFIX = 'Rejecting write: running out of resource type: ';

/** The only document-level 404 message; every other 404 (e.g. `Not Found`) means the collection is missing. */
const DOCUMENT_NOT_FOUND_PREFIX = 'Could not find a document with id';

export class TypesenseClient {
  private readonly nodes: string[];
  private readonly apiKey: string | ApiKeyProvider;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private nextNode = 0;

  constructor(options: TypesenseClientOptions) {
    if (options.nodes.length === 0) throw new TypeError('TypesenseClient needs at least one node URL');
    this.nodes = options.nodes.map((node) => node.replace(/\/+$/, ''));
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  async health(): Promise<boolean> {
    try {
      // Unauthenticated: health must not depend on the key (or on Secrets Manager).
      const response = await this.send('GET', '/health', {}, undefined);
      if (response.status !== 200) return false;
      const body = JSON.parse(response.text) as { ok?: unknown };
      return body.ok === true;
    } catch {
      return false;
    }
  }

  async importDocuments(
    collection: string,
    jsonLines: string[],
    action: ImportAction,
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
   * whitespace, and treats the value `*` as "every document".
   */
  async deleteByIds(collection: string, ids: string[]): Promise<number> {
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
      const text = await this.request('DELETE', basePath, { query: { filter_by: chunk } });
      const body = parseJson(text, `delete from ${collection}`) as { num_deleted?: unknown };
      if (typeof body.num_deleted !== 'number') {
        throw new TypesenseProtocolError(`Typesense delete from ${collection} answered without num_deleted`);
      }
      deleted += body.num_deleted;
    }

    for (const id of oneByOne) {
      try {
        await this.request('DELETE', `${basePath}/${encode(id)}`);
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
    const text = await this.request('GET', `/collections/${encode(collection)}/documents/export`);
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => parseJson(line, `export of ${collection}`) as TypesenseDocument);
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

  private async request(method: string, path: string, options: RequestOptions = {}): Promise<string> {
    const apiKey = await this.resolveApiKey();
    let response = await this.send(method, path, options, apiKey);
    if (response.status === 401 && typeof this.apiKey !== 'string' && this.apiKey.invalidate !== undefined) {
      // The key may have been rotated since it was cached. Typesense rejects a bad key before doing
      // anything, so one retry with a fresh key is safe, and pointless if the key did not change.
      this.apiKey.invalidate();
      const freshKey = await this.resolveApiKey();
      if (freshKey !== apiKey) response = await this.send(method, path, options, freshKey);
    }
    if (response.status >= 400) {
      throw new TypesenseHttpError(response.status, serverMessage(response.text), method, path);
    }
    return response.text;
  }

  private async send(
    method: string,
    path: string,
    options: RequestOptions,
    apiKey: string | undefined,
  ): Promise<RawResponse> {
    const node = this.nodes[this.nextNode % this.nodes.length] as string;
    this.nextNode = (this.nextNode + 1) % this.nodes.length;

    const headers: Record<string, string> = {};
    if (apiKey !== undefined) headers['X-TYPESENSE-API-KEY'] = apiKey;
    if (options.contentType !== undefined) headers['Content-Type'] = options.contentType;

    let url = `${node}${path}`;
    if (options.query !== undefined) {
      const search = Object.entries(options.query)
        .map(([key, value]) => `${encode(key)}=${encode(String(value))}`)
        .join('&');
      if (search !== '') url += `?${search}`;
    }

    // Errors name the node and path only: URLs never carry the key, and query strings may carry document ids.
    const where = `${method} ${node}${path}`;
    try {
      const response = await this.fetchImpl(url, {
        method,
        headers,
        body: options.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // The timeout signal also covers reading the body, so a stalled body surfaces here as a timeout.
      const text = await response.text();
      return { status: response.status, text };
    } catch (error) {
      throw new TypesenseUnavailableError(
        `Typesense ${where} got no answer: ${describeFetchError(error, this.timeoutMs)}`,
        {
          cause: error,
        },
      );
    }
  }

  private async resolveApiKey(): Promise<string> {
    return typeof this.apiKey === 'string' ? this.apiKey : await this.apiKey();
  }
}

/** Whether `id:[`<id>`]` in a filter matches exactly this id and nothing else. */
export function isFilterSafeId(id: string): boolean {
  return id !== '' && id !== '*' && !id.includes('`') && id.trim() === id;
}

/**
 * Groups ids into `id:[`a`,`b`]` filters whose URL-encoded length stays within `maxEncodedLength`.
 * An id too long for any budget still gets a filter of its own.
 */
export function chunkIdFilters(ids: string[], maxEncodedLength: number): string[] {
  const open = 'id:[';
  const close = ']';
  const overhead = encode(open).length + encode(close).length;
  const separator = encode(',').length;
  const filters: string[] = [];
  let current: string[] = [];
  let length = overhead;

  for (const id of ids) {
    const value = `\`${id}\``;
    const valueLength = encode(value).length;
    if (current.length > 0 && length + separator + valueLength > maxEncodedLength) {
      filters.push(`${open}${current.join(',')}${close}`);
      current = [];
      length = overhead;
    }
    length += valueLength + (current.length > 0 ? separator : 0);
    current.push(value);
  }
  if (current.length > 0) filters.push(`${open}${current.join(',')}${close}`);
  return filters;
}

/** encodeURIComponent plus RFC 3986's reserved `!'()*`, so ids like `*` or `a(b)` reach the server verbatim. */
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
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

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TypesenseProtocolError(`Typesense ${what}: response is not valid JSON`);
  }
}

function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // Not JSON (e.g. a proxy's HTML error page): fall through to a short excerpt.
  }
  const excerpt = text.trim().slice(0, 200);
  return excerpt === '' ? '(empty body)' : excerpt;
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError')
      return `timed out after ${timeoutMs} ms`;
    // undici reports network failures as `TypeError: fetch failed` with the system error as its cause.
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
    }
    return error.message;
  }
  return String(error);
}
