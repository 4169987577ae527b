import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * `preview --key` on the embedded stack: the item read from the table, and what preview says the writer
 * makes of it is what the writer made of it — the document in the index, or none.
 */
let stack: LocalStack;
let targetFile: string;
const random = seededRandom(24);

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    projection: { exclude: ['thumbnail'], filter: { attribute: 'type', equals: 'order' } },
    visibilityTimeoutSeconds: 1,
    logLevel: 'ERROR',
  });
  targetFile = join(await mkdtemp(join(tmpdir(), 'preview-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const put = (n: number, type: string) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: { ...productItem(random, stack.keyAttributes, n, 1, Date.now()), type: { S: type } },
    }),
  );
const preview = async (pk: string) => {
  const result = await cliAt(targetFile, '--json', 'preview', '--key', JSON.stringify({ pk }));
  expect({ code: result.code, err: result.err }).toEqual({ code: EXIT.ok, err: '' });
  return result.json();
};

describe('typesense-sync preview on the embedded stack', () => {
  it('an existing item, one the filter leaves out and a missing one: as the writer indexed them', async () => {
    await put(1, 'order');
    await put(2, 'customer');
    await stack.waitForIdle(60_000);

    const indexed = await preview('p-000001');
    expect(indexed).toMatchObject({
      source: `table ${stack.tableName}`,
      key: { pk: { S: 'p-000001' } },
      indexes: [{ index: stack.alias, id: 'p-000001', outcome: 'indexed', filter: { matches: true } }],
    });
    expect(indexed.indexes[0].document).toEqual(await stack.typesense.getDocument(stack.alias, 'p-000001'));
    expect(indexed.indexes[0].document).not.toHaveProperty('thumbnail');

    const left = await preview('p-000002');
    expect(left.indexes).toEqual([
      {
        index: stack.alias,
        id: 'p-000002',
        outcome: 'filtered-out',
        filter: {
          matches: false,
          steps: [
            {
              path: 'filter',
              depth: 0,
              node: 'equals',
              attribute: 'type',
              operand: 'order',
              value: '"customer"',
              matched: false,
            },
          ],
        },
      },
    ]);
    expect(await stack.typesense.getDocument(stack.alias, 'p-000002')).toBeUndefined();

    const missing = await cliAt(targetFile, 'preview', '--key', '{"pk":"p-999999"}');
    expect(missing.code).toBe(EXIT.ok);
    expect(missing.out).toBe(
      `item {"pk":{"S":"p-999999"}} from table ${stack.tableName}: not found\n` +
        `index '${stack.alias}', document id 'p-999999': no item — the writer deletes the id (a no-op where absent)\n`,
    );
  }, 180_000);
});
