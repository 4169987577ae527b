/**
 * The emulator's HTTP server: request checks in the order src/http_server.cpp HttpServer::catch_all_handler
 * makes them (search query length, route, API key), then the out-of-resource check of writes
 * (src/raft_server.cpp ReplicationState::write), then the handlers (state.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { RequestError } from './schema.ts';
import { EmulatorState, type HttpResult, JSON_TYPE, json } from './state.ts';
import { type TypesenseVersion, type VersionProfile, versionProfile } from './versions.ts';
import {
  documentsIn,
  isDocumentWrite,
  NOT_READY_OR_LAGGING,
  type WriteLagOptions,
  WriteLagQueue,
  type WriteLagStats,
} from './write-lag.ts';

export type TypesenseEmulatorStats = {
  /** Every request received, including /health and rejected ones. */
  requests: number;
  /** JSONL lines received by import requests. */
  importLines: number;
  /** Documents removed (single deletes and delete-by-filter). */
  deletes: number;
};

/** cached_resource_stat_t::resource_check_t values other than OK. */
export type ResourceError = 'OUT_OF_DISK' | 'OUT_OF_MEMORY';

export type TypesenseEmulator = {
  url: string;
  port: number;
  /** The Typesense major version this emulator answers as. */
  version: TypesenseVersion;
  stop(): Promise<void>;
  /** The next `count` requests to /collections/{c}/documents... answer `status` instead of being processed. */
  failNext(count: number, status: number): void;
  /** While down, every connection is destroyed on arrival, as if the node had crashed. */
  setDown(down: boolean): void;
  /** Simulates a node short of disk or memory: writes get a 422, /health reports `resource_error`. */
  setResourceError(error: ResourceError | undefined): void;
  /**
   * Limits the node to a fixed rate of applied documents, answering 503 "Not Ready or Lagging" while
   * more writes are queued than its healthy write lag (write-lag.ts); undefined lifts the limit.
   */
  setWriteLag(options: WriteLagOptions | undefined): void;
  /** The write queue's counters since the last `setWriteLag`; undefined without a limit. */
  readonly writeLag: WriteLagStats | undefined;
  readonly stats: TypesenseEmulatorStats;
};

export type TypesenseEmulatorOptions = {
  apiKey: string;
  /** 0 or undefined picks a free port. */
  port?: number;
  host?: string;
  /** The Typesense major version to answer as (27 to 30); default 30, the current release line. */
  version?: TypesenseVersion;
  /** Start with a write rate limit (see `setWriteLag`). */
  writeLag?: WriteLagOptions;
};

const FORBIDDEN = 'Forbidden - a valid `x-typesense-api-key` header must be sent.';
const FAILURE_MESSAGES: Record<number, string> = {
  503: NOT_READY_OR_LAGGING,
  429: 'Rate limit exceeded or blocked',
};
const ROUTE_NOT_FOUND: HttpResult = {
  status: 404,
  body: '{ "message": "Not Found"}',
  contentType: JSON_TYPE,
};

/** What the emulator's test hooks change while it runs. */
type Controls = {
  down: boolean;
  resourceError: ResourceError | undefined;
  failures: { remaining: number; status: number };
  writeLag: WriteLagQueue | undefined;
};

/** One emulator's state, settings and test hooks, as its request handling reads them. */
type Emulator = {
  apiKey: string;
  profile: VersionProfile;
  state: EmulatorState;
  stats: TypesenseEmulatorStats;
  startedAt: number;
  controls: Controls;
};

export async function startTypesenseEmulator(opts: TypesenseEmulatorOptions): Promise<TypesenseEmulator> {
  const profile = versionProfile(opts.version);
  const emulator: Emulator = {
    apiKey: opts.apiKey,
    profile,
    state: new EmulatorState(profile),
    stats: { requests: 0, importLines: 0, deletes: 0 },
    startedAt: Date.now(),
    controls: {
      down: false,
      resourceError: undefined,
      failures: { remaining: 0, status: 503 },
      writeLag: opts.writeLag === undefined ? undefined : new WriteLagQueue(opts.writeLag),
    },
  };
  const { controls, stats } = emulator;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    stats.requests += 1;
    if (controls.down) {
      req.socket.destroy();
      return;
    }
    handle(emulator, req, res).catch(() => {
      if (!res.headersSent) send(res, json(500, { message: 'Internal emulator error.' }));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    if (controls.down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await listen(server, opts.port ?? 0, host);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    version: profile.version,
    stats,
    failNext(count: number, status: number) {
      controls.failures = { remaining: count, status };
    },
    setDown(value: boolean) {
      controls.down = value;
      // Kept-alive connections would otherwise still reach the handler, which checks `down` too.
      if (value) for (const socket of sockets) socket.destroy();
    },
    setResourceError(error: ResourceError | undefined) {
      controls.resourceError = error;
    },
    setWriteLag(options: WriteLagOptions | undefined) {
      controls.writeLag = options === undefined ? undefined : new WriteLagQueue(options);
    },
    get writeLag() {
      return controls.writeLag?.stats;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Listens on `port` (0: a free one) and resolves with the port bound, or rejects with the listen error. */
async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function handle(emulator: Emulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // No body limit: Typesense streams large imports in chunks (bodies far above 64 MiB are accepted).
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const method = req.method ?? 'GET';
  const key = req.headers['x-typesense-api-key'];
  const queue = emulator.controls.writeLag;
  const url = splitUrl(req.url ?? '/');
  if (queue !== undefined && key === emulator.apiKey && 'segments' in url) {
    if (isDocumentWrite(method, url.segments) && routeExists(method, url.segments, emulator.profile)) {
      if (!queue.admits()) return send(res, json(503, { message: NOT_READY_OR_LAGGING }));
      await queue.apply(documentsIn(url.segments, body));
    }
  }
  send(res, answer(emulator, method, req.url ?? '/', key, body));
}

/** The path's decoded segments and the raw query string, or a 400 for a segment that does not decode. */
function splitUrl(rawUrl: string): { segments: string[]; rawQuery: string } | HttpResult {
  const queryAt = rawUrl.indexOf('?');
  const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  const rawQuery = queryAt === -1 ? '' : rawUrl.slice(queryAt + 1);
  try {
    const segments = path
      .split('/')
      .filter((part) => part !== '')
      .map((part) => decodeURIComponent(part));
    return { segments, rawQuery };
  } catch {
    return json(400, { message: 'Bad request.' });
  }
}

function answer(
  emulator: Emulator,
  method: string,
  rawUrl: string,
  headerKey: string | string[] | undefined,
  body: string,
): HttpResult {
  const { profile, controls } = emulator;
  const url = splitUrl(rawUrl);
  if ('status' in url) return url;
  const { segments, rawQuery } = url;
  if (rawQuery.length > 4000 && method === 'GET' && segments.at(-1) === 'search') {
    return json(400, {
      message:
        'Query string exceeds max allowed length of 4000. Use the /multi_search end-point for larger payloads.',
    });
  }
  if (!routeExists(method, segments, profile)) return ROUTE_NOT_FOUND;
  const query = new URLSearchParams(rawQuery);
  const root = segments[0];
  if (root === 'health') {
    const health: Record<string, unknown> = { ok: true };
    if (controls.resourceError !== undefined) health.resource_error = controls.resourceError;
    return json(200, health);
  }
  const key = headerKey ?? query.get('x-typesense-api-key');
  if (key !== emulator.apiKey) return json(401, { message: FORBIDDEN });
  if (controls.resourceError !== undefined && method !== 'GET' && method !== 'DELETE') {
    return json(422, { message: `Rejecting write: running out of resource type: ${controls.resourceError}` });
  }
  if (root === 'debug') return json(200, { state: 1, version: profile.release });
  if (root === 'metrics.json') return json(200, metrics(emulator.startedAt));
  if (root === 'stats.json') return json(200, serverStats());
  const { failures } = controls;
  if (root === 'collections' && segments[2] === 'documents' && failures.remaining > 0) {
    failures.remaining -= 1;
    const message = FAILURE_MESSAGES[failures.status] ?? `Emulated failure with HTTP ${failures.status}.`;
    return json(failures.status, { message });
  }
  try {
    return emulator.state.route(method, segments, query, body, emulator.stats);
  } catch (error) {
    if (error instanceof RequestError) return json(error.status, { message: error.message });
    throw error;
  }
}

/** The routes src/main/typesense_server.cpp registers that the emulator serves; any other path is a 404. */
export function routeExists(method: string, segments: string[], profile: VersionProfile): boolean {
  const [root, name, sub, id, extra] = segments;
  const n = segments.length;
  const rw = (...methods: string[]) => methods.includes(method);
  switch (root) {
    case 'health':
      return n === 1 && rw('GET', 'POST');
    case 'debug':
    case 'metrics.json':
    case 'stats.json':
      return n === 1 && rw('GET');
    case 'aliases':
      return n === 1 ? rw('GET') : n === 2 && rw('GET', 'PUT', 'DELETE');
    case 'collections':
      if (n === 1) return rw('GET', 'POST');
      if (n === 2) return rw('GET', 'DELETE');
      if (sub === 'documents') {
        if (n === 3) return rw('POST', 'DELETE');
        if (id === 'import') return n === 4 && rw('POST');
        if (id === 'export' || id === 'search') return n === 4 && rw('GET');
        return n === 4 && rw('GET', 'PATCH', 'DELETE');
      }
      if ((sub === 'synonyms' || sub === 'overrides') && !profile.globalSynonymSets) {
        return n === 3 ? rw('GET') : n === 4 && rw('GET', 'PUT', 'DELETE');
      }
      return false;
    case 'synonym_sets':
    case 'curation_sets':
      if (!profile.globalSynonymSets) return false;
      if (n === 1) return rw('GET');
      if (n === 2) return rw('GET', 'PUT', 'DELETE');
      if (sub !== 'items') return false;
      return n === 3
        ? rw('GET')
        : n === 4 && extra === undefined && name !== undefined && rw('GET', 'PUT', 'DELETE');
    default:
      return false;
  }
}

function metrics(startedAt: number): Record<string, string> {
  const memory = process.memoryUsage();
  return {
    system_cpu_active_percentage: '0.00',
    system_memory_total_bytes: String(memory.heapTotal),
    system_memory_used_bytes: String(memory.heapUsed),
    typesense_memory_active_bytes: String(memory.rss),
    typesense_memory_allocated_bytes: String(memory.heapUsed),
    emulator_uptime_seconds: String(Math.floor((Date.now() - startedAt) / 1000)),
  };
}

function serverStats(): Record<string, unknown> {
  return {
    delete_latency_ms: 0,
    delete_requests_per_second: 0,
    import_latency_ms: 0,
    import_requests_per_second: 0,
    latency_ms: {},
    pending_write_batches: 0,
    requests_per_second: {},
    search_latency_ms: 0,
    search_requests_per_second: 0,
    total_requests_per_second: 0,
    write_latency_ms: 0,
    write_requests_per_second: 0,
  };
}

function send(res: ServerResponse, result: HttpResult): void {
  res.writeHead(result.status, {
    'Content-Type': result.contentType ?? JSON_TYPE,
    'Content-Length': Buffer.byteLength(result.body),
  });
  res.end(result.body);
}
