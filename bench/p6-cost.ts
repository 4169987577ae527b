import {
  type CostLine,
  gbSeconds,
  LAMBDA_MB_PER_VCPU,
  line,
  MONTH_DAYS,
  MONTH_HOURS,
  PRICES,
  type PriceName,
  scanReadUnits,
  total,
} from './cost-model.ts';
import {
  type EmfTally,
  lagCheckEmf,
  type Role,
  type StackFacts,
  stackFacts,
  type WriterCounts,
  writerCounts,
} from './p6-counts.ts';
import { ASSUMPTIONS, type P1Figures, type P2Figures } from './p6-inputs.ts';
import { num, type Section, type Table } from './report.ts';

/**
 * P6: AWS cost per million source changes and per idle month of the default stack, computed from
 * counts the benchmarks measure (P1: SQS billed requests and invocations; P2: CPU per change; P6's own
 * run of the cores: re-reads, their sizes, Typesense requests, EMF records) and from the synthesized
 * template (functions, memory, alarms, dashboard, schedules). Prices: ONE table, `PRICES`.
 */

export type { P1Figures, P2Figures } from './p6-inputs.ts';

const PER = 1_000_000;
const MONTH_MINUTES = MONTH_DAYS * 24 * 60;
const MONTH_SECONDS = MONTH_MINUTES * 60;

function memoryOf(facts: StackFacts, role: Role): number {
  const fn = facts.functions.find((candidate) => candidate.role === role);
  if (fn === undefined) throw new Error(`P6: the default stack has no ${role} function`);
  return fn.memoryMb;
}

/** A function's duration: the cores' CPU time at the memory's vCPU share, plus the I/O it waits on. */
const durationMs = (cpuMs: number, memoryMb: number, ioMs: number) =>
  cpuMs * (LAMBDA_MB_PER_VCPU / Math.min(memoryMb, LAMBDA_MB_PER_VCPU)) + ioMs;

const logGb = (invocations: number, bytesPerInvocation: number) =>
  (invocations * bytesPerInvocation) / 2 ** 30;

interface PerMillion {
  ours: CostLine[];
  naive: CostLine[];
  durations: { batcher: number; writer: number; naiveBatcher: number; naiveWriter: number };
}

/** What the per-1M lines are computed from: invocations, durations and memory, P1's billed requests. */
interface PerMillionBasis {
  w: WriterCounts;
  scale: number;
  durations: PerMillion['durations'];
  batcherMb: number;
  writerMb: number;
  batcherInvocations: number;
  writerInvocations: number;
  naiveWriterInvocations: number;
  oursBilled: number;
  naiveBilled: number;
}

function perMillion(p1: P1Figures, p2: P2Figures, w: WriterCounts, facts: StackFacts): PerMillion {
  const [oursRow, , naiveRow] = p1.rows;
  if (oursRow === undefined || naiveRow === undefined)
    throw new Error('P6: P1 results lack the ours/naive rows');
  const billed = (row: typeof oursRow) => row.sendChunks + row.receiveChunks + row.deletes;
  const us = p2.cpuMicrosPerChange ?? p2.microsPerChange;
  const batcherMb = memoryOf(facts, 'batcher');
  const writerMb = memoryOf(facts, 'writer');
  const batcherInvocations = p1.invocations * p1.scale;
  const writerInvocations = oursRow.receives;
  const naiveWriterInvocations = naiveRow.receives;
  // P2's µs are per source change, so a function's CPU per invocation is µs × 1M ÷ its invocations.
  const cpuMs = (micros: number, invocations: number) => (micros * PER) / 1000 / invocations;
  const durations = {
    batcher: durationMs(cpuMs(us.oursBatcher, batcherInvocations), batcherMb, ASSUMPTIONS.sqsSendMs),
    writer: durationMs(
      cpuMs(us.oursWriter, writerInvocations),
      writerMb,
      ASSUMPTIONS.dynamodbReadMs + ASSUMPTIONS.typesenseImportMs,
    ),
    naiveBatcher: durationMs(cpuMs(us.naiveBatcher, batcherInvocations), batcherMb, ASSUMPTIONS.sqsSendMs),
    naiveWriter: durationMs(
      cpuMs(us.naiveWriter, naiveWriterInvocations),
      writerMb,
      ASSUMPTIONS.typesenseRequestMs,
    ),
  };
  const basis: PerMillionBasis = {
    w,
    scale: PER / w.changes,
    durations,
    batcherMb,
    writerMb,
    batcherInvocations,
    writerInvocations,
    naiveWriterInvocations,
    oursBilled: billed(oursRow),
    naiveBilled: billed(naiveRow),
  };
  return { ours: oursPerMillion(basis), naive: naivePerMillion(basis), durations };
}

function oursPerMillion(basis: PerMillionBasis): CostLine[] {
  const { w, scale, durations, batcherMb, writerMb, batcherInvocations, writerInvocations } = basis;
  const logBytes = (summaryBytes: number) =>
    ASSUMPTIONS.platformLogBytes + ASSUMPTIONS.logLineOverheadBytes + summaryBytes;
  const emfPerInvocation = (emf: WriterCounts['batcherEmf'], invocations: number) =>
    (emf.bytes * scale) / invocations;
  return [
    line(
      'SQS FIFO billed requests (P1: send + receive chunks + deletes)',
      basis.oursBilled,
      'sqsFifoRequest',
    ),
    line('Lambda requests: batcher (P1 invocations)', batcherInvocations, 'lambdaRequest'),
    line('Lambda requests: writer (P1 receives of 10 messages)', writerInvocations, 'lambdaRequest'),
    line(
      `Lambda GB-s: batcher, ${num(durations.batcher, 1)} ms × ${batcherMb} MB`,
      batcherInvocations * gbSeconds(batcherMb, durations.batcher),
      'lambdaArmGbSecond',
    ),
    line(
      `Lambda GB-s: writer, ${num(durations.writer, 1)} ms × ${writerMb} MB`,
      writerInvocations * gbSeconds(writerMb, durations.writer),
      'lambdaArmGbSecond',
    ),
    line(
      `DynamoDB RRU: writer's consistent BatchGetItem re-reads (${num(w.keysRead * scale)} keys, mean item ${num(w.meanItemBytes)} B)`,
      w.readUnits * scale,
      'dynamodbReadRequestUnit',
    ),
    line(
      "DynamoDB RRU: writer's re-sync pointer GetItem, 1 per invocation",
      writerInvocations,
      'dynamodbReadRequestUnit',
    ),
    line(
      'DynamoDB Streams GetRecords by the batcher trigger (≥ 1 per invocation)',
      batcherInvocations,
      'dynamodbStreamsReadByLambda',
    ),
    line(
      'CloudWatch Logs GB: batcher (platform lines, summary line, EMF)',
      logGb(
        batcherInvocations,
        logBytes(w.batcherSummaryBytes) + emfPerInvocation(w.batcherEmf, batcherInvocations),
      ),
      'cloudwatchLogsIngestedGb',
    ),
    line(
      'CloudWatch Logs GB: writer (platform lines, summary line, EMF with 1 IngestionDelay value per change)',
      logGb(
        writerInvocations,
        logBytes(w.writerSummaryBytes) + emfPerInvocation(w.writerEmf, writerInvocations),
      ),
      'cloudwatchLogsIngestedGb',
    ),
  ];
}

function naivePerMillion(basis: PerMillionBasis): CostLine[] {
  const { durations, batcherMb, writerMb, batcherInvocations, naiveWriterInvocations } = basis;
  return [
    line('SQS FIFO billed requests (P1 naive: SendMessage per change)', basis.naiveBilled, 'sqsFifoRequest'),
    line('Lambda requests: batcher', batcherInvocations, 'lambdaRequest'),
    line('Lambda requests: writer (10 messages per invocation)', naiveWriterInvocations, 'lambdaRequest'),
    line(
      `Lambda GB-s: batcher, ${num(durations.naiveBatcher, 1)} ms × ${batcherMb} MB`,
      batcherInvocations * gbSeconds(batcherMb, durations.naiveBatcher),
      'lambdaArmGbSecond',
    ),
    line(
      `Lambda GB-s: writer, ${num(durations.naiveWriter, 1)} ms × ${writerMb} MB`,
      naiveWriterInvocations * gbSeconds(writerMb, durations.naiveWriter),
      'lambdaArmGbSecond',
    ),
    line(
      'CloudWatch Logs GB: platform lines only',
      logGb(batcherInvocations + naiveWriterInvocations, ASSUMPTIONS.platformLogBytes),
      'cloudwatchLogsIngestedGb',
    ),
  ];
}

/** CloudWatch's fixed part: one custom metric per EMF name and service, the template's alarms and dashboard. */
function observabilityMonth(facts: StackFacts, w: WriterCounts, lag: EmfTally): CostLine[] {
  const customMetrics = w.batcherEmf.names.length + w.writerEmf.names.length + lag.names.size;
  const alarmMetrics = (highResolution: boolean) =>
    facts.alarms
      .filter((alarm) => alarm.highResolution === highResolution)
      .reduce((sum, alarm) => sum + alarm.metrics, 0);
  return [
    line(
      `CloudWatch custom metrics (EMF names × service: ${customMetrics})`,
      customMetrics,
      'cloudwatchCustomMetric',
    ),
    line(
      `CloudWatch alarms, standard resolution (${facts.alarms.length} alarms in the template)`,
      alarmMetrics(false),
      'cloudwatchAlarmMetric',
    ),
    line('CloudWatch alarms, high resolution', alarmMetrics(true), 'cloudwatchHighResAlarmMetric'),
    line('CloudWatch dashboard (counted as beyond the free 3)', facts.dashboards, 'cloudwatchDashboard'),
  ];
}

/** The lag check's and its canary's Lambda and SQS lines, and the event sources' idle long polls. */
function lambdaAndQueueMonth(facts: StackFacts, lagRuns: number): CostLine[] {
  const a = ASSUMPTIONS.lagCheck;
  // Each canary is one change through the pipeline: one batcher and one writer invocation, one
  // message sent, received and deleted, and the writer's two reads (the canary, the re-sync pointer).
  const canaryBatcherMs = durationMs(0, memoryOf(facts, 'batcher'), ASSUMPTIONS.sqsSendMs);
  const canaryWriterMs = durationMs(
    0,
    memoryOf(facts, 'writer'),
    ASSUMPTIONS.dynamodbReadMs + ASSUMPTIONS.typesenseImportMs,
  );
  const pollsPerSource = ASSUMPTIONS.idlePollersPerQueue * (MONTH_SECONDS / ASSUMPTIONS.longPollSeconds);
  return [
    line(`Lambda requests: lag check (${num(lagRuns)} scheduled runs)`, lagRuns, 'lambdaRequest'),
    line(
      `Lambda GB-s: lag check, ${num(ASSUMPTIONS.lagCheckMs)} ms × ${memoryOf(facts, 'lagCheck')} MB`,
      lagRuns * gbSeconds(memoryOf(facts, 'lagCheck'), ASSUMPTIONS.lagCheckMs),
      'lambdaArmGbSecond',
    ),
    line('Lambda requests: canary through batcher and writer', 2 * lagRuns, 'lambdaRequest'),
    line(
      `Lambda GB-s: canary (batcher ${num(canaryBatcherMs)} ms, writer ${num(canaryWriterMs)} ms)`,
      lagRuns *
        (gbSeconds(memoryOf(facts, 'batcher'), canaryBatcherMs) +
          gbSeconds(memoryOf(facts, 'writer'), canaryWriterMs)),
      'lambdaArmGbSecond',
    ),
    line(
      'SQS FIFO: canary send, receive, delete + lag check DLQ depth',
      lagRuns * (3 + a.queueAttributeRequests),
      'sqsFifoRequest',
    ),
    line(
      `SQS idle long polls: ${facts.sqsEventSources.fifo} FIFO event source × ${ASSUMPTIONS.idlePollersPerQueue} pollers`,
      facts.sqsEventSources.fifo * pollsPerSource,
      'sqsFifoRequest',
    ),
    line(
      `SQS idle long polls: ${facts.sqsEventSources.standard} standard event source × ${ASSUMPTIONS.idlePollersPerQueue} pollers`,
      facts.sqsEventSources.standard * pollsPerSource,
      'sqsStandardRequest',
    ),
  ];
}

/** The lag check's DynamoDB and CloudWatch lines, and the services the stack keeps all month. */
function storageAndServicesMonth(
  facts: StackFacts,
  w: WriterCounts,
  lag: EmfTally,
  lagRuns: number,
): CostLine[] {
  const a = ASSUMPTIONS.lagCheck;
  const logBytes = ASSUMPTIONS.platformLogBytes + ASSUMPTIONS.logLineOverheadBytes;
  const emfBytes =
    w.batcherEmf.bytes / w.batcherEmf.records +
    w.writerEmf.bytes / w.writerEmf.records +
    lag.bytes / lag.records;
  return [
    line(
      'DynamoDB WRU: canary write + lag reading',
      lagRuns * (a.canaryWrites + a.stateWrites),
      'dynamodbWriteRequestUnit',
    ),
    line(
      'DynamoDB RRU: canary re-read, re-sync pointer, lag check state reads',
      lagRuns * (2 + a.stateReads),
      'dynamodbReadRequestUnit',
    ),
    line(
      'CloudWatch GetMetricData metrics (lag check)',
      lagRuns * a.getMetricDataMetrics,
      'cloudwatchGetMetricDataMetric',
    ),
    line(
      'CloudWatch Logs GB: 3 invocations per run (platform, log line, EMF)',
      logGb(lagRuns, 3 * logBytes + emfBytes),
      'cloudwatchLogsIngestedGb',
    ),
    line('Secrets Manager secret (the Typesense API key)', 1, 'secretsManagerSecret'),
    line(
      `Secrets Manager GetSecretValue (${ASSUMPTIONS.idleSecretReaders} warm readers, ${ASSUMPTIONS.secretTtlSeconds} s cache)`,
      (ASSUMPTIONS.idleSecretReaders * MONTH_SECONDS) / ASSUMPTIONS.secretTtlSeconds,
      'secretsManagerApiCall',
    ),
    line(`KMS customer managed keys in the template`, facts.kmsKeys, 'kmsKey'),
    line(
      `Function URL (${facts.functionUrls} in the template; not called when idle)`,
      facts.functionUrls,
      'functionUrl',
    ),
    line(`EventBridge scheduled rules (${facts.schedules.length})`, lagRuns, 'eventBridgeScheduledRule'),
  ];
}

function idleMonth(facts: StackFacts, w: WriterCounts): CostLine[] {
  const lagRuns = facts.schedules
    .filter((schedule) => schedule.role === 'lagCheck' && schedule.seconds !== undefined)
    .reduce((sum, schedule) => sum + MONTH_SECONDS / (schedule.seconds as number), 0);
  const lag = lagCheckEmf();
  // What the lag check costs each month: its runs, its canary through the pipeline, and the rest it keeps alive.
  return [
    ...observabilityMonth(facts, w, lag),
    ...lambdaAndQueueMonth(facts, lagRuns),
    ...storageAndServicesMonth(facts, w, lag, lagRuns),
  ];
}

const gbShare = (lines: readonly CostLine[]) =>
  total(lines.filter((entry) => entry.price === 'lambdaArmGbSecond'));
const usd = (value: number) =>
  value === 0 ? '$0' : value < 0.01 ? `$${value.toPrecision(2)}` : `$${num(value, 2)}`;
/** Small unit prices per million, as AWS states them. */
const unitPrice = (value: number) =>
  value !== 0 && value < 0.001
    ? `$${Number((value * 1e6).toPrecision(6))} per 1M`
    : `$${Number(value.toPrecision(6))}`;
const count = (value: number) => (value >= 100 || Number.isInteger(value) ? num(value) : num(value, 2));

const billTable = (lines: CostLine[], label: string): Table => ({
  columns: [label, 'count', 'unit', 'USD'],
  rows: [
    ...lines.map((entry) => [entry.item, count(entry.count), PRICES[entry.price].unit, usd(entry.usd)]),
    ['**total**', '', '', `**${usd(total(lines))}**`],
  ],
});

export interface P6Options {
  changes: number;
  seed: number;
  p1: P1Figures;
  p2: P2Figures;
}

export async function runP6({ changes, seed, p1, p2 }: P6Options): Promise<Section> {
  const facts = stackFacts();
  const w = await writerCounts(changes, seed);
  const { ours, naive, durations } = perMillion(p1, p2, w, facts);
  const idle = idleMonth(facts, w);
  const prices = Object.entries(PRICES) as [PriceName, (typeof PRICES)[PriceName]][];
  return {
    id: 'P6',
    title: 'AWS cost per 1M changes and per idle month (default stack, us-east-1)',
    tables: [
      billTable(ours, 'ours, per 1M source changes'),
      billTable(naive, 'naive anchor, per 1M source changes'),
      billTable(idle, 'ours, fixed per month (idle: no source changes)'),
      comparisonTable(ours, naive, idle, w),
      {
        columns: ['unit price (us-east-1)', 'USD', 'source', 'status'],
        rows: prices.map(([, price]) => [price.unit, unitPrice(price.usd), price.source, price.status]),
      },
    ],
    notes: p6Notes({ p1, p2, w, facts, durations, ours }),
    data: {
      changes: w.changes,
      facts,
      counts: w,
      assumptions: ASSUMPTIONS,
      durations,
      perMillion: { ours, naive },
      idle,
      prices: PRICES,
    },
  };
}

/** Ours idle and at 10M changes against the naive anchor and OpenSearch Ingestion's OCU minimum. */
function comparisonTable(ours: CostLine[], naive: CostLine[], idle: CostLine[], w: WriterCounts): Table {
  const oursTotal = total(ours);
  const idleTotal = total(idle);
  const ocuMonth = PRICES.opensearchIngestionOcuHour.usd * MONTH_HOURS;
  const breakEven = (ocus: number) => (ocus * ocuMonth - idleTotal) / oursTotal;
  const resyncRru = scanReadUnits(PER * w.meanItemBytes, true);
  return {
    columns: ['comparison', 'USD per month', 'note'],
    rows: [
      ['ours, idle month', usd(idleTotal), 'fixed part above'],
      ['ours, idle month + 10M changes', usd(idleTotal + 10 * oursTotal), `${usd(oursTotal)} per 1M changes`],
      [
        'naive anchor, 10M changes (no fixed part counted)',
        usd(10 * total(naive)),
        `${usd(total(naive))} per 1M changes`,
      ],
      [
        'OpenSearch Ingestion, 1 OCU around the clock',
        usd(ocuMonth),
        `${MONTH_HOURS} h × ${usd(PRICES.opensearchIngestionOcuHour.usd)}`,
      ],
      ['OpenSearch Ingestion, 2 OCUs around the clock', usd(2 * ocuMonth), 'the issue: ≥ 1–2 OCUs'],
      [
        'break-even vs 1 OCU',
        `${num(breakEven(1))}M changes/month`,
        'changes at which ours costs the OCU minimum',
      ],
      ['break-even vs 2 OCUs', `${num(breakEven(2))}M changes/month`, ''],
      [
        're-sync per 1M items (consistent Scan)',
        usd(resyncRru * PRICES.dynamodbReadRequestUnit.usd),
        `${num(resyncRru)} RRU; not scheduled by default`,
      ],
    ],
  };
}

interface NotesInput {
  p1: P1Figures;
  p2: P2Figures;
  w: WriterCounts;
  facts: StackFacts;
  durations: PerMillion['durations'];
  ours: CostLine[];
}

function p6Notes({ p1, p2, w, facts, durations, ours }: NotesInput): string[] {
  const scale = PER / w.changes;
  const oursTotal = total(ours);
  return [
    `Counts: SQS billed requests and batcher/writer invocations from P1 (${num(p1.changes)} changes, writer receives full batches of 10); CPU per change from P2; ` +
      `re-reads, item sizes, Typesense requests and EMF records from P6's own run of the real cores on ${num(w.changes)} changes of the same traffic shape ` +
      `(scaled ×${num(scale, 1)} to 1M): ${num(w.keysRead * scale)} keys re-read per 1M, ${num(w.keysMissing * scale)} of them deleted (1 RRU minimum each, assumed), ` +
      `${num(w.batchGetCalls * scale)} BatchGetItem calls; Typesense requests per 1M: ours ${num((w.typesenseImports + w.typesenseDeletes) * scale)} ` +
      `(${num(w.typesenseImports * scale)} imports, ${num(w.typesenseDeletes * scale)} deletes), naive ${num(w.naiveTypesenseRequests * scale)}.`,
    `Default stack (synthesized, \`defaultStack()\`): ${facts.functions.map((fn) => `${fn.role ?? fn.id} ${fn.memoryMb} MB ${fn.architecture}`).join(', ')}; ` +
      `${facts.alarms.length} alarms (${facts.alarms.reduce((sum, alarm) => sum + alarm.metrics, 0)} alarm metrics), ${facts.dashboards} dashboard, ` +
      `${facts.functionUrls} Function URL, ${facts.kmsKeys} KMS keys, schedules: ${facts.schedules.map((s) => `${s.role ?? s.id} every ${s.seconds ?? '?'} s`).join(', ') || 'none'}; ` +
      `source table billing ${facts.tableBillingMode}.`,
    `Durations (assumed, not measured on AWS): P2's ${p2.cpuMicrosPerChange === undefined ? 'wall-time' : 'process CPU'} µs per change × changes per invocation, scaled by ${LAMBDA_MB_PER_VCPU} MB ÷ memory ` +
      `(Lambda gives 1 vCPU at ${LAMBDA_MB_PER_VCPU} MB: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), plus I/O waits: ` +
      `SendMessageBatch ${ASSUMPTIONS.sqsSendMs} ms (the batcher's sends run in parallel), BatchGetItem ${ASSUMPTIONS.dynamodbReadMs} ms + Typesense import ` +
      `${ASSUMPTIONS.typesenseImportMs} ms (writer), ${ASSUMPTIONS.typesenseRequestMs} ms for the naive writer's 10 parallel requests. Result: batcher ` +
      `${num(durations.batcher, 1)} ms, writer ${num(durations.writer, 1)} ms per invocation; each billed rounded up to 1 ms.`,
    'Not counted: free tiers; the ingestion-delay endpoint (only when called); the S3 failure bucket (empty unless batches fail); ' +
      'DynamoDB writes of the source table (the application pays them with or without sync); Typesense itself (self-hosted or Cloud).',
    'DynamoDB item size for read units follows the documented rules (attribute names + values, 4 KB per unit, each item of a ' +
      'BatchGetItem rounded on its own: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html). ' +
      'DynamoDB Streams reads by a Lambda trigger are free (price table). A Function URL has no charge of its own.',
    `Idle month: ${MONTH_DAYS} days; the lag check's canary passes through the whole pipeline every run, so the batcher's and writer's ` +
      'metrics are published every hour even with no source changes. Idle SQS polling assumes 5 long-polling pollers per event source.',
    `Prices P2's process CPU time when present: on a loaded machine it grows less than the wall time, but still grows. ` +
      `The Lambda GB-s lines are ${num((100 * gbShare(ours)) / oursTotal, 1)}% of the per-change total, so even a CPU figure 2× too high ` +
      'moves the total by that share at most.',
  ];
}
