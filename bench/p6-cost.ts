import {
  type CostLine,
  LAMBDA_MB_PER_VCPU,
  MONTH_DAYS,
  MONTH_HOURS,
  PRICES,
  type PriceName,
  total,
} from './cost-model.ts';
import { type Bill, billOf, comparisonOf, type P6Inputs } from './p6-bill.ts';
import { lagCheckEmf, stackFacts, writerCounts } from './p6-counts.ts';
import { ASSUMPTIONS, type P1Figures } from './p6-inputs.ts';
import { num, type Section, type Table } from './report.ts';

/**
 * P6: AWS cost per million source changes and per idle month of the default stack. It measures its
 * own counts (the real cores on the benchmarks' stream in the default stack's invocations: CPU time,
 * re-reads and their read units, Typesense requests, EMF records), takes P1's SQS billed requests and
 * invocations, and reads the synthesized template (memory, alarms, dashboard, schedules). The
 * arithmetic is `billOf` (bench/p6-bill.ts); prices: ONE table, `PRICES`.
 */

export type { P1Figures } from './p6-inputs.ts';

const PER = 1_000_000;

const usd = (value: number) =>
  value === 0 ? '$0' : value < 0.01 ? `$${value.toPrecision(2)}` : `$${num(value, 2)}`;
/** Small unit prices per million, as AWS states them. */
const unitPrice = (value: number) =>
  value !== 0 && value < 0.001
    ? `$${Number((value * 1e6).toPrecision(6))} per 1M`
    : `$${Number(value.toPrecision(6))}`;
const count = (value: number) =>
  value >= 100 || Number.isInteger(value) ? num(value) : value < 0.1 ? value.toPrecision(2) : num(value, 2);

const billTable = (lines: CostLine[], label: string): Table => ({
  columns: [label, 'count', 'count from (bench: counter)', 'unit', 'USD'],
  rows: [
    ...lines.map((entry) => [
      entry.item,
      count(entry.count),
      entry.from,
      PRICES[entry.price].unit,
      usd(entry.usd),
    ]),
    ['**total**', '', '', '', `**${usd(total(lines))}**`],
  ],
});

export interface P6Options {
  changes: number;
  seed: number;
  p1: P1Figures;
}

export async function runP6({ changes, seed, p1 }: P6Options): Promise<Section> {
  const inputs: P6Inputs = {
    p1,
    run: await writerCounts(changes, seed),
    facts: stackFacts(),
    lagEmf: lagCheckEmf(),
  };
  const bill = billOf(inputs);
  const prices = Object.entries(PRICES) as [PriceName, (typeof PRICES)[PriceName]][];
  return {
    id: 'P6',
    title: 'AWS cost per 1M changes and per idle month (default stack, us-east-1)',
    tables: [
      billTable(bill.ours, 'ours, per 1M source changes'),
      billTable(bill.naive, 'naive anchor, per 1M source changes'),
      billTable(bill.idle, 'ours, fixed per month (idle: no source changes)'),
      comparisonTable(bill, inputs.run.meanItemBytes),
      {
        columns: ['unit price (us-east-1)', 'USD', 'source', 'status'],
        rows: prices.map(([, price]) => [price.unit, unitPrice(price.usd), price.source, price.status]),
      },
    ],
    notes: p6Notes(inputs, bill),
    // `inputs` alone reproduces every table: `billOf(data.inputs)` (the unit test checks the arithmetic).
    data: { inputs, assumptions: ASSUMPTIONS, bill, prices: PRICES },
  };
}

function comparisonTable(bill: Bill, meanItemBytes: number): Table {
  const c = comparisonOf(bill, meanItemBytes);
  return {
    columns: ['comparison', 'USD per month', 'note'],
    rows: [
      ['ours, idle month', usd(c.idle), 'fixed part above'],
      [
        'ours, idle month + 10M changes',
        usd(c.idle + 10 * c.perMillion),
        `${usd(c.perMillion)} per 1M changes`,
      ],
      [
        'naive anchor, 10M changes (no fixed part counted)',
        usd(10 * c.naivePerMillion),
        `${usd(c.naivePerMillion)} per 1M changes`,
      ],
      [
        'OpenSearch Ingestion, 1 OCU around the clock',
        usd(c.ocuMonth),
        `${MONTH_HOURS} h × ${usd(PRICES.opensearchIngestionOcuHour.usd)} (minimum 1 OCU per pipeline)`,
      ],
      [
        'OpenSearch Ingestion, 2 OCUs around the clock',
        usd(2 * c.ocuMonth),
        'AWS recommends ≥ 2 OCUs for 99.9% availability',
      ],
      [
        'break-even vs 1 OCU',
        `${num(c.breakEvenMillions(1))}M changes/month`,
        'changes at which ours costs the OCU minimum',
      ],
      ['break-even vs 2 OCUs', `${num(c.breakEvenMillions(2))}M changes/month`, ''],
      [
        're-sync per 1M items (consistent Scan)',
        usd(c.resyncUsd),
        `${num(c.resyncReadUnits)} RRU; not scheduled by default`,
      ],
    ],
  };
}

function p6Notes({ p1, run, facts }: P6Inputs, bill: Bill): string[] {
  const scale = PER / run.changes;
  const oursTotal = total(bill.ours);
  const gbShare = total(bill.ours.filter((entry) => entry.price === 'lambdaArmGbSecond')) / oursTotal;
  const us = run.cpuMicrosPerChange;
  return [
    `Counts: SQS billed requests, batcher invocations (${num(bill.invocations.batcher)}) and writer invocations (${num(bill.invocations.writer)} receives of 10 messages) per 1M changes from P1 (${num(p1.changes)} changes in the default stack's backlog batches). ` +
      `P6's own run: the real cores on ${num(run.changes)} changes of the same traffic shape in the same invocations (${num(run.batcherInvocations)} batcher invocations, ${num(run.messages)} messages, ${num(run.writerInvocations)} writer invocations; scaled ×${num(scale, 1)} to 1M): ` +
      `${num(run.keysRead * scale)} keys re-read per 1M, ${num(run.keysMissing * scale)} of them deleted (1 RRU minimum each), ${num(run.batchGetCalls * scale)} BatchGetItem calls; ` +
      `Typesense requests per 1M: ours ${num((run.typesenseImports + run.typesenseDeletes) * scale)} (${num(run.typesenseImports * scale)} imports of ${num(run.importedDocuments / Math.max(1, run.typesenseImports))} documents on average, ${num(run.typesenseDeletes * scale)} deletes), naive ${num(run.naiveTypesenseRequests * scale)}.`,
    `CPU (P6's run, process CPU time of a second pass after a warm-up pass, µs per source change): batcher ${num(us.oursBatcher, 2)}, writer ${num(us.oursWriter, 2)}; naive batcher ${num(us.naiveBatcher, 2)}, naive writer ${num(us.naiveWriter, 2)}. ` +
      `Per invocation: batcher ${num(bill.cpuMs.batcher, 1)} ms, writer ${num(bill.cpuMs.writer, 1)} ms of CPU, scaled by ${LAMBDA_MB_PER_VCPU} MB ÷ memory (Lambda gives 1 vCPU at ${LAMBDA_MB_PER_VCPU} MB: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), ` +
      `plus I/O waits (assumed, not measured on AWS): batcher ${num(bill.ioMs.batcher)} ms (one round of parallel SendMessageBatch), writer ${num(bill.ioMs.writer)} ms (${ASSUMPTIONS.dynamodbReadMs} ms per sequential BatchGetItem of 100 keys, ${ASSUMPTIONS.typesenseImportMs} ms + ${ASSUMPTIONS.typesenseImportMsPerDocument} ms per document for its import). ` +
      `Result: batcher ${num(bill.durations.batcher, 1)} ms, writer ${num(bill.durations.writer, 1)} ms per invocation, each billed rounded up to 1 ms.`,
    `Default stack (synthesized, \`defaultStack()\`): ${facts.functions.map((fn) => `${fn.role ?? fn.id} ${fn.memoryMb} MB ${fn.architecture}`).join(', ')}; ` +
      `${facts.alarms.length} alarms (${facts.alarms.reduce((sum, alarm) => sum + alarm.metrics, 0)} alarm metrics), ${facts.dashboards} dashboard, ` +
      `${facts.functionUrls} Function URL, ${facts.kmsKeys} KMS keys, schedules: ${facts.schedules.map((s) => `${s.role ?? s.id} every ${s.seconds ?? '?'} s`).join(', ') || 'none'}; ` +
      `source table billing ${facts.tableBillingMode}.`,
    'Not counted: free tiers; the ingestion-delay endpoint (only when called); the S3 failure bucket (empty unless batches fail); ' +
      'DynamoDB writes of the source table (the application pays them with or without sync); Typesense itself (self-hosted or Cloud).',
    'DynamoDB item size for read units follows the documented rules (attribute names + values, 4 KB per unit, each item of a ' +
      'BatchGetItem rounded on its own: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html). ' +
      'DynamoDB Streams reads by a Lambda trigger are free (price table). A Function URL has no charge of its own.',
    `Idle month: ${MONTH_DAYS} days; the lag check's canary passes through the whole pipeline every run, so the batcher's and writer's ` +
      `metrics are published every hour even with no source changes. Idle SQS polling assumes ${ASSUMPTIONS.idlePollersPerQueue} long-polling pollers per event source.`,
    `The Lambda GB-s lines are ${num(100 * gbShare, 1)}% of the per-change total: a CPU figure 2× too high (a loaded machine) moves the total by at most that share.`,
  ];
}
