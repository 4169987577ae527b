import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TypesenseClient,
  TypesenseHttpError,
  TypesenseUnavailableError,
} from '../../functions/shared/typesense.ts';
import {
  parseTypesenseVersion,
  startTypesenseEmulator,
  startTypesenseEmulatorProcess,
  type TypesenseEmulator,
  type TypesenseVersion,
} from '../../infra/local/typesense-emulator.ts';

const API_KEY = 'emulator-unit-key';

describe('Typesense emulator fault controls', () => {
  let emulator: TypesenseEmulator;
  let client: TypesenseClient;

  beforeAll(async () => {
    emulator = await startTypesenseEmulator({ apiKey: API_KEY });
    client = new TypesenseClient({ nodes: [emulator.url], apiKey: API_KEY, timeoutMs: 2000 });
    await client.createCollection({ name: 'faults', fields: [{ name: 'title', type: 'string' }] });
  });

  afterAll(async () => {
    await emulator.stop();
  });

  it('listens on 127.0.0.1 with a free port by default', () => {
    expect(emulator.url).toBe(`http://127.0.0.1:${emulator.port}`);
    expect(emulator.port).toBeGreaterThan(0);
  });

  it('failNext answers document requests with the given status, then recovers', async () => {
    emulator.failNext(2, 503);
    for (let i = 0; i < 2; i++) {
      const error = await client
        .importDocuments('faults', ['{"id":"1","title":"a"}'], 'upsert')
        .catch((e) => e);
      expect(error).toBeInstanceOf(TypesenseHttpError);
      expect(error).toMatchObject({ status: 503, retryable: true, serverMessage: 'Not Ready or Lagging' });
    }
    expect(await client.importDocuments('faults', ['{"id":"1","title":"a"}'], 'upsert')).toEqual([
      { success: true, id: '1' },
    ]);
  });

  it('failNext leaves non-document endpoints alone', async () => {
    emulator.failNext(1, 500);
    expect(await client.health()).toBe(true);
    expect(await client.getCollection('faults')).toMatchObject({ name: 'faults' });
    const error = await client.getDocument('faults', '1').catch((e) => e);
    expect(error).toMatchObject({ status: 500, retryable: true });
    expect(await client.getDocument('faults', '1')).toEqual({ id: '1', title: 'a' });
  });

  it('setDown makes every request fail at the connection level, health included', async () => {
    emulator.setDown(true);
    try {
      expect(await client.health()).toBe(false);
      const error = await client
        .importDocuments('faults', ['{"id":"2","title":"b"}'], 'upsert')
        .catch((e) => e);
      expect(error).toBeInstanceOf(TypesenseUnavailableError);
      expect(error.retryable).toBe(true);
      await expect(client.getCollection('faults')).rejects.toBeInstanceOf(TypesenseUnavailableError);
    } finally {
      emulator.setDown(false);
    }
    expect(await client.health()).toBe(true);
    expect(await client.importDocuments('faults', ['{"id":"2","title":"b"}'], 'upsert')).toEqual([
      { success: true, id: '2' },
    ]);
  });

  it('counts requests, imported lines and deleted documents', async () => {
    const before = { ...emulator.stats };
    await client.importDocuments('faults', ['{"id":"3","title":"c"}', '{"id":"4","title":"d"}'], 'upsert');
    expect(await client.deleteByIds('faults', ['3', '4', 'missing'])).toBe(2);
    expect(emulator.stats.requests - before.requests).toBe(2);
    expect(emulator.stats.importLines - before.importLines).toBe(2);
    expect(emulator.stats.deletes - before.deletes).toBe(2);
  });

  it('stop() closes the server so clients see it as unavailable', async () => {
    const other = await startTypesenseEmulator({ apiKey: API_KEY, port: 0 });
    const otherClient = new TypesenseClient({ nodes: [other.url], apiKey: API_KEY, timeoutMs: 1000 });
    expect(await otherClient.health()).toBe(true);
    await other.stop();
    expect(await otherClient.health()).toBe(false);
    await expect(otherClient.getCollection('x')).rejects.toBeInstanceOf(TypesenseUnavailableError);
  });
});

describe('Typesense emulator version profiles', () => {
  const debugVersion = async (url: string) => {
    const response = await fetch(`${url}/debug`, { headers: { 'X-TYPESENSE-API-KEY': API_KEY } });
    return ((await response.json()) as { version: string }).version;
  };

  it('answers as v30 by default and as the version it is given, in-process', async () => {
    const latest = await startTypesenseEmulator({ apiKey: API_KEY });
    const old = await startTypesenseEmulator({ apiKey: API_KEY, version: 27 });
    try {
      expect(latest.version).toBe(30);
      expect(await debugVersion(latest.url)).toBe('30.0');
      expect(await debugVersion(old.url)).toBe('27.1');
    } finally {
      await Promise.all([latest.stop(), old.stop()]);
    }
  });

  it('passes the version to the child-process emulator', async () => {
    const child = await startTypesenseEmulatorProcess({ apiKey: API_KEY, version: 28 });
    try {
      expect(child.version).toBe(28);
      expect(await debugVersion(child.url)).toBe('28.0');
    } finally {
      await child.stop();
    }
  }, 30_000);

  it('refuses a version it does not know, naming the supported ones', async () => {
    await expect(
      startTypesenseEmulator({ apiKey: API_KEY, version: 26 as unknown as TypesenseVersion }),
    ).rejects.toThrow(/unsupported version 26; use one of 27, 28, 29, 30/);
    expect(() => parseTypesenseVersion('v29.0')).not.toThrow();
    expect(parseTypesenseVersion('30.1')).toBe(30);
    expect(() => parseTypesenseVersion('31')).toThrow(/not one of 27, 28, 29, 30/);
  });
});
