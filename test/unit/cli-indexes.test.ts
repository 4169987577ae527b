import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PreviewReport } from '../../bin/cli/operations/preview.ts';
import { parseTarget, selectIndex, TargetError } from '../../bin/cli/operations/target.ts';
import { EXIT } from '../../bin/cli/program.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * The operator CLI on a table with several indexes (issue 20): the target lists every index, `--index`
 * selects one for every command, and `preview` without it shows the outcome in each.
 */

const QUEUES = 'https://sqs.eu-west-1.amazonaws.com/123456789012';
const customers = {
  queueUrl: `${QUEUES}/shop-changes.fifo`,
  dlqUrl: `${QUEUES}/shop-dlq.fifo`,
  projection: { filter: { attribute: 'sk', equals: 'PROFILE' } },
  resync: { stateTable: 'shop-resync-state', queueUrl: `${QUEUES}/shop-resync` },
};
const orders = {
  queueUrl: `${QUEUES}/shop-orders-changes.fifo`,
  dlqUrl: `${QUEUES}/shop-orders-dlq.fifo`,
  projection: { filter: { attribute: 'sk', beginsWith: 'ORDER#' }, exclude: ['name'] },
  schema: { fields: [{ name: 'total', type: 'float' }] },
  resync: { stateTable: 'shop-orders-resync-state', queueUrl: `${QUEUES}/shop-orders-resync` },
};
const target = {
  tableName: 'shop',
  keyAttributes: ['pk', 'sk'],
  queueUrl: customers.queueUrl,
  dlqUrl: customers.dlqUrl,
  projection: customers.projection,
  resync: customers.resync,
  typesense: { nodes: ['https://a.typesense.net:443'], collection: 'customers', apiKey: 'k' },
  indexes: { customers, orders },
};

async function targetFile(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'indexes-')), 'target.json');
  await writeFile(file, JSON.stringify(target));
  return file;
}

describe('--index', () => {
  it("selects an index: its queues, projection, schema, re-sync and alias in the target's fields", () => {
    const selected = selectIndex(parseTarget(target, 'test'), 'orders');
    expect(selected).toMatchObject({
      queueUrl: orders.queueUrl,
      dlqUrl: orders.dlqUrl,
      projection: orders.projection,
      resync: orders.resync,
      typesense: { collection: 'orders', schema: orders.schema, nodes: target.typesense.nodes },
      tableName: 'shop',
    });
    // The first index, and no --index, leave the target as it is.
    const parsed = parseTarget(target, 'test');
    expect(selectIndex(parsed, 'customers')).toBe(parsed);
    expect(selectIndex(parsed, undefined)).toBe(parsed);
  });

  it('refuses an unknown alias, listing the known ones', async () => {
    expect(() => selectIndex(parseTarget(target, 'test'), 'products')).toThrow(TargetError);
    expect(() => selectIndex(parseTarget(target, 'test'), 'products')).toThrow(
      '--index products: the target has no such index; its indexes are customers, orders',
    );
    const run = await cliAt(await targetFile(), '--index', 'products', 'dlq', 'list');
    expect(run.code).toBe(EXIT.error);
    expect(run.err).toContain('its indexes are customers, orders');
  });
});

describe('preview on a table with several indexes', () => {
  const item = join(tmpdir(), `order-${process.pid}.json`);

  it('shows the outcome in every index: the document where it is routed, the filter elsewhere', async () => {
    await writeFile(item, JSON.stringify({ pk: 'CUST#1', sk: 'ORDER#7', name: 'Ann', total: 12.5 }));
    const file = await targetFile();
    const run = await cliAt(file, '--json', 'preview', '--plain', '--item', item);
    expect(run.code).toBe(EXIT.ok);
    const report = run.json() as PreviewReport;
    expect(report.indexes.map(({ index, outcome }) => [index, outcome])).toEqual([
      ['customers', 'filtered-out'],
      ['orders', 'indexed'],
    ]);
    expect(report.indexes[1]).toMatchObject({ document: { id: expect.any(String), total: 12.5 } });
    expect(report.indexes[1]).not.toHaveProperty('document.name');

    const text = await cliAt(file, 'preview', '--plain', '--item', item);
    expect(text.out).toMatch(/index 'customers', .*: not indexed — the filter leaves it out/);
    expect(text.out).toMatch(/index 'orders', .*: indexed/);

    // --index: that index alone.
    const one = (
      await cliAt(file, '--json', '--index', 'customers', 'preview', '--plain', '--item', item)
    ).json();
    expect((one as PreviewReport).indexes.map(({ index }) => index)).toEqual(['customers']);
  });
});
