import {
  type CostLine,
  gbSeconds,
  LAMBDA_MB_PER_VCPU,
  line,
  MONTH_DAYS,
  MONTH_HOURS,
  PRICES,
  scanReadUnits,
  total,
} from './cost-model.ts';
import type { EmfCounts, Role, StackFacts, WriterCounts } from './p6-counts.ts';
import { ASSUMPTIONS, type P1Figures } from './p6-inputs.ts';
import { num } from './report.ts';

/**
 * The arithmetic of P6, from measured counts to bills: pure, so the figures in RESULTS.md follow from
 * the counts in results.json (`data.inputs`) and the one price table, and a unit test can check it.
 * Every line names the benchmark and counter its count comes from.
 */

/** Everything a bill is computed from: P1's SQS figures, P6's own run, the synthesized template. */
export interface P6Inputs {
  p1: P1Figures;
  run: WriterCounts;
  facts: StackFacts;
  lagEmf: EmfCounts;
}

export interface Durations {
  batcher: number;
  writer: number;
  naiveBatcher: number;
  naiveWriter: number;
}

export interface Bill {
  ours: CostLine[];
  naive: CostLine[];
  idle: CostLine[];
  durations: Durations;
  /** Invocations per 1M source changes (P1) and the CPU ms each spends (P6's run, before the vCPU share). */
  invocations: { batcher: number; writer: number; naiveWriter: number };
  cpuMs: Durations;
  /** I/O ms per invocation the durations add (ASSUMPTIONS × the run's calls per invocation). */
  ioMs: Durations;
}

const PER = 1_000_000;
const MONTH_SECONDS = MONTH_DAYS * 24 * 3_600;

export function memoryOf(facts: StackFacts, role: Role): number {
  const fn = facts.functions.find((candidate) => candidate.role === role);
  if (fn === undefined) throw new Error(`P6: the default stack has no ${role} function`);
  return fn.memoryMb;
}

/** A function's duration: CPU time at the memory's vCPU share (1 vCPU at 1,769 MB), plus its I/O waits. */
export const durationMs = (cpuMs: number, memoryMb: number, ioMs: number) =>
  cpuMs * (LAMBDA_MB_PER_VCPU / Math.min(memoryMb, LAMBDA_MB_PER_VCPU)) + ioMs;

const msOf = (ms: number, memory: number) => `${num(ms, 1)} ms × ${memory} MB`;

const logGb = (invocations: number, bytesPerInvocation: number) =>
  (invocations * bytesPerInvocation) / 2 ** 30;

function rowsOf(p1: P1Figures) {
  const [ours, , naive] = p1.rows;
  if (ours === undefined || naive === undefined) throw new Error('P6: P1 results lack the ours/naive rows');
  return { ours, naive };
}

const billed = (row: P1Figures['rows'][number]) =>
  row.sendChunks + row.receiveChunks + row.deletes + row.leases;

/** Durations per invocation: the run's CPU per change spread over P1's invocations, plus assumed I/O. */
function durationsOf({ p1, run, facts }: P6Inputs) {
  const { ours, naive } = rowsOf(p1);
  const invocations = {
    batcher: p1.invocations * p1.scale,
    writer: ours.receives,
    naiveWriter: naive.receives,
  };
  const us = run.cpuMicrosPerChange;
  const cpu = (micros: number, count: number) => (micros * PER) / 1000 / count;
  const cpuMs: Durations = {
    batcher: cpu(us.oursBatcher, invocations.batcher),
    writer: cpu(us.oursWriter, invocations.writer),
    naiveBatcher: cpu(us.naiveBatcher, invocations.batcher),
    naiveWriter: cpu(us.naiveWriter, invocations.naiveWriter),
  };
  // The writer takes its visibility lease first (one SQS request), then its BatchGetItem calls run one
  // after another; its imports and deletes at once. The run's calls per change, times the changes of
  // one of P1's invocations (the run is a sample of P1's stream: its first changes, whose records are
  // smaller, fill an invocation with more of them).
  const perWriterInvocation = (count: number) => (count / run.changes) * (PER / invocations.writer);
  const ioMs: Durations = {
    batcher: ASSUMPTIONS.sqsRequestMs,
    writer:
      ASSUMPTIONS.sqsRequestMs +
      perWriterInvocation(run.batchGetCalls) * ASSUMPTIONS.dynamodbReadMs +
      ASSUMPTIONS.typesenseImportMs +
      perWriterInvocation(run.importedDocuments) * ASSUMPTIONS.typesenseImportMsPerDocument,
    naiveBatcher: ASSUMPTIONS.sqsRequestMs,
    naiveWriter: ASSUMPTIONS.typesenseRequestMs,
  };
  const mb = { batcher: memoryOf(facts, 'batcher'), writer: memoryOf(facts, 'writer') };
  const durations: Durations = {
    batcher: durationMs(cpuMs.batcher, mb.batcher, ioMs.batcher),
    writer: durationMs(cpuMs.writer, mb.writer, ioMs.writer),
    naiveBatcher: durationMs(cpuMs.naiveBatcher, mb.batcher, ioMs.naiveBatcher),
    naiveWriter: durationMs(cpuMs.naiveWriter, mb.writer, ioMs.naiveWriter),
  };
  return { invocations, cpuMs, ioMs, durations, mb };
}

type Basis = ReturnType<typeof durationsOf> & { inputs: P6Inputs };

function oursPerMillion({ inputs, invocations, durations, mb }: Basis): CostLine[] {
  const { run } = inputs;
  const scale = PER / run.changes;
  const logBytes = (summaryBytes: number, emf: EmfCounts, count: number) =>
    ASSUMPTIONS.platformLogBytes +
    ASSUMPTIONS.logLineOverheadBytes +
    summaryBytes +
    (emf.bytes * scale) / count;
  return [
    line(
      'SQS FIFO billed requests (send + receive chunks + deletes + leases)',
      billed(rowsOf(inputs.p1).ours),
      'sqsFifoRequest',
      'P1 ours row: sendChunks + receiveChunks + deletes + leases',
    ),
    line('Lambda requests: batcher', invocations.batcher, 'lambdaRequest', 'P1 invocations × scale'),
    line(
      'Lambda requests: writer (receives of 10 messages)',
      invocations.writer,
      'lambdaRequest',
      'P1 ours row: receives',
    ),
    line(
      `Lambda GB-s: batcher, ${msOf(durations.batcher, mb.batcher)}`,
      invocations.batcher * gbSeconds(mb.batcher, durations.batcher),
      'lambdaArmGbSecond',
      'P6 run: cpuMicrosPerChange.oursBatcher; template MemorySize; sqsRequestMs (assumed)',
    ),
    line(
      `Lambda GB-s: writer, ${msOf(durations.writer, mb.writer)}`,
      invocations.writer * gbSeconds(mb.writer, durations.writer),
      'lambdaArmGbSecond',
      'P6 run: cpuMicrosPerChange.oursWriter, batchGetCalls, importedDocuments; template MemorySize; sqsRequestMs (the lease) and I/O ms (assumed)',
    ),
    line(
      `DynamoDB RRU: writer's consistent BatchGetItem re-reads (mean item ${num(run.meanItemBytes)} B)`,
      run.readUnits * scale,
      'dynamodbReadRequestUnit',
      'P6 run: readUnits × scale',
    ),
    line(
      "DynamoDB RRU: writer's re-sync pointer GetItem, 1 per invocation",
      invocations.writer,
      'dynamodbReadRequestUnit',
      'P1 ours row: receives',
    ),
    line(
      'DynamoDB Streams GetRecords by the batcher trigger (≥ 1 per invocation)',
      invocations.batcher,
      'dynamodbStreamsReadByLambda',
      'P1 invocations × scale',
    ),
    line(
      'CloudWatch Logs GB: batcher (platform lines, summary line, EMF)',
      logGb(invocations.batcher, logBytes(run.batcherSummaryBytes, run.batcherEmf, invocations.batcher)),
      'cloudwatchLogsIngestedGb',
      'P6 run: batcherSummaryBytes, batcherEmf.bytes; P1 invocations',
    ),
    line(
      'CloudWatch Logs GB: writer (platform lines, summary line, EMF with 1 IngestionDelay value per change)',
      logGb(invocations.writer, logBytes(run.writerSummaryBytes, run.writerEmf, invocations.writer)),
      'cloudwatchLogsIngestedGb',
      'P6 run: writerSummaryBytes, writerEmf.bytes; P1 receives',
    ),
  ];
}

function naivePerMillion({ inputs, invocations, durations, mb }: Basis): CostLine[] {
  return [
    line(
      'SQS FIFO billed requests (SendMessage per change)',
      billed(rowsOf(inputs.p1).naive),
      'sqsFifoRequest',
      'P1 naive row: sendChunks + receiveChunks + deletes + leases (none)',
    ),
    line('Lambda requests: batcher', invocations.batcher, 'lambdaRequest', 'P1 invocations × scale'),
    line(
      'Lambda requests: writer (10 messages per invocation)',
      invocations.naiveWriter,
      'lambdaRequest',
      'P1 naive row: receives',
    ),
    line(
      `Lambda GB-s: batcher, ${msOf(durations.naiveBatcher, mb.batcher)}`,
      invocations.batcher * gbSeconds(mb.batcher, durations.naiveBatcher),
      'lambdaArmGbSecond',
      'P6 run: cpuMicrosPerChange.naiveBatcher; sqsRequestMs (assumed)',
    ),
    line(
      `Lambda GB-s: writer, ${msOf(durations.naiveWriter, mb.writer)}`,
      invocations.naiveWriter * gbSeconds(mb.writer, durations.naiveWriter),
      'lambdaArmGbSecond',
      'P6 run: cpuMicrosPerChange.naiveWriter; typesenseRequestMs (assumed)',
    ),
    line(
      'CloudWatch Logs GB: platform lines only',
      logGb(invocations.batcher + invocations.naiveWriter, ASSUMPTIONS.platformLogBytes),
      'cloudwatchLogsIngestedGb',
      'P1 invocations + naive receives; platformLogBytes (assumed)',
    ),
  ];
}

/** CloudWatch's fixed part: one custom metric per EMF name and service, the template's alarms and dashboard. */
function observabilityMonth({ facts, run, lagEmf }: P6Inputs): CostLine[] {
  const customMetrics = run.batcherEmf.names.length + run.writerEmf.names.length + lagEmf.names.length;
  const alarmMetrics = (highResolution: boolean) =>
    facts.alarms
      .filter((alarm) => alarm.highResolution === highResolution)
      .reduce((sum, alarm) => sum + alarm.metrics, 0);
  return [
    line(
      `CloudWatch custom metrics (EMF names × service: ${customMetrics})`,
      customMetrics,
      'cloudwatchCustomMetric',
      'P6 run: batcherEmf/writerEmf names; lag check EMF names',
    ),
    line(
      `CloudWatch alarms, standard resolution (${facts.alarms.length} alarms in the template)`,
      alarmMetrics(false),
      'cloudwatchAlarmMetric',
      'template: AWS::CloudWatch::Alarm metrics, period ≥ 60 s',
    ),
    line(
      'CloudWatch alarms, high resolution',
      alarmMetrics(true),
      'cloudwatchHighResAlarmMetric',
      'template: alarm metrics with period < 60 s',
    ),
    line(
      'CloudWatch dashboard (counted as beyond the free 3)',
      facts.dashboards,
      'cloudwatchDashboard',
      'template: AWS::CloudWatch::Dashboard',
    ),
  ];
}

/** The lag check's and its canary's Lambda and SQS lines, and the event sources' idle long polls. */
function lambdaAndQueueMonth({ facts }: P6Inputs, lagRuns: number): CostLine[] {
  const a = ASSUMPTIONS.lagCheck;
  // Each canary is one change through the pipeline: one batcher and one writer invocation, one
  // message sent, received and deleted, and the writer's two reads (the canary, the re-sync pointer).
  const canaryBatcherMs = durationMs(0, memoryOf(facts, 'batcher'), ASSUMPTIONS.sqsRequestMs);
  const canaryWriterMs = durationMs(
    0,
    memoryOf(facts, 'writer'),
    ASSUMPTIONS.dynamodbReadMs + ASSUMPTIONS.typesenseImportMs,
  );
  const pollsPerSource = ASSUMPTIONS.idlePollersPerQueue * (MONTH_SECONDS / ASSUMPTIONS.longPollSeconds);
  const schedule = 'template: lagCheck schedule rate';
  return [
    line(`Lambda requests: lag check (${num(lagRuns)} scheduled runs)`, lagRuns, 'lambdaRequest', schedule),
    line(
      `Lambda GB-s: lag check, ${num(ASSUMPTIONS.lagCheckMs)} ms × ${memoryOf(facts, 'lagCheck')} MB`,
      lagRuns * gbSeconds(memoryOf(facts, 'lagCheck'), ASSUMPTIONS.lagCheckMs),
      'lambdaArmGbSecond',
      `${schedule}; lagCheckMs (assumed)`,
    ),
    line('Lambda requests: canary through batcher and writer', 2 * lagRuns, 'lambdaRequest', schedule),
    line(
      `Lambda GB-s: canary (batcher ${canaryBatcherMs} ms, writer ${canaryWriterMs} ms)`,
      lagRuns *
        (gbSeconds(memoryOf(facts, 'batcher'), canaryBatcherMs) +
          gbSeconds(memoryOf(facts, 'writer'), canaryWriterMs)),
      'lambdaArmGbSecond',
      `${schedule}; I/O ms (assumed)`,
    ),
    line(
      'SQS FIFO: canary send, receive, delete + lag check DLQ depth',
      lagRuns * (3 + a.queueAttributeRequests),
      'sqsFifoRequest',
      schedule,
    ),
    line(
      `SQS idle long polls: ${facts.sqsEventSources.fifo} FIFO event source × ${ASSUMPTIONS.idlePollersPerQueue} pollers`,
      facts.sqsEventSources.fifo * pollsPerSource,
      'sqsFifoRequest',
      'template: SQS event sources; idlePollersPerQueue (assumed)',
    ),
    line(
      `SQS idle long polls: ${facts.sqsEventSources.standard} standard event source × ${ASSUMPTIONS.idlePollersPerQueue} pollers`,
      facts.sqsEventSources.standard * pollsPerSource,
      'sqsStandardRequest',
      'template: SQS event sources; idlePollersPerQueue (assumed)',
    ),
  ];
}

/** The lag check's DynamoDB and CloudWatch lines, and the services the stack keeps all month. */
function storageAndServicesMonth({ facts, run, lagEmf }: P6Inputs, lagRuns: number): CostLine[] {
  const a = ASSUMPTIONS.lagCheck;
  const logBytes = ASSUMPTIONS.platformLogBytes + ASSUMPTIONS.logLineOverheadBytes;
  const meanEmf = (emf: EmfCounts) => (emf.records === 0 ? 0 : emf.bytes / emf.records);
  const emfBytes = meanEmf(run.batcherEmf) + meanEmf(run.writerEmf) + meanEmf(lagEmf);
  const schedule = 'template: lagCheck schedule rate';
  return [
    line(
      'DynamoDB WRU: canary write + lag reading',
      lagRuns * (a.canaryWrites + a.stateWrites),
      'dynamodbWriteRequestUnit',
      `${schedule}; lag check calls (read from its code)`,
    ),
    line(
      'DynamoDB RRU: canary re-read, re-sync pointer, lag check state reads',
      lagRuns * (2 + a.stateReads),
      'dynamodbReadRequestUnit',
      `${schedule}; lag check calls (read from its code)`,
    ),
    line(
      'CloudWatch GetMetricData metrics (lag check)',
      lagRuns * a.getMetricDataMetrics,
      'cloudwatchGetMetricDataMetric',
      `${schedule}; lag check calls (read from its code)`,
    ),
    line(
      'CloudWatch Logs GB: 3 invocations per run (platform, log line, EMF)',
      logGb(lagRuns, 3 * logBytes + emfBytes),
      'cloudwatchLogsIngestedGb',
      `${schedule}; P6 run: mean EMF record bytes`,
    ),
    line('Secrets Manager secret (the Typesense API key)', 1, 'secretsManagerSecret', 'template'),
    line(
      `Secrets Manager GetSecretValue (${ASSUMPTIONS.idleSecretReaders} warm readers, ${ASSUMPTIONS.secretTtlSeconds} s cache)`,
      (ASSUMPTIONS.idleSecretReaders * MONTH_SECONDS) / ASSUMPTIONS.secretTtlSeconds,
      'secretsManagerApiCall',
      'cache TTL in functions/shared/aws.ts; readers (assumed)',
    ),
    line('KMS customer managed keys in the template', facts.kmsKeys, 'kmsKey', 'template: AWS::KMS::Key'),
    line(
      `Function URL (${facts.functionUrls} in the template; not called when idle)`,
      facts.functionUrls,
      'functionUrl',
      'template: AWS::Lambda::Url',
    ),
    line(
      `EventBridge scheduled rules (${facts.schedules.length})`,
      lagRuns,
      'eventBridgeScheduledRule',
      schedule,
    ),
  ];
}

export function lagCheckRuns(facts: StackFacts): number {
  return facts.schedules
    .filter((schedule) => schedule.role === 'lagCheck' && schedule.seconds !== undefined)
    .reduce((sum, schedule) => sum + MONTH_SECONDS / (schedule.seconds as number), 0);
}

export function billOf(inputs: P6Inputs): Bill {
  const basis: Basis = { ...durationsOf(inputs), inputs };
  const lagRuns = lagCheckRuns(inputs.facts);
  return {
    ours: oursPerMillion(basis),
    naive: naivePerMillion(basis),
    idle: [
      ...observabilityMonth(inputs),
      ...lambdaAndQueueMonth(inputs, lagRuns),
      ...storageAndServicesMonth(inputs, lagRuns),
    ],
    durations: basis.durations,
    invocations: basis.invocations,
    cpuMs: basis.cpuMs,
    ioMs: basis.ioMs,
  };
}

/** Ours idle and at 10M changes, the naive anchor, OpenSearch Ingestion's OCU minimum, break-even. */
export function comparisonOf(bill: Bill, meanItemBytes: number) {
  const perMillion = total(bill.ours);
  const idle = total(bill.idle);
  const ocuMonth = PRICES.opensearchIngestionOcuHour.usd * MONTH_HOURS;
  const resyncReadUnits = scanReadUnits(PER * meanItemBytes, true);
  return {
    perMillion,
    naivePerMillion: total(bill.naive),
    idle,
    ocuMonth,
    /** Millions of changes a month at which ours costs what `ocus` OCUs cost around the clock. */
    breakEvenMillions: (ocus: number) => (ocus * ocuMonth - idle) / perMillion,
    resyncReadUnits,
    resyncUsd: resyncReadUnits * PRICES.dynamodbReadRequestUnit.usd,
  };
}
