import { type AttributeValue, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repairDrift } from '../../bin/cli/operations/repair.ts';
import { connect, parseTarget } from '../../bin/cli/operations/target.ts';
import { documentId } from '../../functions/core/keys.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';

/**
 * Keys as DynamoDB allows them but SQS does not: a string partition key holding emoji, U+0001,
 * U+FFFE or U+FFFF, and a Binary sort key. Every one must reach the index through the real batcher,
 * queue and writer, and round-trip through verify --repair.
 */
const KEY_ATTRIBUTES = ['pk', 'bk'];
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    keyAttributes: KEY_ATTRIBUTES,
    keyTypes: ['S', 'B'],
    logLevel: 'ERROR',
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const PREFIXES = ['plain', 'emoji-😀', 'ctl-\u0001', 'nc-\uFFFF', 'nc-\uFFFE', 'tab\t|pipe'];

function keyOf(n: number): Record<string, AttributeValue> {
  const prefix = PREFIXES[n % PREFIXES.length] as string;
  return {
    pk: { S: `${prefix}-${n}` },
    bk: { B: Uint8Array.from([n % 256, 0xff, 0x00, (n * 7) % 256, 0x7c]) },
  };
}

const idOf = (n: number) => documentId(keyOf(n), KEY_ATTRIBUTES);

describe('keys SQS refuses raw and Binary keys, on the embedded stack', () => {
  it('indexes a mixed workload whole: nothing dead-lettered, nothing in the failure bucket', async () => {
    const random = seededRandom(17);
    const count = 90;
    for (let n = 0; n < count; n++) {
      const item = { ...productItem(random, KEY_ATTRIBUTES, n, 1, Date.now()), ...keyOf(n) };
      // Documents hold the same characters too.
      item.name = { S: `name \uFFFF\u0001 😀 ${n}` };
      await stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item: item }));
    }
    for (const n of [3, 4, 5]) {
      await stack.dynamodb.send(new DeleteItemCommand({ TableName: stack.tableName, Key: keyOf(n) }));
    }
    await stack.waitForIdle(120_000);

    const report = await stack.verify();
    expect(report.tableItems).toBe(count - 3);
    expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      missing: [],
      extra: [],
      stale: [],
    });
    expect(await stack.drainDeadLetters()).toEqual([]);
    const failures = await stack.s3.send(new ListObjectsV2Command({ Bucket: stack.failureBucket }));
    expect(failures.KeyCount ?? 0).toBe(0);
    expect(stack.streamPoller.stats.recordsGivenUp).toBe(0);
  }, 180_000);

  it('verify --repair re-applies Binary-keyed documents through the pipeline', async () => {
    const lost = [6, 7, 8].map(idOf);
    await stack.typesense.deleteByIds(stack.collection, lost);
    const connection = connect(parseTarget(stack.target, 'the embedded stack'));
    try {
      const repair = await repairDrift(connection, { missing: lost, extra: [], stale: [] }, 60_000);
      expect(repair.failed).toEqual([]);
      expect(repair.enqueued).toBe(3);
      expect(repair.settlement?.settled.sort()).toEqual([...lost].sort());
      expect(repair.settlement?.stillFailing).toEqual([]);
    } finally {
      connection.close();
    }
    const report = await stack.verify();
    expect(report.missing).toEqual([]);
    expect(await stack.drainDeadLetters()).toEqual([]);
  }, 120_000);
});
