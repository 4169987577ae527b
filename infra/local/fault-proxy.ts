import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { seededRandom } from './workload.ts';

/** Injected Typesense faults. Probabilities apply per write request, or per import line. */
export interface FaultPlan {
  seed: number;
  /** Answer the whole request with this status instead of forwarding it. */
  httpErrors?: Partial<Record<503 | 429 | 500, number>>;
  /** Hold the request for `hangMs`, then drop the connection unanswered; nothing is written. */
  timeouts?: number;
  hangMs?: number;
  /** Fail single import lines with a transient 503 while the other lines are written. */
  importLineFailures?: number;
  /** Forward the request (it is written) but drop the connection before the answer arrives. */
  lostResponses?: number;
  /**
   * Inject each kind with a rate above 0 once on the first write request it fits, before the rates decide:
   * a small run may otherwise roll no rare kind at all (3 expected lost responses miss in 5 % of runs).
   */
  everyKindOnce?: boolean;
  /**
   * With `everyKindOnce`: force the kinds on every n-th write request only (default 1: the first ones).
   * Forced faults on consecutive first writes look like an outage to the circuit breaker, which has no
   * success yet to tell it the server works; spaced out, they look like the random faults they stand for.
   */
  everyKindSpacing?: number;
}

type FaultKind = 503 | 429 | 500 | 'timeout' | 'lostResponse' | 'importLine';

export interface FaultStats {
  http503: number;
  http429: number;
  http500: number;
  timeouts: number;
  importLineFailures: number;
  lostResponses: number;
  downRejections: number;
  /** Documents in faulted write requests (a 503 on an import of 40 lines hits 40 changes). */
  documentsHit: number;
}

export interface FaultProxy {
  /** Point the writer here; reads for verification go to the emulator directly. */
  url: string;
  setFaults(plan: FaultPlan | undefined): void;
  /**
   * Random faults end now; the kinds `everyKindOnce` has not shown yet are still forced, once each on
   * the next writes they fit, spaced as before, and then nothing. A run whose faulty phase ended after
   * few writes (a loaded machine) still meets every kind. `setFaults(undefined)` ends them all at once.
   */
  stopRandomFaults(): void;
  /** Typesense unreachable (every connection dropped, `/health` included) for `ms`. */
  downFor(ms: number): void;
  readonly faultStats: FaultStats;
  /** Write requests and the time from their arrival to their answer (or dropped connection), ms. */
  readonly writeTiming: { requests: number; ms: number };
  stop(): Promise<void>;
}

const BODIES: Record<503 | 429 | 500, string> = {
  503: '{"message": "Not Ready or Lagging"}',
  429: '{"message": "Rate limit exceeded or blocked"}',
  500: '{"message": "Internal Server Error (injected)"}',
};

/** How many documents a write request carries: import lines, or ids in a delete filter. */
function documentsIn(path: string, body: Buffer): number {
  if (path.includes('/documents/import')) return body.toString('utf8').split('\n').filter(Boolean).length;
  const filter = new URL(path, 'http://local').searchParams.get('filter_by') ?? '';
  return filter.startsWith('id:[') ? filter.split(',').length : 1;
}

const isWrite = (method: string | undefined, path: string) =>
  path.startsWith('/collections/') && path.includes('/documents') && method !== 'GET';

function readBody(incoming: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => resolve(Buffer.concat(chunks)));
    incoming.on('error', reject);
  });
}

function forward(
  target: URL,
  incoming: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = { ...incoming.headers, host: target.host, 'content-length': String(body.length) };
    const outgoing = request(
      { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers },
      async (response) => {
        const answer = await readBody(response);
        resolve({
          status: response.statusCode ?? 502,
          headers: { 'content-type': 'application/json' },
          body: answer,
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** What one proxy holds between requests: the plan and its RNG stream, the counters, what `stop` ends. */
interface ProxyState {
  target: URL;
  plan: FaultPlan | undefined;
  random: () => number;
  downUntil: number;
  faultStats: FaultStats;
  writeTiming: { requests: number; ms: number };
  sockets: Set<Socket>;
  timers: Set<NodeJS.Timeout>;
  /** With `everyKindOnce`: the kinds still to be forced once, and the write requests seen since the plan. */
  unseen: FaultKind[];
  writes: number;
}

const roll = (state: ProxyState, probability: number | undefined) =>
  probability !== undefined && probability > 0 && state.random() < probability;

/** The first kind still to be shown that fits this request (a line failure needs an import), taken. */
function takeUnseen(state: ProxyState, path: string): FaultKind | undefined {
  state.writes++;
  if (state.writes % Math.max(1, state.plan?.everyKindSpacing ?? 1) !== 0) return undefined;
  const index = state.unseen.findIndex((kind) => kind !== 'importLine' || path.includes('/documents/import'));
  return index < 0 ? undefined : state.unseen.splice(index, 1)[0];
}

/** A new plan restarts the RNG stream from its seed, and the kinds `everyKindOnce` forces. */
function applyPlan(state: ProxyState, next: FaultPlan | undefined): void {
  state.plan = next;
  state.random = next === undefined ? () => 1 : seededRandom(next.seed);
  const rates: [FaultKind, number | undefined][] = [
    [503, next?.httpErrors?.[503]],
    [429, next?.httpErrors?.[429]],
    [500, next?.httpErrors?.[500]],
    ['timeout', next?.timeouts],
    ['lostResponse', next?.lostResponses],
    ['importLine', next?.importLineFailures],
  ];
  state.writes = 0;
  state.unseen =
    next?.everyKindOnce === true ? rates.filter(([, rate]) => (rate ?? 0) > 0).map(([kind]) => kind) : [];
}

/** Keeps only the plan's forced kinds still to be shown (see `FaultProxy.stopRandomFaults`). */
function keepUnshownKinds(state: ProxyState): void {
  const plan = state.plan;
  if (plan === undefined || state.unseen.length === 0) {
    applyPlan(state, undefined);
    return;
  }
  const { seed, hangMs, everyKindSpacing } = plan;
  state.plan = {
    seed,
    everyKindOnce: true,
    ...(hangMs === undefined ? {} : { hangMs }),
    ...(everyKindSpacing === undefined ? {} : { everyKindSpacing }),
  };
}

async function handle(state: ProxyState, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  if (Date.now() < state.downUntil) {
    state.faultStats.downRejections++;
    incoming.socket.destroy();
    return;
  }
  const path = incoming.url ?? '/';
  const body = await readBody(incoming);
  if (state.plan !== undefined && isWrite(incoming.method, path)) {
    await handleWrite(state, state.plan, { incoming, outgoing, path, body });
    return;
  }
  const answer = await forward(state.target, incoming, body);
  outgoing.writeHead(answer.status, answer.headers).end(answer.body);
}

interface WriteRequest {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
  path: string;
  body: Buffer;
}

/** A write under a plan: an HTTP error, a hang, or forwarded (some import lines failed) and maybe its answer lost. */
async function handleWrite(state: ProxyState, plan: FaultPlan, request: WriteRequest): Promise<void> {
  const { incoming, outgoing, path, body } = request;
  const { faultStats } = state;
  const hit = documentsIn(path, body);
  const forced = takeUnseen(state, path);
  // A write that carries a forced kind shows that kind: a random fault drawn before it would hide it.
  const rolls = forced === undefined ? (rate: number | undefined) => roll(state, rate) : () => false;
  for (const status of [503, 429, 500] as const) {
    if (rolls(plan.httpErrors?.[status]) || forced === status) {
      faultStats[`http${status}`]++;
      faultStats.documentsHit += hit;
      outgoing.writeHead(status, { 'content-type': 'application/json' }).end(BODIES[status]);
      return;
    }
  }
  if (rolls(plan.timeouts) || forced === 'timeout') {
    faultStats.timeouts++;
    faultStats.documentsHit += hit;
    const timer = setTimeout(() => {
      state.timers.delete(timer);
      incoming.socket.destroy();
    }, plan.hangMs ?? 10_000);
    state.timers.add(timer);
    return;
  }
  const lost = rolls(plan.lostResponses) || forced === 'lostResponse';
  const answer = path.includes('/documents/import')
    ? await importWithLineFailures(state, incoming, body, forced === 'importLine')
    : await forward(state.target, incoming, body);
  if (lost) {
    faultStats.lostResponses++;
    faultStats.documentsHit += hit;
    incoming.socket.destroy();
    return;
  }
  outgoing.writeHead(answer.status, answer.headers).end(answer.body);
}

/** Forwards only the lines that survive, then answers in the original line order. */
async function importWithLineFailures(
  state: ProxyState,
  incoming: IncomingMessage,
  body: Buffer,
  failFirst: boolean,
) {
  const lines = body.toString('utf8').split('\n');
  const failing = lines.map(
    (_line, index) => roll(state, state.plan?.importLineFailures) || (failFirst && index === 0),
  );
  const kept = lines.filter((_line, index) => !failing[index]);
  if (kept.length === lines.length) return forward(state.target, incoming, body);
  state.faultStats.importLineFailures += lines.length - kept.length;
  state.faultStats.documentsHit += lines.length - kept.length;
  const answer =
    kept.length === 0
      ? { status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.alloc(0) }
      : await forward(state.target, incoming, Buffer.from(kept.join('\n')));
  if (answer.status !== 200) return answer;
  const results = answer.body
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0);
  const merged = lines.map((line, index) =>
    failing[index]
      ? JSON.stringify({
          success: false,
          code: 503,
          error: 'Not Ready or Lagging (injected)',
          document: line,
        })
      : (results.shift() as string),
  );
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from(merged.join('\n')) };
}

/** The HTTP server: times write requests, and tracks open connections so `downFor` and `stop` can break them. */
function proxyServer(state: ProxyState): Server {
  const server = createServer((incoming, outgoing) => {
    const started = Date.now();
    if (isWrite(incoming.method, incoming.url ?? '/')) {
      state.writeTiming.requests++;
      // 'close' fires on an answer and on a dropped connection alike.
      outgoing.once('close', () => {
        state.writeTiming.ms += Date.now() - started;
      });
    }
    handle(state, incoming, outgoing).catch(() => incoming.socket.destroy());
  });
  server.on('connection', (socket) => {
    state.sockets.add(socket);
    socket.once('close', () => state.sockets.delete(socket));
  });
  return server;
}

/**
 * A Typesense fault injector: an HTTP proxy in front of the emulator (or a real server) that
 * misbehaves the way Typesense and networks do, decided by one seeded RNG stream, so the same seed
 * and request sequence replay the same faults. Reads are never faulted, so tests can always verify.
 */
export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const state: ProxyState = {
    target: new URL(targetUrl),
    plan: undefined,
    random: () => 1,
    downUntil: 0,
    faultStats: {
      http503: 0,
      http429: 0,
      http500: 0,
      timeouts: 0,
      importLineFailures: 0,
      lostResponses: 0,
      downRejections: 0,
      documentsHit: 0,
    },
    writeTiming: { requests: 0, ms: 0 },
    sockets: new Set(),
    timers: new Set(),
    unseen: [],
    writes: 0,
  };
  const server = proxyServer(state);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${port}`,
    faultStats: state.faultStats,
    writeTiming: state.writeTiming,
    setFaults: (next) => applyPlan(state, next),
    stopRandomFaults: () => keepUnshownKinds(state),
    downFor(ms) {
      state.downUntil = Date.now() + ms;
      // Connections already open (keep-alive) break too, as when a server dies.
      for (const socket of state.sockets) socket.destroy();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const timer of state.timers) clearTimeout(timer);
        for (const socket of state.sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
