/**
 * An in-memory Typesense HTTP emulator for local stacks and tests.
 *
 * It covers the endpoints the sync uses (collections, aliases, document CRUD, import, export, delete by id
 * filter, a simple search) with the status codes, messages and response shapes of Typesense v27, as read from
 * the Typesense server source and docs. The contract suite runs the same assertions against a real server,
 * so any drift shows up there. Fault controls let tests exercise the writer's retry handling.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ownChild } from './processes.ts';

export type TypesenseEmulatorStats = {
  /** Every request received, including /health and rejected ones. */
  requests: number;
  /** JSONL lines received by import requests. */
  importLines: number;
  /** Documents removed (single deletes and delete-by-filter). */
  deletes: number;
};

export type TypesenseEmulator = {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** The next `count` requests to /collections/{c}/documents... answer `status` instead of being processed. */
  failNext(count: number, status: number): void;
  /** While down, every connection is destroyed on arrival, as if the node had crashed. */
  setDown(down: boolean): void;
  readonly stats: TypesenseEmulatorStats;
};

export type TypesenseEmulatorOptions = {
  apiKey: string;
  /** 0 or undefined picks a free port. */
  port?: number;
  host?: string;
};

type FieldDef = {
  name: string;
  type: string;
  optional: boolean;
  facet: boolean;
  index: boolean;
  sort: boolean;
  infix: boolean;
  locale: string;
};

type Doc = Record<string, unknown>;

type Collection = {
  name: string;
  fields: FieldDef[];
  defaultSortingField: string;
  enableNestedFields: boolean;
  createdAt: number;
  /** Keyed by id; Map keeps insertion order, and an upsert of an existing id keeps its place, like a seq id. */
  docs: Map<string, Doc>;
  nextSeqId: number;
  collectionId: number;
};

type Operation = 'create' | 'upsert' | 'update' | 'emplace';

type HttpResult = { status: number; body: string; contentType?: string };

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const FORBIDDEN = 'Forbidden - a valid `x-typesense-api-key` header must be sent.';
const NOT_FOUND = 'Not Found';
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const SCALAR_TYPES = new Set(['string', 'int32', 'int64', 'float', 'bool']);
const VALID_TYPES = new Set([
  ...SCALAR_TYPES,
  'string[]',
  'int32[]',
  'int64[]',
  'float[]',
  'bool[]',
  'object',
  'object[]',
  'auto',
  'string*',
]);

const FAILURE_MESSAGES: Record<number, string> = {
  503: 'Not Ready or Lagging',
  429: 'Rate limit exceeded or blocked',
};

export async function startTypesenseEmulator(opts: TypesenseEmulatorOptions): Promise<TypesenseEmulator> {
  const state = new EmulatorState();
  const stats: TypesenseEmulatorStats = { requests: 0, importLines: 0, deletes: 0 };
  const sockets = new Set<Socket>();
  let down = false;
  let failures: { remaining: number; status: number } = { remaining: 0, status: 503 };

  const server = createServer((req, res) => {
    stats.requests += 1;
    if (down) {
      req.socket.destroy();
      return;
    }
    handle(req, res).catch(() => {
      if (!res.headersSent)
        send(res, { status: 500, body: JSON.stringify({ message: 'Internal emulator error.' }) });
      else res.destroy();
    });
  });

  server.on('connection', (socket) => {
    if (down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    let body: string;
    try {
      body = await readBody(req);
    } catch (error) {
      if (!(error instanceof RequestError)) throw error;
      send(res, json(error.status, { message: error.message }));
      return;
    }
    let segments: string[];
    try {
      segments = url.pathname
        .split('/')
        .filter((segment) => segment !== '')
        .map((segment) => decodeURIComponent(segment));
    } catch {
      send(res, json(400, { message: 'Bad request.' }));
      return;
    }

    if (segments.length === 1 && segments[0] === 'health' && method === 'GET') {
      send(res, json(200, { ok: true }));
      return;
    }

    const key = req.headers['x-typesense-api-key'] ?? url.searchParams.get('x-typesense-api-key');
    if (key !== opts.apiKey) {
      send(res, json(401, { message: FORBIDDEN }));
      return;
    }

    if (segments[0] === 'collections' && segments[2] === 'documents' && failures.remaining > 0) {
      failures.remaining -= 1;
      const message = FAILURE_MESSAGES[failures.status] ?? `Emulated failure with HTTP ${failures.status}.`;
      send(res, json(failures.status, { message }));
      return;
    }

    try {
      send(res, state.route(method, segments, url.searchParams, body, stats));
    } catch (error) {
      if (error instanceof RequestError) send(res, json(error.status, { message: error.message }));
      else throw error;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    stats,
    failNext(count: number, status: number) {
      failures = { remaining: count, status };
    },
    setDown(value: boolean) {
      down = value;
      if (value) {
        // Kept-alive connections would otherwise still reach the handler, which checks `down` too.
        for (const socket of sockets) socket.destroy();
      }
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** The emulator in a child process: a server only, without the in-process fault controls and stats. */
export type TypesenseEmulatorProcess = Pick<TypesenseEmulator, 'url' | 'port' | 'stop'>;

/** Thrown when the emulator's child process ends before it is listening. */
export class TypesenseEmulatorProcessError extends Error {
  override name = 'TypesenseEmulatorProcessError';
}

/**
 * Starts the emulator in a child process (`typesense-emulator-main.ts`), so that it has an event loop
 * and a CPU thread of its own, as a real Typesense server does, instead of taking turns with the
 * caller's work. The child is killed when this process exits.
 */
export async function startTypesenseEmulatorProcess(
  opts: TypesenseEmulatorOptions,
): Promise<TypesenseEmulatorProcess> {
  const main = fileURLToPath(new URL('./typesense-emulator-main.ts', import.meta.url));
  const args = [
    '--api-key',
    opts.apiKey,
    '--port',
    String(opts.port ?? 0),
    '--host',
    opts.host ?? '127.0.0.1',
  ];
  // stdin is a pipe the child watches: it exits when this process dies without stopping it.
  const child = ownChild(
    spawn(process.execPath, ['--import', 'tsx', main, ...args], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const newline = output.indexOf('\n');
      if (newline >= 0) resolve(output.slice(0, newline));
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(
        new TypesenseEmulatorProcessError(
          `the Typesense emulator process exited during start-up (code ${code}); is port ${opts.port ?? 0} free?`,
        ),
      ),
    );
  });
  return {
    url,
    port: Number(new URL(url).port),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

class EmulatorState {
  private readonly collections = new Map<string, Collection>();
  private readonly aliases = new Map<string, string>();
  private nextCollectionId = 0;

  route(
    method: string,
    segments: string[],
    query: URLSearchParams,
    body: string,
    stats: TypesenseEmulatorStats,
  ): HttpResult {
    const [root, name, sub, docId, extra] = segments;

    if (root === 'collections' && extra === undefined) {
      if (name === undefined) {
        if (method === 'GET') return json(200, this.listCollections());
        if (method === 'POST') return json(201, this.createCollection(body));
      } else if (sub === undefined) {
        if (method === 'GET') return json(200, summary(this.requireCollection(name)));
        if (method === 'DELETE') return json(200, this.dropCollection(name));
      } else if (sub === 'documents') {
        const collection = this.requireCollection(name);
        if (docId === undefined) {
          if (method === 'POST') return this.addDocument(collection, body, query);
          if (method === 'DELETE') return json(200, this.deleteByFilter(collection, query, stats));
        } else if (docId === 'import' && method === 'POST') {
          return this.importDocuments(collection, body, query, stats);
        } else if (docId === 'export' && method === 'GET') {
          return {
            status: 200,
            body: [...collection.docs.values()].map((doc) => JSON.stringify(doc)).join('\n'),
            contentType: TEXT_TYPE,
          };
        } else if (docId === 'search' && method === 'GET') {
          return json(200, search(collection, query));
        } else {
          if (method === 'GET') return json(200, this.requireDocument(collection, docId));
          if (method === 'PATCH') return this.patchDocument(collection, docId, body);
          if (method === 'DELETE') {
            const doc = this.requireDocument(collection, docId);
            collection.docs.delete(docId);
            stats.deletes += 1;
            return json(200, doc);
          }
        }
      }
    }

    if (root === 'aliases' && sub === undefined) {
      if (name === undefined && method === 'GET') {
        return json(200, {
          aliases: [...this.aliases].map(([alias, target]) => ({ collection_name: target, name: alias })),
        });
      }
      if (name !== undefined) {
        if (method === 'GET') return json(200, this.requireAlias(name));
        if (method === 'PUT') return json(200, this.upsertAlias(name, body));
        if (method === 'DELETE') {
          const alias = this.requireAlias(name);
          this.aliases.delete(name);
          return json(200, alias);
        }
      }
    }

    throw new RequestError(404, NOT_FOUND);
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
    if (collection === undefined) throw new RequestError(404, NOT_FOUND);
    return collection;
  }

  private requireDocument(collection: Collection, id: string): Doc {
    const doc = collection.docs.get(id);
    if (doc === undefined) throw new RequestError(404, `Could not find a document with id: ${id}`);
    return doc;
  }

  private requireAlias(name: string): { collection_name: string; name: string } {
    const target = this.aliases.get(name);
    if (target === undefined) throw new RequestError(404, NOT_FOUND);
    return { collection_name: target, name };
  }

  private listCollections(): unknown[] {
    return [...this.collections.values()]
      .sort((a, b) => b.collectionId - a.collectionId)
      .map((collection) => summary(collection));
  }

  private createCollection(body: string): unknown {
    const schema = parseJsonObject(body);
    if (typeof schema.name !== 'string' || schema.name === '') {
      throw new RequestError(400, 'Parameter `name` is required.');
    }
    if (schema.fields === undefined) throw new RequestError(400, 'Parameter `fields` is required.');
    if (!Array.isArray(schema.fields)) {
      throw new RequestError(400, 'Wrong format for `fields`. It should be an array.');
    }
    if (this.collections.has(schema.name)) {
      throw new RequestError(409, `A collection with name \`${schema.name}\` already exists.`);
    }
    const enableNestedFields = schema.enable_nested_fields === true;
    const fields = schema.fields.map((raw) => parseField(raw, enableNestedFields));
    const names = new Set<string>();
    for (const field of fields) {
      if (names.has(field.name))
        throw new RequestError(400, `There are duplicate field names in the schema.`);
      names.add(field.name);
    }

    const defaultSortingField =
      typeof schema.default_sorting_field === 'string' ? schema.default_sorting_field : '';
    if (defaultSortingField !== '') {
      const field = fields.find((candidate) => candidate.name === defaultSortingField);
      if (field === undefined) {
        throw new RequestError(
          400,
          `Default sorting field is defined as \`${defaultSortingField}\` but is not found in the schema.`,
        );
      }
      if (!['int32', 'int64', 'float'].includes(field.type)) {
        throw new RequestError(
          400,
          `Default sorting field \`${defaultSortingField}\` is not a sortable type.`,
        );
      }
      if (field.optional) {
        throw new RequestError(
          400,
          `Default sorting field \`${defaultSortingField}\` cannot be an optional field.`,
        );
      }
    }

    const collection: Collection = {
      name: schema.name,
      fields,
      defaultSortingField,
      enableNestedFields,
      createdAt: Math.floor(Date.now() / 1000),
      docs: new Map(),
      nextSeqId: 0,
      collectionId: this.nextCollectionId++,
    };
    this.collections.set(collection.name, collection);
    return summary(collection);
  }

  private dropCollection(name: string): unknown {
    const collection = this.resolve(name);
    if (collection === undefined) throw new RequestError(404, `No collection with name \`${name}\` found.`);
    this.collections.delete(collection.name);
    return summary(collection);
  }

  private upsertAlias(name: string, body: string): unknown {
    const request = parseJsonObject(body);
    if (request.collection_name === undefined) {
      throw new RequestError(400, 'Parameter `collection_name` is required.');
    }
    if (typeof request.collection_name !== 'string') {
      throw new RequestError(400, 'Parameter `collection_name` must be a string.');
    }
    this.aliases.set(name, request.collection_name);
    return { collection_name: request.collection_name, name };
  }

  private addDocument(collection: Collection, body: string, query: URLSearchParams): HttpResult {
    const action = parseAction(query);
    const outcome = writeDocument(collection, body, action, undefined);
    if (!outcome.ok) return json(outcome.code, { message: outcome.error });
    return json(201, outcome.doc);
  }

  private patchDocument(collection: Collection, id: string, body: string): HttpResult {
    const outcome = writeDocument(collection, body, 'update', id);
    if (!outcome.ok) return json(outcome.code, { message: outcome.error });
    return json(200, outcome.doc);
  }

  private importDocuments(
    collection: Collection,
    body: string,
    query: URLSearchParams,
    stats: TypesenseEmulatorStats,
  ): HttpResult {
    const action = parseAction(query);
    const returnId = parseBoolParam(query, 'return_id');
    const returnDoc = parseBoolParam(query, 'return_doc');
    // Typesense splits on "\n" and skips empty lines.
    const lines = body.split('\n').filter((line) => line.trim() !== '');
    stats.importLines += lines.length;

    const results = lines.map((line) => {
      const outcome = writeDocument(collection, line, action, undefined);
      // Keys in alphabetical order, as Typesense's JSON library writes them.
      if (!outcome.ok)
        return JSON.stringify({ code: outcome.code, document: line, error: outcome.error, success: false });
      const result: Record<string, unknown> = {};
      if (returnDoc) result.document = outcome.doc;
      if (returnId) result.id = outcome.doc.id;
      result.success = true;
      return JSON.stringify(result);
    });
    return { status: 200, body: results.join('\n'), contentType: TEXT_TYPE };
  }

  private deleteByFilter(
    collection: Collection,
    query: URLSearchParams,
    stats: TypesenseEmulatorStats,
  ): unknown {
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

function json(status: number, value: unknown): HttpResult {
  return { status, body: JSON.stringify(value), contentType: JSON_TYPE };
}

function send(res: ServerResponse, result: HttpResult): void {
  res.writeHead(result.status, {
    'Content-Type': result.contentType ?? JSON_TYPE,
    'Content-Length': Buffer.byteLength(result.body),
  });
  res.end(result.body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, 'Request body too large.');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJsonObject(body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new RequestError(400, 'Bad JSON.');
  }
  if (!isPlainObject(value)) throw new RequestError(400, 'Bad JSON.');
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

function parseField(raw: unknown, enableNestedFields: boolean): FieldDef {
  if (!isPlainObject(raw) || typeof raw.name !== 'string' || typeof raw.type !== 'string') {
    throw new RequestError(
      400,
      'Wrong format for `fields`. It should be an array of objects containing `name`, `type`, `optional` and `facet` properties.',
    );
  }
  const { name, type } = raw;
  if (!VALID_TYPES.has(type)) {
    throw new RequestError(
      400,
      `Field \`${name}\` has an invalid data type \`${type}\`, see docs for supported data types.`,
    );
  }
  if ((type === 'object' || type === 'object[]') && !enableNestedFields) {
    throw new RequestError(
      400,
      'Type `object` or `object[]` can be used only when nested fields are enabled by setting` enable_nested_fields` to true.',
    );
  }
  const numeric = type === 'int32' || type === 'int64' || type === 'float' || type === 'bool';
  return {
    name,
    type,
    // The wildcard field describes fields that may or may not appear, so Typesense treats it as optional.
    optional: raw.optional === true || name === '.*',
    facet: raw.facet === true,
    index: raw.index !== false,
    sort: typeof raw.sort === 'boolean' ? raw.sort : numeric,
    infix: raw.infix === true,
    locale: typeof raw.locale === 'string' ? raw.locale : '',
  };
}

function summary(collection: Collection): Record<string, unknown> {
  return {
    created_at: collection.createdAt,
    default_sorting_field: collection.defaultSortingField,
    enable_nested_fields: collection.enableNestedFields,
    fields: collection.fields.map((field) => ({ ...field })),
    name: collection.name,
    num_documents: collection.docs.size,
    symbols_to_index: [],
    token_separators: [],
  };
}

type WriteOutcome = { ok: true; doc: Doc } | { ok: false; code: number; error: string };

/** The per-document path shared by single writes and import lines (Typesense's `add_many`). */
function writeDocument(
  collection: Collection,
  line: string,
  operation: Operation,
  pathId: string | undefined,
): WriteOutcome {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch {
    return { ok: false, code: 400, error: 'Bad JSON.' };
  }
  if (!isPlainObject(input)) return { ok: false, code: 400, error: 'Bad JSON.' };
  const doc: Doc = { ...input };
  if (pathId !== undefined) doc.id = pathId;

  if (doc.id === undefined) {
    if (operation === 'update')
      return { ok: false, code: 400, error: 'For update, the `id` key must be provided.' };
    doc.id = generateId(collection);
  } else if (typeof doc.id !== 'string') {
    return { ok: false, code: 400, error: "Document's `id` field should be a string." };
  }
  const id = doc.id as string;
  const existing = collection.docs.get(id);

  if (existing !== undefined && operation === 'create') {
    return { ok: false, code: 409, error: `A document with id ${id} already exists.` };
  }
  if (existing === undefined && operation === 'update') {
    return { ok: false, code: 404, error: `Could not find a document with id: ${id}` };
  }

  const isUpdate = existing !== undefined && (operation === 'update' || operation === 'emplace');
  const validation = validateDocument(collection, doc, operation, isUpdate);
  if (validation !== undefined) return { ok: false, code: 400, error: validation };

  let stored: Doc;
  if (isUpdate && existing !== undefined) {
    stored = { ...existing };
    for (const [key, value] of Object.entries(doc)) {
      // A null in a partial update removes the field.
      if (value === null) delete stored[key];
      else stored[key] = value;
    }
  } else {
    if (existing === undefined) collection.nextSeqId += 1;
    stored = doc;
  }
  collection.docs.set(id, stored);
  return { ok: true, doc: stored };
}

function generateId(collection: Collection): string {
  // Typesense uses the document's sequence id; skip any that a client already used as an explicit id.
  let seq = collection.nextSeqId;
  while (collection.docs.has(String(seq))) seq += 1;
  return String(seq);
}

/** Mirrors Typesense's `validate_index_in_memory`; returns the error message or undefined. Coerces in place. */
function validateDocument(
  collection: Collection,
  doc: Doc,
  operation: Operation,
  isUpdate: boolean,
): string | undefined {
  const dsf = collection.defaultSortingField;
  if ((operation === 'create' || operation === 'upsert') && dsf !== '' && !(dsf in doc)) {
    return `Field \`${dsf}\` has been declared as a default sorting field, but is not found in the document.`;
  }
  // Typesense rejects type mismatches unless the schema has a wildcard field, where it coerces or rejects.
  const coerce = collection.fields.some((field) => field.name === '.*');

  for (const field of collection.fields) {
    // Pattern fields (`.*`, `.*_name`) and nested paths are not validated by the emulator.
    if (field.name === 'id' || field.name.includes('*') || field.name.includes('.')) continue;
    const present = field.name in doc;
    if (!present && (field.optional || operation === 'update' || isUpdate)) continue;
    if (!present)
      return `Field \`${field.name}\` has been declared in the schema, but is not found in the document.`;

    const value = doc[field.name];
    if (value === null && field.optional) {
      // An optional null is dropped on write; on update it is kept so the merge removes the field.
      if (!isUpdate) delete doc[field.name];
      continue;
    }
    const checked = checkValue(field, value, coerce);
    if (typeof checked === 'string') return checked;
    doc[field.name] = checked.value;
  }
  return undefined;
}

function checkValue(field: FieldDef, value: unknown, coerce: boolean): { value: unknown } | string {
  const { name, type } = field;
  if (type === 'auto') return { value };
  if (type === 'string*') {
    if (Array.isArray(value)) return { value: value.map((item) => toStringValue(item)) };
    return { value: toStringValue(value) };
  }
  if (type === 'object') return isPlainObject(value) ? { value } : `Field \`${name}\` must be an object.`;
  if (type === 'object[]') {
    return Array.isArray(value) && value.every(isPlainObject)
      ? { value }
      : `Field \`${name}\` must be an array of objects.`;
  }
  if (type.endsWith('[]')) {
    const elementType = type.slice(0, -2);
    const items = value === null ? [] : value;
    if (!Array.isArray(items)) return `Field \`${name}\` must be an array.`;
    const out: unknown[] = [];
    for (const item of items) {
      const checked = checkScalar(elementType, item, coerce);
      if (checked === undefined)
        return `Field \`${name}\` must be ${arrayArticle(elementType)} ${elementType}.`;
      out.push(checked.value);
    }
    return { value: out };
  }
  const checked = checkScalar(type, value, coerce);
  if (checked === undefined) return `Field \`${name}\` must be ${scalarArticle(type)} ${type}.`;
  if (type === 'int32' && typeof checked.value === 'number' && checked.value > 2_147_483_647) {
    return `Field \`${name}\` exceeds maximum value of int32.`;
  }
  return checked;
}

/** Typesense's wording: "an int32", "a float", and for arrays "an array of", except "a array of float". */
function scalarArticle(type: string): string {
  return type === 'int32' || type === 'int64' ? 'an' : 'a';
}

function arrayArticle(type: string): string {
  return type === 'float' ? 'a array of' : 'an array of';
}

function checkScalar(type: string, value: unknown, coerce: boolean): { value: unknown } | undefined {
  switch (type) {
    case 'string':
      if (typeof value === 'string') return { value };
      if (coerce && (typeof value === 'number' || typeof value === 'boolean'))
        return { value: String(value) };
      return undefined;
    case 'int32':
    case 'int64':
      if (typeof value === 'number' && Number.isInteger(value)) return { value };
      if (!coerce) return undefined;
      if (typeof value === 'number') return { value: Math.trunc(value) };
      if (typeof value === 'boolean') return { value: value ? 1 : 0 };
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return { value: Number(value) };
      return undefined;
    case 'float':
      if (typeof value === 'number') return { value };
      if (!coerce) return undefined;
      if (typeof value === 'boolean') return { value: value ? 1 : 0 };
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        return { value: Number(value) };
      return undefined;
    case 'bool':
      if (typeof value === 'boolean') return { value };
      if (!coerce) return undefined;
      if (value === 0 || value === 1) return { value: value === 1 };
      if (typeof value === 'string' && ['true', 'false'].includes(value.toLowerCase())) {
        return { value: value.toLowerCase() === 'true' };
      }
      return undefined;
    default:
      return undefined;
  }
}

function toStringValue(value: unknown): unknown {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

// ---------------------------------------------------------------------------------------------------------------
// Filters

type Predicate = (doc: Doc) => boolean;

/**
 * Supports one clause: `id:` forms (`id:x`, `id:=x`, `id:[a,b]`, backtick-quoted values) and `field:=value`,
 * `field:value`, `field:[a,b]` on schema fields. Boolean operators and parentheses are refused loudly rather
 * than half-supported, so a test never passes on a filter the emulator silently misread.
 */
function compileFilter(collection: Collection, filter: string): Predicate {
  const expression = filter.trim();
  if (expression === '') throw new RequestError(400, 'Could not parse the filter query.');
  if (hasOperatorOutsideBackticks(expression)) {
    throw new RequestError(
      400,
      `Filter expression \`${expression}\` is not supported by the emulator: only a single id or field clause is.`,
    );
  }
  const colon = expression.indexOf(':');
  if (colon === -1) throw new RequestError(400, 'Could not parse the filter query.');
  const fieldName = expression.slice(0, colon).trim();
  let raw = expression.slice(colon + 1).trim();

  if (fieldName === 'id') {
    const emptyError = 'Error with filter field `id`: Filter value cannot be empty.';
    let negate = false;
    if (raw.startsWith('=')) raw = raw.slice(1).trimStart();
    else if (raw.startsWith('!=')) {
      negate = true;
      raw = raw.slice(2).trimStart();
    }
    if (raw === '') throw new RequestError(400, emptyError);
    const values =
      raw.startsWith('[') && raw.endsWith(']')
        ? splitToValues(raw.slice(1, -1))
        : splitToValues(raw).slice(0, 1);
    if (values.length === 0) throw new RequestError(400, emptyError);
    // As in Typesense, a `*` value matches every document.
    const all = values.includes('*');
    const wanted = new Set(values);
    return (doc) => (all || wanted.has(doc.id as string)) !== negate;
  }

  const field = collection.fields.find((candidate) => candidate.name === fieldName);
  if (field === undefined) {
    throw new RequestError(404, `Could not find a filter field named \`${fieldName}\` in the schema.`);
  }
  const exact = raw.startsWith('=');
  if (exact) raw = raw.slice(1).trimStart();
  if (raw === '')
    throw new RequestError(400, `Error with filter field \`${fieldName}\`: Filter value cannot be empty.`);
  const values =
    raw.startsWith('[') && raw.endsWith(']') ? splitToValues(raw.slice(1, -1)) : splitToValues(raw);
  const base = field.type.replace(/\[\]$/, '');

  const matchesOne = (candidate: unknown): boolean =>
    values.some((value) => {
      if (base === 'string' || base === 'string*' || base === 'auto') {
        if (typeof candidate !== 'string') return String(candidate) === value;
        if (exact) return candidate === value;
        // `field:value` on a string is a token match in Typesense; a case-insensitive word match approximates it.
        const tokens = candidate.toLowerCase().split(/\s+/);
        return value
          .toLowerCase()
          .split(/\s+/)
          .every((token) => tokens.includes(token));
      }
      if (base === 'bool') return String(candidate) === value;
      return typeof candidate === 'number' && candidate === Number(value);
    });

  return (doc) => {
    const candidate = doc[fieldName];
    if (candidate === undefined || candidate === null) return false;
    return Array.isArray(candidate) ? candidate.some(matchesOne) : matchesOne(candidate);
  };
}

function hasOperatorOutsideBackticks(expression: string): boolean {
  let inTick = false;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === '`') inTick = !inTick;
    else if (!inTick) {
      if (c === '(' || c === ')') return true;
      if ((c === '&' || c === '|') && expression[i + 1] === c) return true;
    }
  }
  return false;
}

/**
 * Typesense's `StringUtils::split_to_values`, quirks included: commas split outside backticks, backticks
 * themselves are dropped, an escaped backtick keeps its backslash, and every value is trimmed.
 */
export function splitToValues(input: string): string[] {
  const values: string[] = [];
  let insideTick = false;
  let buffer = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string;
    const escapedTick = i !== 0 && c === '`' && input[i - 1] === '\\';
    if (c === '`') {
      if (escapedTick) buffer += c;
      else if (insideTick && buffer !== '') insideTick = false;
      else insideTick = true;
    } else if (c === ',' && !insideTick) {
      values.push(buffer.trim());
      buffer = '';
    } else {
      buffer += c;
    }
  }
  if (buffer !== '') values.push(buffer.trim());
  return values;
}

// ---------------------------------------------------------------------------------------------------------------
// Search

function search(collection: Collection, query: URLSearchParams): unknown {
  const started = Date.now();
  const q = query.get('q');
  if (q === null) throw new RequestError(400, 'Parameter `q` is required.');
  const queryBy = (query.get('query_by') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const wildcard = q.trim() === '*' || q.trim() === '';
  if (!wildcard && queryBy.length === 0)
    throw new RequestError(400, 'No search fields specified for the query.');
  for (const name of queryBy) {
    if (!collection.fields.some((field) => field.name === name)) {
      throw new RequestError(404, `Could not find a field named \`${name}\` in the schema.`);
    }
  }

  const perPage = parseIntParam(query, 'per_page', 10);
  if (perPage > 250) throw new RequestError(422, 'Only upto 250 hits can be fetched per page.');
  const page = Math.max(1, parseIntParam(query, 'page', 1));
  const filterBy = query.get('filter_by');
  const filter =
    filterBy === null || filterBy.trim() === '' ? () => true : compileFilter(collection, filterBy);
  const tokens = wildcard
    ? []
    : q
        .toLowerCase()
        .split(/\s+/)
        .filter((token) => token !== '');

  const matches: { doc: Doc; order: number }[] = [];
  let order = 0;
  for (const doc of collection.docs.values()) {
    order += 1;
    if (!filter(doc)) continue;
    if (!wildcard) {
      const text = queryBy
        .map((name) => doc[name])
        .flatMap((value) => (Array.isArray(value) ? value : [value]))
        .filter((value) => value !== undefined && value !== null)
        .map((value) => String(value).toLowerCase())
        .join(' ');
      if (!tokens.every((token) => text.includes(token))) continue;
    }
    matches.push({ doc, order });
  }

  const dsf = collection.defaultSortingField;
  matches.sort((a, b) => {
    if (dsf !== '') {
      const difference = Number(b.doc[dsf] ?? 0) - Number(a.doc[dsf] ?? 0);
      if (difference !== 0) return difference;
    }
    // Typesense breaks ties by sequence id, newest first.
    return b.order - a.order;
  });

  const start = (page - 1) * perPage;
  const hits = matches.slice(start, start + perPage).map(({ doc }) => ({
    document: doc,
    highlight: {},
    highlights: [],
    text_match: 100,
  }));
  const requestParams: Record<string, unknown> = { collection_name: collection.name, per_page: perPage, q };
  if (!wildcard) requestParams.first_q = q;

  return {
    facet_counts: [],
    found: matches.length,
    hits,
    out_of: collection.docs.size,
    page,
    request_params: requestParams,
    search_cutoff: false,
    search_time_ms: Date.now() - started,
  };
}

function parseIntParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new RequestError(400, `Parameter \`${name}\` must be an unsigned integer.`);
  return Number(raw);
}
