import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import type { MarshalledKey } from '../functions/core/change.ts';
import type { PackedMessage } from '../functions/core/pack.ts';
import { processStreamRecords } from '../functions/core/stream-batch.ts';
import { processChangeMessages } from '../functions/core/write-batch.ts';
import { naiveBatcher, naiveWriter } from './naive.ts';
import { median, num, ratio, type Section } from './report.ts';
import {
  asQueueRecords,
  changeBatches,
  itemOf,
  itemPool,
  KEY_ATTRIBUTES,
  keyOf,
  TIMESTAMP_ATTRIBUTE,
  TRAFFIC_SHAPE,
} from './stream.ts';

const batcherOptions = {
  keyAttributes: KEY_ATTRIBUTES,
  sourceTimestampAttribute: TIMESTAMP_ATTRIBUTE,
  buckets: 16,
  maxMessageBytes: 262_144,
};

/** Splits into the 10-message batches the FIFO event source hands the writer. */
function tens<T>(values: readonly T[]): T[][] {
  return Array.from({ length: Math.ceil(values.length / 10) }, (_, index) =>
    values.slice(index * 10, index * 10 + 10),
  );
}

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
  const streamOptions = { ...TRAFFIC_SHAPE, changes, keys: 10_000, seed };
  const pool = itemPool(400, seed);
  const exists = new Uint8Array(streamOptions.keys);
  const batches: DynamoDBRecord[][] = [...changeBatches(pool, streamOptions, exists)];
  // The table after the stream: the writer's strongly consistent re-read answers from it.
  const table = new Map<string, Record<string, AttributeValue>>();
  exists.forEach((flag, n) => {
    if (flag === 1) table.set(keyOf(n), itemOf(pool, n, Date.now()));
  });

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
    readItems: async (keys: MarshalledKey[]) =>
      keys.flatMap((key) => {
        const item = table.get(key.pk?.S ?? '');
        return item === undefined ? [] : [item];
      }),
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
    for (const records of batches) await processStreamRecords(records, batcherPorts, batcherOptions);
  };
  await runOursBatcher();
  const sqsBatches: SQSRecord[][] = tens(asQueueRecords(sent));
  const naiveBodies = tens(
    batches.flatMap((records) => naiveBatcher(records, KEY_ATTRIBUTES).map(({ body }) => body)),
  );

  const variants = {
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
  type Variant = keyof typeof variants;
  const timings: Record<Variant, number[]> = {
    oursBatcher: [],
    naiveBatcher: [],
    oursWriter: [],
    naiveWriter: [],
  };
  const cpuTimings: Record<Variant, number[]> = {
    oursBatcher: [],
    naiveBatcher: [],
    oursWriter: [],
    naiveWriter: [],
  };
  // One warm-up round (JIT), then the variants interleaved, so drift in machine load hits all alike.
  for (let round = 0; round <= repetitions; round++) {
    for (const [name, run] of Object.entries(variants) as [Variant, () => Promise<void>][]) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      await run();
      const cpu = process.cpuUsage(cpuStarted);
      const micros = ((performance.now() - started) * 1000) / changes;
      if (round > 0) {
        timings[name].push(micros);
        cpuTimings[name].push((cpu.user + cpu.system) / changes);
      }
    }
  }
  const medians = (values: Record<Variant, number[]>) =>
    Object.fromEntries(Object.entries(values).map(([name, list]) => [name, median(list)])) as Record<
      Variant,
      number
    >;
  const us = medians(timings);
  // This process's CPU time (user + system) over the same rounds: unlike the wall time, it does not
  // grow when other processes share the cores, so the cost model (P6) prices it.
  const cpuUs = medians(cpuTimings);
  const oursTotal = us.oursBatcher + us.oursWriter;
  const naiveTotal = us.naiveBatcher + us.naiveWriter;
  const row = (stage: string, ours: number, naive: number, oursCpu: number, naiveCpu: number) => [
    stage,
    num(ours, 2),
    num(naive, 2),
    ratio(ours, naive),
    num(oursCpu, 2),
    num(naiveCpu, 2),
  ];
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
            oursTotal,
            naiveTotal,
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
