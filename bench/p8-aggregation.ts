import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { type AggregateConfig, changeKeyAttributes } from '../functions/contract/aggregate.ts';
import { aggregationOf } from '../functions/core/aggregate.ts';
import { processChangeMessages, type WriterOptions } from '../functions/core/write-batch.ts';
import { seededRandom } from '../infra/local/workload.ts';
import { inMemoryBatcher, inMemoryWriterPorts, medians, timeRounds } from './p2-cpu.ts';
import { asQueueRecords } from './stream.ts';
import { BATCHER_OPTIONS, type Item, tens } from './stream-fixture.ts';

/**
 * P8's aggregation rows: what an aggregated index (one document per order: the order item and an array of
 * its lines, docs/configuration.md "Aggregation") costs the writer per source change, against indexing
 * the same items one document each. Both run the real batcher (the aggregated one keyed by the partition
 * key, as the construct configures it) and the writer core on in-memory ports.
 */

const TABLE_KEY = ['pk', 'sk'];
const ORDERS: AggregateConfig = { parent: { prefix: 'ORDER' }, children: { lines: { prefix: 'LINE#' } } };
const STREAM_ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2024-01-01T00:00:00.000';

/** One order partition: the order item and `lines` line items (~150 bytes each). */
function partitionItems(order: number, lines: number): Item[] {
  const pk = { S: `o-${String(order).padStart(6, '0')}` };
  const parent: Item = { pk, sk: { S: 'ORDER' }, customer: { S: `c-${order % 997}` }, status: { S: 'open' } };
  const children = Array.from(
    { length: lines },
    (_, line): Item => ({
      pk,
      sk: { S: `LINE#${String(line).padStart(4, '0')}` },
      sku: { S: `sku-${(order * 31 + line) % 5000}` },
      title: { S: `Product ${line} of order ${order}` },
      quantity: { N: String(1 + (line % 5)) },
      price: { N: (9.5 + line).toFixed(2) },
    }),
  );
  return [parent, ...children];
}

/** MODIFY records of random items of the table, in invocations of 100, as Lambda delivers a stream. */
function modifyBatches(items: readonly Item[], changes: number, seed: number): DynamoDBRecord[][] {
  const random = seededRandom(seed);
  const records = Array.from({ length: changes }, (_, i): DynamoDBRecord => {
    const item = items[Math.floor(random() * items.length)] as Item;
    const now = 1_700_000_000_000 + i;
    const image = { ...item, updatedAt: { N: String(now) } };
    return {
      eventID: `e${i}`,
      eventName: 'MODIFY',
      eventSource: 'aws:dynamodb',
      eventSourceARN: STREAM_ARN,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(now / 1000),
        Keys: { pk: item.pk, sk: item.sk },
        NewImage: image,
        OldImage: image,
        SequenceNumber: String(100_000_000_000_000_000_000n + BigInt(i)),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      } as DynamoDBRecord['dynamodb'],
    };
  });
  return Array.from({ length: Math.ceil(changes / 100) }, (_, index) =>
    records.slice(index * 100, index * 100 + 100),
  );
}

/** The writer's batches the real batcher makes of `batches`, keyed by `keyAttributes`. */
async function writerBatches(batches: readonly DynamoDBRecord[][], keyAttributes: string[]) {
  const batcher = inMemoryBatcher(batches, { ...BATCHER_OPTIONS, keyAttributes });
  await batcher.run();
  return tens(asQueueRecords(batcher.sent));
}

const itemKey = (item: Item) => `${item.pk?.S}|${item.sk?.S}`;

/** One writer pass over `sqsBatches`, re-reading items (per item) or partitions (aggregated) from `partitions`. */
function writerPass(partitions: ReadonlyMap<string, Item[]>, sqsBatches: SQSRecord[][], aggregated: boolean) {
  const byKey = new Map<string, Item>();
  for (const items of partitions.values()) for (const item of items) byKey.set(itemKey(item), item);
  const writer = inMemoryWriterPorts(byKey);
  writer.ports.readItems = async (keys) =>
    keys.flatMap((key) => {
      const item = byKey.get(itemKey(key));
      return item === undefined ? [] : [item];
    });
  writer.ports.readPartition = async (key, limit) => (partitions.get(key.pk?.S ?? '') ?? []).slice(0, limit);
  const options: WriterOptions = aggregated
    ? { keyAttributes: changeKeyAttributes(TABLE_KEY, ORDERS), aggregation: aggregationOf(TABLE_KEY, ORDERS) }
    : { keyAttributes: TABLE_KEY };
  return {
    counted: writer.counted,
    pass: async () => {
      for (const records of sqsBatches) await processChangeMessages(records, writer.ports, options);
    },
  };
}

export interface AggregationRow {
  linesPerOrder: number;
  perItemCpuUs: number;
  aggregatedCpuUs: number;
  perItemUpserts: number;
  aggregatedUpserts: number;
  aggregatedBytesPerUpsert: number;
}

/** Writer CPU µs per source change, per item and aggregated, for orders of `linesPerOrder` lines. */
export async function measureAggregation(
  linesPerOrder: number,
  { changes, repetitions, seed }: { changes: number; repetitions: number; seed: number },
): Promise<AggregationRow> {
  const orders = Math.max(1, Math.round(10_000 / (linesPerOrder + 1)));
  const partitions = new Map<string, Item[]>();
  for (let order = 0; order < orders; order++) {
    const items = partitionItems(order, linesPerOrder);
    partitions.set(items[0]?.pk?.S ?? '', items);
  }
  const batches = modifyBatches([...partitions.values()].flat(), changes, seed);
  const perItem = writerPass(partitions, await writerBatches(batches, TABLE_KEY), false);
  const aggregatedKey = changeKeyAttributes(TABLE_KEY, ORDERS);
  const aggregated = writerPass(partitions, await writerBatches(batches, aggregatedKey), true);
  const { cpuTimings } = await timeRounds(
    { perItem: perItem.pass, aggregated: aggregated.pass },
    repetitions,
    changes,
  );
  const cpu = medians(cpuTimings);
  for (const [name, { counted }] of Object.entries({ perItem, aggregated }))
    if (counted.deadLetters > 0)
      throw new Error(`P8 aggregation ${name}: ${counted.deadLetters} dead letters`);
  const passes = repetitions + 1;
  return {
    linesPerOrder,
    perItemCpuUs: cpu.perItem,
    aggregatedCpuUs: cpu.aggregated,
    perItemUpserts: perItem.counted.importedLines / passes,
    aggregatedUpserts: aggregated.counted.importedLines / passes,
    aggregatedBytesPerUpsert:
      aggregated.counted.importedBytes / Math.max(1, aggregated.counted.importedLines),
  };
}
