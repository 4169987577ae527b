import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it, vi } from 'vitest';
import { isRetryableError, wasNotSent } from '../../functions/core/classify.ts';
import { cachedSecret } from '../../functions/shared/aws.ts';
import {
  chunkIdFilters,
  isFilterSafeId,
  MAX_URL_LENGTH,
  TypesenseClient,
  TypesenseHttpError,
  TypesenseNotSentError,
  TypesenseProtocolError,
  TypesenseUnavailableError,
} from '../../functions/shared/typesense.ts';
import { importTimeoutWithin } from '../../functions/shared/typesense-client.ts';
import { isTimeout } from '../../functions/shared/typesense-errors.ts';
import { splitToValues } from '../../infra/local/typesense-emulator.ts';

const API_KEY = 'sekrit-key-1234567890';

type Call = { url: string; method: string; headers: Record<string, string>; body: string | undefined };
type Handler = (call: Call, signal: AbortSignal) => Promise<Response> | Response;

function fakeFetch(handler: Handler): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const impl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const call: Call = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      body: typeof init?.body === 'string' ? init.body : undefined,
    };
    calls.push(call);
    return handler(call, init?.signal as AbortSignal);
  };
  return { fetch: impl as typeof fetch, calls };
}

const jsonResponse = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function client(handler: Handler, options: { nodes?: string[]; timeoutMs?: number } = {}) {
  const fake = fakeFetch(handler);
  const instance = new TypesenseClient({
    nodes: options.nodes ?? ['http://ts-a:8108'],
    apiKey: API_KEY,
    timeoutMs: options.timeoutMs ?? 1000,
    // Imports and exports have timeouts of their own; these tests give them the same one.
    importTimeoutMs: options.timeoutMs ?? 1000,
    exportTimeoutMs: options.timeoutMs ?? 1000,
    fetch: fake.fetch,
  });
  return { client: instance, calls: fake.calls };
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('TypesenseClient transport', () => {
  it('sends the API key header and rotates nodes round-robin per request', async () => {
    const { client: ts, calls } = client(() => jsonResponse(200, { ok: true }), {
      nodes: ['http://a:8108/', 'http://b:8108', 'http://c:8108'],
    });
    for (let i = 0; i < 4; i++) await ts.getCollection('c');
    expect(calls.map((call) => new URL(call.url).host)).toEqual(['a:8108', 'b:8108', 'c:8108', 'a:8108']);
    expect(calls[0]?.headers['X-TYPESENSE-API-KEY']).toBe(API_KEY);
    expect(calls[0]?.url).toBe('http://a:8108/collections/c');
  });

  it('resolves a key provider for each request', async () => {
    let n = 0;
    const fake = fakeFetch(() => jsonResponse(200, { name: 'x' }));
    const ts = new TypesenseClient({
      nodes: ['http://a'],
      apiKey: async () => `key-${++n}`,
      fetch: fake.fetch,
    });
    await ts.getCollection('x');
    await ts.getCollection('x');
    expect(fake.calls.map((call) => call.headers['X-TYPESENSE-API-KEY'])).toEqual(['key-1', 'key-2']);
  });

  it('turns a timeout into a retryable TypesenseUnavailableError and makes exactly one attempt', async () => {
    const { client: ts, calls } = client(
      (_call, signal) =>
        new Promise<Response>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { timeoutMs: 50 },
    );
    const error = await caught(ts.importDocuments('c', ['{"id":"1"}'], 'upsert'));
    expect(error).toBeInstanceOf(TypesenseUnavailableError);
    expect((error as TypesenseUnavailableError).retryable).toBe(true);
    expect(error.message).toMatch(/timed out after 50 ms/);
    expect(calls).toHaveLength(1);
  });

  it("bounds each delete request by the call's timeout, and tells a timeout from a refused connection", async () => {
    const hanging: Handler = (_call, signal) =>
      new Promise<Response>((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason));
      });
    const { client: ts } = client(hanging, { timeoutMs: 60_000 });
    const error = await caught(ts.deleteByIds('c', ['a', 'back`tick'], { timeoutMs: 50 }));
    expect(error.message).toMatch(/timed out after 50 ms/);
    expect(isTimeout(error)).toBe(true);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const { client: down } = client(() => Promise.reject(new TypeError('fetch failed', { cause: refused })));
    expect(isTimeout(await caught(down.deleteByIds('c', ['a'], { timeoutMs: 50 })))).toBe(false);
  });

  it('sends no request of a call after its sendBy: each timeout ends by it, a later chunk is not sent', async () => {
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const { client: ts, calls } = client(() => {
      now += 80; // Each delete answers 80 ms later.
      return Promise.resolve(jsonResponse(200, { num_deleted: 1 }));
    });
    // Two ids a filter cannot express: two requests, the second due after the call's sendBy.
    const error = await caught(ts.deleteByIds('c', ['a`1', 'b`2'], { timeoutMs: 500, sendBy: now + 50 }));
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(TypesenseNotSentError);
    expect(error.message).toMatch(/not sent/);
    expect(isRetryableError(error)).toBe(true);
    expect(wasNotSent(error)).toBe(true);
    vi.restoreAllMocks();
  });

  it('turns a refused connection into TypesenseUnavailableError', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const { client: ts } = client(() => Promise.reject(new TypeError('fetch failed', { cause: refused })));
    const error = await caught(ts.deleteByIds('c', ['a']));
    expect(error).toBeInstanceOf(TypesenseUnavailableError);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('marks 503, 429 and 408 retryable and 400/401/404/409 not', async () => {
    for (const [status, retryable] of [
      [503, true],
      [500, true],
      [429, true],
      [408, true],
      [400, false],
      [401, false],
      [404, false],
      [409, false],
    ] as const) {
      const { client: ts, calls } = client(() => jsonResponse(status, { message: `msg ${status}` }));
      const error = await caught(ts.importDocuments('c', ['{"id":"1"}'], 'create'));
      expect(error).toBeInstanceOf(TypesenseHttpError);
      expect(error).toMatchObject({ status, retryable, serverMessage: `msg ${status}` });
      expect(calls).toHaveLength(1);
    }
  });

  it('marks the out-of-resource 422 retryable (src/raft_server.cpp ReplicationState::write) and other 422s not', async () => {
    for (const [message, retryable] of [
      ['Rejecting write: running out of resource type: OUT_OF_MEMORY', true],
      ['Rejecting write: running out of resource type: OUT_OF_DISK', true],
      // An operator's pause (`skip-writes` through /config, src/raft_server.cpp): it passes once lifted.
      ['Skipping writes.', true],
      ['Only upto 250 hits can be fetched per page.', false],
    ] as const) {
      const { client: ts } = client(() => jsonResponse(422, { message }));
      const error = await caught(ts.importDocuments('c', ['{"id":"1"}'], 'upsert'));
      expect(error).toMatchObject({ status: 422, retryable, serverMessage: message });
    }
  });

  it('keeps the API key out of every error message', async () => {
    const reasons: Handler[] = [
      () => jsonResponse(401, { message: 'Forbidden - a valid `x-typesense-api-key` header must be sent.' }),
      () => new Response('<html>bad gateway</html>', { status: 502 }),
      () => Promise.reject(new TypeError('fetch failed')),
      () => new Response('not json at all', { status: 200 }),
    ];
    for (const reason of reasons) {
      const { client: ts } = client(reason);
      const error = await caught(ts.search('c', { q: '*' }));
      expect(error.message).not.toContain(API_KEY);
      expect(String(error.stack)).not.toContain(API_KEY);
    }
  });

  it('health() is true only for 200 {ok:true} and never throws', async () => {
    expect(await client(() => jsonResponse(200, { ok: true })).client.health()).toBe(true);
    expect(await client(() => jsonResponse(503, { ok: false })).client.health()).toBe(false);
    expect(await client(() => jsonResponse(200, { ok: false })).client.health()).toBe(false);
    expect(await client(() => Promise.reject(new TypeError('fetch failed'))).client.health()).toBe(false);
  });

  it('health() sends no API key', async () => {
    const { client: ts, calls } = client(() => jsonResponse(200, { ok: true }));
    await ts.health();
    expect(calls[0]?.headers['X-TYPESENSE-API-KEY']).toBeUndefined();
  });
});

describe('TypesenseClient API key rotation', () => {
  const OLD_KEY = 'old-key-0123456789';
  const NEW_KEY = 'new-key-9876543210';

  /** A Secrets Manager stand-in whose secret value the test rotates; counts GetSecretValue calls. */
  function rotatingSecret(initial: string) {
    const state = { value: initial, reads: 0 };
    const secrets = {
      send: async (command: unknown) => {
        expect(command).toBeInstanceOf(GetSecretValueCommand);
        state.reads += 1;
        return { SecretString: state.value };
      },
    } as unknown as SecretsManagerClient;
    return { state, getKey: cachedSecret(secrets, 'arn:secret', 300_000) };
  }

  /** A Typesense stand-in accepting only `accepted.key`, answering 401 like Typesense otherwise. */
  function typesenseAccepting(accepted: { key: string }) {
    return fakeFetch((call) =>
      call.headers['X-TYPESENSE-API-KEY'] === accepted.key
        ? jsonResponse(200, { name: 'products' })
        : jsonResponse(401, { message: 'Forbidden - a valid `x-typesense-api-key` header must be sent.' }),
    );
  }

  it('on a 401 refreshes a rotated key once and retries the request with it, within the cache TTL', async () => {
    const { state, getKey } = rotatingSecret(OLD_KEY);
    const server = { key: OLD_KEY };
    const fake = typesenseAccepting(server);
    const ts = new TypesenseClient({ nodes: ['http://a'], apiKey: getKey, fetch: fake.fetch });

    expect(await ts.getCollection('products')).toMatchObject({ name: 'products' });
    // Rotation: the secret and the server change; the client still caches the old key.
    state.value = NEW_KEY;
    server.key = NEW_KEY;

    expect(await ts.getCollection('products')).toMatchObject({ name: 'products' });
    expect(fake.calls.map((call) => call.headers['X-TYPESENSE-API-KEY'])).toEqual([
      OLD_KEY,
      OLD_KEY,
      NEW_KEY,
    ]);
    expect(state.reads).toBe(2);

    // The fresh key is cached again: no further Secrets Manager reads.
    await ts.getCollection('products');
    expect(state.reads).toBe(2);
    expect(fake.calls.at(-1)?.headers['X-TYPESENSE-API-KEY']).toBe(NEW_KEY);
  });

  it('fails with the 401 after one refresh when the current key is still rejected, without resending it', async () => {
    const { state, getKey } = rotatingSecret(OLD_KEY);
    const fake = typesenseAccepting({ key: NEW_KEY });
    const ts = new TypesenseClient({ nodes: ['http://a'], apiKey: getKey, fetch: fake.fetch });

    const error = await caught(ts.importDocuments('products', ['{"id":"1"}'], 'upsert'));
    expect(error).toMatchObject({ name: 'TypesenseHttpError', status: 401, retryable: false });
    // The refreshed key equals the rejected one, so the request is not sent a second time.
    expect(fake.calls).toHaveLength(1);
    expect(state.reads).toBe(2);
  });

  it('retries at most once, even when the refreshed key is rejected too', async () => {
    let version = 0;
    const getKey = Object.assign(async () => `key-${version}`, { invalidate: () => void version++ });
    const fake = fakeFetch(() => jsonResponse(401, { message: 'Forbidden' }));
    const ts = new TypesenseClient({ nodes: ['http://a'], apiKey: getKey, fetch: fake.fetch });

    expect(await caught(ts.search('products', { q: '*' }))).toMatchObject({ status: 401 });
    expect(fake.calls.map((call) => call.headers['X-TYPESENSE-API-KEY'])).toEqual(['key-0', 'key-1']);
  });

  it('does not retry a 401 for a fixed key or a provider that cannot refresh', async () => {
    for (const apiKey of [API_KEY, async () => API_KEY]) {
      const fake = fakeFetch(() => jsonResponse(401, { message: 'Forbidden' }));
      const ts = new TypesenseClient({ nodes: ['http://a'], apiKey, fetch: fake.fetch });
      expect(await caught(ts.getCollection('products'))).toMatchObject({ status: 401 });
      expect(fake.calls).toHaveLength(1);
    }
  });

  it('never writes a key to the console while refreshing', async () => {
    const printed: unknown[][] = [];
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void printed.push(args)),
    );
    try {
      const { state, getKey } = rotatingSecret(OLD_KEY);
      const server = { key: NEW_KEY };
      const ts = new TypesenseClient({
        nodes: ['http://a'],
        apiKey: getKey,
        fetch: typesenseAccepting(server).fetch,
      });
      await getKey();
      state.value = NEW_KEY;
      await ts.getCollection('products');
      server.key = 'yet-another-key';
      await caught(ts.getCollection('products'));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const text = JSON.stringify(printed);
    expect(text).not.toContain(OLD_KEY);
    expect(text).not.toContain(NEW_KEY);
  });
});

describe('TypesenseClient.importDocuments', () => {
  it('posts JSONL with the action and parses every result line', async () => {
    const { client: ts, calls } = client(
      () =>
        new Response(
          [
            '{"id":"1","success":true}',
            '{"code":409,"document":"{\\"id\\":\\"2\\"}","error":"A document with id 2 already exists.","success":false}',
            '{"success":true}',
          ].join('\n'),
          { status: 200 },
        ),
    );
    const results = await ts.importDocuments('books', ['{"id":"1"}', '{"id":"2"}', '{"id":"3"}'], 'create');
    expect(results).toEqual([
      { success: true, id: '1' },
      { success: false, code: 409, error: 'A document with id 2 already exists.', document: '{"id":"2"}' },
      { success: true },
    ]);
    const call = calls[0];
    expect(call?.method).toBe('POST');
    expect(call?.url).toBe(
      'http://ts-a:8108/collections/books/documents/import?action=create&return_id=true',
    );
    expect(call?.headers['Content-Type']).toBe('text/plain');
    expect(call?.body).toBe('{"id":"1"}\n{"id":"2"}\n{"id":"3"}');
  });

  it('throws TypesenseProtocolError when the result count differs from the input', async () => {
    const { client: ts } = client(() => new Response('{"success":true}\n', { status: 200 }));
    const error = await caught(ts.importDocuments('c', ['{"id":"1"}', '{"id":"2"}'], 'upsert'));
    expect(error).toBeInstanceOf(TypesenseProtocolError);
    expect((error as TypesenseProtocolError).retryable).toBe(false);
  });

  it('throws TypesenseProtocolError on a malformed result line', async () => {
    const { client: ts } = client(() => new Response('{"success":false}', { status: 200 }));
    expect(await caught(ts.importDocuments('c', ['{"id":"1"}'], 'upsert'))).toBeInstanceOf(
      TypesenseProtocolError,
    );
  });

  it('refuses lines that would change the line count, without sending anything', async () => {
    const { client: ts, calls } = client(() => new Response('', { status: 200 }));
    await expect(ts.importDocuments('c', ['{"a":1}\n{"b":2}'], 'upsert')).rejects.toThrow(TypeError);
    await expect(ts.importDocuments('c', ['  '], 'upsert')).rejects.toThrow(TypeError);
    expect(await ts.importDocuments('c', [], 'upsert')).toEqual([]);
    expect(calls).toHaveLength(0);
  });

  it('url-encodes the collection name', async () => {
    const { client: ts, calls } = client(() => new Response('{"success":true}', { status: 200 }));
    await ts.importDocuments('a b/c', ['{"id":"1"}'], 'emplace');
    expect(calls[0]?.url).toContain('/collections/a%20b%2Fc/documents/import?action=emplace');
  });
});

describe('TypesenseClient.deleteByIds', () => {
  const filterOf = (call: Call | undefined) => new URL(String(call?.url)).searchParams.get('filter_by');

  it('backtick-quotes ids so commas, spaces, pipes and unicode survive the filter parser', async () => {
    const ids = ['a,b', 'with space', 'pipe|x', 'amp&&x', 'paren(x)', 'ünï-日本', 'plain'];
    const { client: ts, calls } = client(() => jsonResponse(200, { num_deleted: 7 }));
    expect(await ts.deleteByIds('c', ids)).toBe(7);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.method).toBe('DELETE');
    const filter = filterOf(calls[0]);
    expect(filter).toBe(`id:[${ids.map((id) => `\`${id}\``).join(',')}]`);
    // The emulator reimplements Typesense's value splitter; the filter must round-trip through it exactly.
    expect(splitToValues(String(filter).slice('id:['.length, -1))).toEqual(ids);
    // The raw URL must not contain characters a server could misread before decoding.
    expect(calls[0]?.url).not.toMatch(/[ `|&()]/u);
  });

  it('deletes ids a filter cannot express one by one, counting 404s as already gone', async () => {
    const { client: ts, calls } = client((call) => {
      if (call.url.includes('filter_by')) return jsonResponse(200, { num_deleted: 1 });
      if (call.url.endsWith('/documents/gone%60')) {
        return jsonResponse(404, { message: 'Could not find a document with id: gone`' });
      }
      return jsonResponse(200, { id: 'x' });
    });
    const count = await ts.deleteByIds('c', ['ok', 'back`tick', '*', ' padded', 'gone`', '']);
    expect(count).toBe(1 + 3);
    expect(filterOf(calls[0])).toBe('id:[`ok`]');
    expect(
      calls.slice(1).map((call) => call.url.replace('http://ts-a:8108/collections/c/documents/', '')),
    ).toEqual(['back%60tick', '%2A', '%20padded', 'gone%60']);
  });

  it('never lets a lone "*" reach filter_by, where it would match every document', () => {
    expect(isFilterSafeId('*')).toBe(false);
    expect(isFilterSafeId('a*')).toBe(true);
  });

  it('a missing collection on a per-id delete is an error, not a zero count', async () => {
    const { client: ts } = client(() => jsonResponse(404, { message: 'Not Found' }));
    const error = await caught(ts.deleteByIds('nope', ['back`tick']));
    expect(error).toMatchObject({ status: 404 });
  });

  it('chunks long id lists so every URL stays under the limit and sums the counts', async () => {
    const ids = Array.from({ length: 600 }, (_, i) => `id-${i}-ß-${'x'.repeat(i % 40)}`);
    const { client: ts, calls } = client((call) => {
      const filter = filterOf(call);
      return jsonResponse(200, { num_deleted: splitToValues(String(filter).slice(4, -1)).length });
    });
    expect(await ts.deleteByIds('c', [...ids, ...ids.slice(0, 10)])).toBe(600);
    expect(calls.length).toBeGreaterThan(1);
    for (const call of calls) expect(call.url.length).toBeLessThanOrEqual(MAX_URL_LENGTH);
    const sent = calls.flatMap((call) => splitToValues(String(filterOf(call)).slice(4, -1)));
    expect(sent).toEqual(ids);
  });

  it('sends nothing for an empty list', async () => {
    const { client: ts, calls } = client(() => jsonResponse(200, { num_deleted: 0 }));
    expect(await ts.deleteByIds('c', [])).toBe(0);
    expect(calls).toHaveLength(0);
  });

  it('rejects a delete answer without num_deleted', async () => {
    const { client: ts } = client(() => jsonResponse(200, { ok: true }));
    expect(await caught(ts.deleteByIds('c', ['a']))).toBeInstanceOf(TypesenseProtocolError);
  });

  it('chunkIdFilters gives an oversized id a filter of its own', () => {
    const filters = chunkIdFilters(['a', 'b'.repeat(50), 'c'], 30);
    expect(filters).toEqual(['id:[`a`]', `id:[\`${'b'.repeat(50)}\`]`, 'id:[`c`]']);
  });
});

describe('TypesenseClient reads', () => {
  it('getDocument returns undefined for a missing document but throws for a missing collection', async () => {
    const missingDoc = client(() => jsonResponse(404, { message: 'Could not find a document with id: a|b' }));
    expect(await missingDoc.client.getDocument('c', 'a|b')).toBeUndefined();
    expect(missingDoc.calls[0]?.url).toBe('http://ts-a:8108/collections/c/documents/a%7Cb');

    const missingCollection = client(() => jsonResponse(404, { message: 'Not Found' }));
    expect(await caught(missingCollection.client.getDocument('c', 'x'))).toBeInstanceOf(TypesenseHttpError);
  });

  it('getCollection and getAlias return undefined on 404', async () => {
    const { client: ts } = client(() => jsonResponse(404, { message: 'Not Found' }));
    expect(await ts.getCollection('x')).toBeUndefined();
    expect(await ts.getAlias('x')).toBeUndefined();
  });

  it('exportDocuments parses JSONL', async () => {
    const { client: ts } = client(() => new Response('{"id":"1"}\n{"id":"2","n":3}\n', { status: 200 }));
    expect(await ts.exportDocuments('c')).toEqual([{ id: '1' }, { id: '2', n: 3 }]);
  });

  it('search passes parameters in the query string', async () => {
    const { client: ts, calls } = client(() => jsonResponse(200, { found: 0, hits: [], page: 1 }));
    await ts.search('c', { q: 'a b', query_by: 'title', per_page: 5 });
    expect(calls[0]?.url).toBe(
      'http://ts-a:8108/collections/c/documents/search?q=a%20b&query_by=title&per_page=5',
    );
  });
});

describe('importTimeoutWithin', () => {
  it('gives an import what remains of the invocation less the reporting reserve, at least a second', () => {
    expect(importTimeoutWithin(900_000)).toBe(895_000);
    expect(importTimeoutWithin(20_000)).toBe(15_000);
    expect(importTimeoutWithin(5_500)).toBe(1_000);
    expect(importTimeoutWithin(900_000, 2_000)).toBe(2_000);
  });
});
