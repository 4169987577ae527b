import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, AttributeValue as LambdaAttributeValue, SQSRecord } from 'aws-lambda';
import type { PackedMessage } from '../functions/core/pack.ts';
import { toLambdaRecord } from '../infra/local/queue-poller.ts';
import { productItem, seededRandom } from '../infra/local/workload.ts';

/** The changes queue the batcher's messages land on, as the writer's event source names it. */
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:items-changes.fifo';

/** The batcher's messages as the writer's event source delivers them (first receive). */
export const asQueueRecords = (sent: readonly PackedMessage[]): SQSRecord[] =>
  sent.map((message, index) =>
    toLambdaRecord(
      {
        MessageId: `m${index}`,
        ReceiptHandle: `r${index}`,
        Body: message.body,
        Attributes: { MessageGroupId: message.groupId, ApproximateReceiveCount: '1' },
      },
      QUEUE_ARN,
      'us-east-1',
    ),
  );

/** The benchmarks' table: a simple key `pk`, with the item clock `updatedAt` the demo uses. */
export const KEY_ATTRIBUTES = ['pk'];
export const TIMESTAMP_ATTRIBUTE = 'updatedAt';
const STREAM_ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/items/stream/2024-01-01T00:00:00.000';

type Item = Record<string, AttributeValue>;

const WORDS = [
  'durable',
  'compact',
  'kettle',
  'steel',
  'grün',
  'ceramic',
  'ergonomic',
  'ñandú',
  'eco',
  'set',
];

/**
 * A catalogue item of about `targetBytes` (marshalled JSON, as a stream image carries it): the demo's
 * product (sets, map, list, binary, a 23-digit number) plus a description, nested variants and
 * reviews, grown until it reaches the target size.
 */
export function realisticItem(random: () => number, n: number, targetBytes: number): Item {
  const text = (words: number) =>
    Array.from({ length: words }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
  const item: Item = {
    ...productItem(random, KEY_ATTRIBUTES, n, 1, 0),
    description: { S: text(40) },
  };
  const variants: AttributeValue[] = [];
  const reviews: AttributeValue[] = [];
  item.variants = { L: variants };
  item.reviews = { L: reviews };
  while (Buffer.byteLength(JSON.stringify(item)) < targetBytes) {
    variants.push({
      M: {
        sku: { S: `SKU-${n}-${variants.length}` },
        price: { M: { eur: { N: (random() * 500).toFixed(2) }, usd: { N: (random() * 550).toFixed(2) } } },
        stock: { N: String(Math.floor(random() * 100)) },
        barcodes: { SS: [`40${n}${variants.length}1`, `40${n}${variants.length}2`] },
      },
    });
    reviews.push({
      M: {
        author: { S: `user-${Math.floor(random() * 1e6)}` },
        stars: { N: String(1 + Math.floor(random() * 5)) },
        text: { S: text(12) },
        verified: { BOOL: random() < 0.5 },
      },
    });
  }
  return item;
}

/**
 * Lambda delivers stream records as JSON: binary as base64 text. The replacer looks at the value before
 * its `toJSON`: a Buffer's would make it `{ type: 'Buffer', data: [...] }`.
 */
function toLambdaImage(item: Item): Record<string, LambdaAttributeValue> {
  return JSON.parse(
    JSON.stringify(item, function (this: Record<string, unknown>, name: string, value: unknown) {
      const original = this[name];
      return original instanceof Uint8Array ? Buffer.from(original).toString('base64') : value;
    }),
  ) as Record<string, LambdaAttributeValue>;
}

export interface ItemTemplate {
  /** As the SDK returns it (the writer's re-read). */
  item: Item;
  /** As a stream image carries it. */
  image: Record<string, LambdaAttributeValue>;
  bytes: number;
  /** JSON bytes of a stream image of it (keys and timestamps have fixed widths, so every copy has these). */
  imageBytes: number;
}

/**
 * Item sizes 1–10 KB, log-uniform (median ≈ 3.2 KB): most catalogue items are small, a few large.
 * Built once as a pool, because generating a million distinct 5 KB items would measure the generator.
 */
export function itemPool(size: number, seed: number): ItemTemplate[] {
  const random = seededRandom(seed);
  return Array.from({ length: size }, (_, n) => {
    const item = realisticItem(random, n, 1024 * 10 ** random());
    const image = toLambdaImage(item);
    const imageBytes = Buffer.byteLength(
      JSON.stringify({ ...image, pk: { S: keyOf(n) }, updatedAt: { N: '0' } }),
    );
    return { item, image, bytes: Buffer.byteLength(JSON.stringify(item)), imageBytes };
  });
}

export const keyOf = (n: number) => `p-${String(n).padStart(7, '0')}`;

/** The template and the current source item of key `n` at the time `now` (what a re-read returns). */
export function itemOf(pool: readonly ItemTemplate[], n: number, now: number): Item {
  const template = pool[n % pool.length] as ItemTemplate;
  return { ...template.item, pk: { S: keyOf(n) }, updatedAt: { N: String(now) } };
}

export interface ChangeStreamOptions {
  changes: number;
  /** Distinct keys; a share of the changes hits a small hot set of them. */
  keys: number;
  hotKeys: number;
  hotShare: number;
  /** Share of changes that delete (the rest are inserts or updates). */
  deleteShare: number;
  /** Records per invocation, as the event source mapping's BatchSize (100 by default). */
  batchSize: number;
  /**
   * Lambda's invocation payload limit: a batch ends before the record that would take its event JSON
   * (`{"Records":[…]}`) past this many bytes. Absent: only `batchSize` counts.
   */
  maxPayloadBytes?: number;
  seed: number;
}

/** `{"Records":[` + `]}` less the comma the first record does not need. */
const EVENT_ENVELOPE_BYTES = Buffer.byteLength('{"Records":[]}') - 1;

/** Event JSON bytes of a record carrying `images` copies of the template's image (and a comma). */
function recordBytes(record: DynamoDBRecord, template: ItemTemplate, images: number): number {
  const withoutImages = {
    ...record,
    dynamodb: { ...record.dynamodb, NewImage: undefined, OldImage: undefined },
  };
  // Each image adds `,"NewImage":` (or OldImage) and its JSON; the timestamp's digits differ by record.
  const imageOverhead = Buffer.byteLength(',"NewImage":') + 13 - 1;
  return (
    Buffer.byteLength(JSON.stringify(withoutImages)) + images * (template.imageBytes + imageOverhead) + 1
  );
}

/** The traffic shape both CPU and SQS benchmarks use: 30% of changes on 100 hot keys, 10% deletes. */
export const TRAFFIC_SHAPE = { hotKeys: 100, hotShare: 0.3, deleteShare: 0.1, batchSize: 100 } as const;

/**
 * Stream records as Lambda delivers them (NEW_AND_OLD_IMAGES), in invocation batches, generated lazily
 * so a million of them never sit in memory at once. Keys follow a hot-set distribution: `hotShare` of
 * the changes go to `hotKeys` keys, the rest uniformly to all. `exists` (one flag per key) tracks which
 * keys exist, so the writer's re-read can be answered as the table would.
 */
export function* changeBatches(
  pool: readonly ItemTemplate[],
  options: ChangeStreamOptions,
  exists = new Uint8Array(options.keys),
): Generator<DynamoDBRecord[]> {
  const random = seededRandom(options.seed);
  const start = 1_700_000_000_000;
  let batch: DynamoDBRecord[] = [];
  let batchBytes = EVENT_ENVELOPE_BYTES;
  for (let i = 0; i < options.changes; i++) {
    const n = Math.floor(random() * (random() < options.hotShare ? options.hotKeys : options.keys));
    const template = pool[n % pool.length] as ItemTemplate;
    const now = start + i;
    const image = { ...template.image, pk: { S: keyOf(n) }, updatedAt: { N: String(now) } };
    const remove = exists[n] === 1 && random() < options.deleteShare;
    const eventName = remove ? 'REMOVE' : exists[n] === 1 ? 'MODIFY' : 'INSERT';
    const record: DynamoDBRecord = {
      eventID: `e${i}`,
      eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: STREAM_ARN,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(now / 1000),
        Keys: { pk: { S: keyOf(n) } },
        ...(remove ? {} : { NewImage: image }),
        ...(eventName === 'INSERT' ? {} : { OldImage: image }),
        // Real sequence numbers are 21+ digit decimals, increasing within a shard.
        SequenceNumber: String(100_000_000_000_000_000_000n + BigInt(i)),
        SizeBytes: template.bytes * (eventName === 'MODIFY' ? 2 : 1),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };
    exists[n] = remove ? 0 : 1;
    const limit = options.maxPayloadBytes;
    const bytes =
      limit === undefined
        ? 0
        : recordBytes(record, template, (remove ? 0 : 1) + (eventName === 'INSERT' ? 0 : 1));
    if (limit !== undefined && batch.length > 0 && batchBytes + bytes > limit) {
      yield batch;
      batch = [];
      batchBytes = EVENT_ENVELOPE_BYTES;
    }
    batch.push(record);
    batchBytes += bytes;
    if (batch.length === options.batchSize) {
      yield batch;
      batch = [];
      batchBytes = EVENT_ENVELOPE_BYTES;
    }
  }
  if (batch.length > 0) yield batch;
}
