/**
 * The embedded stack with three Typesense nodes (independent emulators, no replication): the writer spreads
 * its requests over them, and when one goes down mid-run every change still lands on a live node, with
 * nothing dead-lettered.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentId } from '../../functions/core/keys.ts';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';

const KEYS = ['pk'];
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    keyAttributes: KEYS,
    schema: productSchema,
    typesenseNodes: 3,
    visibilityTimeoutSeconds: 1,
    logLevel: 'ERROR',
    // Short timeouts and a quick breaker: a dead node is noticed and skipped fast.
    typesenseTimeoutMs: 1_000,
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function putItems(from: number, count: number) {
  const random = seededRandom(from);
  for (let n = from; n < from + count; n++) {
    await stack.dynamodb.send(
      new PutItemCommand({ TableName: stack.tableName, Item: productItem(random, KEYS, n, 1, Date.now()) }),
    );
  }
}

async function idsOnLiveNodes(): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const node of stack.typesenseNodes) {
    const client = new TypesenseClient({ nodes: [node.url], apiKey: stack.apiKey });
    for (const doc of await client.exportDocuments(stack.alias)) ids.add(String(doc.id));
  }
  return ids;
}

describe('three Typesense nodes on the embedded stack', () => {
  it('starts three emulators answering as v30, each with the collection and alias', async () => {
    expect(stack.typesenseNodes).toHaveLength(3);
    for (const node of stack.typesenseNodes) {
      expect(node.version).toBe(30);
      const client = new TypesenseClient({ nodes: [node.url], apiKey: stack.apiKey });
      expect(await client.getAlias(stack.alias)).toEqual({
        name: stack.alias,
        collection_name: stack.collection,
      });
    }
  });

  it('a node going down mid-run loses nothing: every change lands on a live node, none is dead-lettered', async () => {
    await putItems(1, 20);
    const down = stack.typesenseNodes[1] as (typeof stack.typesenseNodes)[number];
    down.setDown(true);
    try {
      await putItems(21, 20);
      await stack.waitForIdle(90_000);
      const status = await stack.status();
      expect(status.dlqDepth).toBe(0);
      down.setDown(false);
      const ids = await idsOnLiveNodes();
      for (let n = 1; n <= 40; n++) expect(ids).toContain(documentId(itemKey(KEYS, n), KEYS));
    } finally {
      down.setDown(false);
    }
  }, 150_000);
});
