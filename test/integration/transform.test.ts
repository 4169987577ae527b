import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * The app's transform on the embedded stack, loaded by path as the CLI loads it: the writer and the re-sync
 * index its documents (a computed `title_lower`), leave out the items it answers null for (drafts), and
 * dead-letter the change it throws for with `transform-error`; `verify` through the same module is clean.
 */
const MODULE = fileURLToPath(new URL('../fixtures/transforms/title-lower.ts', import.meta.url));
const ITEMS = 60;
let stack: LocalStack;
let targetFile: string;

beforeAll(async () => {
  stack = await startLocalStack({
    schema: {
      name: 'posts',
      fields: [
        { name: 'title', type: 'string' },
        { name: 'title_lower', type: 'string' },
      ],
    },
    alias: 'posts',
    transform: { module: MODULE },
    visibilityTimeoutSeconds: 1,
    logLevel: 'ERROR',
    resync: { totalSegments: 2, pageSize: 20, workers: 2, visibilityTimeoutSeconds: 5 },
  });
  targetFile = join(await mkdtemp(join(tmpdir(), 'transform-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const put = (n: number, title: string, status: string) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: { pk: { S: `post-${n}` }, title: { S: title }, status: { S: status } },
    }),
  );

/** Every item written in rounds of 10; every fifth a draft. */
async function writeAll(revision: number) {
  for (let n = 0; n < ITEMS; n += 10)
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        put(n + i, `Post ${n + i} Rev ${revision}`, (n + i + revision) % 5 === 0 ? 'draft' : 'published'),
      ),
    );
}

const publishedIds = (revision: number) =>
  Array.from({ length: ITEMS }, (_, n) => n)
    .filter((n) => (n + revision) % 5 !== 0)
    .map((n) => `post-${n}`)
    .sort();

const indexed = async () =>
  new Map(
    (await stack.typesense.exportDocuments(stack.alias)).map((document) => [String(document.id), document]),
  );

async function expectCleanVerify() {
  const report = await stack.verify();
  expect({
    missing: report.missing,
    extra: report.extra,
    stale: report.stale,
    bad: report.unprojectable,
  }).toEqual({ missing: [], extra: [], stale: [], bad: [] });
  const cli = await cliAt(targetFile, 'verify');
  expect(cli.err).toBe('');
  expect(cli.code).toBe(EXIT.ok);
}

describe('a transform module on the embedded stack', () => {
  it("indexes the transform's documents, leaves drafts out and dead-letters the item it throws for", async () => {
    await writeAll(1);
    await put(ITEMS, 'boom', 'published');
    await stack.waitForIdle(120_000);
    const documents = await indexed();
    expect([...documents.keys()].sort()).toEqual(publishedIds(1));
    expect(documents.get('post-1')).toMatchObject({ title: 'Post 1 Rev 1', title_lower: 'post 1 rev 1' });
    const letters = await stack.drainDeadLetters();
    expect(letters.map(({ id, reason }) => ({ id, reason }))).toEqual([
      {
        id: `post-${ITEMS}`,
        reason: { code: 'transform-error', message: 'transform threw: cannot lower-case boom' },
      },
    ]);
    // verify through the same module: the refused item is named, nothing else differs.
    const report = await stack.verify();
    expect(report.unprojectable).toEqual([
      { id: `post-${ITEMS}`, code: 'transform-error', reason: 'transform threw: cannot lower-case boom' },
    ]);
    expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      missing: [],
      extra: [],
      stale: [],
    });
  }, 300_000);

  it('an item that becomes a draft leaves the index; verify through the module is clean', async () => {
    await put(ITEMS, 'Fixed', 'published');
    await writeAll(2);
    await stack.waitForIdle(120_000);
    expect([...(await indexed()).keys()].sort()).toEqual([...publishedIds(2), `post-${ITEMS}`].sort());
    await expectCleanVerify();
  }, 300_000);

  it('a full re-sync while items change rebuilds the index through the transform', async () => {
    const [started] = await Promise.all([cliAt(targetFile, 'resync', 'start', '--wait'), writeAll(3)]);
    expect(started.err).toBe('');
    expect(started.code).toBe(EXIT.ok);
    await stack.waitForIdle(120_000);
    const progress = (await cliAt(targetFile, '--json', 'resync', 'status')).json() as ResyncProgress;
    expect(progress.job.phase).toBe('done');
    expect(progress.filtered).toBeGreaterThan(0);
    const documents = await indexed();
    expect([...documents.keys()].sort()).toEqual([...publishedIds(3), `post-${ITEMS}`].sort());
    expect(documents.get(`post-${ITEMS}`)).toMatchObject({ title_lower: 'fixed' });
    await expectCleanVerify();
    expect(await stack.drainDeadLetters()).toEqual([]);
  }, 300_000);
});
