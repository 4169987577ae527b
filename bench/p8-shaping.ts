import type { SQSRecord } from 'aws-lambda';
import type { Projection } from '../functions/core/project.ts';
import { buildDocument, type Transform } from '../functions/core/transform.ts';
import { processChangeMessages } from '../functions/core/write-batch.ts';
import { seededRandom } from '../infra/local/workload.ts';
import { inMemoryBatcher, inMemoryWriterPorts, medians, timeRounds } from './p2-cpu.ts';
import { type AggregationRow, measureAggregation } from './p8-aggregation.ts';
import { num, ratio, type Section } from './report.ts';
import { asQueueRecords, KEY_ATTRIBUTES, keyOf, realisticItem } from './stream.ts';
import { type Item, streamWithTable, tens } from './stream-fixture.ts';

/**
 * P8: what the document-shaping rules (issue 20) cost the writer per change, against the plain path:
 * the projection's filter, its mapping (rename, flatten, convert) and an app transform, on the same
 * items, with P2's in-memory ports so only our code is timed; and `buildDocument` alone per item, which
 * is what the re-sync pays per scanned item; and an aggregated index against one document per item
 * (p8-aggregation.ts).
 */

export const SHAPINGS = ['plain', 'filter', 'mapping', 'transform'] as const;
export type ShapingName = (typeof SHAPINGS)[number];

/** The writer's (and the re-sync's) document-shaping options. */
export interface Shaping {
  projection?: Projection;
  transform?: Transform;
}

/** An `and` of three conditions; every item meets the first two, half the keys (the even ones) the last. */
const HALF_FILTER: Projection['filter'] = {
  and: [
    { attribute: 'stock', gte: 0 },
    { attribute: 'createdAt', beginsWith: '20' },
    { attribute: 'status', equals: 'active' },
  ],
};

const MAPPING: Projection = {
  rename: { name: 'title', brand: 'maker' },
  nested: 'flatten',
  convert: { createdAt: 'epochSeconds', legacyId: 'int64' },
};

/** Identity-ish: the mapped document with one computed field. */
const withInStock: Transform = (document) => {
  document.inStock = typeof document.stock === 'number' && document.stock > 0;
  return document;
};

export const SHAPING_OPTIONS: Record<ShapingName, Shaping> = {
  plain: {},
  filter: { projection: { filter: HALF_FILTER } },
  mapping: { projection: MAPPING },
  transform: { projection: MAPPING, transform: withInStock },
};

/**
 * Routing (fan-out): two indexes of one table, each keeping what the other drops (`status` active or
 * draft). Every change reaches both writers, each upserting or deleting its id, so a source change costs
 * the two writer passes together.
 */
export const ROUTES: readonly Shaping[] = [
  { projection: { filter: { attribute: 'status', equals: 'active' } } },
  { projection: { filter: { attribute: 'status', equals: 'draft' } } },
];

type Variant = ShapingName | 'routing';
const VARIANTS: readonly Variant[] = [...SHAPINGS, 'routing'];

/** The indexes a variant writes to: the two routes, or the one index of a shaping. */
const indexesOf = (name: Variant): readonly Shaping[] =>
  name === 'routing' ? ROUTES : [SHAPING_OPTIONS[name]];

const LABELS: Record<Variant, string> = {
  routing: 'routing to 2 indexes (`status` active / draft: each change reaches both writers)',
  plain: 'plain (no projection)',
  filter: 'filter (`and` of 3 conditions, half the keys match)',
  mapping: 'mapping (rename 2, flatten nested maps, ISO date → epochSeconds, numeric string → int64)',
  transform: 'mapping + transform (one computed field)',
};

const CREATED_FROM = Date.parse('2024-01-01T00:00:00.000Z');

/**
 * The item of key `n`: a ~1 KB catalogue item of the bench's generator (nested map `attributes`, lists
 * of maps `variants` and `reviews`, sets, binary) plus what the shapings read: an ISO date, a numeric
 * string and a status that is `active` for the even keys.
 */
export function shapedItem(templates: readonly Item[], n: number, now: number): Item {
  return {
    ...(templates[n % templates.length] as Item),
    pk: { S: keyOf(n) },
    updatedAt: { N: String(now) },
    createdAt: { S: new Date(CREATED_FROM + n * 60_000).toISOString() },
    legacyId: { S: String(4_000_000_000 + n) },
    status: { S: n % 2 === 0 ? 'active' : 'draft' },
  };
}

/**
 * P2's stream (same traffic shape) turned into the writer's SQS batches by the real batcher, and a table
 * of shaped items for the keys that exist after it, which answers the writer's re-reads.
 */
export async function shapingFixture(changes: number, keys: number, seed: number) {
  const { batches, table: plainTable } = streamWithTable(changes, keys, seed);
  const random = seededRandom(seed);
  // ~920 bytes of generated item, plus ~130 of shaping attributes.
  const templates = Array.from({ length: 400 }, (_, n) => realisticItem(random, n, 920));
  const table = new Map<string, Item>();
  for (const key of plainTable.keys())
    table.set(key, shapedItem(templates, Number(key.slice('p-'.length)), CREATED_FROM));
  const batcher = inMemoryBatcher(batches);
  await batcher.run();
  const sqsBatches: SQSRecord[][] = tens(asQueueRecords(batcher.sent));
  return { table, sqsBatches, items: [...table.values()] };
}

type Fixture = Awaited<ReturnType<typeof shapingFixture>>;

/** One pass of the writer core over every batch with `shaping`, on in-memory ports. */
function writerPass({ table, sqsBatches }: Fixture, shaping: Shaping) {
  const writer = inMemoryWriterPorts(table);
  const options = { keyAttributes: KEY_ATTRIBUTES, ...shaping };
  return async () => {
    for (const records of sqsBatches) await processChangeMessages(records, writer.ports, options);
    return writer.counted;
  };
}

/** What one writer pass sends per shaping; a dead letter means the shaping refused an item, and the timing would be void. */
async function writesOf(fixture: Fixture) {
  const writes = {} as Record<Variant, { upserts: number; deletes: number; bytes: number }>;
  for (const name of VARIANTS) {
    const indexes = indexesOf(name);
    const sum = { upserts: 0, deletes: 0, bytes: 0 };
    for (const shaping of indexes) {
      const counted = await writerPass(fixture, shaping)();
      if (counted.deadLetters > 0)
        throw new Error(`P8 ${name}: the writer dead-lettered ${counted.deadLetters} changes`);
      sum.upserts += counted.importedLines;
      sum.deletes += counted.deletedIds;
      sum.bytes += counted.importedBytes;
    }
    writes[name] = sum;
  }
  return writes;
}

export interface P8Options {
  changes: number;
  repetitions: number;
  seed: number;
}

export async function runP8({ changes, repetitions, seed }: P8Options): Promise<Section> {
  const fixture = await shapingFixture(changes, 10_000, seed);
  const writes = await writesOf(fixture);
  const writers = {} as Record<Variant, () => Promise<void>>;
  const builders = {} as Record<Variant, () => Promise<void>>;
  let built = 0; // Read after the rounds, so no build is ever dead code to the JIT.
  // As many builds as changes, cycling over the items: one pass over them alone is short enough for a
  // garbage collection to double a round.
  const builds = Math.max(changes, fixture.items.length);
  for (const name of VARIANTS) {
    const indexes = indexesOf(name);
    const passes = indexes.map((shaping) => writerPass(fixture, shaping));
    writers[name] = async () => {
      for (const pass of passes) await pass();
    };
    builders[name] = async () => {
      for (let n = 0; n < builds; n++) {
        const item = fixture.items[n % fixture.items.length] as Item;
        for (const { projection, transform } of indexes)
          if (buildDocument(item, KEY_ATTRIBUTES, projection, transform) !== undefined) built++;
      }
    };
  }
  const writer = await timeRounds(writers, repetitions, changes);
  const builder = await timeRounds(builders, repetitions, builds);
  const aggregation = [];
  for (const lines of [10, 100])
    aggregation.push(await measureAggregation(lines, { changes, repetitions, seed }));
  const measured = {
    writerCpuUs: medians(writer.cpuTimings),
    buildCpuUs: medians(builder.cpuTimings),
    writerUs: medians(writer.timings),
    buildUs: medians(builder.timings),
  };
  return p8Section({ changes, repetitions, built }, fixture, writes, measured, aggregation, {
    writer,
    builder,
  });
}

type Medians = Record<'writerCpuUs' | 'buildCpuUs' | 'writerUs' | 'buildUs', Record<Variant, number>>;

function p8Section(
  run: { changes: number; repetitions: number; built: number },
  { items, sqsBatches }: Fixture,
  writes: Awaited<ReturnType<typeof writesOf>>,
  measured: Medians,
  aggregation: readonly AggregationRow[],
  rounds: unknown,
): Section {
  const { writerCpuUs, buildCpuUs } = measured;
  const averageItem =
    items.reduce((sum, item) => sum + Buffer.byteLength(JSON.stringify(item)), 0) / items.length;
  return {
    id: 'P8',
    title: 'Writer CPU per change with the document-shaping rules (µs, median)',
    tables: [
      {
        columns: [
          'shaping',
          'writer CPU µs/change',
          'writer ÷ plain',
          '`buildDocument` CPU µs/item',
          '`buildDocument` ÷ plain',
          'upserts / deletes per pass',
        ],
        rows: VARIANTS.map((name) => [
          LABELS[name],
          num(writerCpuUs[name], 2),
          ratio(writerCpuUs[name], writerCpuUs.plain),
          num(buildCpuUs[name], 2),
          ratio(buildCpuUs[name], buildCpuUs.plain),
          `${num(writes[name].upserts)} / ${num(writes[name].deletes)}`,
        ]),
      },
      aggregationTable(aggregation),
    ],
    notes: [
      `${num(run.changes)} stream changes on 10,000 keys with P2's traffic shape (30% on 100 hot keys, 10% deletes), ` +
        `packed by the real batcher into ${num(sqsBatches.length)} writer batches of 10 messages; the table answering ` +
        `the re-reads holds ${num(items.length)} items of ${num(averageItem)} bytes on average (marshalled JSON; the ` +
        "bench's catalogue item with nested map `attributes`, lists of maps, sets, binary) with an ISO date `createdAt`, " +
        'a numeric string `legacyId` and a `status` that is `active` for the even keys.',
      `Writer: \`processChangeMessages\` with P2's in-memory ports (re-reads from the table, imports counted) over the ` +
        `whole stream, per source change; \`buildDocument\` alone: ${num(run.changes)} builds cycling over the table's items, per item (the re-sync's ` +
        'per-item shaping; its JSON line and import are not included). Process CPU time (user + system, ' +
        `\`process.cpuUsage\`, GC threads included); one warm-up round, then the median of ${run.repetitions} interleaved rounds.`,
      `Filter: \`${JSON.stringify(HALF_FILTER)}\` (a filtered-out item becomes a delete). Mapping: ` +
        `\`${JSON.stringify(MAPPING)}\`. Transform: sets \`inStock\` from \`stock\` and returns the document; the ` +
        "writer then checks the transform's answer is JSON (a walk of the whole document).",
      'Routing: the writer core once per index (two passes over the same batches, each with its own ports), as ' +
        "the batcher's fan-out delivers every change to every index's queue; a change an index's filter drops becomes " +
        "a delete of its id there. Each upserts / deletes figure sums the indexes' writes.",
      `Aggregation (second table): orders of 10 and 100 lines in one table keyed \`pk\`, \`sk\` (~10,000 items), ` +
        `${num(run.changes)} MODIFY records of random items through the real batcher and the writer core; per item: ` +
        'every item its own document (BatchGetItem re-read); aggregated: `aggregate: ' +
        `${JSON.stringify({ parent: { prefix: 'ORDER' }, children: { lines: { prefix: 'LINE#' } } })}\`, the batcher keyed ` +
        'by the partition key, one re-read Query of the whole order per changed order and batch. CPU per source change.',
    ],
    data: { ...run, averageItemBytes: averageItem, writes, ...measured, aggregation, rounds },
  };
}

function aggregationTable(rows: readonly AggregationRow[]) {
  return {
    columns: [
      'lines per order',
      'per item: writer CPU µs/change',
      'aggregated: writer CPU µs/change',
      'aggregated ÷ per item',
      'upserts per pass (per item / aggregated)',
      'aggregated document bytes',
    ],
    rows: rows.map((row) => [
      num(row.linesPerOrder),
      num(row.perItemCpuUs, 2),
      num(row.aggregatedCpuUs, 2),
      ratio(row.aggregatedCpuUs, row.perItemCpuUs),
      `${num(row.perItemUpserts)} / ${num(row.aggregatedUpserts)}`,
      num(row.aggregatedBytesPerUpsert),
    ]),
  };
}
