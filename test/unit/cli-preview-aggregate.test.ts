import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { cliAt } from '../helpers/cli.ts';

describe('preview on an aggregated index', () => {
  it('refuses, naming why, rather than show an item document the index never holds', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'cli-preview-aggregate-'));
    const targetFile = join(directory, 'target.json');
    await writeFile(
      targetFile,
      JSON.stringify({
        tableName: 'orders',
        keyAttributes: ['pk', 'sk'],
        queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders-changes.fifo',
        dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq.fifo',
        typesense: { nodes: ['http://127.0.0.1:1'], collection: 'orders', apiKey: 'local' },
        aggregate: { parent: { prefix: 'ORDER#' }, children: { lines: { prefix: 'LINE#' } } },
      }),
    );
    const item = join(directory, 'line.json');
    await writeFile(item, JSON.stringify({ pk: { S: 'o1' }, sk: { S: 'LINE#1' } }));
    const { code, out, err } = await cliAt(targetFile, 'preview', '--item', item);
    expect(code).toBe(EXIT.error);
    expect(out).toBe('');
    expect(err).toBe(
      "error: preview builds one item's document, and the target's index is aggregated (one document per partition): compare a partition with `verify` instead\n",
    );
  });
});
