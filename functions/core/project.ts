import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { MarshalledKey } from './change.ts';
import { ProjectionError } from './errors.ts';
import { documentId, KeyError } from './keys.ts';

export type TypesenseDocument = { id: string } & Record<string, unknown>;

export interface Projection {
  /** Top-level attributes to keep (all when absent). */
  include?: string[] | undefined;
  /** Top-level attributes to drop. */
  exclude?: string[] | undefined;
}

/** Digits that carry value: 0.00120 → 12, 1.5e10 → 15. */
function significantDigits(text: string): number {
  const mantissa = text.replace(/^[-+]/, '').split(/[eE]/)[0] ?? '';
  const digits = mantissa.replace('.', '').replace(/^0+/, '');
  return mantissa.includes('.') ? digits.length : digits.replace(/0+$/, '').length || 1;
}

/**
 * DynamoDB numbers have 38 digits of precision; JSON consumers read doubles. A number becomes a
 * JSON number only when that is exact: safe integers, and decimals of ≤ 15 significant digits
 * (which always round-trip through a double). Anything else keeps its exact decimal text, so no
 * digit is silently changed: integers beyond 2^53, and long decimals even when their double is a
 * whole number (1.0000000000000000001 must not become 1).
 */
function numberValue(text: string): number | string {
  const value = Number(text);
  const exact = /^-?\d+$/.test(text) || significantDigits(text) <= 15;
  if (!exact || !Number.isFinite(value)) return text;
  return Number.isInteger(value) && !Number.isSafeInteger(value) ? text : value;
}

/**
 * A total order on set members, so the same set always yields the same array whatever order
 * DynamoDB lists it in. Number sets order by value (exact text breaks ties between numbers too
 * long for a double); string and binary sets by text.
 */
function compareMembers(numeric: boolean) {
  const byText = (a: unknown, b: unknown) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);
  return numeric ? (a: unknown, b: unknown) => Number(a) - Number(b) || byText(a, b) : byText;
}

function toDocumentValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Set) {
    const members = [...value].map(toDocumentValue);
    return members.sort(compareMembers(members.some((member) => typeof member === 'number')));
  }
  if (Array.isArray(value)) return value.map(toDocumentValue);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, member]) => [name, toDocumentValue(member)]));
  }
  return value;
}

/**
 * A DynamoDB item (marshalled) → the Typesense document that represents it. The document id is
 * derived from the key (an item attribute named `id` is replaced by it).
 */
export function projectItem(
  item: Record<string, AttributeValue>,
  keyAttributes: readonly string[],
  projection: Projection = {},
): TypesenseDocument {
  let id: string;
  try {
    id = documentId(item as MarshalledKey, keyAttributes);
  } catch (error) {
    if (error instanceof KeyError) throw new ProjectionError(`item key: ${error.message}`, '(unknown)');
    throw error;
  }
  try {
    const plain = unmarshall(item, { wrapNumbers: numberValue }) as Record<string, unknown>;
    const include = projection.include === undefined ? undefined : new Set(projection.include);
    const exclude = new Set(projection.exclude ?? []);
    const document: TypesenseDocument = { id };
    for (const [name, value] of Object.entries(plain)) {
      if (name === 'id' || exclude.has(name) || (include !== undefined && !include.has(name))) continue;
      document[name] = toDocumentValue(value);
    }
    return document;
  } catch (error) {
    throw new ProjectionError(`cannot project item: ${(error as Error).message}`, id);
  }
}
