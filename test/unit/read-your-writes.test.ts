import { createServer } from 'node:net';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { projectItem } from '../../functions/core/project.ts';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { startTypesenseEmulator, type TypesenseEmulator } from '../../infra/local/typesense-emulator.ts';
import {
  deleted,
  fieldAtLeast,
  fieldEquals,
  present,
  WaitForIndexedArgumentError,
  type WaitForIndexedOptions,
  waitForIndexed,
} from '../../lib/read-your-writes.ts';

const API_KEY = 'read-your-writes-key';
const COLLECTION = 'products';

/** A port nothing listens on: bound once by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('waitForIndexed', () => {
  let emulator: TypesenseEmulator;
  let client: TypesenseClient;

  const upsert = (document: Record<string, unknown>) =>
    client.importDocuments(COLLECTION, [JSON.stringify(document)], 'upsert');

  /** Resolves once the emulator has received `count` more requests than `from`: the wait is under way. */
  const requestsSeen = (from: number, count: number) =>
    vi.waitFor(() => expect(emulator.stats.requests - from).toBeGreaterThanOrEqual(count), {
      timeout: 20_000,
      interval: 10,
    });

  beforeAll(async () => {
    emulator = await startTypesenseEmulator({ apiKey: API_KEY });
    client = new TypesenseClient({ nodes: [emulator.url], apiKey: API_KEY, timeoutMs: 5000 });
    await client.createCollection({
      name: COLLECTION,
      fields: [
        { name: 'title', type: 'string' },
        { name: 'revision', type: 'int32', optional: true },
      ],
    });
  });

  afterAll(async () => {
    await emulator.stop();
  });

  it('answers at once with the document when the write is already applied', async () => {
    await upsert({ id: 'applied', title: 'lamp', revision: 7 });

    const byRevision = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'applied',
      until: fieldAtLeast('revision', 7),
    });
    expect(byRevision).toMatchObject({
      indexed: true,
      document: { id: 'applied', title: 'lamp', revision: 7 },
      requests: 1,
    });

    // Connection settings instead of a client reach the same index.
    const byTitle = await waitForIndexed({
      typesense: { nodes: [emulator.url], apiKey: API_KEY },
      collection: COLLECTION,
      id: 'applied',
      until: fieldEquals('title', 'lamp'),
    });
    expect(byTitle).toMatchObject({ indexed: true, document: { id: 'applied' }, requests: 1 });
  });

  it('keeps checking until the write is applied mid-wait, and returns the new document', async () => {
    await upsert({ id: 'mid-wait', title: 'old', revision: 6 });
    const before = emulator.stats.requests;

    const waiting = waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'mid-wait',
      until: fieldAtLeast('revision', 7),
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    await requestsSeen(before, 2);
    await upsert({ id: 'mid-wait', title: 'new', revision: 7 });

    const result = await waiting;
    expect(result).toMatchObject({ indexed: true, document: { title: 'new', revision: 7 } });
    expect(result.requests).toBeGreaterThanOrEqual(3);
  });

  it('a first write counts as applied once the document appears', async () => {
    const before = emulator.stats.requests;
    const waiting = waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'created-later',
      until: present(),
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    await requestsSeen(before, 2);
    await upsert({ id: 'created-later', title: 'chair' });

    expect(await waiting).toMatchObject({ indexed: true, document: { id: 'created-later', title: 'chair' } });
  });

  it('gives up after the timeout with a reason naming what it last saw, and stops asking', async () => {
    await upsert({ id: 'stale', title: 'desk', revision: 6 });
    const before = emulator.stats.requests;

    const stale = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'stale',
      until: fieldAtLeast('revision', 7),
      timeoutMs: 1000,
      intervalMs: 20,
    });
    // Generous timeouts: a first answer slower than the timeout would rightly read as 'unavailable'.
    expect(stale).toMatchObject({ indexed: false, reason: 'timeout' });
    if (stale.indexed) return;
    expect(stale.detail).toContain("document 'stale' found (waiting for: revision >= 7)");
    expect(stale.requests).toBeGreaterThanOrEqual(1);
    // The last request may be cut off at the deadline before or after it reached the server.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const reached = emulator.stats.requests - before;
    expect(reached).toBeLessThanOrEqual(stale.requests);
    expect(reached).toBeGreaterThanOrEqual(stale.requests - 1);

    // Stopped: no request arrives after it returned.
    const afterReturn = emulator.stats.requests;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(emulator.stats.requests).toBe(afterReturn);

    const absent = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'never-written',
      until: present(),
      timeoutMs: 1000,
      intervalMs: 20,
    });
    expect(absent).toMatchObject({ indexed: false, reason: 'timeout' });
    expect(absent.indexed || absent.detail).toContain("no document 'never-written' (waiting for: present)");
  });

  it('deleted() resolves once the document disappears', async () => {
    await upsert({ id: 'to-delete', title: 'sofa' });
    const before = emulator.stats.requests;

    const waiting = waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'to-delete',
      until: deleted(),
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    await requestsSeen(before, 2);
    expect(await client.deleteByIds(COLLECTION, ['to-delete'])).toBe(1);

    const result = await waiting;
    expect(result).toEqual({
      indexed: true,
      document: undefined,
      waitedMs: expect.any(Number),
      requests: expect.any(Number),
    });
    expect(result.requests).toBeGreaterThanOrEqual(3);
  });

  it('an unreachable index ends the wait early as unavailable, naming the failure, without throwing', async () => {
    const port = await closedPort();
    const result = await waitForIndexed({
      typesense: { nodes: [`http://127.0.0.1:${port}`], apiKey: API_KEY },
      collection: COLLECTION,
      id: 'applied',
      until: present(),
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    expect(result).toMatchObject({ indexed: false, reason: 'unavailable', requests: 3 });
    expect(result.indexed || result.detail).toMatch(/got no answer: ECONNREFUSED/);
  });

  it('rides out transient 503s, but stops at an error waiting cannot fix', async () => {
    emulator.failNext(2, 503);
    const transient = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'applied',
      until: present(),
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    expect(transient).toMatchObject({ indexed: true, requests: 3 });

    const missingCollection = await waitForIndexed({
      typesense: client,
      collection: 'no-such-collection',
      id: 'applied',
      until: present(),
      timeoutMs: 30_000,
    });
    expect(missingCollection).toMatchObject({ indexed: false, reason: 'failed', requests: 1 });
    expect(missingCollection.indexed || missingCollection.detail).toContain('HTTP 404');
  });

  it('an abort signal stops the wait, before or during it', async () => {
    const before = emulator.stats.requests;
    const controller = new AbortController();
    const waiting = waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'never-written',
      until: present(),
      timeoutMs: 30_000,
      intervalMs: 20,
      signal: controller.signal,
    });
    await requestsSeen(before, 2);
    controller.abort();

    const result = await waiting;
    expect(result).toMatchObject({ indexed: false, reason: 'aborted' });
    const afterReturn = emulator.stats.requests;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(emulator.stats.requests).toBe(afterReturn);

    const alreadyAborted = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      id: 'applied',
      until: present(),
      signal: AbortSignal.abort(),
    });
    expect(alreadyAborted).toMatchObject({ indexed: false, reason: 'aborted', requests: 0 });
  });

  it('rejects arguments no wait could succeed with, before any request', async () => {
    const valid = { typesense: client, collection: COLLECTION, id: 'applied', until: present() };
    const bad: [string, object, RegExp][] = [
      ['empty id', { id: '' }, /document id is empty/],
      ['zero timeout', { timeoutMs: 0 }, /timeoutMs/],
      ['negative timeout', { timeoutMs: -5 }, /timeoutMs/],
      ['NaN timeout', { timeoutMs: Number.NaN }, /timeoutMs/],
      ['hour-long timeout', { timeoutMs: 3_600_000 }, /timeoutMs/],
      ['busy-loop interval', { intervalMs: 0 }, /intervalMs/],
      ['empty collection', { collection: '' }, /collection/],
      ['no condition', { until: undefined }, /until/],
      ['no nodes', { typesense: { nodes: [], apiKey: API_KEY } }, /typesense/],
      ['id and key', { key: { pk: 'a' }, keyAttributes: ['pk'] }, /either id or key/],
      ['key without keyAttributes', { id: undefined, key: { pk: 'a' } }, /keyAttributes/],
      ['key missing its sort key', { id: undefined, key: { pk: 'a' }, keyAttributes: ['pk', 'sk'] }, /'sk'/],
      ['boolean key part', { id: undefined, key: { pk: true }, keyAttributes: ['pk'] }, /S, N or B/],
      ['exponent number key', { id: undefined, key: { pk: 1e-7 }, keyAttributes: ['pk'] }, /decimal string/],
    ];
    const before = emulator.stats.requests;
    for (const [name, override, message] of bad) {
      const options = { ...valid, ...override } as unknown as WaitForIndexedOptions<undefined>;
      const error = await waitForIndexed(options).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(WaitForIndexedArgumentError);
      expect((error as Error).message, name).toMatch(message);
    }
    expect(emulator.stats.requests).toBe(before);
  });

  it("derives the id by the index's id rule when given its projection, as the writer does", async () => {
    const projection = {
      filter: { attribute: 'sk', equals: 'PROFILE' },
      id: { attributes: ['pk'], stripPrefix: { pk: 'CUSTOMER#' } },
    };
    const item = { pk: 'CUSTOMER#123', sk: 'PROFILE', title: 'Ada', revision: 2 };
    const written = projectItem(marshall(item), ['pk', 'sk'], projection);
    await upsert(written as NonNullable<typeof written>);
    const result = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      key: item,
      keyAttributes: ['pk', 'sk'],
      projection,
      until: fieldAtLeast('revision', 2),
    });
    expect(result).toMatchObject({ indexed: true, document: { id: '123' }, requests: 1 });
    const order = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      key: { pk: 'CUSTOMER#123', sk: 'ORDER#1' },
      keyAttributes: ['pk', 'sk'],
      projection,
      until: present(),
    }).catch((error: unknown) => error);
    expect(order).toBeInstanceOf(WaitForIndexedArgumentError);
    expect((order as Error).message).toMatch(/leaves this key out of the index/);
  });

  it('derives the id from a composite key exactly as the writer does', async () => {
    const keyAttributes = ['pk', 'sk'];
    // `|` and `\` inside key values are what a hand-made `${pk}|${sk}` would get wrong.
    const item = { pk: 'shop|a\\b', sk: 42, title: 'table', revision: 3 };
    const written = projectItem(marshall(item), keyAttributes);
    await upsert(written);

    const result = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      key: item,
      keyAttributes,
      until: fieldAtLeast('revision', 3),
    });
    expect(result).toMatchObject({
      indexed: true,
      document: { id: written.id, title: 'table' },
      requests: 1,
    });

    const binaryItem = { pk: new Uint8Array([0xff, 0x00, 0x7c]), title: 'bytes' };
    const binaryWritten = projectItem(marshall(binaryItem), ['pk']);
    await upsert(binaryWritten);
    const binary = await waitForIndexed({
      typesense: client,
      collection: COLLECTION,
      key: { pk: binaryItem.pk },
      keyAttributes: ['pk'],
      until: present(),
    });
    expect(binary).toMatchObject({ indexed: true, document: { id: binaryWritten.id }, requests: 1 });
  });
});
