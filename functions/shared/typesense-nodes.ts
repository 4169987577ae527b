import {
  TypesenseHttpError,
  TypesenseNotSentError,
  TypesenseProtocolError,
  TypesenseUnavailableError,
} from './typesense-errors.ts';
import { describeFetchError, headersOf, mayFailOver, serverMessage, urlOf } from './typesense-wire.ts';

/*
 * The Typesense cluster as the client sees it: its nodes, which of them are healthy (passive health:
 * a failed node is skipped for a while), failover between them, and the API key. One call is one
 * HTTP request with one outcome; the operations on top are in typesense.ts.
 */

/**
 * Supplies the API key per request, so it should cache. `invalidate` drops a cached key: the client
 * calls it when Typesense answers 401, so a rotated key is fetched at once instead of after the cache
 * expires.
 */
export type ApiKeyProvider = (() => Promise<string>) & { invalidate?: () => void };

export type TypesenseClientOptions = {
  /** Base URLs such as `http://127.0.0.1:8108`; calls rotate over the healthy ones round-robin. */
  nodes: string[];
  /** Tried first while healthy (e.g. a node in the function's own region), as in typesense-js. */
  nearestNode?: string | undefined;
  /** The key itself, or a provider (e.g. a cached Secrets Manager lookup). */
  apiKey: string | ApiKeyProvider;
  /** Per-call timeout covering connect, headers and body, failover included. Default 5000. */
  timeoutMs?: number;
  /** An import's timeout when the call names none: imports take seconds, not one request's 5. Default 60000. */
  importTimeoutMs?: number;
  /** A whole export's timeout (it streams, so it is bounded by the collection's size). Default 900000. */
  exportTimeoutMs?: number;
  /** How long a node that refused a connection, timed out or answered 503 is skipped. Default 15000. */
  healthcheckIntervalMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
};

export type RequestOptions = {
  query?: Record<string, string | number | boolean>;
  body?: string;
  contentType?: string;
  timeoutMs?: number;
  /**
   * No byte of the call is sent after this time (ms since the epoch): each request's timeout ends by
   * it, and a request due later (a delete's next chunk, a retry with a rotated key) is not sent at all.
   */
  sendBy?: number;
  /** Whether sending it twice does no harm (default: every method but POST), so a call may fail over after a reset. */
  idempotent?: boolean;
};

/** A node's answer whose body has not been read yet; `signal` still bounds the reading. */
export type Exchange = { response: Response; where: string; signal: AbortSignal; timeoutMs: number };

/** An import's timeout when neither the call nor the client names one, ms. */
export const IMPORT_TIMEOUT_MS = 60_000;

/** The transport under `TypesenseClient`: node choice, failover, passive health, the API key. */
export class TypesenseNodes {
  protected readonly nodes: string[];
  private readonly nearestNode: string | undefined;
  private readonly apiKey: string | ApiKeyProvider;
  private readonly timeoutMs: number;
  protected readonly importTimeoutMs: number;
  protected readonly exportTimeoutMs: number;
  private readonly healthcheckIntervalMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  /** Passive health: a node is skipped until this time after it failed; absent means healthy. */
  private readonly unhealthyUntil = new Map<string, number>();
  private nextNode = 0;

  constructor(options: TypesenseClientOptions) {
    if (options.nodes.length === 0) throw new TypeError('TypesenseClient needs at least one node URL');
    const trim = (node: string) => node.replace(/\/+$/, '');
    this.nodes = options.nodes.map(trim);
    this.nearestNode = options.nearestNode === undefined ? undefined : trim(options.nearestNode);
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.importTimeoutMs = options.importTimeoutMs ?? IMPORT_TIMEOUT_MS;
    this.exportTimeoutMs = options.exportTimeoutMs ?? 900_000;
    this.healthcheckIntervalMs = options.healthcheckIntervalMs ?? 15_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
  }

  async health(): Promise<boolean> {
    try {
      // Unauthenticated: health must not depend on the key (or on Secrets Manager).
      const exchange = await this.exchange('GET', '/health', {}, undefined);
      const text = await readText(exchange);
      if (exchange.response.status !== 200) return false;
      const body = JSON.parse(text) as { ok?: unknown; resource_error?: unknown };
      // A node short of disk or memory still says `ok` but rejects every write (see classify.ts).
      return body.ok === true && body.resource_error === undefined;
    } catch {
      return false;
    }
  }

  protected async request(method: string, path: string, options: RequestOptions = {}): Promise<string> {
    const exchange = await this.authorised(method, path, options);
    const text = await readText(exchange);
    if (exchange.response.status >= 400) {
      throw new TypesenseHttpError(exchange.response.status, serverMessage(text), method, path);
    }
    return text;
  }

  /** One call with the API key; a 401 refreshes a rotated key once. The body is left to the caller. */
  protected async authorised(method: string, path: string, options: RequestOptions): Promise<Exchange> {
    const apiKey = await this.resolveApiKey();
    const exchange = await this.exchange(method, path, options, apiKey);
    if (
      exchange.response.status === 401 &&
      typeof this.apiKey !== 'string' &&
      this.apiKey.invalidate !== undefined
    ) {
      // The key may have been rotated since it was cached. Typesense rejects a bad key before doing
      // anything, so one retry with a fresh key is safe, and pointless if the key did not change.
      this.apiKey.invalidate();
      const freshKey = await this.resolveApiKey();
      if (freshKey !== apiKey) {
        await exchange.response.body?.cancel();
        return this.exchange(method, path, options, freshKey);
      }
    }
    return exchange;
  }

  /**
   * Sends one call to the first usable node. A node that refused the connection (nothing was sent) is
   * marked unhealthy and the call goes to the next one, within the same timeout; each node is tried at
   * most once. A 503 (`Not Ready or Lagging`) or a reset kept-alive connection marks the node too, but
   * fails over only an idempotent call (every call but POST, and imports other than `create`); any other
   * failure is the caller's to retry: a request that may have been applied is never silently sent twice.
   */
  private async exchange(
    method: string,
    path: string,
    options: RequestOptions,
    apiKey: string | undefined,
  ): Promise<Exchange> {
    const timeoutMs = Math.min(
      options.timeoutMs ?? this.timeoutMs,
      options.sendBy === undefined ? Number.POSITIVE_INFINITY : options.sendBy - this.now(),
    );
    if (timeoutMs <= 0)
      throw new TypesenseNotSentError(
        `Typesense ${method} ${path} not sent: its time ran out before it was sent`,
      );
    const idempotent = options.idempotent ?? method !== 'POST';
    const signal = AbortSignal.timeout(timeoutMs);
    const candidates = this.candidates();
    for (const [index, node] of candidates.entries()) {
      const last = index === candidates.length - 1;
      // Errors name the node and path only: URLs never carry the key, and query strings may carry document ids.
      const where = `${method} ${node}${path}`;
      let response: Response;
      try {
        response = await this.fetchImpl(urlOf(node, path, options.query), {
          method,
          headers: headersOf(apiKey, options.contentType),
          body: options.body,
          signal,
        });
      } catch (error) {
        this.markUnhealthy(node);
        if (!last && mayFailOver(error, idempotent)) continue;
        throw unavailable({ where, timeoutMs }, error);
      }
      if (response.status === 503) {
        this.markUnhealthy(node);
        // Typesense's 503 comes before it applies anything, but a proxy in front may answer 503 late:
        // only a call that may be sent twice goes on to the next node.
        if (!last && idempotent) {
          await response.body?.cancel();
          continue;
        }
      } else this.unhealthyUntil.delete(node);
      return { response, where, signal, timeoutMs };
    }
    throw new Error('unreachable: a client always has a node');
  }

  /**
   * The nodes to try for one call, in order: the nearest node while healthy, then the other healthy
   * nodes round-robin. A node becomes a candidate again once its interval has passed (a passive health
   * check: the next call is its probe). With no healthy node left, every node is tried.
   */
  private candidates(): string[] {
    const now = this.now();
    const healthy = (node: string) => (this.unhealthyUntil.get(node) ?? 0) <= now;
    const rotation = this.nodes.map(
      (_, offset) => this.nodes[(this.nextNode + offset) % this.nodes.length] as string,
    );
    const usable = rotation.filter(healthy);
    const ordered = usable.length > 0 ? usable : rotation;
    // The next call starts after this call's first node, so a skipped node does not double its neighbour's share.
    this.nextNode = (this.nodes.indexOf(ordered[0] as string) + 1) % this.nodes.length;
    const nearest = this.nearestNode;
    if (nearest !== undefined && healthy(nearest))
      return [nearest, ...ordered.filter((node) => node !== nearest)];
    return ordered;
  }

  private markUnhealthy(node: string): void {
    this.unhealthyUntil.set(node, this.now() + this.healthcheckIntervalMs);
  }

  private async resolveApiKey(): Promise<string> {
    return typeof this.apiKey === 'string' ? this.apiKey : await this.apiKey();
  }
}

/** The body as text; the call's timeout signal also covers it, so a stalled body surfaces as a timeout. */
export async function readText(exchange: Exchange): Promise<string> {
  try {
    return await exchange.response.text();
  } catch (error) {
    throw unavailable(exchange, error);
  }
}

export function unavailable(
  at: { where: string; timeoutMs: number },
  error: unknown,
): TypesenseUnavailableError {
  return new TypesenseUnavailableError(
    `Typesense ${at.where} got no answer: ${describeFetchError(error, at.timeoutMs)}`,
    { cause: error },
  );
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TypesenseProtocolError(`Typesense ${what}: response is not valid JSON`);
  }
}
