import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { resyncProgress } from '../../functions/core/resync.ts';
import { dynamoResyncStore } from '../../functions/shared/resync-store.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, loadItems, productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * The index as code on the embedded stack (issue 19): the custom resource's handler driven as
 * CloudFormation drives it, over a table that already holds items when the sync is deployed. CI runs
 * 20,000 items; INDEX_TEST_ITEMS sets another size.
 */
const ITEMS = Number(process.env.INDEX_TEST_ITEMS ?? 20_000);
const SLOW = Math.max(1, ITEMS / 20_000);
const { name: _name, ...schema } = productSchema;
const withTagFacet = {
  ...schema,
  fields: schema.fields.map((field) => (field.name === 'tags' ? { ...field, facet: true } : field)),
};

let stack: LocalStack;
let directory: string;
const random = seededRandom(19);
const cli = async (...args: string[]) => {
  const targetFile = join(directory, 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
  return cliAt(targetFile, ...args);
};
const schemaFile = async (schema: object) => {
  const file = join(directory, 'schema.json');
  await writeFile(file, JSON.stringify(schema));
  return file;
};

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'index-lifecycle-'));
  stack = await startLocalStack({
    schema: productSchema,
    index: 'custom-resource',
    prefill: (dynamodb, tableName) =>
      loadItems({ dynamodb, tableName, keyAttributes: ['pk'], first: 0, count: ITEMS, concurrency: 8 }),
    sourceTimestampAttribute: 'updatedAt',
    // Longer than a writer batch (up to 10 messages of 500 changes) takes on a loaded machine: a message
    // redelivered while its batch still runs counts receives towards the DLQ (seen here with 1 s and
    // 10 s), which AWS avoids with a visibility of 6 × the writer's timeout.
    visibilityTimeoutSeconds: 60,
    logLevel: 'ERROR',
    writerConcurrency: 4,
    resync: { totalSegments: 4, pageSize: 250, pagesPerTask: 8, workers: 4, visibilityTimeoutSeconds: 1 },
  });
}, 180_000 * SLOW);

afterAll(async () => {
  await stack?.stop();
});

const liveCollection = async () => (await stack.typesense.getAlias(stack.alias))?.collection_name;
const jobs = () => dynamoResyncStore(stack.dynamodb, stack.resyncStateTable).latestJobs(10);
const collections = async () => (await stack.typesense.listCollections()).map(({ name }) => name).sort();

/** Updates, deletes and re-creates random keys, one at a time, until `until` settles. */
async function writeWhile<T>(until: Promise<T>, exists: Set<number>): Promise<{ result: T; writes: number }> {
  let done = false;
  let writes = 0;
  const writer = (async () => {
    while (!done) {
      const n = Math.floor(random() * ITEMS);
      if (exists.has(n) && random() < 0.3) {
        await stack.dynamodb.send(
          new DeleteItemCommand({ TableName: stack.tableName, Key: itemKey(stack.keyAttributes, n) }),
        );
        exists.delete(n);
      } else {
        const Item = productItem(random, stack.keyAttributes, n, 2, Date.now());
        await stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item }));
        exists.add(n);
      }
      writes++;
    }
  })();
  try {
    return { result: await until, writes };
  } finally {
    done = true;
    await writer;
  }
}

/** Resolves when the alias points at `collection` (throws after `timeoutMs`). */
async function aliasReaches(collection: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await liveCollection()) !== collection) {
    if (Date.now() > deadline) throw new Error(`alias not on ${collection} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Index vs table field by field: nothing lost, stale or resurrected, and nothing dead-lettered. */
async function expectIndexEqualsTable(items: number) {
  await stack.waitForIdle(120_000 * SLOW);
  const report = await stack.verify();
  expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
    missing: [],
    extra: [],
    stale: [],
  });
  expect(report.tableItems).toBe(items);
  expect(await stack.drainDeadLetters()).toEqual([]);
}

describe('index as code on the embedded stack', () => {
  const exists = new Set(Array.from({ length: ITEMS }, (_, n) => n));

  it(
    `create on a table of ${ITEMS} items: the first load runs while writes go on; the alias appears at its swap`,
    async () => {
      // Writes start with the load: the checks below can outlast it on a loaded machine (a full-suite
      // run's lag check took long enough that the load was done before any write began).
      const load = writeWhile(aliasReaches(stack.collection, 240_000 * SLOW), exists);
      const created = stack.indexCreated;
      expect(created).toEqual({
        PhysicalResourceId: stack.alias,
        Data: { Action: 'created', Collection: stack.collection, JobId: expect.any(String) },
      });
      const status = await stack.status();
      expect(status.load).toMatchObject({ jobId: created?.Data.JobId, firstLoad: true });
      // The operator CLI says the same: a first load, not a missing alias that needs attention.
      const cliStatus = await cli('status');
      expect(cliStatus.out).toContain(`alias '${stack.alias}' → first load into ${stack.collection}`);
      expect(cliStatus.out).not.toContain('missing');
      // The lag check runs during the first load: its canary has a collection of its own, so the
      // missing alias is no failure (a slow answer under this machine's load may still be reported).
      const reading = await stack.checkLag(30_000);
      expect(reading.problems.join('\n')).not.toMatch(/404|not found/i);

      const { writes } = await load;
      expect(writes).toBeGreaterThan(0);
      const progress = await resyncProgress(
        dynamoResyncStore(stack.dynamodb, stack.resyncStateTable),
        Date.now(),
      );
      expect(progress?.job).toMatchObject({ phase: 'done', trigger: 'deploy', firstLoad: true });
      expect(progress?.scanned).toBeGreaterThanOrEqual(ITEMS - (ITEMS - exists.size));
      await expectIndexEqualsTable(exists.size);
    },
    600_000 * SLOW,
  );

  it(
    'an update adding a facet field migrates with zero downtime while writes go on; search facets on it',
    async () => {
      const before = await liveCollection();
      // What the deploy will change, as `schema diff` tells it (exit 2: it differs).
      const diff = await cli('schema', 'diff', '--schema', await schemaFile(withTagFacet));
      expect(diff.code).toBe(EXIT.problem);
      expect(diff.out).toContain('  fields.tags.facet: false → true');
      const facetOnTags = () => stack.typesense.search(stack.alias, { q: '*', facet_by: 'tags' });
      await expect(facetOnTags()).rejects.toThrow('Could not find a facet field named `tags`');
      const migration = stack.index.deploy(withTagFacet).then(async (answer) => {
        expect(answer.Data).toMatchObject({ Action: 'migrating', JobId: expect.any(String) });
        // Until the swap the alias serves the old collection.
        expect(await liveCollection()).toBe(before);
        await aliasReaches(answer.Data.Collection, 240_000 * SLOW);
        return answer;
      });
      const { result } = await writeWhile(migration, exists);
      const faceted = await facetOnTags();
      expect(faceted.facet_counts).toEqual([expect.objectContaining({ field_name: 'tags' })]);
      // The old collection is kept for rollback.
      expect(await collections()).toContain(before);
      expect((await jobs())[0]).toMatchObject({ jobId: result.Data.JobId, phase: 'done', previous: before });
      await expectIndexEqualsTable(exists.size);
    },
    600_000 * SLOW,
  );

  it('an update with the same schema starts nothing', async () => {
    const jobsBefore = await jobs();
    const answer = await stack.index.deploy(withTagFacet);
    expect(answer.Data).toEqual({ Action: 'unchanged', Collection: await liveCollection() });
    expect(await jobs()).toEqual(jobsBefore);
    expect((await stack.status()).load).toBeUndefined();
  }, 60_000);

  it('a schema Typesense rejects fails the deploy with the reason and changes nothing', async () => {
    const [live, names, jobsBefore] = await Promise.all([liveCollection(), collections(), jobs()]);
    const refused = {
      ...withTagFacet,
      fields: [...withTagFacet.fields, { name: 'rating', type: 'decimal' }],
    };
    await expect(stack.index.deploy(refused)).rejects.toThrow(
      'Field `rating` has an invalid data type `decimal`, see docs for supported data types.',
    );
    expect(await liveCollection()).toBe(live);
    expect(await collections()).toEqual(names);
    expect(await jobs()).toEqual(jobsBefore);
  }, 60_000);

  it('stack deletion retains the index by default; drop removes the alias and the sync collections', async () => {
    const names = await collections();
    expect((await stack.index.delete()).Data.Action).toBe('retained');
    expect(await collections()).toEqual(names);
    expect((await stack.index.delete('drop')).Data.Action).toBe('dropped');
    expect(await liveCollection()).toBeUndefined();
    expect((await collections()).filter((name) => name.startsWith(`${stack.alias}_`))).toEqual([]);
  }, 60_000);

  it(
    'typesense-sync init takes the same first-load path for an index managed outside CloudFormation',
    async () => {
      const init = await cli('--json', 'init');
      expect(init.err).toBe('');
      const started = init.json() as { Action: string; Collection: string; JobId: string };
      expect(started).toMatchObject({ Action: 'created', JobId: expect.any(String) });
      await aliasReaches(started.Collection, 240_000 * SLOW);
      expect((await cli('schema', 'diff')).code).toBe(EXIT.ok);
      await expectIndexEqualsTable(exists.size);
    },
    600_000 * SLOW,
  );
});
