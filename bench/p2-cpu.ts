import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import type { MarshalledKey } from '../functions/core/change.ts';
import type { PackedMessage } from '../functions/core/pack.ts';
import { processStreamRecords } from '../functions/core/stream-batch.ts';
import { processChangeMessages, type WriterPorts } from '../functions/core/write-batch.ts';
import { naiveBatcher, naiveWriter } from './naive.ts';
import { median, num, ratio, type Section } from './report.ts';
import { asQueueRecords, KEY_ATTRIBUTES } from './stream.ts';
import { BATCHER_OPTIONS, type Item, readFrom, streamWithTable, tens } from './stream-fixture.ts';

export interface P2Options {
  changes: number;
  repetitions: number;
  seed: number;
}

/**
 * P2: CPU time per source change of the batcher and writer cores, with in-memory ports, so only the
 * cores' own work is timed: normalise, coalesce, pack (batcher); parse, coalesce, project the re-read
 * item, build the import (writer). Against the naive anchor's per-change message and request.
 */
export async function runP2({ changes, repetitions, seed }: P2Options): Promise<Section> {
  const fixture = streamWithTable(changes, 10_000, seed);
  const { variants, importedBytes } = await p2Variants(fixture);
  const { timings, cpuTimings } = await timeRounds(variants, repetitions, changes);
  // This process's CPU time (user + system) over the same rounds: unlike the wall time, it does not
  // grow when other processes share the cores, so the cost model (P6) prices it.
  const measured = { us: medians(timings), cpuUs: medians(cpuTimings), timings, cpuTimings };
  return p2Section({ changes, repetitions }, fixture, measured, importedBytes());
}

type Fixture = ReturnType<typeof streamWithTable>;
type Variant = 'oursBatcher' | 'naiveBatcher' | 'oursWriter' | 'naiveWriter';
type Timings = Record<Variant, number[]>;

/** The batcher core on in-memory ports: `run` packs the stream into `sent`, the messages SQS would hold. */
export function inMemoryBatcher(batches: readonly DynamoDBRecord[][], options = BATCHER_OPTIONS) {
  const sent: PackedMessage[] = [];
  const ports = {
    sendMessages: async (messages: PackedMessage[]) => {
      sent.push(...messages);
      return [];
    },
    sendDeadLetters: async () => undefined,
    now: Date.now,
  };
  const run = async () => {
    sent.length = 0;
    for (const records of batches) await processStreamRecords(records, ports, options);
  };
  return { sent, run };
}

/**
 * The writer's ports in memory: re-reads answered from `table`, import lines counted (bytes) and
 * acknowledged, deletes acknowledged; nothing leaves the process, so only the writer core is timed.
 */
export function inMemoryWriterPorts(table: ReadonlyMap<string, Item>) {
  const counted = { importedBytes: 0, importedLines: 0, deletedIds: 0, deadLetters: 0 };
  const ports: WriterPorts = {
    readItems: async (keys: MarshalledKey[]) => readFrom(table, keys),
    importDocuments: async (lines: string[]) => {
      counted.importedLines += lines.length;
      for (const line of lines) counted.importedBytes += line.length;
      return lines.map(() => ({ success: true as const }));
    },
    deleteDocuments: async (ids: string[]) => {
      counted.deletedIds += ids.length;
      return ids.length;
    },
    sendDeadLetters: async (letters) => {
      counted.deadLetters += letters.length;
    },
    now: Date.now,
  };
  return { ports, counted };
}

/** The four cores timed, on in-memory ports; the writers get the messages the batchers produce. */
async function p2Variants({ batches, table }: Fixture) {
  const batcher = inMemoryBatcher(batches);
  const writer = inMemoryWriterPorts(table);
  await batcher.run();
  const sqsBatches: SQSRecord[][] = tens(asQueueRecords(batcher.sent));
  const naiveBodies = tens(
    batches.flatMap((records) => naiveBatcher(records, KEY_ATTRIBUTES).map(({ body }) => body)),
  );
  const variants: Record<Variant, () => Promise<void>> = {
    oursBatcher: batcher.run,
    naiveBatcher: async () => {
      for (const records of batches) naiveBatcher(records, KEY_ATTRIBUTES);
    },
    oursWriter: async () => {
      for (const records of sqsBatches)
        await processChangeMessages(records, writer.ports, { keyAttributes: KEY_ATTRIBUTES });
    },
    naiveWriter: async () => {
      for (const bodies of naiveBodies) naiveWriter(bodies, 'products');
    },
  };
  return { variants, importedBytes: () => writer.counted.importedBytes };
}

/**
 * Wall and CPU µs per unit (`units` changes or items per call) of each variant, per round: one warm-up
 * round (JIT), then `repetitions` rounds with the variants interleaved, so drift in machine load hits all
 * alike. The CPU time is this process's (user + system, `process.cpuUsage`), which a loaded machine does
 * not inflate as it does the wall time.
 */
export async function timeRounds<V extends string>(
  variants: Readonly<Record<V, () => Promise<void>>>,
  repetitions: number,
  units: number,
): Promise<{ timings: Record<V, number[]>; cpuTimings: Record<V, number[]> }> {
  const names = Object.keys(variants) as V[];
  const empty = () => Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<V, number[]>;
  const timings = empty();
  const cpuTimings = empty();
  for (let round = 0; round <= repetitions; round++) {
    for (const name of names) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      await variants[name]();
      const cpu = process.cpuUsage(cpuStarted);
      const micros = ((performance.now() - started) * 1000) / units;
      if (round > 0) {
        timings[name].push(micros);
        cpuTimings[name].push((cpu.user + cpu.system) / units);
      }
    }
  }
  return { timings, cpuTimings };
}

export const medians = <V extends string>(values: Record<V, number[]>) =>
  Object.fromEntries(Object.entries<number[]>(values).map(([name, list]) => [name, median(list)])) as Record<
    V,
    number
  >;

const row = (stage: string, ours: number, naive: number, oursCpu: number, naiveCpu: number) => [
  stage,
  num(ours, 2),
  num(naive, 2),
  ratio(ours, naive),
  num(oursCpu, 2),
  num(naiveCpu, 2),
];

function p2Section(
  { changes, repetitions }: { changes: number; repetitions: number },
  { streamOptions, pool }: Fixture,
  {
    us,
    cpuUs,
    timings,
    cpuTimings,
  }: { us: Record<Variant, number>; cpuUs: Record<Variant, number>; timings: Timings; cpuTimings: Timings },
  importedBytes: number,
): Section {
  const averageItem = pool.reduce((sum, { bytes }) => sum + bytes, 0) / pool.length;
  return {
    id: 'P2',
    title: 'CPU per change (µs per source change, median)',
    tables: [
      {
        columns: [
          'core',
          'ours µs/change',
          'naive µs/change',
          'ours ÷ naive',
          'ours CPU µs/change',
          'naive CPU µs/change',
        ],
        rows: [
          row(
            'batcher (stream records → messages)',
            us.oursBatcher,
            us.naiveBatcher,
            cpuUs.oursBatcher,
            cpuUs.naiveBatcher,
          ),
          row(
            'writer (messages → Typesense requests)',
            us.oursWriter,
            us.naiveWriter,
            cpuUs.oursWriter,
            cpuUs.naiveWriter,
          ),
          row(
            'both',
            us.oursBatcher + us.oursWriter,
            us.naiveBatcher + us.naiveWriter,
            cpuUs.oursBatcher + cpuUs.oursWriter,
            cpuUs.naiveBatcher + cpuUs.naiveWriter,
          ),
        ],
      },
    ],
    notes: [
      `${num(changes)} stream changes in invocations of 100 on ${num(streamOptions.keys)} keys (30% on 100 hot keys, ` +
        `10% deletes); items 1–10 KB log-uniform (mean ${num(averageItem / 1024, 1)} KB marshalled) with nested ` +
        'maps, lists, string/number sets, binary and a 23-digit number.',
      `Wall time of each core over the whole stream divided by the source changes; one warm-up round, then ` +
        `the median of ${repetitions} interleaved rounds. Same process, ports in memory (no network). The CPU columns ` +
        "are this process's CPU time (user + system, `process.cpuUsage`) over the same rounds: on a loaded machine the " +
        'wall time also counts waiting for a core, the CPU time does not (it includes garbage collection threads).',
      `Ours: batcher = \`processStreamRecords\` (normalise, coalesce, pack with SHA-256 dedup ids); writer = ` +
        `\`processChangeMessages\` on its messages in batches of 10 (parse, coalesce, project the re-read item, ` +
        `JSONL lines; ${num(importedBytes / 2 ** 20)} MiB of import lines over all rounds). The writer's cost includes ` +
        'the document conversion the naive anchor does in its batcher.',
      'Naive: batcher = one message per record with the document (`projectItem` of the new image, JSON); ' +
        'writer = parse each message and build one request with its document.',
    ],
    data: {
      changes,
      repetitions,
      streamOptions,
      microsPerChange: us,
      cpuMicrosPerChange: cpuUs,
      timings,
      cpuTimings,
    },
  };
}
