import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Conversion } from '../contract/projection.ts';

/*
 * The projection's typed conversions (`convert`, docs/configuration.md "Mapping"), from the attribute as
 * DynamoDB holds it, so a number and a string of digits stay told apart. Each is a pure function of the
 * value; a value it cannot convert yields a `Refusal` saying why, which projectItem turns into a
 * ProjectionError naming the field, the conversion and the item (the writer dead-letters that change).
 *
 * Every result round-trips through Typesense (README "Document mapping"): epoch and int64 results are
 * integers, sent as JSON numbers when a double holds them exactly and as `bigint` beyond 2^53, which
 * `documentJson` writes as bare digits; Typesense stores an int64 exactly (test/contract: "int64 is exact").
 */

export class Refusal {
  constructor(readonly reason: string) {}
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A plain decimal number: what DynamoDB's N holds, and what a numeric string may hold (no spaces, no hex). */
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** A short, quoted excerpt of a refused value: an error never carries a whole long value. */
function excerpt(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** The number's text: N as is, S when it holds a plain decimal; undefined for anything else. */
function numericText(value: AttributeValue): string | undefined {
  if (value.N !== undefined) return value.N;
  if (value.S !== undefined && /\d/.test(value.S) && DECIMAL.test(value.S)) return value.S;
  return undefined;
}

/** The exact integer a decimal text stands for; undefined when it has a fractional part or is far out of range. */
function exactInteger(text: string): bigint | undefined {
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = DECIMAL.exec(text) ?? [];
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return 0n;
  const exponent = Number(exponentText) - fraction.length;
  if (exponent >= 0) {
    // More than 20 digits is beyond int64 whatever they are; this also bounds the bigint built.
    if (digits.length + exponent > 20) return sign === '-' ? INT64_MIN - 1n : INT64_MAX + 1n;
    return BigInt(`${sign}${digits}${'0'.repeat(exponent)}`);
  }
  const kept = digits.length + exponent;
  if (kept < 0 || !/^0*$/.test(digits.slice(kept))) return undefined;
  return BigInt(`${sign}${digits.slice(0, kept) || '0'}`);
}

/** An int64 as the document holds it: a number when a double holds it exactly, else a bigint. */
const int64Value = (value: bigint): number | bigint => {
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : value;
};

function toInt64(value: AttributeValue): unknown {
  const text = numericText(value);
  if (text === undefined) return new Refusal('needs a number or a numeric string');
  const integer = exactInteger(text);
  if (integer === undefined) return new Refusal(`needs a whole number, got ${excerpt(text)}`);
  if (integer < INT64_MIN || integer > INT64_MAX)
    return new Refusal(`needs a number within int64 (±2^63), got ${excerpt(text)}`);
  return int64Value(integer);
}

function toFloat(value: AttributeValue): unknown {
  const text = numericText(value);
  const number = text === undefined ? Number.NaN : Number(text);
  if (!Number.isFinite(number)) return new Refusal('needs a finite number or numeric string');
  return number;
}

/** ISO-8601 extended format: a date, or a date and time with an optional fraction and offset. */
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const daysIn = (year: number, month: number) =>
  month === 2 && leap(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);

/**
 * The instant of an ISO-8601 date/time in epoch milliseconds, or undefined. A date alone is midnight UTC
 * and a date-time without offset is UTC (as `Date.parse` reads a date alone; never the machine's zone,
 * so every function converts alike). Fractions beyond milliseconds are truncated.
 */
export function isoEpochMillis(text: string): number | undefined {
  const match = ISO_DATE_TIME.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match
    .slice(1, 7)
    .map((part) => Number(part ?? 0));
  if (month === undefined || day === undefined || year === undefined) return undefined;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = Number((match[7] ?? '').slice(0, 3).padEnd(3, '0'));
  const offset = match[8] ?? 'Z';
  let offsetMinutes = 0;
  if (offset !== 'Z') {
    const [offsetHours, offsetRest] = offset.slice(1).split(':').map(Number) as [number, number];
    if (offsetHours > 23 || offsetRest > 59) return undefined;
    offsetMinutes = (offset.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  const instant = new Date(0);
  instant.setUTCFullYear(year, month - 1, day); // Date.UTC would read years 0–99 as 1900–1999.
  instant.setUTCHours(hour, minute, second, millis);
  return instant.getTime() - offsetMinutes * 60_000;
}

function toEpoch(value: AttributeValue, unit: 'seconds' | 'millis'): unknown {
  if (value.S === undefined) return new Refusal('needs an ISO-8601 date/time string');
  const millis = isoEpochMillis(value.S);
  if (millis === undefined) return new Refusal(`needs an ISO-8601 date/time string, got ${excerpt(value.S)}`);
  // Seconds round toward the past, so a sort by seconds agrees with a sort by the instant.
  return unit === 'millis' ? millis : Math.floor(millis / 1000);
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A scalar's text: a string as is, a number's exact decimal text, a boolean as true/false, binary as base64. */
function toText(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return value.N;
  if (value.BOOL !== undefined) return value.BOOL ? 'true' : 'false';
  if (value.B !== undefined) return base64(value.B);
  return new Refusal('needs a string, number, boolean or binary value');
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byNumber = (a: string, b: string) => Number(a) - Number(b) || byText(a, b);

/**
 * The members of a list (in order) or a set (sorted, as projectItem sorts sets, since DynamoDB lists them
 * in any order), as attribute values; undefined for any other type.
 */
function membersOf(value: AttributeValue): AttributeValue[] | undefined {
  if (value.L !== undefined) return value.L.filter((member) => member.NULL === undefined);
  if (value.SS !== undefined) return [...value.SS].sort(byText).map((member) => ({ S: member }));
  if (value.NS !== undefined) return [...value.NS].sort(byNumber).map((member) => ({ N: member }));
  if (value.BS !== undefined)
    return value.BS.map(base64)
      .sort(byText)
      .map((member) => ({ S: member }));
  return undefined;
}

/** A set, a list or a scalar → its members' texts, sorted (as sets are), so the same value always converts alike. */
function toStringArray(value: AttributeValue): unknown {
  const texts: string[] = [];
  for (const member of membersOf(value) ?? [value]) {
    const text = toText(member);
    if (text instanceof Refusal)
      return new Refusal('needs a set, or a list of strings, numbers, booleans or binary values');
    texts.push(text as string);
  }
  return texts.sort(byText);
}

const SCALAR_CONVERSIONS: Record<Exclude<Conversion, 'stringArray'>, (value: AttributeValue) => unknown> = {
  epochSeconds: (value) => toEpoch(value, 'seconds'),
  epochMillis: (value) => toEpoch(value, 'millis'),
  int64: toInt64,
  float: toFloat,
  string: toText,
};

/**
 * `value` converted, or a Refusal. `stringArray` takes the whole value; every other conversion takes a
 * scalar, or each member of a list or set (a list of dates becomes a list of epochs: Typesense's `int64[]`),
 * the list's order kept.
 */
export function convertValue(value: AttributeValue, conversion: Conversion): unknown {
  if (conversion === 'stringArray') return toStringArray(value);
  const convert = SCALAR_CONVERSIONS[conversion];
  const members = membersOf(value);
  if (members === undefined)
    return value.M === undefined ? convert(value) : new Refusal('cannot convert a map');
  const converted: unknown[] = [];
  for (const [position, member] of members.entries()) {
    const result = convert(member);
    if (result instanceof Refusal) return new Refusal(`member ${position}: ${result.reason}`);
    converted.push(result);
  }
  return converted;
}
