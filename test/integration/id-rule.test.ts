import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import type { ItemFilter } from '../../functions/contract/projection.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import { type LocalIndex, type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';
import { scanItems } from '../helpers/table-scan.ts';

/**
 * An index with an id rule (projection.id) on the embedded stack (issue 20, item 1): single-table customers
 * `pk = CUST#<n>, sk = PROFILE` indexed as `<n>`, beside their orders (same `pk`, never in the index). Profiles
 * are inserted, updated, deleted and routed out (`status: closed`) while orders of the same partitions churn:
 * the index must hold exactly the open profiles under their stripped ids, `verify` clean, also after a re-sync
 * while writes run; the lag check finds its canary; two keys of one id are reported as a collision.
 */
const CUSTOMERS = 20;
const FILTER: ItemFilter = {
  and: [{ attribute: 'sk', equals: 'PROFILE' }, { not: { attribute: 'status', equals: 'closed' } }],
};
const PROJECTION = { filter: FILTER, id: { attributes: ['pk'], stripPrefix: { pk: 'CUST#' } } };
const schema: CollectionSchema = { name: 'customers', fields: [{ name: 'name', type: 'string' }] };
const random = seededRandom(7);
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    keyAttributes: ['pk', 'sk'],
    tableName: 'shop',
    schema,
    indexes: [{ alias: 'customers', projection: PROJECTION }],
    visibilityTimeoutSeconds: 6,
    logLevel: 'ERROR',
    resync: { totalSegments: 2, pageSize: 20, workers: 2, visibilityTimeoutSeconds: 5 },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const customers = () => stack.indexes.customers as LocalIndex;

const put = (pk: string, sk: string, revision: number, status = 'open') =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: {
        pk: { S: pk },
        sk: { S: sk },
        status: { S: status },
        name: { S: `${pk} ${sk} r${revision}` },
      },
    }),
  );
const remove = (pk: string, sk: string) =>
  stack.dynamodb.send(
    new DeleteItemCommand({ TableName: stack.tableName, Key: { pk: { S: pk }, sk: { S: sk } } }),
  );

/** Rounds of concurrent writes: profiles updated, closed, reopened, deleted; orders of the same partitions. */
async function churn(rounds: number, firstRevision: number) {
  for (let round = 0; round < rounds; round++)
    await Promise.all(
      Array.from({ length: 20 }, () => {
        const pk = `CUST#${Math.floor(random() * CUSTOMERS)}`;
        const roll = random();
        if (roll < 0.1) return remove(pk, 'PROFILE');
        if (roll < 0.25) return put(pk, 'PROFILE', firstRevision + round, 'closed');
        if (roll < 0.5) return put(pk, 'PROFILE', firstRevision + round);
        const order = `ORDER#${Math.floor(random() * 3)}`;
        return random() < 0.3 ? remove(pk, order) : put(pk, order, firstRevision + round);
      }),
    );
}

/** The ids the index must hold: each open profile's partition key without `CUST#`. */
async function expectedIds(): Promise<string[]> {
  const items = await scanItems(stack.dynamodb, stack.tableName);
  return items
    .filter((item) => item.sk?.S === 'PROFILE' && item.status?.S !== 'closed')
    .map((item) => String(item.pk?.S).replace(/^CUST#/, ''))
    .sort();
}

async function expectExact() {
  const report = await customers().verify();
  expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
    missing: [],
    extra: [],
    stale: [],
  });
  expect(report.unprojectable).toEqual([]);
  const indexed = (await stack.typesense.exportDocuments('customers')).map(({ id }) => String(id)).sort();
  expect(indexed).toEqual(await expectedIds());
  expect(await customers().drainDeadLetters()).toEqual([]);
  expect(stack.iam.denials).toEqual([]);
}

describe('an index with an id rule on the embedded stack', () => {
  it('names documents by the rule through inserts, updates, deletes and routing out, orders of the same partition untouched', async () => {
    for (let c = 0; c < CUSTOMERS; c++)
      await Promise.all([put(`CUST#${c}`, 'PROFILE', 1), put(`CUST#${c}`, 'ORDER#0', 1)]);
    await churn(4, 2);
    // Known end states: 1 open, 2 closed (routed out), 3 deleted; an order of 1 deleted after its profile.
    await put('CUST#1', 'PROFILE', 50);
    await put('CUST#2', 'PROFILE', 50, 'closed');
    await remove('CUST#3', 'PROFILE');
    await put('CUST#1', 'ORDER#9', 50);
    await remove('CUST#1', 'ORDER#9');
    await stack.waitForIdle(180_000);
    await expectExact();
    expect(await stack.typesense.getDocument('customers', '1')).toMatchObject({
      pk: 'CUST#1',
      name: 'CUST#1 PROFILE r50',
    });
    expect(await stack.typesense.getDocument('customers', '2')).toBeUndefined();
    expect(await stack.typesense.getDocument('customers', '3')).toBeUndefined();
  }, 300_000);

  it('a re-sync while writes run leaves the index exact; verify is clean through the CLI', async () => {
    const targetFile = join(await mkdtemp(join(tmpdir(), 'id-rule-')), 'target.json');
    await writeFile(targetFile, JSON.stringify(stack.target));
    const [started] = await Promise.all([cliAt(targetFile, 'resync', 'start', '--wait'), churn(6, 30)]);
    expect(started.err).toBe('');
    expect(started.code).toBe(EXIT.ok);
    const progress = (await cliAt(targetFile, '--json', 'resync', 'status')).json();
    expect((progress as ResyncProgress).job).toMatchObject({ phase: 'done', alias: 'customers' });
    await stack.waitForIdle(180_000);
    await expectExact();
    const verified = await cliAt(targetFile, 'verify');
    expect(verified.code).toBe(EXIT.ok);
  }, 300_000);

  it('the lag check finds its canary', async () => {
    const reading = await stack.checkLag(30_000);
    expect(reading.problems).toEqual([]);
    expect(reading.indexes?.[0]?.canaryDelayMs).not.toBeNull();
  }, 120_000);

  it('two keys with one id are reported as a collision naming both keys', async () => {
    await put('CUST#77', 'PROFILE', 1);
    await put('77', 'PROFILE', 1);
    await stack.waitForIdle(180_000);
    const report = await customers().verify();
    expect(report.unprojectable).toEqual([
      {
        id: '77',
        code: 'id-collision',
        reason: expect.stringMatching(
          /keys '(CUST#)?77\|PROFILE' and '(CUST#)?77\|PROFILE' have the same document id '77'/,
        ),
      },
    ]);
    // The writer saw them in one batch (dead-lettered both, id-collision) or in two (the later one wrote).
    const letters = await customers().drainDeadLetters();
    for (const letter of letters) expect(letter.reason.code).toBe('id-collision');
  }, 300_000);
});
