import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersProjection, ordersSchema, transform } from '../../examples/single-table/orders.ts';
import { collectionSchemaProblems } from '../../functions/contract/collection-schema.ts';
import { projectionProblems } from '../../functions/contract/projection.ts';
import { documentJson } from '../../functions/core/project.ts';
import { buildDocument } from '../../functions/core/transform.ts';
import { type CollectionField, TypesenseClient } from '../../functions/shared/typesense.ts';
import { startTypesenseEmulator, type TypesenseEmulator } from '../../infra/local/typesense-emulator.ts';

/*
 * The README's single-table example, end to end: its items, through the example's projection and transform
 * (what the writer and the re-sync run), give the documents the README shows, and the README's search finds
 * them in a collection of the example's schema. If the example or the mapping changes, this fails before the
 * README lies.
 */

const KEY = ['pk', 'sk'];
const API_KEY = 'single-table-example';

/** The README's items: one customer, its order, the order's line, and two more orders for the search. */
const customer = {
  pk: 'CUSTOMER#c1',
  sk: 'PROFILE',
  type: 'customer',
  name: 'Ada',
  email: 'ada@example.com',
};
const order = {
  pk: 'CUSTOMER#c1',
  sk: 'ORDER#o1',
  type: 'order',
  status: 'shipped',
  total: 42.5,
  placedAt: '2026-11-02T09:30:00Z',
  shipping: { city: 'Oslo', country: 'NO' },
  tags: new Set(['gift', 'express']),
  paymentToken: 'tok_secret',
};
const line = { pk: 'CUSTOMER#c1', sk: 'ORDER#o1#LINE#001', type: 'line', sku: 'KETTLE-1', quantity: 1 };
const otherOrders = [
  { ...order, pk: 'CUSTOMER#c2', sk: 'ORDER#o2', placedAt: '2026-11-20T08:00:00Z', tags: new Set(['gift']) },
  { ...order, pk: 'CUSTOMER#c1', sk: 'ORDER#o3', status: 'pending', placedAt: '2026-11-25T10:00:00Z' },
];

const documentOf = (item: Record<string, unknown>) =>
  buildDocument(marshall(item, { convertClassInstanceToMap: true }), KEY, ordersProjection, transform);

describe('the single-table example (README)', () => {
  let emulator: TypesenseEmulator;
  let client: TypesenseClient;

  beforeAll(async () => {
    emulator = await startTypesenseEmulator({ apiKey: API_KEY });
    client = new TypesenseClient({ nodes: [emulator.url], apiKey: API_KEY, timeoutMs: 5000 });
  });

  afterAll(async () => {
    await emulator.stop();
  });

  it('passes the checks the construct runs at synth', () => {
    expect(projectionProblems(ordersProjection, 'projection', KEY)).toEqual([]);
    expect(collectionSchemaProblems(ordersSchema)).toEqual([]);
  });

  it('makes the README document of an order, and none of a customer or an order line', () => {
    expect(documentOf(order)).toEqual({
      id: 'CUSTOMER#c1|ORDER#o1',
      order_id: 'o1',
      customer_id: 'c1',
      status: 'shipped',
      total: 42.5,
      placed_at: 1_793_611_800,
      'shipping.city': 'Oslo',
      'shipping.country': 'NO',
      tags: ['express', 'gift'],
    });
    expect(documentOf(customer)).toBeUndefined();
    expect(documentOf(line)).toBeUndefined();
  });

  it("answers the README's search with the shipped orders, newest first", async () => {
    await client.createCollection({
      name: 'orders',
      ...ordersSchema,
      fields: [...ordersSchema.fields] as CollectionField[],
    });
    const lines = [order, ...otherOrders].map((item) => documentJson(documentOf(item)));
    const results = await client.importDocuments('orders', lines, 'upsert');
    expect(results.every((result) => result.success)).toBe(true);
    const answer = await client.search('orders', {
      q: '*',
      filter_by: 'status:=shipped',
      sort_by: 'placed_at:desc',
      facet_by: 'tags',
    });
    expect(answer.hits.map((hit) => hit.document.order_id)).toEqual(['o2', 'o1']);
    expect(answer.facet_counts).toEqual([
      expect.objectContaining({
        field_name: 'tags',
        counts: expect.arrayContaining([
          expect.objectContaining({ value: 'gift', count: 2 }),
          expect.objectContaining({ value: 'express', count: 1 }),
        ]),
      }),
    ]);
  });
});
