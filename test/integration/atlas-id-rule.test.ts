import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { queueDepth } from '../../functions/shared/aws.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import { type LocalAtlasSource, type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { atlasEvent } from '../helpers/atlas-events.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * An Atlas source with an id rule on the embedded stack: the mirror's one key attribute is `_id`, so the rule
 * can only strip a prefix of it (docs/atlas.md). ObjectIds arrive as their hex text; the rule strips a prefix
 * of that text, and an `_id` without the prefix keeps its whole text. Events → the real atlas-ingest → the
 * mirror → batcher → writer (ids by the rule) → the emulator; `verify` and the re-sync name documents by the
 * rule too, so both end exact.
 */

const schema: CollectionSchema = {
  name: 'products',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'price', type: 'float' },
  ],
};
const PREFIX = '66b0c2a9e4b0a1b2c3d4';
/** ObjectIds with the rule's prefix (documents `0001`…), and two without it (their whole hex). */
const prefixed = (n: number) => `${PREFIX}${n.toString(16).padStart(4, '0')}`;
const unprefixed = (n: number) => `77c0c2a9e4b0a1b2c3d4${n.toString(16).padStart(4, '0')}`;

let stack: LocalStack;
let atlas: LocalAtlasSource;

beforeAll(async () => {
  stack = await startLocalStack({
    atlas: true,
    schema,
    projection: { id: { stripPrefix: { _id: PREFIX } } },
    logLevel: 'ERROR',
    visibilityTimeoutSeconds: 6,
  });
  atlas = stack.atlas as LocalAtlasSource;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const indexedIds = async () =>
  (await stack.typesense.exportDocuments(stack.alias)).map((document) => String(document.id)).sort();

async function expectExact(ids: readonly string[]) {
  expect(await indexedIds()).toEqual([...ids].sort());
  const report = await stack.verify();
  expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
    missing: [],
    extra: [],
    stale: [],
  });
  expect(await stack.drainDeadLetters()).toEqual([]);
  expect((await queueDepth(stack.sqs, atlas.ingestDeadLetterQueueUrl)).total).toBe(0);
  expect(stack.iam.denials).toEqual([]);
}

describe('an Atlas source with projection.id { stripPrefix: { _id } } on the embedded stack', () => {
  it('names documents by the stripped _id through inserts, updates and deletes, and verify agrees', async () => {
    const events = [
      ...[1, 2, 3].map((n) =>
        atlasEvent({ oid: prefixed(n), operation: 'insert', t: 100, document: { name: `p${n}`, price: n } }),
      ),
      ...[1, 2].map((n) =>
        atlasEvent({
          oid: unprefixed(n),
          operation: 'insert',
          t: 100,
          document: { name: `u${n}`, price: n },
        }),
      ),
    ];
    await atlas.sendEvents(events);
    await stack.waitForIdle(180_000);
    await expectExact(['0001', '0002', '0003', unprefixed(1), unprefixed(2)]);

    await atlas.sendEvents([
      atlasEvent({
        oid: prefixed(2),
        operation: 'update',
        t: 110,
        document: { name: 'p2 again', price: 20 },
      }),
      atlasEvent({ oid: prefixed(3), operation: 'delete', t: 110 }),
      atlasEvent({ oid: unprefixed(1), operation: 'delete', t: 110 }),
    ]);
    await stack.waitForIdle(180_000);
    await expectExact(['0001', '0002', unprefixed(2)]);
    expect(await stack.typesense.getDocument(stack.alias, '0002')).toMatchObject({
      name: 'p2 again',
      price: 20,
    });
  }, 400_000);

  it('a re-sync scans the mirror and names its documents by the rule: the swapped collection is exact', async () => {
    const targetFile = join(await mkdtemp(join(tmpdir(), 'atlas-id-rule-')), 'target.json');
    await writeFile(targetFile, JSON.stringify(stack.target));
    const live = (await stack.typesense.getAlias(stack.alias))?.collection_name;
    const started = await cliAt(targetFile, 'resync', 'start', '--wait');
    expect({ code: started.code, err: started.err }).toEqual({ code: EXIT.ok, err: '' });
    await stack.waitForIdle(180_000);
    expect((await stack.typesense.getAlias(stack.alias))?.collection_name).not.toBe(live);
    await expectExact(['0001', '0002', unprefixed(2)]);
  }, 400_000);
});
