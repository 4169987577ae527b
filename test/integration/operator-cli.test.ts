import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../bin/cli/program.ts';
import { waitFor } from '../../infra/local/processes.ts';
import { s3FailureDestination } from '../../infra/local/s3-failure-destination.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';

let stack: LocalStack;
let targetFile: string;
const random = seededRandom(11);

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    sourceTimestampAttribute: 'updatedAt',
    visibilityTimeoutSeconds: 1,
    logLevel: 'ERROR',
  });
  targetFile = join(await mkdtemp(join(tmpdir(), 'cli-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
});

afterAll(async () => {
  await stack?.stop();
});

const cli = (...args: string[]) => cliAt(targetFile, ...args);

const id = (n: number) => `p-${String(n).padStart(6, '0')}`;
const put = (
  n: number,
  revision: number,
  change: (item: ReturnType<typeof productItem>) => void = () => {},
) => {
  const item = productItem(random, ['pk'], n, revision, Date.now());
  change(item);
  return stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item: item }));
};
const dlqDepth = async () => (await stack.status()).dlqDepth;

describe('typesense-sync operator CLI on the embedded stack', () => {
  it('status: one healthy screen, as text and as JSON', async () => {
    await put(1, 1);
    await stack.waitForIdle(30_000);
    const text = await cli('status');
    expect(text.code).toBe(EXIT.ok);
    expect(text.out).toMatch(/^pipeline {2}healthy/);
    expect(text.out).toContain("alias 'products' → products_v1, 1 documents");
    expect(text.out).toMatch(/lag \d+ ms/);
    const json = await cli('--json', 'status');
    expect(json.json()).toMatchObject({
      healthy: true,
      table: { name: 'items', stream: 'NEW_AND_OLD_IMAGES' },
      dlq: { total: 0 },
      streamFailures: 0,
      typesense: { healthy: true, collection: 'products_v1', documents: 1 },
      lag: { circuit: 'closed', dlqDepth: 0 },
    });
    expect(json.out).not.toContain(stack.apiKey);
  });

  it('dlq list/show/redrive: changes dead-lettered while the alias was missing are re-applied from the current state once it is back', async () => {
    await stack.typesense.deleteAlias(stack.alias);
    for (const n of [10, 11, 12]) await put(n, 1);
    await waitFor('three dead letters', async () => (await dlqDepth()) >= 3, 30_000);

    const unhealthy = await cli('status');
    expect(unhealthy.code).toBe(EXIT.problem);
    expect(unhealthy.out).toMatch(/NEEDS ATTENTION[\s\S]*DLQ {7}3 messages/);

    const list = await cli('--json', 'dlq', 'list');
    expect(list.code).toBe(EXIT.ok);
    const listed = list.json();
    // The writer gave up on its last receive and dead-lettered each change with Typesense's answer.
    expect(listed.groups).toEqual([
      expect.objectContaining({
        stage: 'writer',
        code: 'receive-limit',
        count: 3,
        // The stack runs the v30 emulator profile: a missing collection is "Collection not found" from v29
        // (src/core_api.cpp post_import_documents), "Not Found" before.
        reason: expect.stringContaining('HTTP N: Collection not found'),
        ids: expect.arrayContaining([id(10), id(11), id(12)]),
      }),
    ]);
    // Listing gives every message back: the DLQ still holds all three.
    expect(await dlqDepth()).toBe(3);

    const show = await cli('dlq', 'show', id(11));
    expect(show.code).toBe(EXIT.ok);
    expect(show.out).toMatch(new RegExp(`document ids ${id(11)}`));
    expect(show.out).toMatch(/reason {7}receive-limit: import failed: .*HTTP 404: Collection not found/);
    expect(show.out).toMatch(/redrive {6}re-applies 1 key\(s\)/);

    // The operator restores the alias; meanwhile one item moved on: the redrive must write its newest state.
    await stack.typesense.upsertAlias(stack.alias, stack.collection);
    await put(12, 7);
    await stack.waitForIdle(30_000);

    const redrive = await cli(
      '--json',
      'dlq',
      'redrive',
      '--filter',
      'reason~Collection not found',
      '--wait',
      '30',
    );
    expect(redrive.err).toBe('');
    expect(redrive.code).toBe(EXIT.ok);
    expect(redrive.json()).toMatchObject({ selected: 3, redrivable: 3, redriven: 3, kept: [] });
    expect(redrive.json().settlement.settled.sort()).toEqual([id(10), id(11), id(12)]);
    expect(await dlqDepth()).toBe(0);
    expect(await stack.typesense.getDocument(stack.alias, id(12))).toMatchObject({ revision: 7 });
    expect((await cli('verify')).code).toBe(EXIT.ok);
  });

  it('dlq redrive: a still-poisoned item is reported as still failing; once fixed at the source it redrives clean', async () => {
    await put(20, 1, (item) => {
      item.price = { S: 'call for price' };
    });
    await waitFor('the poison letter', async () => (await dlqDepth()) >= 1, 30_000);

    const again = await cli('dlq', 'redrive', '--filter', 'code=400', '--wait', '20');
    expect(again.code).toBe(EXIT.problem);
    expect(again.out).toMatch(/redriven 1 of 1 selected dead letters/);
    expect(again.out).toMatch(
      new RegExp(`applied 0, still failing 1\\n {2}${id(20)}: dead-lettered again: 400 .*price`),
    );
    expect(again.out).not.toContain('call for price');

    // A repair attempt dead-letters it once more: now two letters of one key (one FIFO group), which a
    // receive hands out together, as SQS does (as many messages of one group as it can).
    const repair = await cli('verify', '--repair', '--wait', '20');
    expect(repair.code).toBe(EXIT.problem);
    expect(repair.out).toMatch(new RegExp(`${id(20)}: dead-lettered again`));
    await waitFor('the second letter', async () => (await dlqDepth()) >= 2, 10_000);

    await put(20, 2);
    await stack.waitForIdle(30_000);
    const dryRun = await cli('dlq', 'redrive', '--dry-run', '--filter', `id=${id(20)}`);
    expect(dryRun.out).toMatch(/dry run: 2 selected, 2 would be redriven, 0 cannot be/);
    expect(dryRun.out).not.toMatch(/were not readable now/);
    expect(await dlqDepth()).toBe(2);

    const fixed = await cli('dlq', 'redrive', '--filter', 'stage=writer', '--rate', '5');
    expect(fixed.code).toBe(EXIT.ok);
    expect(fixed.out).toMatch(/redriven 2 of 2 selected dead letters\napplied 1, still failing 0/);
    expect(await dlqDepth()).toBe(0);
  });

  it('verify: reports missing, extra and stale documents with exit 2, and --repair fixes them through the pipeline', async () => {
    for (const n of [30, 31]) await put(n, 1);
    await stack.waitForIdle(30_000);
    await stack.typesense.deleteByIds(stack.collection, [id(30)]);
    const stale = await stack.typesense.getDocument(stack.collection, id(31));
    const extra = { ...stale, id: id(39), pk: id(39) };
    await stack.typesense.importDocuments(
      stack.collection,
      [JSON.stringify({ ...stale, name: 'an older name' }), JSON.stringify(extra)],
      'upsert',
    );

    const drift = await cli('verify');
    expect(drift.code).toBe(EXIT.problem);
    expect(drift.out).toContain(`missing 1: ${id(30)}`);
    expect(drift.out).toContain(`extra   1: ${id(39)}`);
    expect(drift.out).toContain(`stale   1: ${id(31)} (name)`);

    const sample = await cli('--json', 'verify', '--sample', '50');
    expect(sample.code).toBe(EXIT.problem);
    expect(sample.json()).toMatchObject({
      missing: [id(30)],
      extra: [id(39)],
      stale: [{ id: id(31), fields: ['name'] }],
    });

    const repair = await cli('verify', '--repair', '--wait', '30');
    expect(repair.code).toBe(EXIT.ok);
    expect(repair.out).toMatch(/repair: 3 keys re-enqueued, 3 applied, 0 still failing/);
    const clean = await cli('verify');
    expect(clean.code).toBe(EXIT.ok);
    expect(clean.out).toContain('index matches the table');
  });

  it('replay-stream-failures: batches the batcher gave up on are replayed after the fix, then removed', async () => {
    for (const n of [40, 41]) await put(n, 1);
    await stack.waitForIdle(30_000);
    // As if the stream batch carrying these two changes had been given up on: the index never saw them.
    await stack.typesense.deleteByIds(stack.collection, [id(40), id(41)]);
    const records = [40, 41].map(
      (n, index): DynamoDBRecord => ({
        eventID: `e-${n}`,
        eventName: 'INSERT',
        eventSource: 'aws:dynamodb',
        eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/items/stream/2026-11-23T00:00:00.000',
        dynamodb: {
          Keys: { pk: { S: id(n) } },
          NewImage: { pk: { S: id(n) } },
          SequenceNumber: `${9_000 + index}`,
          ApproximateCreationDateTime: Date.now() / 1000,
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
      }),
    );
    const destination = s3FailureDestination(
      stack.s3,
      stack.failureBucket,
      'arn:aws:lambda:us-east-1:000000000000:function:batcher',
    );
    destination.onFailure(records, 'RetryAttemptsExhausted', 'shardId-1');
    await destination.flush();

    expect((await cli('status')).out).toContain('1 stream batches to replay');
    const dryRun = await cli('replay-stream-failures', '--dry-run');
    expect(dryRun.out).toContain('dry run: 1 failed batches, 2 stream records to replay');

    const replay = await cli('--json', 'replay-stream-failures');
    expect(replay.code).toBe(EXIT.ok);
    expect(replay.json()).toMatchObject({ objects: 1, records: 2, replayed: 1, changes: 2, failed: [] });
    await stack.waitForIdle(30_000);
    expect(await stack.typesense.getDocument(stack.alias, id(40))).toMatchObject({ revision: 1 });
    expect((await cli('verify')).code).toBe(EXIT.ok);
    const left = await stack.s3.send(new ListObjectsV2Command({ Bucket: stack.failureBucket }));
    expect((left.Contents ?? []).map(({ Key }) => Key)).toEqual([]);
  });

  it('lag: the same figure as the ingestion-delay endpoint, once or watched', async () => {
    const once = await cli('--json', 'lag');
    expect(once.code).toBe(EXIT.ok);
    const endpoint = (await (await fetch(stack.ingestionDelayUrl)).json()) as object;
    expect(Object.keys(once.json()).sort()).toEqual(Object.keys(endpoint).sort());
    expect(once.json()).toMatchObject({ dlqDepth: 0, circuit: 'closed' });
    const watched = await cli('lag', '--watch', '0.1', '--count', '2');
    expect(watched.out.trim().split('\n')).toHaveLength(2);
    expect(watched.out).toMatch(
      /^lag \d+ ms \((nothing pending|oldest pending change \d+ ms)\) \| DLQ 0 \| circuit closed/,
    );
  });

  it('rejects bad arguments and targets with a clear message and exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['dlq', 'redrive', '--rate', '0'], /--rate must be a positive integer/],
      [['dlq', 'list', '--filter', 'colour=red'], /bad filter 'colour=red'/],
      [['verify', '--sample', '5', '--full'], /cannot be used with option '--full'/],
      [['verify', '--wait', '-3'], /--wait must be a number of seconds/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(...args);
      expect(result.code, args.join(' ')).toBe(EXIT.error);
      expect(result.err, args.join(' ')).toMatch(message);
    }
    const noTarget = await runCli(['status'], { out: () => {}, err: () => {}, env: {}, isTTY: false });
    expect(noTarget).toBe(EXIT.error);
    const missing = await cli('dlq', 'show', 'no-such-id');
    expect(missing.code).toBe(EXIT.problem);
    expect(missing.err).toContain("no dead letter with message id or document id 'no-such-id'");
  });

  it('runs as a program: --help lists every command with examples', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'bin/cli.ts', '--help'], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    for (const command of ['status', 'lag', 'dlq', 'replay-stream-failures', 'verify'])
      expect(stdout).toContain(command);
    expect(stdout).toContain('Examples:');
    const failed = await promisify(execFile)('npx', ['tsx', 'bin/cli.ts', 'status'], {
      env: { ...process.env, TYPESENSE_SYNC_TARGET: '/nonexistent/target.json' },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({
      code: EXIT.error,
      stderr: expect.stringContaining('cannot read target file /nonexistent/target.json'),
    });
  });
});
