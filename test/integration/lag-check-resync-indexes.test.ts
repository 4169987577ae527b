import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { renderLag } from '../../bin/cli/render/lag.ts';
import { ingestionDelayOfReading } from '../../functions/core/ingestion-delay.ts';
import type { IndexLagReading, LagReading, ResyncReading } from '../../functions/core/lag-check.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import {
  type LocalIndex,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from '../../infra/local/stack.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * The lag check reads every index's re-sync (issue 20, item 3) on the embedded stack, with its own role: a
 * further index's stalled and failed re-sync are reported under its alias, beside the other index's; and
 * without the grant on the state tables the read is refused (AccessDenied), which leaves the re-syncs unknown
 * but every index's lag measured.
 */
const customersSchema: CollectionSchema = { name: 'customers', fields: [{ name: 'name', type: 'string' }] };
const ordersSchema: CollectionSchema = { name: 'orders', fields: [{ name: 'total', type: 'float' }] };
const options: LocalStackOptions = {
  keyAttributes: ['pk', 'sk'],
  tableName: 'shop',
  schema: customersSchema,
  indexes: [
    { alias: 'customers', projection: { filter: { attribute: 'type', equals: 'customer' } } },
    { alias: 'orders', schema: ordersSchema, projection: { filter: { attribute: 'type', equals: 'order' } } },
  ],
  visibilityTimeoutSeconds: 6,
  logLevel: 'ERROR',
  resync: { totalSegments: 2, pageSize: 20, workers: 2, visibilityTimeoutSeconds: 5 },
};
let stack: LocalStack;
let targetFile: string;

const put = (sk: string, type: 'customer' | 'order', total: string) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: {
        pk: { S: 'CUST#1' },
        sk: { S: sk },
        type: { S: type },
        name: { S: `item ${sk}` },
        total: { N: total },
      },
    }),
  );

beforeAll(async () => {
  stack = await startLocalStack(options);
  targetFile = join(await mkdtemp(join(tmpdir(), 'lag-resync-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
  await put('PROFILE', 'customer', '0');
  for (let j = 0; j < 10; j++) await put(`ORDER#${j}`, 'order', String(j));
  await stack.waitForIdle(60_000);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const orders = () => stack.indexes.orders as LocalIndex;
const resyncOf = (reading: LagReading, alias: string): IndexLagReading['resync'] =>
  reading.indexes?.find((index) => index.alias === alias)?.resync;

describe("the lag check reports each index's re-sync under its alias", () => {
  it("a further index's stalled re-sync: its phase and a growing progress age, the other index unaffected", async () => {
    // The orders re-sync's scans hang (say, a table read that never answers): its job makes no progress.
    const adapters = orders().functions.resync.adapters;
    const scanPage = adapters.scanPage;
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    adapters.scanPage = async (...args) => {
      await held;
      return scanPage(...args);
    };
    try {
      const started = await cliAt(targetFile, '--index', 'orders', 'resync', 'start');
      expect({ code: started.code, err: started.err }).toEqual({ code: EXIT.ok, err: '' });
      const first = await stack.checkLag(30_000);
      expect(first.problems).toEqual([]);
      expect(resyncOf(first, 'customers')).toBe('none');
      const stalled = resyncOf(first, 'orders') as ResyncReading;
      expect(stalled).toMatchObject({ phase: 'backfilling', segmentsDone: 0, totalSegments: 2 });
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      // No scan page completes: the age of its last progress (what ResyncStalled watches) only grows.
      const later = resyncOf(await stack.checkLag(30_000), 'orders') as ResyncReading;
      expect(later.jobId).toBe(stalled.jobId);
      expect(later.progressAgeMs).toBeGreaterThan((stalled.progressAgeMs ?? 0) + 1_000);
      expect(stack.iam.denials.filter((denial) => denial.function === 'lagCheck')).toEqual([]);
      // `lag` (through the endpoint's answer) lists it on the orders line.
      const answer = ingestionDelayOfReading(first, 0, Date.parse(first.measuredAt), 60_000);
      if ('unknown' in answer) throw new Error(answer.unknown);
      const lines = renderLag(answer).split('\n');
      expect(lines[1]).toMatch(/^ {2}index customers: .* \| re-sync none$/);
      expect(lines[2]).toMatch(
        /^ {2}index orders: .* \| re-sync backfilling \(0\/2 segments, no progress for \d+ s\)$/,
      );
    } finally {
      release();
      adapters.scanPage = scanPage;
    }
    await stack.waitForIdle(120_000);
    expect(resyncOf(await stack.checkLag(30_000), 'orders')).toMatchObject({ phase: 'done' });
  }, 300_000);

  it("a further index's failed re-sync is reported as failed under its alias", async () => {
    // An order whose total the orders schema refuses: its change is dead-lettered, and a re-sync fails on it.
    await stack.dynamodb.send(
      new PutItemCommand({
        TableName: stack.tableName,
        Item: {
          pk: { S: 'CUST#1' },
          sk: { S: 'ORDER#bad' },
          type: { S: 'order' },
          total: { S: 'not a total' },
        },
      }),
    );
    await stack.waitForIdle(60_000);
    expect(await orders().drainDeadLetters()).toHaveLength(1);
    const refused = await cliAt(targetFile, '--index', 'orders', 'resync', 'start', '--wait');
    expect(refused.code).toBe(EXIT.problem);
    const reading = await stack.checkLag(30_000);
    expect(reading.problems).toEqual([]);
    expect(resyncOf(reading, 'orders')).toMatchObject({ phase: 'failed' });
    expect(resyncOf(reading, 'orders')).not.toHaveProperty('progressAgeMs');
    expect(resyncOf(reading, 'customers')).toBe('none');
    expect(reading.indexes?.every((index) => index.lagMs !== null)).toBe(true);
  }, 300_000);
});

describe("the lag check's grant on a further index's state table", () => {
  it("without it the orders re-sync read is refused (AccessDenied) and unknown; customers' and every lag are still read", async () => {
    const ordersTable = 'shop-revoked-orders-resync-state';
    const arn = `arn:aws:dynamodb:us-east-1:000000000000:table/${ordersTable}`;
    const revoked = await startLocalStack({
      ...options,
      tableName: 'shop-revoked',
      // The grant the construct adds for the further index: GetItem and Query on its state table only.
      iam: {
        revoke: ['dynamodb:GetItem', 'dynamodb:Query'].map((action) => ({
          function: 'lagCheck' as const,
          action,
          resource: arn,
        })),
      },
    });
    try {
      expect((revoked.indexes.orders as LocalIndex).resyncStateTable).toBe(ordersTable);
      const reading = await revoked.checkLag(30_000);
      expect(reading.indexes?.map(({ alias, resync }) => [alias, resync])).toEqual([
        ['customers', 'none'],
        ['orders', 'unknown'],
      ]);
      expect(reading.indexes?.every((index) => index.lagMs !== null && index.canaryDelayMs !== null)).toBe(
        true,
      );
      expect(reading.problems).toHaveLength(1);
      expect(reading.problems[0]).toMatch(
        new RegExp(
          '^re-sync progress unknown: User: arn:aws:sts::000000000000:assumed-role/\\S+/lagCheck is not ' +
            `authorized to perform: dynamodb:GetItem on resource: ${arn} ` +
            'because no identity-based policy allows the dynamodb:GetItem action \\(index orders\\)$',
        ),
      );
      expect(revoked.iam.denials).toEqual([
        { function: 'lagCheck', action: 'dynamodb:GetItem', resource: arn, decision: 'implicit-deny' },
      ]);
    } finally {
      await revoked.stop();
    }
  }, 300_000);
});
