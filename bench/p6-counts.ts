import { Metrics } from '@aws-lambda-powertools/metrics';
import { Template } from 'aws-cdk-lib/assertions';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import type { MarshalledKey } from '../functions/core/change.ts';
import type { LagReading } from '../functions/core/lag-check.ts';
import type { PackedMessage } from '../functions/core/pack.ts';
import { oneQueuePorts, processStreamRecords } from '../functions/core/stream-batch.ts';
import { processChangeMessages } from '../functions/core/write-batch.ts';
import { addBatcherMetrics, addLagMetrics, addWriterMetrics } from '../functions/shared/metrics.ts';
import { defaultStack } from '../test/construct/stacks.ts';
import { consistentReadUnits, itemBytes } from './cost-model.ts';
import { naiveBatcher, naiveWriter } from './naive.ts';
import { asQueueRecords, KEY_ATTRIBUTES } from './stream.ts';
import {
  BATCHER_OPTIONS,
  DEFAULT_BATCHING,
  type Item,
  readFrom,
  streamWithTable,
  tens,
} from './stream-fixture.ts';

/**
 * The counts P6 measures itself: what the default stack deploys (from its synthesized template, so no
 * count is kept by hand) and what the writer does per change (re-reads, their item sizes, Typesense
 * requests, the EMF records the functions log), from the real cores on the benchmarks' stream.
 */

export type Role = 'batcher' | 'writer' | 'resync' | 'lagCheck' | 'ingestionDelay';
const ROLE_IDS: Record<string, Role> = {
  Batcher: 'batcher',
  Writer: 'writer',
  Resync: 'resync',
  LagCheck: 'lagCheck',
  IngestionDelay: 'ingestionDelay',
};

export interface StackFacts {
  functions: { id: string; role: Role | undefined; memoryMb: number; architecture: string }[];
  /** Per alarm: how many metrics it watches (metric math alarms bill each metric) and its resolution. */
  alarms: { id: string; metrics: number; highResolution: boolean }[];
  dashboards: number;
  kmsKeys: number;
  functionUrls: number;
  /** `rate(…)` rules, seconds between runs, by the role of the function they target. */
  schedules: { id: string; role: Role | undefined; seconds: number | undefined }[];
  /** SQS event sources by queue type: idle, each long-polls its queue all month. */
  sqsEventSources: { fifo: number; standard: number };
  tableBillingMode: string;
}

type Resource = { Type: string; Properties?: Record<string, unknown> };

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3_600, day: 86_400 };

function rateSeconds(expression: unknown): number | undefined {
  const match = typeof expression === 'string' ? RATE.exec(expression) : null;
  if (match === null) return undefined;
  return Number(match[1]) * (UNIT_SECONDS[(match[2] as string).replace(/s$/, '')] as number);
}

function sqsEventSources(resources: Record<string, Resource>) {
  const sources = { fifo: 0, standard: 0 };
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const arn = resource.Properties?.EventSourceArn as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const queue = resources[arn?.['Fn::GetAtt']?.[0] ?? ''];
    if (queue?.Type !== 'AWS::SQS::Queue') continue;
    if (queue.Properties?.FifoQueue === true) sources.fifo++;
    else sources.standard++;
  }
  return sources;
}

/** Synthesizes `defaultStack()` (test/construct/stacks.ts: what `cdk synth` deploys) and counts its parts. */
export function stackFacts(): StackFacts {
  const resources = Template.fromStack(defaultStack()).toJSON().Resources as Record<string, Resource>;
  const entries = Object.entries(resources);
  const ofType = (type: string) => entries.filter(([, resource]) => resource.Type === type);
  const roleOf = (id: string) => ROLE_IDS[/^Sync([A-Za-z]+?)[0-9A-F]{8}$/.exec(id)?.[1] ?? ''];
  const functionIds = new Set(ofType('AWS::Lambda::Function').map(([id]) => id));
  const targetRole = (properties: Record<string, unknown> | undefined) => {
    const targets = (properties?.Targets ?? []) as { Arn?: { 'Fn::GetAtt'?: [string, string] } }[];
    const id = targets
      .map((target) => target.Arn?.['Fn::GetAtt']?.[0])
      .find((ref) => functionIds.has(ref ?? ''));
    return id === undefined ? undefined : roleOf(id);
  };
  const table = ofType('AWS::DynamoDB::Table').find(([id]) => id.startsWith('SyncTable'));
  return {
    functions: ofType('AWS::Lambda::Function').map(([id, resource]) => ({
      id,
      role: roleOf(id),
      memoryMb: Number(resource.Properties?.MemorySize ?? 128),
      architecture: ((resource.Properties?.Architectures as string[] | undefined) ?? ['x86_64']).join(','),
    })),
    alarms: ofType('AWS::CloudWatch::Alarm').map(([id, resource]) => {
      const metrics = resource.Properties?.Metrics as { MetricStat?: { Period?: number } }[] | undefined;
      const periods =
        metrics === undefined
          ? [Number(resource.Properties?.Period ?? 60)]
          : metrics.flatMap((query) =>
              query.MetricStat === undefined ? [] : [query.MetricStat.Period ?? 60],
            );
      return { id, metrics: periods.length, highResolution: periods.some((period) => period < 60) };
    }),
    dashboards: ofType('AWS::CloudWatch::Dashboard').length,
    kmsKeys: ofType('AWS::KMS::Key').length,
    functionUrls: ofType('AWS::Lambda::Url').length,
    schedules: ofType('AWS::Events::Rule')
      .filter(([, resource]) => resource.Properties?.ScheduleExpression !== undefined)
      .map(([id, resource]) => ({
        id,
        role: targetRole(resource.Properties),
        seconds: rateSeconds(resource.Properties?.ScheduleExpression),
      })),
    sqsEventSources: sqsEventSources(resources),
    tableBillingMode: String(table?.[1].Properties?.BillingMode ?? 'PROVISIONED'),
  };
}

/** EMF records one function logs: their bytes, and the distinct metric names (one custom metric each). */
export class EmfTally {
  records = 0;
  bytes = 0;
  readonly names = new Set<string>();
  readonly metrics: Metrics;

  constructor(serviceName: string) {
    this.metrics = new Metrics({ namespace: 'TypesenseSync', serviceName });
    // Powertools writes EMF through its own Console; this one keeps the lines instead.
    (this.metrics as unknown as { console: { log(line: string): void } }).console = {
      log: (line: string) => {
        this.records++;
        this.bytes += Buffer.byteLength(line) + 1;
        const record = JSON.parse(line) as { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } };
        for (const { Metrics: defined } of record._aws.CloudWatchMetrics)
          for (const { Name } of defined) this.names.add(Name);
      },
    };
  }

  /** What the `logMetrics` middleware does at the end of each invocation. */
  flush() {
    this.metrics.publishStoredMetrics();
  }
}

/** A service name as long as the deployed ones (`<construct path>-<hash>-<role>`). */
const serviceName = (role: Role) => `Default-Sync-1A2B3C4D-${role}`;

/**
 * The most metrics one lag check emits: every figure known and a re-sync running, so every
 * metric name the lag check can publish is counted (each is billed once it has been published).
 */
export function lagCheckEmf(): EmfCounts {
  const tally = new EmfTally(serviceName('lagCheck'));
  const reading: LagReading = {
    lagMs: 1_500,
    canaryDelayMs: 1_500,
    oldestPendingChangeAgeMs: 0,
    streamIteratorAgeMs: 0,
    dlqDepth: 0,
    circuit: 'closed',
    problems: [],
    measuredAt: new Date(0).toISOString(),
    indexes: [
      {
        alias: 'products',
        lagMs: 1_500,
        canaryDelayMs: 1_500,
        oldestPendingChangeAgeMs: 0,
        dlqDepth: 0,
        resync: { jobId: 'job', phase: 'backfilling', segmentsDone: 1, totalSegments: 4, indexed: 10 },
      },
    ],
  };
  addLagMetrics(tally.metrics, reading);
  tally.flush();
  return emfCounts(tally);
}

/** What P6 prices of a function's EMF: records, bytes, and the metric names (one custom metric each). */
export interface EmfCounts {
  records: number;
  bytes: number;
  names: string[];
}

const emfCounts = (tally: EmfTally): EmfCounts => ({
  records: tally.records,
  bytes: tally.bytes,
  names: [...tally.names].sort(),
});

/** Process CPU time (user + system) per source change, µs: the real cores and the naive anchor's. */
export interface CpuPerChange {
  oursBatcher: number;
  oursWriter: number;
  naiveBatcher: number;
  naiveWriter: number;
}

export interface WriterCounts {
  changes: number;
  batcherInvocations: number;
  /** SendMessageBatch calls the batcher made (≤ 10 messages each; one invocation's run in parallel). */
  sendBatches: number;
  messages: number;
  writerInvocations: number;
  /** Keys the writer re-read (after its own coalescing), and how many had no item (deleted). */
  keysRead: number;
  keysMissing: number;
  batchGetCalls: number;
  /** Strongly consistent read units of those re-reads: each item rounded up to 4 KB. */
  readUnits: number;
  meanItemBytes: number;
  typesenseImports: number;
  /** Documents (JSONL lines) in those imports. */
  importedDocuments: number;
  typesenseDeletes: number;
  /** The naive anchor's Typesense requests: one per source change. */
  naiveTypesenseRequests: number;
  /** Measured over a second pass of the same invocations (the first warms the JIT up). */
  cpuMicrosPerChange: CpuPerChange;
  batcherEmf: EmfCounts;
  writerEmf: EmfCounts;
  /** Mean length of the JSON summary each function logs per invocation (`change batch applied`, …). */
  batcherSummaryBytes: number;
  writerSummaryBytes: number;
}

/**
 * Runs the benchmarks' stream (P1's traffic shape) through the real batcher and writer cores with
 * counting in-memory ports, in the invocations the default stack gets under a backlog (P1's `ours`:
 * up to `BatchSize` records or 6 MB, the default message groups), and counts what the deployed
 * functions would bill for. The cores run twice: the first pass warms up, the second is counted.
 */
export async function writerCounts(changes: number, seed: number): Promise<WriterCounts> {
  // The table after the stream: the writer's consistent re-read answers from it, as in P2.
  const { batches, table } = streamWithTable(changes, 100_000, seed, DEFAULT_BATCHING);
  await runBatcher(batches).then((warm) => runWriter(asQueueRecords(warm.sent), table));
  const batcher = await runBatcher(batches);
  const writer = await runWriter(asQueueRecords(batcher.sent), table);
  const naive = naiveCpuMicros(batches);
  const { counts } = writer;
  const perChange = (micros: number) => micros / changes;
  return {
    changes,
    batcherInvocations: batches.length,
    sendBatches: batcher.sendBatches,
    messages: batcher.sent.length,
    writerInvocations: writer.invocations,
    keysRead: counts.keysRead,
    keysMissing: counts.keysMissing,
    batchGetCalls: counts.batchGetCalls,
    readUnits: counts.readUnits,
    meanItemBytes: counts.items === 0 ? 0 : counts.itemBytes / counts.items,
    typesenseImports: counts.typesenseImports,
    importedDocuments: counts.importedDocuments,
    typesenseDeletes: counts.typesenseDeletes,
    naiveTypesenseRequests: changes,
    cpuMicrosPerChange: {
      oursBatcher: perChange(batcher.cpuMicros),
      oursWriter: perChange(writer.cpuMicros),
      naiveBatcher: perChange(naive.batcher),
      naiveWriter: perChange(naive.writer),
    },
    batcherEmf: emfCounts(batcher.emf),
    writerEmf: emfCounts(writer.emf),
    batcherSummaryBytes: batcher.summaryBytes / batches.length,
    writerSummaryBytes: writer.summaryBytes / Math.max(1, writer.invocations),
  };
}

/** Process CPU µs (user + system) `work` takes. */
async function cpuMicrosOf(work: () => unknown): Promise<number> {
  const started = process.cpuUsage();
  await work();
  const { user, system } = process.cpuUsage(started);
  return user + system;
}

/** The naive anchor on the same invocations: one message per record, one request per message (warmed up once). */
function naiveCpuMicros(batches: readonly DynamoDBRecord[][]) {
  const bodies = () =>
    tens(batches.flatMap((records) => naiveBatcher(records, KEY_ATTRIBUTES).map(({ body }) => body)));
  const write = (tensOfBodies: string[][]) => {
    for (const batch of tensOfBodies) naiveWriter(batch, 'products');
  };
  write(bodies());
  const started = process.cpuUsage();
  for (const records of batches) naiveBatcher(records, KEY_ATTRIBUTES);
  const afterBatcher = process.cpuUsage(started);
  const written = bodies();
  const writerStarted = process.cpuUsage();
  write(written);
  const afterWriter = process.cpuUsage(writerStarted);
  return {
    batcher: afterBatcher.user + afterBatcher.system,
    writer: afterWriter.user + afterWriter.system,
  };
}

/** The batcher core over every invocation: the messages it sends, its CPU time, EMF and summaries' bytes. */
async function runBatcher(batches: readonly DynamoDBRecord[][]) {
  const emf = new EmfTally(serviceName('batcher'));
  const sent: PackedMessage[] = [];
  let summaryBytes = 0;
  let sendBatches = 0;
  let cpuMicros = 0;
  const ports = {
    sendMessages: async (messages: PackedMessage[]) => {
      sendBatches++;
      sent.push(...messages);
      return [];
    },
    sendDeadLetters: async () => undefined,
    now: Date.now,
  };
  for (const records of batches) {
    let summary: Awaited<ReturnType<typeof processStreamRecords>>['summary'] | undefined;
    cpuMicros += await cpuMicrosOf(async () => {
      ({ summary } = await processStreamRecords(records, oneQueuePorts(ports), BATCHER_OPTIONS));
    });
    if (summary === undefined) throw new Error('P6: the batcher core returned no summary');
    summaryBytes += JSON.stringify({ summary }).length;
    addBatcherMetrics(emf.metrics, summary);
    emf.flush();
  }
  return { sent, emf, summaryBytes, sendBatches, cpuMicros };
}

/** The writer's ports on the table, counting the re-reads (and their read units) and the Typesense requests. */
function countingWriterPorts(table: ReadonlyMap<string, Item>) {
  const counts = {
    keysRead: 0,
    keysMissing: 0,
    batchGetCalls: 0,
    readUnits: 0,
    itemBytes: 0,
    items: 0,
    typesenseImports: 0,
    importedDocuments: 0,
    typesenseDeletes: 0,
  };
  const ports = {
    readItems: async (keys: MarshalledKey[]) => {
      counts.keysRead += keys.length;
      counts.batchGetCalls += Math.ceil(keys.length / 100);
      const items = readFrom(table, keys);
      const sizes = items.map(itemBytes);
      counts.keysMissing += keys.length - items.length;
      counts.readUnits += consistentReadUnits([
        ...sizes,
        ...Array(keys.length - items.length).fill(undefined),
      ]);
      counts.itemBytes += sizes.reduce((sum, bytes) => sum + bytes, 0);
      counts.items += items.length;
      return items;
    },
    importDocuments: async (lines: string[]) => {
      counts.typesenseImports++;
      counts.importedDocuments += lines.length;
      return lines.map(() => ({ success: true as const }));
    },
    deleteDocuments: async (ids: string[]) => {
      counts.typesenseDeletes++;
      return ids.length;
    },
    sendDeadLetters: async () => undefined,
    now: Date.now,
  };
  return { ports, counts };
}

/** The writer core over the messages, 10 per invocation: what it counted, its EMF and its summaries' bytes. */
async function runWriter(records: readonly SQSRecord[], table: ReadonlyMap<string, Item>) {
  const emf = new EmfTally(serviceName('writer'));
  const { ports, counts } = countingWriterPorts(table);
  let summaryBytes = 0;
  let cpuMicros = 0;
  // The FIFO event source hands the writer up to 10 messages per invocation (a backlog, as in P1).
  const invocations = tens(records);
  for (const batch of invocations) {
    let summary: Awaited<ReturnType<typeof processChangeMessages>>['summary'] | undefined;
    cpuMicros += await cpuMicrosOf(async () => {
      ({ summary } = await processChangeMessages(batch, ports, { keyAttributes: KEY_ATTRIBUTES }));
    });
    if (summary === undefined) throw new Error('P6: the writer core returned no summary');
    summaryBytes += JSON.stringify({ summary: { ...summary, ingestionDelaysMs: undefined } }).length;
    addWriterMetrics(emf.metrics, summary);
    emf.flush();
  }
  return { counts, emf, summaryBytes, cpuMicros, invocations: invocations.length };
}
