import { isDeepStrictEqual } from 'node:util';
import { type AttributeValue, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { expect } from 'vitest';
import { documentId } from '../../functions/core/keys.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import type { LocalIndexOptions, LocalStack } from '../../infra/local/stack-options.ts';
import { bySortKey, type PlainItem, plainItem, scanItems } from './table-scan.ts';

/**
 * One single-table design table (`pk`, `sk`) with three indexes, shared by test/integration and test/chaos:
 * - customer profiles (`CUST#c` / `PROFILE`, `type` customer, vip or lead),
 * - orders (`ORDER#o` / `ORDER`, `type` order, quote or customer) and their lines (`ORDER#o` / `LINE#nnn`);
 * indexed as `customers` (routed: type customer or vip), `orders-flat` (routed: type order on an ORDER item,
 * `name` excluded) and `orders` (aggregated: each order partition's parent and its lines). An order re-typed
 * `customer` moves from orders-flat to customers; a profile re-typed `lead` leaves customers.
 *
 * The oracle below computes each index's exact documents from the final table by its own reading of the
 * rules (docs/configuration.md), not through the pipeline's filter or aggregation code.
 */
export const SHOP_KEY_ATTRIBUTES = ['pk', 'sk'];
export const CUSTOMERS = 12;
export const ORDERS = 12;
const LINES_PER_ORDER = 5;

const customersSchema: CollectionSchema = { name: 'customers', fields: [{ name: 'name', type: 'string' }] };
const ordersSchema: CollectionSchema = { name: 'orders', fields: [{ name: 'total', type: 'float' }] };

export const SHOP_INDEXES: LocalIndexOptions[] = [
  {
    alias: 'customers',
    schema: customersSchema,
    projection: { filter: { attribute: 'type', in: ['customer', 'vip'] } },
  },
  {
    alias: 'orders-flat',
    schema: ordersSchema,
    projection: {
      filter: {
        and: [
          { attribute: 'type', equals: 'order' },
          { attribute: 'sk', beginsWith: 'ORDER' },
        ],
      },
      exclude: ['name'],
    },
  },
  {
    alias: 'orders',
    schema: ordersSchema,
    aggregate: { parent: { prefix: 'ORDER' }, children: { lines: { prefix: 'LINE#' } } },
  },
];
export const SHOP_ALIASES = SHOP_INDEXES.map(({ alias }) => alias);

type Stack = Pick<LocalStack, 'dynamodb' | 'tableName'>;

/** Writes of the shop table: puts of profiles, orders and lines, and deletes, with random types. */
export function shopWriter(stack: Stack, random: () => number) {
  const put = (Item: Record<string, AttributeValue>) =>
    stack.dynamodb.send(new PutItemCommand({ TableName: stack.tableName, Item }));
  const remove = (pk: string, sk: string) =>
    stack.dynamodb.send(
      new DeleteItemCommand({ TableName: stack.tableName, Key: { pk: { S: pk }, sk: { S: sk } } }),
    );
  const pick = <T>(choices: readonly T[]) => choices[Math.floor(random() * choices.length)] as T;
  // Every profile and order carries both `name` and `total`: a valid document of either routed index.
  const profile = (c: number, type: string, revision: number) =>
    put({
      pk: { S: `CUST#${c}` },
      sk: { S: 'PROFILE' },
      type: { S: type },
      name: { S: `customer ${c} r${revision}` },
      total: { N: String(revision) },
    });
  const order = (o: number, type: string, revision: number) =>
    put({
      pk: { S: `ORDER#${o}` },
      sk: { S: 'ORDER' },
      type: { S: type },
      name: { S: `order ${o} r${revision}` },
      total: { N: String(revision * 10 + o) },
    });
  const line = (o: number, l: number, revision: number) =>
    put({
      pk: { S: `ORDER#${o}` },
      sk: { S: `LINE#${String(l).padStart(3, '0')}` },
      type: { S: 'line' },
      sku: { S: `sku-${l}` },
      qty: { N: String(revision) },
    });

  /** One random write: mostly puts (with type changes), some deletes of lines, orders and profiles. */
  const randomWrite = (revision: number) => {
    const roll = random();
    const c = Math.floor(random() * CUSTOMERS);
    const o = Math.floor(random() * ORDERS);
    const l = Math.floor(random() * LINES_PER_ORDER);
    if (roll < 0.05) return remove(`CUST#${c}`, 'PROFILE');
    if (roll < 0.1) return remove(`ORDER#${o}`, 'ORDER');
    if (roll < 0.25) return remove(`ORDER#${o}`, `LINE#${String(l).padStart(3, '0')}`);
    if (roll < 0.4) return profile(c, pick(['customer', 'customer', 'vip', 'lead']), revision);
    if (roll < 0.6) return order(o, pick(['order', 'order', 'quote', 'customer']), revision);
    return line(o, l, revision);
  };

  return {
    /** Every profile, order and three lines each, written at once. */
    seed: () =>
      Promise.all([
        ...Array.from({ length: CUSTOMERS }, (_, c) => profile(c, 'customer', 1)),
        ...Array.from({ length: ORDERS }, (_, o) => order(o, 'order', 1)),
        ...Array.from({ length: ORDERS * 3 }, (_, n) => line(n % ORDERS, Math.floor(n / ORDERS), 1)),
      ]),
    /** Rounds of `perRound` concurrent random writes, revision `firstRevision + round`. */
    churn: async (rounds: number, firstRevision: number, perRound = 20) => {
      for (let round = 0; round < rounds; round++)
        await Promise.all(Array.from({ length: perRound }, () => randomWrite(firstRevision + round)));
    },
    /** One order known to change type twice (orders-flat → customers → orders-flat → customers). */
    flipOrder: async (o: number, revision: number) => {
      for (const [step, type] of ['customer', 'order', 'customer'].entries())
        await order(o, type, revision + step);
    },
  };
}

type Documents = Record<string, Record<string, unknown>>;

/** Each index's exact documents by id, from the table's final items. */
export function expectedDocuments(
  items: readonly Record<string, AttributeValue>[],
): Record<string, Documents> {
  const customers: Documents = {};
  const ordersFlat: Documents = {};
  const partitions = new Map<string, { item: Record<string, AttributeValue>; plain: PlainItem }[]>();
  for (const item of items) {
    const plain = plainItem(item);
    const id = documentId(item, SHOP_KEY_ATTRIBUTES);
    if (plain.type === 'customer' || plain.type === 'vip') customers[id] = { id, ...plain };
    if (plain.type === 'order' && String(plain.sk).startsWith('ORDER')) {
      const { name: _excluded, ...fields } = plain;
      ordersFlat[id] = { id, ...fields };
    }
    partitions.set(String(plain.pk), [...(partitions.get(String(plain.pk)) ?? []), { item, plain }]);
  }
  const orders: Documents = {};
  for (const [pk, members] of partitions) {
    const parent = members.find(({ plain }) => String(plain.sk).startsWith('ORDER'));
    if (parent === undefined) continue;
    const lines = members
      .filter(({ plain }) => String(plain.sk).startsWith('LINE#'))
      .sort((a, b) => bySortKey(String(a.plain.sk), String(b.plain.sk)))
      .map(({ item, plain }) => ({ id: documentId(item, SHOP_KEY_ATTRIBUTES), ...plain }));
    orders[pk] = { id: pk, ...parent.plain, lines };
  }
  return { customers, 'orders-flat': ordersFlat, orders };
}

/** Index vs oracle: expected and missing (lost), present but different (stale), present and unexpected (resurrected). */
export function compareDocuments(expected: Documents, indexed: readonly Record<string, unknown>[]) {
  const actual = new Map(indexed.map((document) => [String(document.id), document]));
  return {
    lost: Object.keys(expected).filter((id) => !actual.has(id)),
    stale: [...actual]
      .filter(([id, doc]) => id in expected && !isDeepStrictEqual(doc, expected[id]))
      .map(([id]) => id),
    resurrected: [...actual.keys()].filter((id) => !(id in expected)),
  };
}

/**
 * Every index holds exactly its oracle's documents (0 lost, 0 stale, 0 resurrected), its `verify` is clean,
 * its DLQ empty; and no AWS call was refused. Each index must also hold something, so an empty one fails.
 */
export async function expectShopIndexesExact(stack: LocalStack) {
  const expected = expectedDocuments(await scanItems(stack.dynamodb, stack.tableName));
  for (const alias of SHOP_ALIASES) {
    const index = stack.indexes[alias];
    if (index === undefined) throw new Error(`the stack has no index ${alias}`);
    const documents = await stack.typesense.exportDocuments(alias);
    const wanted = expected[alias] ?? {};
    expect(Object.keys(wanted).length, alias).toBeGreaterThan(0);
    // The oracle's and verify's findings side by side: a failure then tells the pipeline from the oracle.
    const report = await index.verify();
    const oracle = compareDocuments(wanted, documents);
    for (const id of oracle.stale.slice(0, 3))
      console.info(
        `${alias} ${id} expected ${JSON.stringify(wanted[id])} indexed ${JSON.stringify(documents.find((doc) => doc.id === id))}`,
      );
    expect({
      alias,
      oracle,
      verify: { missing: report.missing, extra: report.extra, stale: report.stale },
    }).toEqual({
      alias,
      oracle: { lost: [], stale: [], resurrected: [] },
      verify: { missing: [], extra: [], stale: [] },
    });
    expect({ alias, deadLetters: await index.drainDeadLetters() }).toEqual({ alias, deadLetters: [] });
  }
  expect(stack.iam.denials).toEqual([]);
  return expected;
}
