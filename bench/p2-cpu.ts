import type { SQSRecord } from 'aws-lambda';
import type { MarshalledKey } from '../functions/core/change.ts';
import type { PackedMessage } from '../functions/core/pack.ts';
import { processStreamRecords } from '../functions/core/stream-batch.ts';
import { processChangeMessages } from '../functions/core/write-batch.ts';
import { naiveBatcher, naiveWriter } from './naive.ts';
import { median, num, ratio, type Section } from './report.ts';
import { asQueueRecords, KEY_ATTRIBUTES } from './stream.ts';
import { BATCHER_OPTIONS, readFrom, streamWithTable, tens } from './stream-fixture.ts';

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
const VARIANTS = ['oursBatcher', 'naiveBatcher', 'oursWriter', 'naiveWriter'] as const;
type Variant = (typeof VARIANTS)[number];
type Timings = Record<Variant, number[]>;

/** The four cores timed, on in-memory ports; the writers get the messages the batchers produce. */
async function p2Variants({ batches, table }: Fixture) {
  const sent: PackedMessage[] = [];
  const batcherPorts = {
    sendMessages: async (messages: PackedMessage[]) => {
      sent.push(...messages);
      return [];
    },
    sendDeadLetters: async () => undefined,
    now: Date.now,
  };
  let importedBytes = 0;
  const writerPorts = {
    readItems: async (keys: MarshalledKey[]) => readFrom(table, keys),
    importDocuments: async (lines: string[]) => {
      for (const line of lines) importedBytes += line.length;
      return lines.map(() => ({ success: true as const }));
    },
    deleteDocuments: async (ids: string[]) => ids.length,
    sendDeadLetters: async () => undefined,
    now: Date.now,
  };
  const runOursBatcher = async () => {
    sent.length = 0;
    for (const records of batches) await processStreamRecords(records, batcherPorts, BATCHER_OPTIONS);
  };
  await runOursBatcher();
  const sqsBatches: SQSRecord[][] = tens(asQueueRecords(sent));
  const naiveBodies = tens(
    batches.flatMap((records) => naiveBatcher(records, KEY_ATTRIBUTES).map(({ body }) => body)),
  );
  const variants: Record<Variant, () => Promise<void>> = {
    oursBatcher: runOursBatcher,
    naiveBatcher: async () => {
      for (const records of batches) naiveBatcher(records, KEY_ATTRIBUTES);
    },
    oursWriter: async () => {
      for (const records of sqsBatches)
        await processChangeMessages(records, writerPorts, { keyAttributes: KEY_ATTRIBUTES });
    },
    naiveWriter: async () => {
      for (const bodies of naiveBodies) naiveWriter(bodies, 'products');
    },
  };
  return { variants, importedBytes: () => importedBytes };
}

/** Wall and CPU µs per change of each variant, per round. */
async function timeRounds(
  variants: Record<Variant, () => Promise<void>>,
  repetitions: number,
  changes: number,
): Promise<{ timings: Timings; cpuTimings: Timings }> {
  const empty = (): Timings => ({ oursBatcher: [], naiveBatcher: [], oursWriter: [], naiveWriter: [] });
  const timings = empty();
  const cpuTimings = empty();
  // One warm-up round (JIT), then the variants interleaved, so drift in machine load hits all alike.
  for (let round = 0; round <= repetitions; round++) {
    for (const name of VARIANTS) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      await variants[name]();
      const cpu = process.cpuUsage(cpuStarted);
      const micros = ((performance.now() - started) * 1000) / changes;
      if (round > 0) {
        timings[name].push(micros);
        cpuTimings[name].push((cpu.user + cpu.system) / changes);
      }
    }
  }
  return { timings, cpuTimings };
}

const medians = (values: Timings) =>
  Object.fromEntries(Object.entries(values).map(([name, list]) => [name, median(list)])) as Record<
    Variant,
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
