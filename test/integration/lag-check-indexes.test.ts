import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregateConfig } from '../../functions/contract/aggregate.ts';
import { CANARY_KEY_VALUE, canaryCollectionOf } from '../../functions/core/canary.ts';
import { documentId } from '../../functions/core/keys.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import { type LocalIndex, type LocalStack, startLocalStack } from '../../infra/local/stack.ts';

/**
 * The lag check over two indexes of one table on the embedded stack (issue 20, item 3): a routed index
 * (customers) and an aggregated one (orders, one document per partition). One canary, written with the
 * lag check's role, must reach each index's canary collection; a held writer shows as that index's
 * timeout, named, while the other index is still measured.
 */
const AGGREGATE: AggregateConfig = {
  parent: { prefix: 'ORDER#' },
  children: { lines: { prefix: 'LINE#' } },
  maxItems: 20,
};
const customersSchema: CollectionSchema = { name: 'customers', fields: [{ name: 'name', type: 'string' }] };
const ordersSchema: CollectionSchema = { name: 'orders', fields: [{ name: 'status', type: 'string' }] };
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    keyAttributes: ['pk', 'sk'],
    tableName: 'shop',
    schema: customersSchema,
    indexes: [
      { alias: 'customers', projection: { filter: { attribute: 'type', equals: 'customer' } } },
      { alias: 'orders', schema: ordersSchema, aggregate: AGGREGATE },
    ],
    visibilityTimeoutSeconds: 60,
    logLevel: 'ERROR',
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const orders = () => stack.indexes.orders as LocalIndex;

describe('the lag check over two indexes on the embedded stack', () => {
  it('waits for one canary in both indexes, the aggregated one included, and reports each', async () => {
    const reading = await stack.checkLag(30_000);
    expect(reading.problems).toEqual([]);
    expect(reading.indexes?.map((index) => index.alias)).toEqual(['customers', 'orders']);
    for (const index of reading.indexes ?? []) expect(index.canaryDelayMs).not.toBeNull();
    // The further index's DLQ depth is read with the lag check's role: its grant allows it.
    expect(reading.indexes?.[1]?.dlqDepth).toBe(0);
    expect(stack.iam.denials.filter((denial) => denial.function === 'lagCheck')).toEqual([]);
    expect(reading.lagMs).toBe(Math.max(...(reading.indexes ?? []).map((index) => index.lagMs ?? -1)));
    // The aggregated writer indexed the canary under the table's whole key into its own canary collection.
    const canaryId = documentId({ pk: { S: CANARY_KEY_VALUE }, sk: { S: CANARY_KEY_VALUE } }, ['pk', 'sk']);
    expect(await stack.typesense.getDocument(canaryCollectionOf('orders'), canaryId)).toMatchObject({
      sentAt: expect.any(Number),
    });
  }, 120_000);

  it("a held index's writer shows as that index's timeout, by name; the other index is still measured", async () => {
    orders().queuePoller.pause();
    try {
      const held = await stack.checkLag(2_000);
      expect(held.problems).toEqual(['canary not searchable after 2 s (index orders)']);
      expect(held.indexes?.map((index) => [index.alias, index.canaryDelayMs === null])).toEqual([
        ['customers', false],
        ['orders', true],
      ]);
      expect(held.canaryDelayMs).toBeNull();
      expect(held.lagMs).toBeGreaterThanOrEqual(2_000);
    } finally {
      orders().queuePoller.resume();
    }
    const recovered = await stack.checkLag(30_000);
    expect(recovered.problems).toEqual([]);
    expect(await orders().drainDeadLetters()).toEqual([]);
    expect(await stack.drainDeadLetters()).toEqual([]);
  }, 120_000);
});
