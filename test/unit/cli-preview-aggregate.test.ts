import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { previewItem } from '../../bin/cli/operations/preview.ts';
import { EXIT } from '../../bin/cli/program.ts';
import { renderPreview } from '../../bin/cli/render/preview.ts';
import type { AggregateConfig } from '../../functions/contract/aggregate.ts';
import { aggregationOf } from '../../functions/core/aggregate.ts';
import { cliAt } from '../helpers/cli.ts';

const AGGREGATE: AggregateConfig = { parent: { prefix: 'ORDER#' }, children: { lines: { prefix: 'LINE#' } } };
const KEY = ['pk', 'sk'];
const rules = {
  keyAttributes: KEY,
  projection: {},
  index: 'orders',
  aggregation: aggregationOf(KEY, AGGREGATE),
};
const order = { pk: { S: 'o1' }, sk: { S: 'ORDER#o1' }, status: { S: 'open' } };
const line = (n: number) => ({ pk: { S: 'o1' }, sk: { S: `LINE#${n}` }, sku: { S: `s${n}` } });

describe('preview on an aggregated index', () => {
  it("shows the partition's document, as the writer builds it, for any item of the partition", () => {
    const report = previewItem(line(2), line(2), rules, 'table orders', [order, line(1), line(2)]);
    expect(report.indexes).toEqual([
      {
        index: 'orders',
        id: 'o1',
        outcome: 'indexed',
        document: {
          id: 'o1',
          pk: 'o1',
          sk: 'ORDER#o1',
          status: 'open',
          lines: [
            { id: 'o1|LINE#1', pk: 'o1', sk: 'LINE#1', sku: 's1' },
            { id: 'o1|LINE#2', pk: 'o1', sk: 'LINE#2', sku: 's2' },
          ],
        },
      },
    ]);
  });

  it('says a partition without its parent item holds no document, and an oversized one is dead-lettered', () => {
    const orphan = previewItem(line(1), line(1), rules, 'table orders', [line(1)]);
    expect(orphan.indexes[0]).toMatchObject({ id: 'o1', outcome: 'no-parent' });
    expect(renderPreview(orphan)).toContain('the partition holds no parent item');
    const small = { ...rules, aggregation: aggregationOf(KEY, { ...AGGREGATE, maxItems: 2 }) };
    const oversized = previewItem(order, order, small, 'table orders', [order, line(1), line(2)]);
    expect(oversized.indexes[0]).toMatchObject({ outcome: 'dead-lettered' });
    expect(oversized.indexes[0]).toHaveProperty('reason', expect.stringMatching(/^aggregate-too-large: /));
  });

  it('with --item, makes no AWS call and says the document needs the partition (--key)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'cli-preview-aggregate-'));
    const targetFile = join(directory, 'target.json');
    await writeFile(
      targetFile,
      JSON.stringify({
        tableName: 'orders',
        keyAttributes: KEY,
        queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders-changes.fifo',
        dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq.fifo',
        typesense: { nodes: ['http://127.0.0.1:1'], collection: 'orders', apiKey: 'local' },
        aggregate: AGGREGATE,
      }),
    );
    const item = join(directory, 'line.json');
    await writeFile(item, JSON.stringify(line(1)));
    const { code, out, err } = await cliAt(targetFile, 'preview', '--item', item);
    expect({ code, err }).toEqual({ code: EXIT.ok, err: '' });
    expect(out).toContain(
      "index 'orders', document id 'o1': aggregated — its document is built from the whole partition: preview it with --key",
    );
  });
});
