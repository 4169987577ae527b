import {
  type AttributeValue,
  BatchWriteItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import { sleep } from './processes.ts';

/** The demo catalogue's collection: the fields search uses; every other attribute is stored too. */
export const productSchema: CollectionSchema = {
  name: 'products',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'brand', type: 'string', facet: true },
    { name: 'category', type: 'string', facet: true },
    { name: 'price', type: 'float' },
    { name: 'stock', type: 'int32' },
    { name: 'tags', type: 'string[]', optional: true },
  ],
};

/** mulberry32: a tiny seeded generator, so a workload can be replayed exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const BRANDS = ['Acme', 'Nordlys', 'Café Crème', 'Żubr & Co', '東京工房', 'Ñandú'];
const CATEGORIES = ['kitchen', 'garden', 'tools', 'outdoor', 'office'];
const NOUNS = [
  'grinder',
  'kettle',
  'trowel',
  'lantern',
  'stapler',
  'hammock',
  'teapot ☕',
  'Schraubenzieher',
];
const TAGS = ['eco', 'sale', 'new', 'bestseller', 'gift', 'ñ', 'ü'];

const pick = <T>(random: () => number, values: readonly T[]): T =>
  values[Math.floor(random() * values.length)] as T;

/** The key of the n-th item: `p-000042`, and for a composite key a sort key `v#3`. */
export function itemKey(keyAttributes: readonly string[], n: number): Record<string, AttributeValue> {
  const key: Record<string, AttributeValue> = {
    [keyAttributes[0] as string]: { S: `p-${String(n).padStart(6, '0')}` },
  };
  if (keyAttributes[1] !== undefined) key[keyAttributes[1]] = { S: `variant|${n % 3}` };
  return key;
}

/** A realistic product item (≈0.5–2 KB): Sets, a Map, a List, Binary, a 23-digit number, unicode. */
export function productItem(
  random: () => number,
  keyAttributes: readonly string[],
  n: number,
  revision: number,
  now: number,
): Record<string, AttributeValue> {
  const tags = [...new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(random, TAGS)))];
  const thumbnail = Buffer.from(Array.from({ length: 16 }, () => Math.floor(random() * 256)));
  return {
    ...itemKey(keyAttributes, n),
    name: { S: `${pick(random, BRANDS)} ${pick(random, NOUNS)} #${n}` },
    brand: { S: pick(random, BRANDS) },
    category: { S: pick(random, CATEGORIES) },
    price: { N: (1 + Math.floor(random() * 50_000) / 100).toFixed(2) },
    stock: { N: String(Math.floor(random() * 500)) },
    tags: { SS: tags },
    sizes: { NS: ['38', '40.5', String(42 + (n % 3))] },
    attributes: {
      M: {
        color: { S: pick(random, ['red', 'green', 'blue', 'grün']) },
        weightKg: { N: (random() * 10).toFixed(3) },
        dimensions: { L: [{ N: '10' }, { N: '20' }, { N: String(revision) }] },
        fragile: { BOOL: random() < 0.2 },
        note: { NULL: true },
      },
    },
    ratings: { L: [{ N: String(1 + Math.floor(random() * 5)) }, { S: 'ok' }, { BOOL: true }] },
    thumbnail: { B: thumbnail },
    serial: { N: `${98_765_432_109_876_543_210n + BigInt(n)}` },
    revision: { N: String(revision) },
    updatedAt: { N: String(now) },
  };
}

/**
 * Bulk-loads `count` items (numbers `first` … `first + count − 1`, revision 1; products unless `itemOf`
 * says otherwise) with BatchWriteItem, 25 per request and `concurrency` requests in flight, retrying
 * unprocessed items.
 */
export async function loadItems(options: {
  dynamodb: DynamoDBClient;
  tableName: string;
  keyAttributes: readonly string[];
  first: number;
  count: number;
  seed?: number;
  concurrency?: number;
  /** The n-th item (default: `productItem`). */
  itemOf?: (random: () => number, n: number) => Record<string, AttributeValue>;
}): Promise<void> {
  const itemOf =
    options.itemOf ??
    ((random: () => number, n: number) => productItem(random, options.keyAttributes, n, 1, Date.now()));
  const random = seededRandom(options.seed ?? 1);
  let next = options.first;
  const end = options.first + options.count;
  const worker = async () => {
    while (next < end) {
      const from = next;
      next = Math.min(end, next + 25);
      let requests = Array.from({ length: next - from }, (_, index) => ({
        PutRequest: { Item: itemOf(random, from + index) },
      }));
      while (requests.length > 0) {
        const result = await options.dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [options.tableName]: requests } }),
        );
        requests = (result.UnprocessedItems?.[options.tableName] ?? []) as typeof requests;
        if (requests.length > 0) await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
}

export interface WorkloadOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  keyAttributes: readonly string[];
  /** Number of distinct keys (the hot key space). */
  keys: number;
  /** Number of operations after the initial inserts. */
  ops: number;
  seed?: number;
  /** Operations per second; unlimited when absent. */
  rate?: number;
  /** Operations in flight at once. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface WorkloadResult {
  inserts: number;
  updates: number;
  deletes: number;
  recreates: number;
  expiries: number;
  total: number;
}

/**
 * Inserts every key, then runs a random mix on the same keys: updates, deletes, re-creates of deleted
 * keys, and "expiries" (deleting items whose `expiresAt` has passed, as DynamoDB TTL does). Per key,
 * operations are issued one after another, so the table's final state is well defined.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const random = seededRandom(options.seed ?? 1);
  const result: WorkloadResult = { inserts: 0, updates: 0, deletes: 0, recreates: 0, expiries: 0, total: 0 };
  // The whole plan draws its keys and rolls before any put draws an item: a seed replays exactly.
  const plan = planOf(options, random, writerOf(options, random), result);
  await runPlan(plan, options, result);
  return result;
}

/** One operation on key `n`. */
export type Step = { n: number; run: () => Promise<void> };

/** Puts and deletes of the workload's items, keeping each key's revision and whether it exists. */
function writerOf(options: WorkloadOptions, random: () => number) {
  const revisions = new Map<number, number>();
  const exists = new Set<number>();
  return {
    exists,
    put: async (n: number) => {
      const revision = (revisions.get(n) ?? 0) + 1;
      revisions.set(n, revision);
      const item = productItem(random, options.keyAttributes, n, revision, Date.now());
      if (random() < 0.1) item.expiresAt = { N: String(Math.floor(Date.now() / 1000) - 60) };
      await options.dynamodb.send(new PutItemCommand({ TableName: options.tableName, Item: item }));
      exists.add(n);
    },
    remove: async (n: number) => {
      await options.dynamodb.send(
        new DeleteItemCommand({ TableName: options.tableName, Key: itemKey(options.keyAttributes, n) }),
      );
      exists.delete(n);
    },
  };
}

/** The inserts of every key, then `ops` random operations, each counted in `result` when it runs. */
function planOf(
  options: WorkloadOptions,
  random: () => number,
  { exists, put, remove }: ReturnType<typeof writerOf>,
  result: WorkloadResult,
): Step[] {
  const plan: Step[] = [];
  for (let n = 0; n < options.keys; n++) {
    plan.push({
      n,
      run: async () => {
        await put(n);
        result.inserts++;
      },
    });
  }
  for (let i = 0; i < options.ops; i++) {
    const n = Math.floor(random() * options.keys);
    const roll = random();
    plan.push({
      n,
      run: async () => {
        if (!exists.has(n)) {
          await put(n);
          result.recreates++;
        } else if (roll < 0.65) {
          await put(n);
          result.updates++;
        } else if (roll < 0.9) {
          await remove(n);
          result.deletes++;
        } else {
          // A TTL-style expiry: the item carried an expiresAt in the past and is now removed.
          await remove(n);
          result.expiries++;
        }
      },
    });
  }
  return plan;
}

/**
 * Runs the plan with `concurrency` workers, one operation per key at a time, at `rate` at most, counting
 * each finished step in `result.total`.
 */
export async function runPlan(
  plan: readonly Step[],
  options: Pick<WorkloadOptions, 'rate' | 'concurrency' | 'onProgress'>,
  result: { total: number },
): Promise<void> {
  const total = plan.length;
  const busyKeys = new Set<number>();
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const step = plan[next++] as Step;
      // One operation per key at a time, so the bookkeeping of which keys exist stays exact.
      while (busyKeys.has(step.n)) await sleep(1);
      busyKeys.add(step.n);
      try {
        await step.run();
      } finally {
        busyKeys.delete(step.n);
      }
      result.total++;
      options.onProgress?.(result.total, total);
      if (options.rate !== undefined) {
        const due = started + (result.total / options.rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
}
