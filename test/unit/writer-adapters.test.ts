import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { parseConfig, writerConfigSchema } from '../../functions/shared/config.ts';
import type { CallOptions, TypesenseClient } from '../../functions/shared/typesense.ts';
import { TypesenseUnavailableError } from '../../functions/shared/typesense.ts';
import { writerAdapters } from '../../functions/shared/writer-adapters.ts';

const config = parseConfig(writerConfigSchema, {
  TABLE_NAME: 'orders',
  QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo',
  DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo',
  KEY_ATTRIBUTES: 'pk',
  TYPESENSE_NODES: 'https://xyz-1.a1.typesense.net:443',
  TYPESENSE_API_KEY: 'key',
  TYPESENSE_COLLECTION: 'orders',
  TYPESENSE_TIMEOUT_MS: '5000',
});

/** A Typesense client that answers at once and records each call's timeout, or times out while `hung`. */
function fakeTypesense() {
  const timeouts: { imports: (number | undefined)[]; deletes: (number | undefined)[] } = {
    imports: [],
    deletes: [],
  };
  const calls: CallOptions[] = [];
  const state = { hung: false };
  const answer = <T>(value: T) => {
    if (!state.hung) return Promise.resolve(value);
    const cause = Object.assign(new Error('The operation was aborted due to timeout'), {
      name: 'TimeoutError',
    });
    return Promise.reject(new TypesenseUnavailableError('Typesense got no answer: timed out', { cause }));
  };
  const typesense = {
    importDocuments(_collection: string, lines: string[], _action: string, call: CallOptions = {}) {
      timeouts.imports.push(call.timeoutMs);
      calls.push(call);
      return answer(lines.map(() => ({ success: true })));
    },
    deleteByIds(_collection: string, ids: string[], call: CallOptions = {}) {
      timeouts.deletes.push(call.timeoutMs);
      calls.push(call);
      return answer(ids.length);
    },
  } as unknown as TypesenseClient;
  return { typesense, timeouts, calls, state };
}

const adaptersOver = (typesense: TypesenseClient) =>
  writerAdapters({ dynamodb: {} as DynamoDBClient, sqs: {} as SQSClient, typesense }, config);

describe('writerAdapters: live writes under an adaptive timeout', () => {
  it('gives the configured timeout until Typesense has answered enough, then ~10× its recent latency (the floor here)', async () => {
    const fake = fakeTypesense();
    const ports = adaptersOver(fake.typesense);
    for (let index = 0; index < 25; index++) {
      await ports.importDocuments(['{"id":"a"}'], 30_000);
      await ports.deleteDocuments(['a']);
    }
    expect(fake.timeouts.imports[0]).toBe(25_000); // what the invocation allows, less the reporting reserve
    expect(fake.timeouts.deletes[0]).toBe(5_000); // TYPESENSE_TIMEOUT_MS
    // Answers in ~0 ms: the floor, 100 ms.
    expect(fake.timeouts.imports.at(-1)).toBe(100);
    expect(fake.timeouts.deletes.at(-1)).toBe(100);
  });

  it('doubles the time after a timeout, so a server that slowed down is not failed again and again', async () => {
    const fake = fakeTypesense();
    const ports = adaptersOver(fake.typesense);
    for (let index = 0; index < 25; index++) await ports.deleteDocuments(['a']);
    fake.state.hung = true;
    await expect(ports.deleteDocuments(['a'])).rejects.toThrow(TypesenseUnavailableError);
    await expect(ports.deleteDocuments(['a'])).rejects.toThrow(TypesenseUnavailableError);
    fake.state.hung = false;
    await ports.deleteDocuments(['a']);
    expect(fake.timeouts.deletes.slice(-3)).toEqual([100, 200, 400]);
  });
});

describe('writerAdapters under a visibility lease', () => {
  /** A lease that gives each write at most `maxMs`, and records what was asked. */
  const lease = (maxMs: number) => {
    const asked: number[] = [];
    const window = async (wantedMs: number) => {
      asked.push(wantedMs);
      return Math.min(wantedMs, maxMs);
    };
    return { asked, window };
  };

  it('asks the lease for each write’s timeout, and sends no request of it after what the lease gave', async () => {
    const fake = fakeTypesense();
    const ports = adaptersOver(fake.typesense);
    const short = lease(400);
    const before = Date.now();
    await ports.importDocuments(['{"id":"a"}'], 30_000, short);
    await ports.deleteDocuments(['a'], short);
    // They wanted their usual timeouts (the invocation's time less the reserve; TYPESENSE_TIMEOUT_MS).
    expect(short.asked).toEqual([25_000, 5_000]);
    expect(fake.timeouts.imports).toEqual([400]);
    expect(fake.timeouts.deletes).toEqual([400]);
    for (const call of fake.calls) {
      expect(call.sendBy).toBeGreaterThanOrEqual(before + 400);
      expect(call.sendBy).toBeLessThanOrEqual(Date.now() + 400);
    }
  });

  it('without a lease, a write has no sendBy', async () => {
    const fake = fakeTypesense();
    await adaptersOver(fake.typesense).importDocuments(['{"id":"a"}'], 30_000);
    expect(fake.calls[0]?.sendBy).toBeUndefined();
  });
});
