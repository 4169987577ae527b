import { readFile } from 'node:fs/promises';
import { DEFAULTS, STREAM_INVOCATION_PAYLOAD_BYTES } from '../functions/contract/limits.ts';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, type PackedMessage } from '../functions/core/pack.ts';
import { oneQueuePorts, processStreamRecords } from '../functions/core/stream-batch.ts';
import { SQS_CHUNK_BYTES, sqsBilledRequests } from './cost-model.ts';
import { naiveBatcher } from './naive.ts';
import { num, ratio, type Section, type Table } from './report.ts';
import {
  type ChangeStreamOptions,
  changeBatches,
  type ItemTemplate,
  itemPool,
  KEY_ATTRIBUTES,
  TIMESTAMP_ATTRIBUTE,
  TRAFFIC_SHAPE,
} from './stream.ts';
import type { WindowLagRun } from './window-lag.ts';

/** SQS bills every request, and each 64 KiB chunk of a request's payload as one more request. */
const CHUNK_BYTES = SQS_CHUNK_BYTES;
const FIFO_USD_PER_MILLION = 0.5;
const MAX_MESSAGE_BYTES = 262_144;
/** Before issue 23: 100 records per invocation (no window), 16 message groups. */
const BEFORE = { batchSize: 100, buckets: 16 } as const;
/** Lambda polls each stream shard about 4 times a second: without a window, what one poll finds. */
const POLL_SECONDS = 0.25;
const PER = 1_000_000;

const chunks = sqsBilledRequests;

/** Requests one side of the queue makes, and what SQS bills for them. */
class Tally {
  messages = 0;
  bytes = 0;
  sends = 0;
  sendChunks = 0;
  receives = 0;
  receiveChunks = 0;
  private receiving = { messages: 0, bytes: 0 };

  send(messageBytes: readonly number[]) {
    const bytes = messageBytes.reduce((sum, size) => sum + size, 0);
    this.sends++;
    this.sendChunks += chunks(bytes);
    for (const size of messageBytes) this.receive(size);
  }

  /**
   * The writer's event source receives up to 10 messages per ReceiveMessage (FIFO maximum) and
   * deletes them with one DeleteMessageBatch. Under a backlog every receive is full; empty long
   * polls cost the same whatever the change volume and are left out.
   */
  private receive(bytes: number) {
    this.messages++;
    this.bytes += bytes;
    this.receiving.messages++;
    this.receiving.bytes += bytes;
    if (this.receiving.messages === MAX_BATCH_ENTRIES) this.flush();
  }

  flush() {
    if (this.receiving.messages === 0) return;
    this.receives++;
    this.receiveChunks += chunks(this.receiving.bytes);
    this.receiving = { messages: 0, bytes: 0 };
  }
}

interface Row {
  variant: string;
  messages: number;
  bytes: number;
  sends: number;
  sendChunks: number;
  receives: number;
  receiveChunks: number;
  /** DeleteMessageBatch: one per receive, receipt handles only (one chunk). */
  deletes: number;
  /**
   * The writer's visibility lease: one ChangeMessageVisibilityBatch per receive when its batch starts
   * (receipt handles only, one chunk); ours takes it by default, the naive anchor and ours before issue
   * 23 do not. Extensions are left out: a batch needs one only when it outlives half a lease.
   */
  leases: number;
}

const rowOf = (variant: string, tally: Tally, scale: number, leased = true): Row => ({
  variant,
  messages: tally.messages * scale,
  bytes: tally.bytes * scale,
  sends: tally.sends * scale,
  sendChunks: tally.sendChunks * scale,
  receives: tally.receives * scale,
  receiveChunks: tally.receiveChunks * scale,
  deletes: tally.receives * scale,
  leases: leased ? tally.receives * scale : 0,
});

const billed = (row: Row) => row.sendChunks + row.receiveChunks + row.deletes + row.leases;

export interface P1Options {
  changes: number;
  seed: number;
}

/** How the batcher gets its records: the event source's batch size, its payload limit, the group count. */
interface Setup {
  batchSize: number;
  buckets: number;
  maxPayloadBytes?: number;
}

interface Measured {
  tally: Tally;
  invocations: number;
  coalesced: number;
}

/** The real batcher core over the generated stream, in the batches `setup` makes; SQS requests tallied. */
async function measure(pool: ItemTemplate[], stream: ChangeStreamOptions, setup: Setup): Promise<Measured> {
  const tally = new Tally();
  let invocations = 0;
  let coalesced = 0;
  const ports = {
    sendMessages: async (messages: PackedMessage[]) => {
      tally.send(messages.map(({ bytes }) => bytes));
      return [];
    },
    sendDeadLetters: async () => undefined,
    now: Date.now,
  };
  const options = {
    keyAttributes: KEY_ATTRIBUTES,
    sourceTimestampAttribute: TIMESTAMP_ATTRIBUTE,
    buckets: setup.buckets,
    maxMessageBytes: MAX_MESSAGE_BYTES,
  };
  const batches = changeBatches(pool, {
    ...stream,
    batchSize: setup.batchSize,
    ...(setup.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: setup.maxPayloadBytes }),
  });
  for (const records of batches) {
    invocations++;
    coalesced += (await processStreamRecords(records, oneQueuePorts(ports), options)).summary.changes;
  }
  tally.flush();
  return { tally, invocations, coalesced };
}

/** The fewest requests that could carry a row's payload: full 64 KiB chunks, full 1 MiB batches. */
function lowerBound(bytes: number): Row {
  return {
    variant: 'lower bound (our bytes ÷ 64 KiB)',
    messages: bytes / MAX_MESSAGE_BYTES,
    bytes,
    sends: bytes / MAX_BATCH_BYTES,
    sendChunks: bytes / CHUNK_BYTES,
    receives: bytes / (MAX_BATCH_ENTRIES * MAX_MESSAGE_BYTES),
    receiveChunks: bytes / CHUNK_BYTES,
    deletes: bytes / (MAX_BATCH_ENTRIES * MAX_MESSAGE_BYTES),
    // Carrying the payload needs no lease.
    leases: 0,
  };
}

const vsBound = (row: Row) => billed(row) / billed(lowerBound(row.bytes));

/** Changes of the comparison rows (naive anchor, other group counts, windows): ratios settle well before. */
const SAMPLE_CHANGES = 200_000;
/** Group counts compared with the default on full batches. */
const GROUP_COUNTS = [16, 8, 4, 2] as const;
/** Source rates and windows of the window table (writes/s on one shard; seconds). */
const RATES = [200, 1_000, 2_000] as const;
const WINDOWS = [0, 1, 2, 5] as const;

/** The naive anchor on `sample`: one SendMessage per change, and the same messages in batches of 10. */
function measureNaive(pool: ItemTemplate[], sample: ChangeStreamOptions) {
  const naive = new Tally();
  const naiveBatched = new Tally();
  for (const records of changeBatches(pool, { ...sample, batchSize: BEFORE.batchSize })) {
    const messages = naiveBatcher(records, KEY_ATTRIBUTES).map(({ bytes }) => bytes);
    for (const bytes of messages) naive.send([bytes]);
    for (let start = 0; start < messages.length; start += MAX_BATCH_ENTRIES)
      naiveBatched.send(messages.slice(start, start + MAX_BATCH_ENTRIES));
  }
  for (const tally of [naive, naiveBatched]) tally.flush();
  return { naive, naiveBatched };
}

/** Everything P1 measures (or reads, for the lag table) before it renders the section. */
async function measureP1({ changes, seed }: P1Options) {
  const stream = { ...TRAFFIC_SHAPE, changes, keys: 100_000, seed };
  const pool = itemPool(400, seed);
  const scale = PER / changes;
  // A backlog: the event source hands over full batches, up to BatchSize or the 6 MB payload.
  const full = (buckets: number): Setup => ({
    batchSize: DEFAULTS.streamBatchSize,
    buckets,
    maxPayloadBytes: STREAM_INVOCATION_PAYLOAD_BYTES,
  });
  const ours = await measure(pool, stream, full(DEFAULTS.messageGroupBuckets));
  const before = await measure(pool, stream, BEFORE);
  // The naive anchor bills per change (one message each), so a sample of the stream scales exactly.
  const sample = { ...stream, changes: Math.min(changes, SAMPLE_CHANGES) };
  const { naive, naiveBatched } = measureNaive(pool, sample);

  const oursRow = rowOf(
    `ours (keys only, coalesced, packed; ${num(DEFAULTS.streamBatchSize)} records ≤ 6 MB, ${DEFAULTS.messageGroupBuckets} groups)`,
    ours.tally,
    scale,
  );
  const boundRow = lowerBound(oursRow.bytes);
  const naiveRow = rowOf('naive (SendMessage per change, full document)', naive, PER / sample.changes, false);
  const naiveBatchedRow = rowOf('naive + SendMessageBatch of 10', naiveBatched, PER / sample.changes, false);
  const beforeRow = rowOf(
    'ours before issue 23 (100 records, 16 groups, no lease)',
    before.tally,
    scale,
    false,
  );
  // Rows 0 and 2 are what P6 prices (ours, naive): keep their places.
  const rows = [oursRow, boundRow, naiveRow, naiveBatchedRow, beforeRow];
  // The default again on the sample, so the group counts compare on the same changes.
  for (const buckets of GROUP_COUNTS) {
    const measured = await measure(pool, sample, full(buckets));
    rows.push(
      rowOf(
        `ours, full batches, ${buckets} groups (first ${num(sample.changes)} changes)`,
        measured.tally,
        PER / sample.changes,
      ),
    );
  }
  const windows = await windowTable(pool, sample);
  const lag = await measuredLag();
  return { changes, stream, scale, ours, before, rows, oursRow, naiveRow, beforeRow, windows, lag };
}

type P1Measured = Awaited<ReturnType<typeof measureP1>>;

/** The main table: each variant's requests and billed chunks per 1M changes, against the bound and the naive anchor. */
function requestsTable(rows: readonly Row[], naiveRow: Row): Table {
  return {
    columns: [
      'variant',
      'messages',
      'payload MiB',
      'send requests',
      'send billed',
      'receives',
      'receive billed',
      'deletes',
      'leases',
      'total billed',
      'USD (FIFO)',
      'vs lower bound',
      'vs naive',
    ],
    rows: rows.map((row) => [
      row.variant,
      num(row.messages),
      num(row.bytes / 2 ** 20),
      num(row.sends),
      num(row.sendChunks),
      num(row.receives),
      num(row.receiveChunks),
      num(row.deletes),
      num(row.leases),
      num(billed(row)),
      `$${num((billed(row) / 1e6) * FIFO_USD_PER_MILLION, 2)}`,
      `${num(vsBound(row), 2)}×`,
      ratio(billed(row), billed(naiveRow)),
    ]),
  };
}

/** How the figures were measured, whether issue 23's goals are met, and the billing rule used. */
function p1Notes({ changes, stream, scale, ours, before, oursRow, beforeRow }: P1Measured): string[] {
  return [
    `Measured on ${num(changes)} generated stream changes${scale === 1 ? '' : ` (scaled ×${num(scale, 1)} to 1M)`}: ` +
      `${num(stream.keys)} keys, ${stream.hotShare * 100}% of changes on ${stream.hotKeys} hot keys, ` +
      `${stream.deleteShare * 100}% deletes, items 1–10 KB; stream records carry both images (≈ ` +
      `${num((STREAM_INVOCATION_PAYLOAD_BYTES * ours.invocations) / changes / 1024, 1)} KiB of event JSON per record on average).`,
    `Ours runs the real batcher core (\`processStreamRecords\`, ${MAX_MESSAGE_BYTES / 1024} KiB messages) on the ` +
      `batches a backlogged event source hands over with the construct's defaults: up to ${num(DEFAULTS.streamBatchSize)} ` +
      `records, but never more than Lambda's 6 MB invocation payload, which ends these batches first ` +
      `(${num(changes / ours.invocations)} records per invocation on average). ` +
      `${num(ours.coalesced * scale)} changes per 1M remain after coalescing, ` +
      `${num((ours.coalesced * scale) / oursRow.messages, 1)} per message (before issue 23: ` +
      `${num((before.coalesced * scale) / beforeRow.messages, 1)}). Messages carry keys only (the writer re-reads the item); ` +
      "the naive anchor's carry the full document.",
    `Goals (issue 23): ≤ 3× the lower bound: ${vsBound(oursRow) <= 3 ? 'met' : 'NOT met'} (${num(vsBound(oursRow), 2)}×, from ` +
      `${num(vsBound(beforeRow), 1)}×); ≤ 1.25×: ${vsBound(oursRow) <= 1.25 ? 'met' : 'NOT met'}. What is left: each stream batch ` +
      'carries ≈ 90 KiB of changes (the 6 MB payload ends it), so its one SendMessageBatch bills 2 chunks for ≈ 1.4 ' +
      "chunks of bytes, and each receive of 10 messages adds a DeleteMessageBatch and the lease's ChangeMessageVisibilityBatch; only fewer groups (2: see its row) " +
      'or smaller stream records (more records per 6 MB) move it closer.',
    "vs lower bound: billed requests ÷ those of the lower bound for the same row's own payload bytes. " +
      'Every stream batch pays a partly filled last 64 KiB chunk in its SendMessageBatch, every receive of 10 ' +
      'messages one in its payload and a DeleteMessageBatch: so the fewer and fuller the messages, the closer to the ' +
      "bound. Fewer message groups make fuller messages but bound the writer's parallelism (one in-flight batch per " +
      'group on a FIFO queue) and let one failing message hold more keys.',
    'Billing rule used: every SQS request is billed, and each 64 KiB chunk of its payload counts as one request ' +
      '(a SendMessageBatch or ReceiveMessage is billed on the total payload of its messages; a 1-byte and a ' +
      `64 KiB payload both cost 1). Price: FIFO $${num(FIFO_USD_PER_MILLION, 2)} per million billed requests (us-east-1, free tier ignored).`,
    `The naive rows, the other group counts and the window table run on the first ${num(Math.min(changes, SAMPLE_CHANGES))} changes ` +
      'of the same stream, scaled to 1M.',
    'Writer side: the event source receives full batches of 10 messages (a backlog) and deletes each batch with ' +
      "one DeleteMessageBatch; our writer takes each batch's visibility lease (the default, a sixth of the queue's " +
      'visibility timeout) with one ChangeMessageVisibilityBatch, which the lower bound does not need; empty long polls ' +
      'are left out because they do not depend on the change volume.',
  ];
}

/**
 * P1: SQS requests and billed 64 KiB chunks per million source changes, for the real batcher core
 * (normalise → coalesce → pack → SendMessageBatch groups) against the naive anchor and the
 * byte-count lower bound of our own payload; then how full batches get at a given rate and window.
 */
export async function runP1(options: P1Options): Promise<Section> {
  const measured = await measureP1(options);
  const { changes, stream, scale, ours, rows, naiveRow, windows, lag } = measured;
  return {
    id: 'P1',
    title: 'SQS efficiency per 1M changes',
    tables: [requestsTable(rows, naiveRow), windows.table, ...(lag === undefined ? [] : [lag.table])],
    notes: [...p1Notes(measured), ...windows.notes, ...(lag === undefined ? [] : lag.notes)],
    data: {
      changes,
      scale,
      invocations: ours.invocations,
      coalesced: ours.coalesced,
      streamOptions: stream,
      defaults: {
        batchSize: DEFAULTS.streamBatchSize,
        windowSeconds: DEFAULTS.streamBatchingWindowSeconds,
        buckets: DEFAULTS.messageGroupBuckets,
      },
      rows,
      windows: windows.data,
    },
  };
}

/**
 * What the batching window does on AWS at a steady source rate on one shard, in the default setup:
 * Lambda invokes when BatchSize records or 6 MB are gathered, or the window has passed; without a
 * window, with what one poll (every ~0.25 s) finds. A change waits between 0 and the time its batch
 * took to close, evenly spread: that is the window's share of the lag (p50 half of it, p99 0.99×),
 * to which the pipeline's own processing time adds. The SQS figures come from the real core.
 */
async function windowTable(pool: ItemTemplate[], stream: ChangeStreamOptions) {
  const rows: string[][] = [];
  const data: Record<string, unknown>[] = [];
  // Records per invocation when the payload limit ends the batch (a backlog), from the generated stream.
  const capped = await measure(pool, stream, {
    batchSize: DEFAULTS.streamBatchSize,
    buckets: DEFAULTS.messageGroupBuckets,
    maxPayloadBytes: STREAM_INVOCATION_PAYLOAD_BYTES,
  });
  const payloadRecords = stream.changes / capped.invocations;
  for (const rate of RATES) {
    for (const window of WINDOWS) {
      const gather = Math.max(window, POLL_SECONDS);
      const records = Math.max(
        1,
        Math.min(DEFAULTS.streamBatchSize, payloadRecords, Math.round(rate * gather)),
      );
      const closesAfter = Math.min(gather, records / rate);
      const measured = await measure(pool, stream, {
        batchSize: records,
        buckets: DEFAULTS.messageGroupBuckets,
        maxPayloadBytes: STREAM_INVOCATION_PAYLOAD_BYTES,
      });
      const row = rowOf('', measured.tally, PER / stream.changes);
      const invocationsPerSecond = rate / (stream.changes / measured.invocations);
      data.push({
        rate,
        window,
        records,
        closesAfter,
        vsBound: vsBound(row),
        billed: billed(row),
        invocationsPerSecond,
      });
      rows.push([
        num(rate),
        window === 0 ? '0 (poll ≈ 0.25 s)' : `${window} s`,
        num(stream.changes / measured.invocations),
        num(invocationsPerSecond, 1),
        num((measured.coalesced * PER) / stream.changes / row.messages, 1),
        num(billed(row)),
        `${num(vsBound(row), 2)}×`,
        num((closesAfter / 2) * 1000),
        num(closesAfter * 0.99 * 1000),
      ]);
    }
  }
  return {
    table: {
      columns: [
        'source writes/s (one shard)',
        'batching window',
        'records per invocation',
        'batcher invocations/s',
        'changes/msg',
        'billed per 1M',
        'vs lower bound',
        'window wait p50 ms',
        'window wait p99 ms',
      ],
      rows,
    },
    notes: [
      `Window table (AWS model, ${DEFAULTS.messageGroupBuckets} groups, batch size ${num(DEFAULTS.streamBatchSize)}): a batch closes when ` +
        `${num(DEFAULTS.streamBatchSize)} records or 6 MB (here ≈ ${num(payloadRecords)} records) are gathered, or the window has passed; ` +
        'with no window Lambda invokes with what one poll of the shard finds (it polls about 4 times a second). ' +
        `The real core packs batches of that many records from the same stream (${num(stream.changes)} changes), and the ` +
        'writer is assumed backlogged (full receives of 10), so billed figures are the cheapest each batch size allows. ' +
        'Window wait = how long a change waits for its batch to close (uniform over the batch): what the window adds to ' +
        'the lag on AWS, before the batcher, the queue and the writer. With ParallelizationFactor > 1 each concurrent ' +
        'batch of a shard gathers on its own (records of one key stay in one batch sequence), so the per-batch fill at a ' +
        'given shard rate is lower by up to that factor.',
    ],
    data,
  };
}

/**
 * The embedded stack's lag per batching window, as bench/window-lag.ts last measured it (it runs the
 * stack once per window, minutes each, so P1 shows its stored figures with their date and command).
 */
async function measuredLag() {
  const text = await readFile(new URL('./window-lag.json', import.meta.url), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const run = JSON.parse(text) as WindowLagRun;
  const rows = run.windows.flatMap(({ windowSeconds, steps }) =>
    steps.map((step) => [
      `${windowSeconds} s`,
      step.targetRate === undefined ? 'unthrottled (source max)' : num(step.targetRate),
      num(step.sourceRate),
      num(step.endToEndRate),
      num(step.p50Ms),
      num(step.p99Ms),
      num(step.maxMs),
      num(step.changesPerMessage, 1),
    ]),
  );
  const drift = run.windows.reduce((sum, window) => sum + window.drift, 0);
  return {
    table: {
      columns: [
        'batching window',
        'target writes/s',
        'source writes/s (achieved)',
        'end-to-end changes/s',
        'lag p50 ms',
        'lag p99 ms',
        'lag max ms',
        'changes/msg',
      ],
      rows,
    },
    notes: [
      `Lag table: measured on the embedded stack by \`${run.command}\` (${run.startedAt}, ${num(run.seconds)} s): P3's steps ` +
        '(the demo workload at 200 and 1,000 writes/s, then as fast as DynamoDB Local takes it) once per batching ' +
        'window, each in a fresh stack whose stream poller gathers batches as the event source mapping does (BatchSize, ' +
        `6 MB, window) with the default ${DEFAULTS.messageGroupBuckets} message groups. Lag = item timestamp → the import that made the ` +
        'document searchable answered. The machine (2 cores) was shared with other work, so the figures are noisy; ' +
        `compare rows of one run. Index matched the table after every window: ${drift === 0 ? 'yes' : `NO (${drift} differences)`}. ` +
        `Lag p99 at 1,000 writes/s with the default ${DEFAULTS.streamBatchingWindowSeconds} s window: ${p99At(run, 1_000)} (goal ≤ 1,500 ms).`,
    ],
  };
}

function p99At(run: WindowLagRun, rate: number): string {
  const window = run.windows.find(
    ({ windowSeconds }) => windowSeconds === DEFAULTS.streamBatchingWindowSeconds,
  );
  const step = window?.steps.find(({ targetRate }) => targetRate === rate);
  return step === undefined ? 'not measured' : `${num(step.p99Ms)} ms`;
}
