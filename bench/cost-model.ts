import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * The pure arithmetic of the cost model (bench P6) and the one table of unit prices it uses. No
 * counts live here: they come from the benchmarks (P1, P2, P6's own stream run) and from the
 * synthesized default stack.
 */

/** SQS bills each 64 KiB chunk of a request's payload as one request; an empty payload is 1. */
export const SQS_CHUNK_BYTES = 65_536;
/** DynamoDB read units: 4 KB per unit, each item of a GetItem/BatchGetItem rounded up on its own. */
export const READ_UNIT_BYTES = 4_096;
/** DynamoDB write units: 1 KB per unit, each item rounded up. */
export const WRITE_UNIT_BYTES = 1_024;
/** Lambda: 1 vCPU's worth of CPU at 1,769 MB, proportionally less below it. */
export const LAMBDA_MB_PER_VCPU = 1_769;
/** Days in the month the idle-month figures use. */
export const MONTH_DAYS = 30;
export const MONTH_HOURS = 730;

export function sqsBilledRequests(payloadBytes: number): number {
  if (!Number.isFinite(payloadBytes) || payloadBytes < 0)
    throw new RangeError(`payload bytes must be a non-negative number, got ${payloadBytes}`);
  return Math.max(1, Math.ceil(payloadBytes / SQS_CHUNK_BYTES));
}

/** Lambda rounds each invocation's duration up to the next whole millisecond. */
export function billedMilliseconds(durationMs: number): number {
  if (!Number.isFinite(durationMs) || durationMs < 0)
    throw new RangeError(`duration must be a non-negative number of ms, got ${durationMs}`);
  return Math.ceil(durationMs);
}

/** GB-seconds of one invocation: configured memory (MB ÷ 1,024) × the billed duration. */
export function gbSeconds(memoryMb: number, durationMs: number): number {
  return (memoryMb / 1024) * (billedMilliseconds(durationMs) / 1000);
}

/**
 * Strongly consistent read units of one GetItem/BatchGetItem: every item rounded up to 4 KB on its
 * own; a key with no item still costs the minimum of one unit (`undefined` size).
 */
export function consistentReadUnits(itemBytes: readonly (number | undefined)[]): number {
  return itemBytes.reduce<number>(
    (sum, bytes) => sum + (bytes === undefined ? 1 : Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES))),
    0,
  );
}

/** A Scan's read units: the page's items summed first, then rounded up to 4 KB (halved if eventual). */
export function scanReadUnits(pageBytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(pageBytes / READ_UNIT_BYTES));
  return consistent ? units : units / 2;
}

export function writeUnits(itemBytes: number): number {
  return Math.max(1, Math.ceil(itemBytes / WRITE_UNIT_BYTES));
}

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** A DynamoDB number's stored size: about one byte per two significant digits, plus one. */
function numberBytes(text: string): number {
  const digits = text
    .replace(/^-/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '');
  return Math.ceil(Math.max(1, digits.replace(/0+$/, '').length) / 2) + 1;
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, text) => sum + utf8(text), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, text) => sum + numberBytes(text), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, bytes) => sum + bytes.byteLength, 0);
  // Lists and maps: 3 bytes of overhead, 1 byte per element, plus the elements themselves.
  if (value.L !== undefined) return 3 + value.L.reduce((sum, element) => sum + 1 + valueBytes(element), 0);
  if (value.M !== undefined) return 3 + itemBytes(value.M) + Object.keys(value.M).length;
  return 0;
}

/**
 * An item's size as DynamoDB counts it for capacity units: every attribute's name (UTF-8 bytes) plus
 * its value (Developer Guide, "Item sizes and formats").
 */
export function itemBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueBytes(value), 0);
}

/** One unit price, where it comes from and whether the stored page confirmed it. */
export interface Price {
  usd: number;
  unit: string;
  source: string;
  /** `confirmed <date read>` and the page that stated it, or why it is assumed. */
  status: string;
}

/** The day the prices below were read (search corpus `pages`/`docs`, us-east-1). */
export const PRICES_READ_ON = '2026-11-30';
const CHECKED = `confirmed ${PRICES_READ_ON}`;
const confirmedBy = (page: string) => `${CHECKED} (stated by ${page})`;
/** No stored page stated the price: the figure is AWS's list price as last known, unverified here. */
const NOT_FOUND = `NOT FOUND in the search corpus on ${PRICES_READ_ON}: assumed`;

/** us-east-1 list prices, free tiers ignored. ONE table: every cost in P6 is a count × one of these. */
export const PRICES = {
  sqsFifoRequest: {
    usd: 0.5 / 1e6,
    unit: 'FIFO request (64 KiB chunk)',
    source: 'https://aws.amazon.com/sqs/pricing/ (also cloudburn.io/blog/amazon-sqs-pricing, Mar 2026)',
    status: CHECKED,
  },
  sqsStandardRequest: {
    usd: 0.4 / 1e6,
    unit: 'standard request (64 KiB chunk)',
    source: 'https://aws.amazon.com/sqs/pricing/ (also cloudburn.io/blog/amazon-sqs-pricing, Mar 2026)',
    status: CHECKED,
  },
  lambdaRequest: {
    usd: 0.2 / 1e6,
    unit: 'Lambda request',
    source:
      'https://aws.amazon.com/lambda/pricing/ (as transcribed by api-evangelist/aws-lambda, 2026-09-20)',
    status: CHECKED,
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second, arm64 (first 7.5 B GB-s/month)',
    source: 'https://aws.amazon.com/lambda/pricing/ (as quoted by cloudchipr.com/blog/aws-lambda-pricing)',
    status: CHECKED,
  },
  dynamodbReadRequestUnit: {
    usd: 0.125 / 1e6,
    unit: 'on-demand read request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    status: confirmedBy(
      'airbyte.com/data-engineering-resources/dynamodb-pricing: $0.125 per million RRU, us-east-1',
    ),
  },
  dynamodbWriteRequestUnit: {
    usd: 0.625 / 1e6,
    unit: 'on-demand write request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    status: confirmedBy(
      'airbyte.com/data-engineering-resources/dynamodb-pricing: $0.625 per million WRU, us-east-1',
    ),
  },
  dynamodbStreamsReadByLambda: {
    usd: 0,
    unit: 'GetRecords made by a Lambda trigger',
    source:
      'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CostOptimization_StreamsUsage.html ("Read requests made by AWS Lambda-based consumers of DynamoDB Streams are free")',
    status: CHECKED,
  },
  cloudwatchCustomMetric: {
    usd: 0.3,
    unit: 'custom metric-month (first 10,000)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    status: confirmedBy(
      'signoz.io/guides/cloudwatch-pricing, Feb 2026: $0.30 per metric-month for the first 10,000',
    ),
  },
  cloudwatchAlarmMetric: {
    usd: 0.1,
    unit: 'standard-resolution alarm metric-month',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    status: confirmedBy('c3x.dev/resources/aws/aws_cloudwatch_metric_alarm: $0.10 per standard alarm-month'),
  },
  cloudwatchHighResAlarmMetric: {
    usd: 0.3,
    unit: 'high-resolution (< 60 s) alarm metric-month',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    status: confirmedBy(
      'c3x.dev/resources/aws/aws_cloudwatch_metric_alarm: $0.30 per high-resolution alarm-month',
    ),
  },
  cloudwatchDashboard: {
    usd: 3,
    unit: 'dashboard-month beyond the 3 free',
    source: 'https://aws.amazon.com/cloudwatch/pricing/ (free tier: 3 dashboards)',
    status: confirmedBy('factualminds.com CloudWatch pricing, June 2026: dashboards at $3 each'),
  },
  cloudwatchGetMetricDataMetric: {
    usd: 0.01 / 1000,
    unit: 'metric requested by GetMetricData',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    status: NOT_FOUND,
  },
  cloudwatchLogsIngestedGb: {
    usd: 0.5,
    unit: 'GB of logs ingested (standard class)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    status: confirmedBy('factualminds.com CloudWatch pricing, June 2026: Logs ingestion at $0.50/GB'),
  },
  functionUrl: {
    usd: 0,
    unit: 'Function URL (invocations billed as Lambda requests and duration)',
    source: 'https://aws.amazon.com/lambda/pricing/ (no separate line item for function URLs)',
    status: NOT_FOUND,
  },
  eventBridgeScheduledRule: {
    usd: 0,
    unit: 'scheduled-rule invocation',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
    status: confirmedBy(
      'wring.co/blog/aws-eventbridge-pricing-guide and factualminds.com, June 2026: AWS service events free',
    ),
  },
  secretsManagerSecret: {
    usd: 0.4,
    unit: 'secret-month',
    source: 'https://aws.amazon.com/secrets-manager/pricing/',
    status: confirmedBy('hivebook.wiki AWS Secrets Manager: $0.40 per secret per month'),
  },
  secretsManagerApiCall: {
    usd: 0.05 / 10_000,
    unit: 'API call',
    source: 'https://aws.amazon.com/secrets-manager/pricing/',
    status: confirmedBy('hivebook.wiki AWS Secrets Manager: $0.05 per 10k API calls'),
  },
  kmsKey: {
    usd: 1,
    unit: 'customer managed key-month',
    source: 'https://aws.amazon.com/kms/pricing/',
    status: confirmedBy('https://aws.amazon.com/kms/pricing/: each AWS KMS key costs $1/month'),
  },
  opensearchIngestionOcuHour: {
    usd: 0.24,
    unit: 'OpenSearch Ingestion OCU-hour (minimum 1 OCU per pipeline)',
    source:
      'https://aws.amazon.com/opensearch-service/pricing/; minimum 1 OCU: https://docs.aws.amazon.com/opensearch-service/latest/developerguide/ingestion-scaling.html',
    status: `${NOT_FOUND} (the price; the 1-OCU minimum and the advice of ≥ 2 OCUs are confirmed by the ingestion-scaling page)`,
  },
} as const satisfies Record<string, Price>;

export type PriceName = keyof typeof PRICES;

/** One line of a bill: a count of billed units, where the count comes from, and what it costs. */
export interface CostLine {
  item: string;
  count: number;
  /** The benchmark and counter (or template fact, or stated assumption) the count is computed from. */
  from: string;
  price: PriceName;
  usd: number;
}

export const line = (item: string, count: number, price: PriceName, from: string): CostLine => ({
  item,
  count,
  from,
  price,
  usd: count * PRICES[price].usd,
});

export const total = (lines: readonly CostLine[]) => lines.reduce((sum, { usd }) => sum + usd, 0);
