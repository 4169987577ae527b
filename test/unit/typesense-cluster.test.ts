import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../functions/core/breaker.ts';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import { documentId } from '../../functions/core/keys.ts';
import { processChangeMessages, type WriterPorts } from '../../functions/core/write-batch.ts';
import { TypesenseClient, TypesenseHttpError } from '../../functions/shared/typesense.ts';
import {
  splitToValues,
  startTypesenseEmulator,
  type TypesenseEmulator,
} from '../../infra/local/typesense-emulator.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

const API_KEY = 'cluster-unit-key';
const started: TypesenseEmulator[] = [];

async function emulator(): Promise<TypesenseEmulator> {
  const instance = await startTypesenseEmulator({ apiKey: API_KEY });
  started.push(instance);
  return instance;
}

const servers: Server[] = [];

/** A plain HTTP server answering like Typesense would; `answer` decides per request. */
async function fakeTypesense(
  answer: (method: string, path: string) => { status: number; body: string },
): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const { status, body } = answer(req.method ?? 'GET', req.url ?? '/');
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((instance) => instance.stop()));
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

describe('deletes of ids ending in a backslash (Typesense filter parser)', () => {
  it('the emulator splits filter values like StringUtils::split_to_values: `\\` before a backtick escapes it', () => {
    // typesense/typesense src/string_utils.cpp split_to_values: `escaped_tick = (i != 0) && c == '`' &&
    // vals_str[i-1] == '\\'` appends the backtick to the value instead of closing it, so `a\` swallows the
    // comma and the next value: neither id is looked up.
    expect(splitToValues('`a\\`,`b`')).toEqual(['a\\`,b']);
    expect(splitToValues('`a\\b`,`c`')).toEqual(['a\\b', 'c']);
  });

  it('deletes every id, including composite ids whose sort key ends in a backslash', async () => {
    const server = await emulator();
    const ts = new TypesenseClient({ nodes: [server.url], apiKey: API_KEY });
    await ts.createCollection({ name: 'c', fields: [{ name: 'n', type: 'int32' }] });
    const ids = [
      documentId({ pk: { S: 'p' }, sk: { S: 'ends\\' } }, ['pk', 'sk']),
      'plain-1',
      'simple\\',
      'plain-2',
    ];
    expect(ids[0]).toBe('p|ends\\\\');
    await ts.importDocuments(
      'c',
      ids.map((id, n) => JSON.stringify({ id, n })),
      'upsert',
    );
    expect(await ts.deleteByIds('c', ids)).toBe(ids.length);
    expect(await ts.exportDocuments('c')).toEqual([]);
  });
});

describe('a node running out of disk (422 "Rejecting write: running out of resource type")', () => {
  // typesense/typesense src/raft_server.cpp ReplicationState::write and src/batched_indexer.cpp answer the whole
  // write with set_422("Rejecting write: running out of resource type: " + OUT_OF_DISK|OUT_OF_MEMORY); /health
  // (src/core_api.cpp get_health) adds "resource_error" to its body while `ok` may stay true.
  const OUT_OF_DISK = 'Rejecting write: running out of resource type: OUT_OF_DISK';

  it('is a retryable outage: the circuit opens, the probe sees the resource error, nothing is dead-lettered', async () => {
    const server = { full: true };
    const url = await fakeTypesense((method, path) => {
      if (path.startsWith('/health')) {
        return {
          status: 200,
          body: JSON.stringify(server.full ? { ok: true, resource_error: 'OUT_OF_DISK' } : { ok: true }),
        };
      }
      if (server.full) return { status: 422, body: JSON.stringify({ message: OUT_OF_DISK }) };
      if (method === 'POST') return { status: 200, body: '{"success":true}\n{"success":true}' };
      return { status: 404, body: '{"message":"Not Found"}' };
    });
    const ts = new TypesenseClient({ nodes: [url], apiKey: API_KEY });
    const thrown = await ts.importDocuments('c', ['{"id":"a"}'], 'upsert').catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(TypesenseHttpError);
    expect(thrown).toMatchObject({ status: 422, retryable: true });
    expect(await ts.health()).toBe(false);

    const clock = { now: 1_700_000_000_000 };
    const deadLetters: DeadLetter[] = [];
    const ports: WriterPorts = {
      readItems: async (keys: MarshalledKey[]) =>
        keys.map((key): Record<string, AttributeValue> => ({ pk: key.pk as AttributeValue, n: { N: '1' } })),
      importDocuments: (lines) => ts.importDocuments('c', lines, 'upsert'),
      deleteDocuments: (ids) => ts.deleteByIds('c', ids),
      sendDeadLetters: async (letters) => void deadLetters.push(...letters),
      health: () => ts.health(),
      now: () => clock.now,
    };
    const breaker = new CircuitBreaker({
      failureThreshold: 2,
      probeMs: 1000,
      maxProbeMs: 8000,
      now: () => clock.now,
    });
    const records = () => [
      sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('a')] }),
      sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('b')] }),
    ];
    const run = () => processChangeMessages(records(), ports, { keyAttributes: ['pk'], breaker });

    for (let i = 0; i < 2; i++) expect((await run()).batchItemFailures).toHaveLength(2);
    expect(breaker.state).toBe('open');
    clock.now += 1000;
    // Half-open: /health answers 200 but reports the resource error, so the probe fails and no write is sent.
    expect((await run()).summary.circuit).toBe('open');
    server.full = false;
    clock.now += 2000;
    const recovered = await run();
    expect(recovered.batchItemFailures).toEqual([]);
    expect(recovered.summary.upserted).toBe(2);
    expect(breaker.state).toBe('closed');
    expect(deadLetters).toEqual([]);
  });
});

/** A fetch that counts requests per node (host:port) before passing them on. */
function countingFetch(): { fetch: typeof fetch; perNode: Map<string, number> } {
  const perNode = new Map<string, number>();
  const counted = (input: string | URL | Request, init?: RequestInit) => {
    const host = new URL(String(input)).host;
    perNode.set(host, (perNode.get(host) ?? 0) + 1);
    return fetch(input, init);
  };
  return { fetch: counted as typeof fetch, perNode };
}

const hostOf = (server: TypesenseEmulator) => new URL(server.url).host;

describe('a cluster with one node of three down', () => {
  async function threeNodes() {
    const nodes = [await emulator(), await emulator(), await emulator()];
    // Independent emulators do not replicate: each gets the collection, as a cluster's nodes all would.
    for (const node of nodes) {
      await new TypesenseClient({ nodes: [node.url], apiKey: API_KEY }).createCollection({
        name: 'c',
        fields: [{ name: 'n', type: 'int32' }],
      });
    }
    return nodes;
  }

  it('fails over within the call, skips the dead node for a while, and the writer sees no outage', async () => {
    const nodes = await threeNodes();
    const [first, second, third] = nodes as [TypesenseEmulator, TypesenseEmulator, TypesenseEmulator];
    await second.stop();
    const clock = { now: 1_700_000_000_000 };
    const counting = countingFetch();
    const ts = new TypesenseClient({
      nodes: nodes.map(({ url }) => url),
      apiKey: API_KEY,
      fetch: counting.fetch,
      healthcheckIntervalMs: 60_000,
      now: () => clock.now,
    });
    const deadLetters: DeadLetter[] = [];
    const ports: WriterPorts = {
      readItems: async (keys: MarshalledKey[]) =>
        keys.map((key): Record<string, AttributeValue> => ({ pk: key.pk as AttributeValue, n: { N: '1' } })),
      importDocuments: (lines) => ts.importDocuments('c', lines, 'upsert'),
      deleteDocuments: (ids) => ts.deleteByIds('c', ids),
      sendDeadLetters: async (letters) => void deadLetters.push(...letters),
      health: () => ts.health(),
      now: () => clock.now,
    };
    const breaker = new CircuitBreaker({
      failureThreshold: 1,
      probeMs: 1000,
      maxProbeMs: 8000,
      now: () => clock.now,
    });
    const batches = 30;
    for (let i = 0; i < batches; i++) {
      const result = await processChangeMessages(
        [sqsRecord({ messageId: `m${i}`, groupId: `g${i}`, changes: [change(`doc-${i}`)] })],
        ports,
        { keyAttributes: ['pk'], breaker },
      );
      expect(result.batchItemFailures).toEqual([]);
      expect(breaker.state).toBe('closed');
    }
    expect(deadLetters).toEqual([]);
    // Every batch landed on a live node, and the dead one cost one refused connection, not one per batch.
    expect(first.stats.importLines + third.stats.importLines).toBe(batches);
    expect(counting.perNode.get(hostOf(second))).toBe(1);
    expect(first.stats.importLines).toBe(batches / 2);
    expect(third.stats.importLines).toBe(batches / 2);

    // After the interval the node is tried again (and, still down, skipped again at once).
    clock.now += 60_000;
    await ts.importDocuments('c', ['{"id":"late","n":1}'], 'upsert');
    await ts.importDocuments('c', ['{"id":"later","n":1}'], 'upsert');
    expect(counting.perNode.get(hostOf(second))).toBe(2);
  });

  it('a node answering 503 is skipped for a while and the call goes to the next node', async () => {
    const nodes = await threeNodes();
    const [first, second] = nodes as [TypesenseEmulator, TypesenseEmulator, TypesenseEmulator];
    first.failNext(1, 503);
    const ts = new TypesenseClient({ nodes: nodes.map(({ url }) => url), apiKey: API_KEY });
    expect(await ts.importDocuments('c', ['{"id":"a","n":1}'], 'upsert')).toEqual([
      { success: true, id: 'a' },
    ]);
    expect(second.stats.importLines).toBe(1);
    await ts.importDocuments('c', ['{"id":"b","n":1}'], 'upsert');
    await ts.importDocuments('c', ['{"id":"c","n":1}'], 'upsert');
    expect(first.stats.importLines).toBe(0);
  });

  it('a 503 does not resend a call that is not idempotent (an import with action=create) to the next node', async () => {
    const nodes = await threeNodes();
    const [first, second] = nodes as [TypesenseEmulator, TypesenseEmulator, TypesenseEmulator];
    first.failNext(1, 503);
    const ts = new TypesenseClient({ nodes: nodes.map(({ url }) => url), apiKey: API_KEY });
    const error = await ts.importDocuments('c', ['{"id":"a","n":1}'], 'create').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, retryable: true });
    expect(second.stats.importLines).toBe(0);
    // The node is skipped for a while all the same.
    await ts.importDocuments('c', ['{"id":"b","n":1}'], 'create');
    expect(first.stats.importLines).toBe(0);
  });

  it('prefers nearestNode while it is healthy and falls back to the others while it is not', async () => {
    const nodes = await threeNodes();
    const near = await emulator();
    await new TypesenseClient({ nodes: [near.url], apiKey: API_KEY }).createCollection({
      name: 'c',
      fields: [{ name: 'n', type: 'int32' }],
    });
    const clock = { now: 0 };
    const ts = new TypesenseClient({
      nodes: nodes.map(({ url }) => url),
      nearestNode: near.url,
      apiKey: API_KEY,
      healthcheckIntervalMs: 10_000,
      now: () => clock.now,
    });
    for (let i = 0; i < 3; i++) await ts.importDocuments('c', [`{"id":"${i}","n":1}`], 'upsert');
    expect(near.stats.importLines).toBe(3);
    near.failNext(1, 503);
    for (let i = 3; i < 6; i++) await ts.importDocuments('c', [`{"id":"${i}","n":1}`], 'upsert');
    expect(near.stats.importLines).toBe(3);
    expect(nodes.reduce((sum, node) => sum + node.stats.importLines, 0)).toBe(3);
    clock.now += 10_000;
    await ts.importDocuments('c', ['{"id":"6","n":1}'], 'upsert');
    expect(near.stats.importLines).toBe(4);
  });

  it('with every node down the call fails as unavailable after one try per node', async () => {
    const nodes = await threeNodes();
    for (const node of nodes) await node.stop();
    const counting = countingFetch();
    const ts = new TypesenseClient({
      nodes: nodes.map(({ url }) => url),
      apiKey: API_KEY,
      fetch: counting.fetch,
    });
    const error = await ts.importDocuments('c', ['{"id":"a"}'], 'upsert').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TypesenseUnavailableError', retryable: true });
    expect([...counting.perNode.values()]).toEqual([1, 1, 1]);
  });
});

describe('imports and exports have timeouts of their own', () => {
  it('an import outlives the per-request timeout, and a per-call timeout bounds it', async () => {
    const url = await fakeTypesense(() => ({ status: 200, body: '{"success":true}' }));
    const slow = (inner: typeof fetch): typeof fetch =>
      (async (input: string | URL | Request, init?: RequestInit) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        init?.signal?.throwIfAborted();
        return inner(input, init);
      }) as typeof fetch;
    const ts = new TypesenseClient({ nodes: [url], apiKey: API_KEY, timeoutMs: 100, fetch: slow(fetch) });
    expect(await ts.importDocuments('c', ['{"id":"a"}'], 'upsert')).toEqual([{ success: true }]);
    const error = await ts
      .importDocuments('c', ['{"id":"a"}'], 'upsert', { timeoutMs: 150 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TypesenseUnavailableError' });
    expect((error as Error).message).toMatch(/timed out after 150 ms/);
  });
});

describe('exportDocumentStream', () => {
  it('yields documents line by line while the server is still sending', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const state = { ended: false };
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      // A line split across writes must still come out whole.
      res.write(
        `${Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: `a${i}` })).join('\n')}\n{"id":`,
      );
      void released.then(() => {
        res.end(`"b"}\n${JSON.stringify({ id: 'c', s: 'ü' })}`);
        state.ended = true;
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ts = new TypesenseClient({ nodes: [url], apiKey: API_KEY });
    const ids: string[] = [];
    for await (const document of ts.exportDocumentStream('c')) {
      ids.push(String(document.id));
      if (ids.length === 500) {
        // Every line sent so far was parsed and handed over before the response ended.
        expect(state.ended).toBe(false);
        release();
      }
    }
    expect(ids).toHaveLength(502);
    expect(ids.slice(-2)).toEqual(['b', 'c']);
  });
});
