import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../../infra/local/fault-proxy.ts';
import { startTypesenseEmulator, type TypesenseEmulator } from '../../infra/local/typesense-emulator.ts';

const API_KEY = 'fault-proxy-key';
let emulator: TypesenseEmulator | undefined;
afterEach(async () => {
  await emulator?.stop();
  emulator = undefined;
});

const headers = { 'x-typesense-api-key': API_KEY, 'content-type': 'application/json' };

/** An emulator with one collection `c`, and a fault proxy in front of it. */
async function proxyInFrontOfCollection() {
  emulator = await startTypesenseEmulator({ apiKey: API_KEY });
  await fetch(`${emulator.url}/collections`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'c', fields: [{ name: 'name', type: 'string' }] }),
  });
  return startFaultProxy(emulator.url);
}

/** One single-line import through the proxy: its status. */
async function importOne(proxyUrl: string, n: number): Promise<number> {
  const response = await fetch(`${proxyUrl}/collections/c/documents/import?action=upsert`, {
    method: 'POST',
    headers,
    body: `{"id":"${n}","name":"a"}`,
  });
  await response.text();
  return response.status;
}

describe('fault proxy', () => {
  it('everyKindOnce: each kind with a rate shows up on the first writes it fits, however small its rate', async () => {
    const proxy = await proxyInFrontOfCollection();
    try {
      const rare = 1e-9;
      proxy.setFaults({
        seed: 1,
        httpErrors: { 503: rare, 429: rare, 500: rare },
        timeouts: rare,
        hangMs: 50,
        importLineFailures: rare,
        lostResponses: rare,
        everyKindOnce: true,
      });
      const write = (n: number) =>
        fetch(`${proxy.url}/collections/c/documents/import?action=upsert`, {
          method: 'POST',
          headers,
          body: `{"id":"${n}","name":"a"}\n{"id":"${n}b","name":"b"}`,
        })
          .then(async (response) => ({ status: response.status, body: await response.text() }))
          .catch(() => ({ status: 0, body: '' }));
      const answers = [];
      for (let n = 0; n < 8; n++) answers.push(await write(n));
      expect(answers.slice(0, 3).map(({ status }) => status)).toEqual([503, 429, 500]);
      // A timeout and a lost response both end with the connection dropped.
      expect(answers.slice(3, 5).map(({ status }) => status)).toEqual([0, 0]);
      expect(answers[5]?.body).toContain('"code":503');
      expect(answers.slice(6).every(({ status, body }) => status === 200 && !body.includes('false'))).toBe(
        true,
      );
      expect(proxy.faultStats).toMatchObject({
        http503: 1,
        http429: 1,
        http500: 1,
        timeouts: 1,
        lostResponses: 1,
        importLineFailures: 1,
      });
    } finally {
      await proxy.stop();
    }
  });
  it('everyKindOnce: a forced kind is shown even where a random fault of another kind would fall', async () => {
    // A lossy test once met no lost response: the write that carried it drew a random 503 first.
    const proxy = await proxyInFrontOfCollection();
    try {
      proxy.setFaults({
        seed: 1,
        httpErrors: { 503: 0.999, 429: 1e-9 },
        lostResponses: 1e-9,
        everyKindOnce: true,
      });
      const statuses: number[] = [];
      for (let n = 0; n < 5; n++) statuses.push(await importOne(proxy.url, n).catch(() => 0));
      // The forced 503, 429 and lost response (a dropped connection), then random 503s again.
      expect(statuses).toEqual([503, 429, 0, 503, 503]);
      expect(proxy.faultStats).toMatchObject({ http429: 1, lostResponses: 1 });
    } finally {
      await proxy.stop();
    }
  });
  it('everyKindSpacing: the forced kinds land on every n-th write, not on the first ones in a row', async () => {
    const proxy = await proxyInFrontOfCollection();
    try {
      const rare = 1e-9;
      proxy.setFaults({
        seed: 1,
        httpErrors: { 503: rare, 429: rare },
        everyKindOnce: true,
        everyKindSpacing: 3,
      });
      const statuses: number[] = [];
      for (let n = 0; n < 9; n++) statuses.push(await importOne(proxy.url, n));
      expect(statuses).toEqual([200, 200, 503, 200, 200, 429, 200, 200, 200]);
    } finally {
      await proxy.stop();
    }
  });
  it('stopRandomFaults: random faults end at once, the kinds not shown yet still come once each, spaced as before', async () => {
    // A run whose faulty phase ends after few writes (a slow machine) must still meet every kind.
    const proxy = await proxyInFrontOfCollection();
    try {
      proxy.setFaults({
        seed: 1,
        httpErrors: { 503: 0.99, 429: 1e-9 },
        everyKindOnce: true,
        everyKindSpacing: 2,
      });
      for (let n = 0; n < 2; n++) await importOne(proxy.url, n);
      proxy.stopRandomFaults();
      const statuses: number[] = [];
      for (let n = 2; n < 8; n++) statuses.push(await importOne(proxy.url, n));
      expect(statuses).toEqual([200, 429, 200, 200, 200, 200]);
    } finally {
      await proxy.stop();
    }
  });
});
