import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import type { LocalIndexOptions } from './stack-options.ts';
import { loadItems, productItem, productSchema, runPlan, type Step, seededRandom } from './workload.ts';

/**
 * The demo's shop (`npm start`): one single-table design table of products and their reviews, synced into
 * three indexes (issue 20): `products` and `reviews`, each entity routed by its sort key to its own
 * collection, and `catalogue`, one document per product with its reviews (an aggregated index).
 */

export const SHOP_KEY_ATTRIBUTES = ['pk', 'sk'];
/** A product's sort key; its reviews' begin with `REVIEW#`. */
export const PRODUCT_SORT_KEY = 'PRODUCT';
export const REVIEW_PREFIX = 'REVIEW#';
/** Review slots per product: `REVIEW#0` … `REVIEW#2`. */
const REVIEW_SLOTS = 3;
/** Item numbers: `n = 4·p` is product p, `4·p + 1 + r` its review slot r. */
const ITEMS_PER_PRODUCT = 1 + REVIEW_SLOTS;

export const reviewSchema: CollectionSchema = {
  name: 'reviews',
  fields: [
    { name: 'title', type: 'string' },
    { name: 'author', type: 'string', facet: true },
    { name: 'rating', type: 'int32', facet: true },
  ],
};

/** The shop's indexes, as `startLocalStack`'s `indexes` (and the construct's) take them. */
export const shopIndexes: LocalIndexOptions[] = [
  {
    alias: 'products',
    schema: productSchema,
    // A product's document is named by its partition key alone (p-000042): the filter pins the sort key.
    projection: { filter: { attribute: 'sk', equals: PRODUCT_SORT_KEY }, id: { attributes: ['pk'] } },
  },
  {
    alias: 'reviews',
    schema: reviewSchema,
    projection: { filter: { attribute: 'sk', beginsWith: REVIEW_PREFIX } },
  },
  {
    alias: 'catalogue',
    schema: { ...productSchema, name: 'catalogue' },
    aggregate: { parent: { prefix: PRODUCT_SORT_KEY }, children: { reviews: { prefix: REVIEW_PREFIX } } },
  },
];

const productNumber = (p: number) => `p-${String(p).padStart(6, '0')}`;

/** The key of item n: product `n / 4` (sort key PRODUCT), or one of its reviews (REVIEW#r). */
export function shopKey(n: number): Record<string, AttributeValue> {
  const slot = n % ITEMS_PER_PRODUCT;
  return {
    pk: { S: productNumber(Math.floor(n / ITEMS_PER_PRODUCT)) },
    sk: { S: slot === 0 ? PRODUCT_SORT_KEY : `${REVIEW_PREFIX}${slot - 1}` },
  };
}

const AUTHORS = ['Ada', 'Bjørn', 'Chloé', 'Dmitri', 'Eşref', 'Fumiko'];
const VERDICTS = ['works as promised', 'too loud', 'great value', 'broke after a week', 'a gift ☕'];

/** Item n at `revision`: a product (`productItem`) or a review (rating, title, author). */
export function shopItem(random: () => number, n: number, revision: number, now: number) {
  const key = shopKey(n);
  if (n % ITEMS_PER_PRODUCT === 0)
    return { ...productItem(random, ['pk'], Math.floor(n / ITEMS_PER_PRODUCT), revision, now), ...key };
  return {
    ...key,
    rating: { N: String(1 + Math.floor(random() * 5)) },
    title: { S: VERDICTS[Math.floor(random() * VERDICTS.length)] as string },
    author: { S: AUTHORS[Math.floor(random() * AUTHORS.length)] as string },
    revision: { N: String(revision) },
    updatedAt: { N: String(now) },
  };
}

/** Product p starts with `p % 3` reviews: some none, some several. */
const initialItems = (p: number) =>
  Array.from({ length: 1 + (p % REVIEW_SLOTS) }, (_, slot) => p * ITEMS_PER_PRODUCT + slot);

/** `--prefill`: products `first` … `first + count − 1`, each with a review per slot, bulk-loaded. */
export async function loadShop(options: {
  dynamodb: DynamoDBClient;
  tableName: string;
  first: number;
  count: number;
}): Promise<void> {
  await loadItems({
    ...options,
    keyAttributes: SHOP_KEY_ATTRIBUTES,
    first: options.first * ITEMS_PER_PRODUCT,
    count: options.count * ITEMS_PER_PRODUCT,
    // Each prefilled product with a review in every slot.
    itemOf: (random, n) => shopItem(random, n, 1, Date.now()),
  });
}

export interface ShopWorkloadResult {
  products: { inserts: number; updates: number; deletes: number; expiries: number; recreates: number };
  reviews: { inserts: number; updates: number; deletes: number };
  total: number;
}

export interface ShopWorkloadOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  /** Distinct products. */
  products: number;
  /** Operations after the initial inserts. */
  ops: number;
  seed?: number;
  rate?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Inserts every product with its initial reviews, then a random mix on the same keys: products updated,
 * deleted (some TTL-style, carrying a past `expiresAt`) and re-created, reviews written, rewritten and
 * deleted. Per item, operations run one after another, so the table's final state is well defined.
 */
export async function runShopWorkload(options: ShopWorkloadOptions): Promise<ShopWorkloadResult> {
  const random = seededRandom(options.seed ?? 1);
  const result: ShopWorkloadResult = {
    products: { inserts: 0, updates: 0, deletes: 0, expiries: 0, recreates: 0 },
    reviews: { inserts: 0, updates: 0, deletes: 0 },
    total: 0,
  };
  const writer = shopWriter(options, random);
  // The whole plan draws its items and rolls before any put draws an item: a seed replays exactly.
  const plan: Step[] = [];
  for (let p = 0; p < options.products; p++)
    for (const n of initialItems(p)) plan.push({ n, run: () => writer.upsert(n, result) });
  for (let i = 0; i < options.ops; i++) {
    const p = Math.floor(random() * options.products);
    // Products take 60 % of the operations, their reviews the rest.
    const n = p * ITEMS_PER_PRODUCT + (random() < 0.6 ? 0 : 1 + Math.floor(random() * REVIEW_SLOTS));
    const roll = random();
    plan.push({ n, run: () => writer.change(n, roll, result) });
  }
  await runPlan(plan, options, result);
  return result;
}

/** Puts and deletes of the shop's items, keeping each item's revision and whether it exists. */
function shopWriter(options: ShopWorkloadOptions, random: () => number) {
  const revisions = new Map<number, number>();
  const exists = new Set<number>();
  const isProduct = (n: number) => n % ITEMS_PER_PRODUCT === 0;
  const put = async (n: number) => {
    const revision = (revisions.get(n) ?? 0) + 1;
    revisions.set(n, revision);
    const item: Record<string, AttributeValue> = shopItem(random, n, revision, Date.now());
    if (isProduct(n) && random() < 0.1) item.expiresAt = { N: String(Math.floor(Date.now() / 1000) - 60) };
    await options.dynamodb.send(new PutItemCommand({ TableName: options.tableName, Item: item }));
    exists.add(n);
  };
  const remove = async (n: number) => {
    await options.dynamodb.send(new DeleteItemCommand({ TableName: options.tableName, Key: shopKey(n) }));
    exists.delete(n);
  };
  /** A first write of n, or a re-creation of it. */
  const upsert = async (n: number, result: ShopWorkloadResult) => {
    const writtenBefore = revisions.has(n);
    await put(n);
    if (!isProduct(n)) result.reviews.inserts++;
    else if (writtenBefore) result.products.recreates++;
    else result.products.inserts++;
  };
  return {
    upsert,
    /** A random change of n: created when absent, else rewritten (65 %) or deleted. */
    async change(n: number, roll: number, result: ShopWorkloadResult) {
      if (!exists.has(n)) return upsert(n, result);
      const counts = isProduct(n) ? result.products : result.reviews;
      if (roll < 0.65) {
        await put(n);
        counts.updates++;
      } else {
        await remove(n);
        // A product whose item carried a past expiresAt is removed as DynamoDB TTL does (roll ≥ 0.9).
        if (isProduct(n) && roll >= 0.9) result.products.expiries++;
        else counts.deletes++;
      }
    },
  };
}
