import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';
import {
  expectShopIndexesExact,
  SHOP_ALIASES,
  SHOP_INDEXES,
  SHOP_KEY_ATTRIBUTES,
  shopWriter,
} from '../helpers/three-indexes.ts';

/**
 * Three indexes of one single-table design table on the embedded stack (issue 20, "done when"): two routed
 * entity types (customers; orders-flat) and one aggregated (orders with their lines). Concurrent writes
 * change items' types (an order re-typed customer moves index), delete lines, orders and profiles; each
 * index must end holding exactly the documents the oracle computes from the final table (0 lost, 0 stale,
 * 0 resurrected), `verify` clean and its DLQ empty; and again after a re-sync of the aggregated index through
 * the CLI while the writes run.
 */
const random = seededRandom(20);
let stack: LocalStack;
let writer: ReturnType<typeof shopWriter>;

beforeAll(async () => {
  stack = await startLocalStack({
    keyAttributes: SHOP_KEY_ATTRIBUTES,
    tableName: 'shop',
    schema: { name: 'unused', fields: [] },
    indexes: SHOP_INDEXES,
    // Six times a writer run on a loaded machine (Lambda's rule of thumb): at 1 s an aggregated index's
    // slow runs were received again while in flight until the redrive policy moved them to the DLQ.
    visibilityTimeoutSeconds: 6,
    logLevel: 'ERROR',
    resync: { totalSegments: 3, pageSize: 7, workers: 2, visibilityTimeoutSeconds: 5 },
  });
  writer = shopWriter(stack, random);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('three indexes of one table (two routed, one aggregated) on the embedded stack', () => {
  it('has one pipeline per index', () => {
    expect(Object.keys(stack.indexes)).toEqual(SHOP_ALIASES);
    expect(stack.functions.batcher.config.QUEUES).toHaveLength(3);
  });

  it('holds exactly each index’s documents after concurrent writes, type changes and deletes', async () => {
    await writer.seed();
    await writer.churn(6, 2);
    await writer.flipOrder(0, 50);
    await stack.waitForIdle(180_000);
    const expected = await expectShopIndexesExact(stack);
    // The order that changed type twice ended a customer: in customers, gone from orders-flat, still the
    // parent of its aggregate.
    expect(Object.keys(expected.customers ?? {})).toContain('ORDER#0|ORDER');
    expect(Object.keys(expected['orders-flat'] ?? {})).not.toContain('ORDER#0|ORDER');
    expect(expected.orders?.['ORDER#0']).toMatchObject({ type: 'customer' });
  }, 300_000);

  it('a re-sync of the aggregated index (the CLI with --index) while writes run leaves all three exact', async () => {
    const targetFile = join(await mkdtemp(join(tmpdir(), 'three-indexes-')), 'target.json');
    await writeFile(targetFile, JSON.stringify(stack.target));
    const [started] = await Promise.all([
      cliAt(targetFile, '--index', 'orders', 'resync', 'start', '--wait'),
      writer.churn(8, 100),
    ]);
    expect(started.err).toBe('');
    expect(started.code).toBe(EXIT.ok);
    const progress = (await cliAt(targetFile, '--json', '--index', 'orders', 'resync', 'status')).json();
    expect((progress as ResyncProgress).job).toMatchObject({ phase: 'done', alias: 'orders' });
    await stack.waitForIdle(180_000);
    await expectShopIndexesExact(stack);
    for (const alias of SHOP_ALIASES) {
      const verified = await cliAt(targetFile, '--index', alias, 'verify');
      expect({ alias, code: verified.code }).toEqual({ alias, code: EXIT.ok });
    }
  }, 300_000);
});
