import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { queueDepth } from '../../functions/shared/aws.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import {
  type LocalAtlasSource,
  type LocalIndex,
  type LocalStack,
  startLocalStack,
} from '../../infra/local/stack.ts';
import { seededRandom } from '../../infra/local/workload.ts';
import { type AtlasEvent, atlasEvent } from '../helpers/atlas-events.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * Two routed indexes over an Atlas source on the embedded stack (issue 20, item 3): Atlas trigger events →
 * the real atlas-ingest handler → the mirror table → the one batcher → per index its changes queue, writer
 * and collection. Products (`kind` product) and reviews (`kind` review). Documents are inserted, updated
 * (some changing kind, so they move from one index to the other), replaced and deleted, the events delivered
 * shuffled and duplicated. Each index must end holding exactly the documents whose last state matches its
 * filter (an oracle computed here from the events), `verify` clean per index, no dead letter, no IAM denial.
 */
type Kind = 'product' | 'review';
interface SourceDocument {
  kind: Kind;
  name: string;
  price: number;
  rating: number;
}

const schemaOf = (name: string): CollectionSchema => ({
  name,
  fields: [
    { name: 'name', type: 'string' },
    { name: 'kind', type: 'string' },
    { name: 'price', type: 'float' },
    { name: 'rating', type: 'int32' },
  ],
});
const DOCUMENTS = 24;
const random = seededRandom(20);
const oid = (n: number) => `66a0c2a9e4b0a1b2c3d4${n.toString(16).padStart(4, '0')}`;
const kindOf = (): Kind => (random() < 0.5 ? 'product' : 'review');
const documentOf = (n: number, kind: Kind, revision: number): SourceDocument => ({
  kind,
  name: `thing ${n} r${revision}`,
  price: n + revision / 10,
  rating: revision % 5,
});

let stack: LocalStack;
let atlas: LocalAtlasSource;

beforeAll(async () => {
  stack = await startLocalStack({
    atlas: true,
    tableName: 'catalogue',
    schema: schemaOf('products'),
    indexes: [
      { alias: 'products', projection: { filter: { attribute: 'kind', equals: 'product' } } },
      {
        alias: 'reviews',
        schema: schemaOf('reviews'),
        // `_id` is the document id already: the reviews index leaves it out of its fields.
        projection: { filter: { attribute: 'kind', equals: 'review' }, exclude: ['_id'] },
      },
    ],
    visibilityTimeoutSeconds: 6,
    logLevel: 'ERROR',
  });
  atlas = stack.atlas as LocalAtlasSource;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/**
 * Every event sent, by document: the oracle. MongoDB's order of a document's events is its cluster time (all
 * events here have distinct ones); the last one says what the collection holds: nothing after a delete,
 * else its full document.
 */
const sent = new Map<string, { t: number; document: SourceDocument | undefined }[]>();

function event(
  n: number,
  operation: 'insert' | 'update' | 'replace' | 'delete',
  t: number,
  document?: SourceDocument,
) {
  const id = oid(n);
  sent.set(id, [...(sent.get(id) ?? []), { t, document: operation === 'delete' ? undefined : document }]);
  return atlasEvent({
    oid: id,
    operation,
    t,
    ...(document === undefined ? {} : { document: { ...document } }),
  });
}

function finalDocuments(): Map<string, SourceDocument> {
  const documents = new Map<string, SourceDocument>();
  for (const [id, events] of sent) {
    const last = events.reduce((newest, each) => (each.t > newest.t ? each : newest));
    if (last.document !== undefined) documents.set(id, last.document);
  }
  return documents;
}

/** Sends in batches of 10, as EventBridge's SQS target does one by one; order within the list kept. */
async function send(events: readonly AtlasEvent[]) {
  for (let start = 0; start < events.length; start += 10)
    await atlas.sendEvents(events.slice(start, start + 10));
}

const shuffled = <T>(values: readonly T[]): T[] =>
  values
    .map((value) => ({ value, at: random() }))
    .sort((a, b) => a.at - b.at)
    .map(({ value }) => value);

const indexOf = (alias: string) => stack.indexes[alias] as LocalIndex;

const indexed = async (alias: string) =>
  new Map(
    (await stack.typesense.exportDocuments(alias)).map(
      (document) => [String(document.id), document] as const,
    ),
  );

async function expectEachIndexExact() {
  const documents = finalDocuments();
  for (const [alias, kind] of [
    ['products', 'product'],
    ['reviews', 'review'],
  ] as const) {
    const expected = [...documents].filter(([, document]) => document.kind === kind);
    const actual = await indexed(alias);
    expect({ alias, ids: [...actual.keys()].sort() }).toEqual({
      alias,
      ids: expected.map(([id]) => id).sort(),
    });
    for (const [id, document] of expected)
      expect(actual.get(id)).toMatchObject({ id, name: document.name, kind, rating: document.rating });
    const report = await indexOf(alias).verify();
    expect({ alias, missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      alias,
      missing: [],
      extra: [],
      stale: [],
    });
    expect({ alias, deadLetters: await indexOf(alias).drainDeadLetters() }).toEqual({
      alias,
      deadLetters: [],
    });
  }
  // Nor on the ingest's own DLQ: every event reached the mirror.
  expect((await queueDepth(stack.sqs, atlas.ingestDeadLetterQueueUrl)).total).toBe(0);
  expect(stack.iam.denials).toEqual([]);
}

describe('an Atlas source with two routed indexes on the embedded stack', () => {
  it('has one pipeline per index fed by the one batcher over the mirror', () => {
    expect(Object.keys(stack.indexes)).toEqual(['products', 'reviews']);
    expect(stack.keyAttributes).toEqual(['_id']);
    expect(stack.functions.batcher.config.QUEUES.map(({ queueUrl }) => queueUrl)).toEqual([
      indexOf('products').queueUrl,
      indexOf('reviews').queueUrl,
    ]);
  });

  it('moves a document whose kind changes from one index to the other, and removes it when deleted', async () => {
    const n = 0;
    await send([event(n, 'insert', 100, documentOf(n, 'product', 1))]);
    await stack.waitForIdle(120_000);
    expect([...(await indexed('products')).keys()]).toEqual([oid(n)]);
    expect((await indexed('reviews')).size).toBe(0);

    await send([event(n, 'update', 110, documentOf(n, 'review', 2))]);
    await stack.waitForIdle(120_000);
    expect((await indexed('products')).size).toBe(0);
    expect((await indexed('reviews')).get(oid(n))).toMatchObject({ name: 'thing 0 r2', kind: 'review' });
    // The reviews index's projection leaves `_id` out of its fields.
    expect((await indexed('reviews')).get(oid(n))).not.toHaveProperty('_id');

    await send([event(n, 'delete', 120)]);
    await stack.waitForIdle(120_000);
    expect((await indexed('products')).size + (await indexed('reviews')).size).toBe(0);
    await expectEachIndexExact();
  }, 300_000);

  it('routes inserts, updates, kind changes, replaces and deletes delivered shuffled and twice', async () => {
    const inserts = Array.from({ length: DOCUMENTS }, (_, i) =>
      event(i + 1, 'insert', 1_000, documentOf(i + 1, kindOf(), 1)),
    );
    await send(shuffled(inserts));
    await stack.waitForIdle(180_000);
    await expectEachIndexExact();
    // The products index keeps `_id` as a field, the reviews index leaves it out.
    for (const [id, document] of await indexed('products')) expect(document).toHaveProperty('_id', id);
    for (const document of (await indexed('reviews')).values()) expect(document).not.toHaveProperty('_id');

    // Three rounds of changes, each at a later cluster time, all delivered at once, shuffled, some twice.
    const changes: AtlasEvent[] = [];
    for (let round = 1; round <= 3; round++)
      for (let n = 1; n <= DOCUMENTS; n++) {
        const roll = random();
        const t = 1_000 + round * 10;
        if (roll < 0.15) changes.push(event(n, 'delete', t));
        else if (roll < 0.35) changes.push(event(n, 'replace', t, documentOf(n, kindOf(), round + 1)));
        else if (roll < 0.8) changes.push(event(n, 'update', t, documentOf(n, kindOf(), round + 1)));
      }
    const duplicates = changes.filter(() => random() < 0.2);
    await send(shuffled([...changes, ...duplicates]));
    await stack.waitForIdle(180_000);
    await expectEachIndexExact();

    // The run moved documents both ways and deleted some: the test covers what it claims.
    const kindsSent = [...sent.values()].map(
      (events) => new Set(events.flatMap(({ document }) => (document === undefined ? [] : [document.kind]))),
    );
    expect(kindsSent.filter((kinds) => kinds.size === 2).length).toBeGreaterThan(3);
    expect(DOCUMENTS + 1 - finalDocuments().size).toBeGreaterThan(1);
  }, 300_000);

  it('a re-sync of one index (the CLI with --index) scans the mirror through its filter, leaving both exact', async () => {
    const targetFile = join(await mkdtemp(join(tmpdir(), 'atlas-routed-')), 'target.json');
    await writeFile(targetFile, JSON.stringify(stack.target));
    const started = await cliAt(targetFile, '--index', 'reviews', 'resync', 'start', '--wait');
    expect({ code: started.code, err: started.err }).toEqual({ code: EXIT.ok, err: '' });
    await stack.waitForIdle(180_000);
    await expectEachIndexExact();
  }, 300_000);
});
