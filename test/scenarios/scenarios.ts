import { type AttributeValue, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { expect } from 'vitest';
import type { DeadLetterEntry } from '../../bin/cli/operations/dead-letters.ts';
import { verifyOptionsOf } from '../../bin/cli/operations/redrive.ts';
import { type VerifyReport, verifyIndex } from '../../bin/cli/operations/verify.ts';
import { EXIT } from '../../bin/cli/program.ts';
import { documentId } from '../../functions/core/keys.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import { queueDepth } from '../../functions/shared/aws.ts';
import { changeOfKey, enqueueChanges } from '../../functions/shared/enqueue.ts';
import { waitFor } from '../../infra/local/processes.ts';
import { itemKey, loadItems, productItem, seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';
import type { SyncBackend } from './backend.ts';

/**
 * What a user of the sync relies on, written once and run on every backend (the embedded stack in
 * `npm test`, the deployed CDK app on LocalStack in `npm run test:localstack`). Each scenario uses keys
 * of its own and leaves the pipeline clean (index equal to the table, nothing dead-lettered), so they
 * run in any order on one backend. Items follow the catalogue the demo writes (`productItem`).
 */
export interface Scenario {
  name: string;
  run(backend: SyncBackend): Promise<void>;
}

const cli = (backend: SyncBackend, ...args: string[]) => cliAt(backend.targetFile, ...args);

/** The item writes of one scenario, on the backend's table and key attributes. */
function catalogue(backend: SyncBackend, seed: number) {
  const { dynamodb, target } = backend.connection;
  const random = seededRandom(seed);
  const key = (n: number) => itemKey(target.keyAttributes, n);
  return {
    key,
    id: (n: number) => documentId(key(n), target.keyAttributes),
    async put(
      n: number,
      revision: number,
      change: (item: Record<string, AttributeValue>) => void = () => {},
    ) {
      const item = productItem(random, target.keyAttributes, n, revision, Date.now());
      change(item);
      await dynamodb.send(new PutItemCommand({ TableName: target.tableName, Item: item }));
    },
    async remove(n: number) {
      await dynamodb.send(new DeleteItemCommand({ TableName: target.tableName, Key: key(n) }));
    },
  };
}

const documentOf = (backend: SyncBackend, id: string) =>
  backend.connection.typesense.getDocument(backend.connection.target.typesense.collection, id);

/** The collection the alias points at now (a re-sync moves it). */
async function liveCollection(backend: SyncBackend): Promise<string> {
  const alias = backend.connection.target.typesense.collection;
  return (await backend.connection.typesense.getAlias(alias))?.collection_name ?? alias;
}

/** Table and index compared field by field, as `typesense-sync verify` does: no drift at all. */
async function expectIndexMatchesTable(backend: SyncBackend): Promise<VerifyReport> {
  const report = await verifyIndex(await verifyOptionsOf(backend.connection));
  expect(
    { missing: report.missing, extra: report.extra, stale: report.stale },
    `${backend.name}: index vs table`,
  ).toEqual({ missing: [], extra: [], stale: [] });
  return report;
}

/** Polls `probe` until it answers something, for at most the backend's timeout. */
async function eventually<T>(backend: SyncBackend, what: string, probe: () => Promise<T | undefined>) {
  let found: T | undefined;
  await waitFor(
    `${what} (${backend.name})`,
    async () => {
      found = await probe();
      return found !== undefined;
    },
    backend.timeoutMs,
    500,
  );
  return found as T;
}

const waitSeconds = (backend: SyncBackend) => String(Math.ceil(backend.timeoutMs / 1000));

/** A RegExp source matching `text` literally: composite-key ids contain `|` and backslashes. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'inserts, updates and deletes reach the index, field by field',
    async run(backend) {
      const items = catalogue(backend, 1);
      const keys = Array.from({ length: 12 }, (_, index) => 10_000 + index);
      for (const n of keys) await items.put(n, 1);
      for (const n of keys.slice(0, 6)) await items.put(n, 2);
      for (const n of keys.slice(6, 9)) await items.remove(n);
      await backend.settle();

      const report = await expectIndexMatchesTable(backend);
      expect(report.unprojectable).toEqual([]);
      expect(await documentOf(backend, items.id(10_000))).toMatchObject({ revision: 2 });
      expect(await documentOf(backend, items.id(10_011))).toMatchObject({ revision: 1 });
      expect(await documentOf(backend, items.id(10_006))).toBeUndefined();
      // The mapping as the index stores it: key-derived id, Binary as base64, a 23-digit number kept exact.
      const document = (await documentOf(backend, items.id(10_001))) as Record<string, unknown>;
      expect(document.id).toBe(items.id(10_001));
      expect(Buffer.from(String(document.thumbnail), 'base64')).toHaveLength(16);
      expect(document.serial).toBe(String(98_765_432_109_876_543_210n + 10_001n));
    },
  },
  {
    name: 'a delete, a re-create and late old changes (a redrive, a duplicate) never resurrect or roll back a document',
    async run(backend) {
      const items = catalogue(backend, 2);
      const { sqs, target } = backend.connection;
      const [deleted, updated, recreated] = [20_000, 20_001, 20_002];
      for (const n of [deleted, updated, recreated]) await items.put(n, 1);
      await backend.settle();
      // Each key's change as it sat on the queue back then, to be delivered again much later.
      const lateChanges = [deleted, updated, recreated].map((n) =>
        changeOfKey(items.key(n), target.keyAttributes, Date.now()),
      );

      await items.remove(deleted);
      await items.put(updated, 9);
      await items.remove(recreated);
      await items.put(recreated, 3);
      await backend.settle();
      const expectCurrentState = async () => {
        expect(await documentOf(backend, items.id(deleted))).toBeUndefined();
        expect(await documentOf(backend, items.id(updated))).toMatchObject({ revision: 9 });
        expect(await documentOf(backend, items.id(recreated))).toMatchObject({ revision: 3 });
      };
      await expectCurrentState();

      const late = await enqueueChanges(sqs, target, lateChanges, Date.now());
      expect(late.failed).toEqual([]);
      await backend.settle();
      await expectCurrentState();
      await expectIndexMatchesTable(backend);
    },
  },
  {
    name: '`status` reports a healthy pipeline: table, empty queues and DLQ, alias and document count',
    async run(backend) {
      const items = catalogue(backend, 3);
      await items.put(25_000, 1);
      await backend.settle();
      const report = await expectIndexMatchesTable(backend);
      const { target } = backend.connection;

      const json = await cli(backend, '--json', 'status');
      expect(json.code).toBe(EXIT.ok);
      expect(json.json()).toMatchObject({
        healthy: true,
        table: { name: target.tableName, stream: 'NEW_AND_OLD_IMAGES' },
        queue: { visible: 0, inFlight: 0, delayed: 0, total: 0 },
        dlq: { total: 0 },
        streamFailures: 0,
        typesense: {
          healthy: true,
          alias: target.typesense.collection,
          collection: await liveCollection(backend),
          documents: report.indexDocuments,
        },
      });
      const text = await cli(backend, 'status');
      expect(text.out).toMatch(/^pipeline {2}healthy\n/);
      expect(text.out).toContain('queue     0 messages (0 waiting, 0 in flight, 0 delayed)');
      const apiKey = target.typesense.apiKey;
      expect(apiKey).toBeDefined();
      for (const output of [json.out, text.out]) expect(output).not.toContain(apiKey as string);
    },
  },
  {
    name: 'a document Typesense rejects is dead-lettered with its reason, `dlq list` names it, and it redrives once fixed',
    async run(backend) {
      const items = catalogue(backend, 4);
      const n = 30_000;
      const id = items.id(n);
      // The collection schema declares `price` a float.
      await items.put(n, 1, (item) => {
        item.price = { S: 'call for price' };
      });
      const letter = await eventually(backend, `a dead letter for ${id}`, async () => {
        const listed = await cli(backend, '--json', 'dlq', 'list', '--filter', `id=${id}`);
        return (listed.json() as { letters: Omit<DeadLetterEntry, 'receiptHandle'>[] }).letters[0];
      });
      expect(letter).toMatchObject({ kind: 'letter', stage: 'writer', ids: [id], reason: { code: 400 } });
      expect(letter.reason.message).toContain('price');

      const list = await cli(backend, 'dlq', 'list');
      expect(list.code).toBe(EXIT.ok);
      expect(list.out).toMatch(new RegExp(`writer/400 +${literally(id)} +.*price`));
      expect(list.out).not.toContain('call for price');
      const status = await cli(backend, 'status');
      expect(status.code).toBe(EXIT.problem);
      expect(status.out).toMatch(/^pipeline {2}NEEDS ATTENTION[\s\S]*DLQ {7}1 messages/);

      // Fixed at the source: the stream applies the fix, the redrive then finds the key settled.
      await items.put(n, 2);
      await backend.settle();
      const redrive = await cli(
        backend,
        'dlq',
        'redrive',
        '--filter',
        `id=${id}`,
        '--wait',
        waitSeconds(backend),
      );
      expect(redrive.code).toBe(EXIT.ok);
      expect(redrive.out).toContain('redriven 1 of 1 selected dead letters\napplied 1, still failing 0');
      const { sqs, target } = backend.connection;
      expect((await queueDepth(sqs, target.dlqUrl)).total).toBe(0);
      expect(await documentOf(backend, id)).toMatchObject({ revision: 2 });
      await expectIndexMatchesTable(backend);
    },
  },
  {
    name: '`verify` finds documents lost or changed behind the pipeline; `verify --repair` restores them',
    async run(backend) {
      const items = catalogue(backend, 5);
      const { typesense } = backend.connection;
      const [lost, altered] = [40_000, 40_001];
      for (const n of [lost, altered]) await items.put(n, 1);
      await backend.settle();
      const collection = await liveCollection(backend);
      await typesense.deleteByIds(collection, [items.id(lost)]);
      const document = await typesense.getDocument(collection, items.id(altered));
      await typesense.importDocuments(
        collection,
        [JSON.stringify({ ...document, name: 'an older name' })],
        'upsert',
      );

      const drift = await cli(backend, 'verify');
      expect(drift.code).toBe(EXIT.problem);
      expect(drift.out).toContain(`missing 1: ${items.id(lost)}`);
      expect(drift.out).toContain(`stale   1: ${items.id(altered)} (name)`);
      const repair = await cli(backend, 'verify', '--repair', '--wait', waitSeconds(backend));
      expect(repair.code).toBe(EXIT.ok);
      expect(repair.out).toContain('repair: 2 keys re-enqueued, 2 applied, 0 still failing');
      await expectIndexMatchesTable(backend);
    },
  },
  {
    name: 'a full re-sync builds a new collection, swaps the alias to it and leaves the index equal to the table',
    async run(backend) {
      const { dynamodb, typesense, target } = backend.connection;
      await loadItems({
        dynamodb,
        tableName: target.tableName,
        keyAttributes: target.keyAttributes,
        first: 50_000,
        count: 120,
        seed: 6,
        concurrency: 2,
      });
      await backend.settle();
      const before = await liveCollection(backend);

      const run = await cli(backend, '--json', 'resync', 'start', '--wait');
      expect(run.err).toBe('');
      expect(run.code).toBe(EXIT.ok);
      const { job } = run.json() as ResyncProgress;
      expect(job).toMatchObject({ phase: 'done', trigger: 'operator', previous: before });
      expect(job.collection).not.toBe(before);
      expect(await liveCollection(backend)).toBe(job.collection);
      // The replaced collection stays, for `resync rollback`.
      expect(await typesense.getCollection(before)).toBeDefined();

      await backend.settle();
      const report = await expectIndexMatchesTable(backend);
      expect(report.indexDocuments).toBe(report.tableItems);
      expect(report.tableItems).toBeGreaterThanOrEqual(120);
    },
  },
];
