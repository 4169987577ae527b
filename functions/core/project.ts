import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { MarshalledKey } from './change.ts';
import { ProjectionError } from './errors.ts';
import { type ItemFilter, matchesFilter } from './filter.ts';
import { documentId, KeyError } from './keys.ts';

export type TypesenseDocument = { id: string } & Record<string, unknown>;

export interface Projection {
  /** Top-level attributes to keep (all when absent). */
  include?: string[] | undefined;
  /** Top-level attributes to drop. */
  exclude?: string[] | undefined;
  /** Only the items it matches are indexed (all when absent); see filter.ts. */
  filter?: ItemFilter | undefined;
}

/** Digits that carry value: 0.00120 → 12, 1.5e10 → 15. */
function significantDigits(text: string): number {
  const mantissa = text.replace(/^[-+]/, '').split(/[eE]/)[0] ?? '';
  const digits = mantissa.replace('.', '').replace(/^0+/, '');
  return mantissa.includes('.') ? digits.length : digits.replace(/0+$/, '').length || 1;
}

const SHORT_DECIMAL = /^-?\d+(?:\.\d+)?$/;

/**
 * DynamoDB numbers have 38 digits of precision; JSON consumers read doubles. A number becomes a
 * JSON number only when that is exact: safe integers, and decimals of ≤ 15 significant digits
 * (which always round-trip through a double). Anything else keeps its exact decimal text, so no
 * digit is silently changed: integers beyond 2^53, and long decimals even when their double is a
 * whole number (1.0000000000000000001 must not become 1).
 */
function numberValue(text: string): number | string {
  // Fast path for the common case: at most 15 digits without an exponent are always exact.
  if (text.length <= 15 && SHORT_DECIMAL.test(text)) return Number(text);
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

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** Sets a member even when its name is `__proto__`, which plain assignment would take as the prototype. */
function setMember(target: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true });
  else target[name] = value;
}

/**
 * One attribute value → its document value, in one pass over the marshalled form: the re-sync projects
 * every item of the table, and unmarshalling first and then copying into document values cost it a
 * third of its CPU. Numbers as `numberValue`, binary as base64, sets as sorted arrays, maps as objects.
 *
 * A `NULL` is no value at all: a map member or attribute holding it is left out, and a list drops it.
 * Typesense stores an upsert that way (src/index.cpp get_doc_changes: a null member erases the field,
 * process_value drops nulls inside objects and arrays), so sending nulls would make what is stored
 * differ from what was sent, and `verify` report the document stale for ever.
 */
function documentValue(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return numberValue(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.M !== undefined) {
    const map: Record<string, unknown> = {};
    for (const [name, member] of Object.entries(value.M)) {
      if (member.NULL === undefined) setMember(map, name, documentValue(member));
    }
    return map;
  }
  if (value.L !== undefined) return value.L.filter((member) => member.NULL === undefined).map(documentValue);
  if (value.SS !== undefined) return [...value.SS].sort(compareMembers(false));
  if (value.NS !== undefined) {
    const members = value.NS.map(numberValue);
    return members.sort(compareMembers(members.some((member) => typeof member === 'number')));
  }
  if (value.B !== undefined) return base64(value.B);
  if (value.BS !== undefined) return value.BS.map(base64).sort(compareMembers(false));
  throw new Error(`unsupported attribute value type ${JSON.stringify(Object.keys(value))}`);
}

interface AttributeFilter {
  include: ReadonlySet<string> | undefined;
  exclude: ReadonlySet<string>;
}

const NO_PROJECTION: Projection = {};

/** Built once per projection: a re-sync projects every item of the table with the same one. */
const attributeFilters = new WeakMap<Projection, AttributeFilter>();

function attributeFilterOf(projection: Projection): AttributeFilter {
  let filter = attributeFilters.get(projection);
  if (filter === undefined) {
    filter = {
      include: projection.include === undefined ? undefined : new Set(projection.include),
      exclude: new Set(projection.exclude ?? []),
    };
    attributeFilters.set(projection, filter);
  }
  return filter;
}

/**
 * A DynamoDB item (marshalled) → the Typesense document that represents it, or undefined when the
 * projection's filter leaves the item out of the index. The document id is derived from the key (an item
 * attribute named `id` is replaced by it). Without a projection every item has a document.
 */
export function projectItem(
  item: Record<string, AttributeValue>,
  keyAttributes: readonly string[],
): TypesenseDocument;
export function projectItem(
  item: Record<string, AttributeValue>,
  keyAttributes: readonly string[],
  projection: Projection | undefined,
): TypesenseDocument | undefined;
export function projectItem(
  item: Record<string, AttributeValue>,
  keyAttributes: readonly string[],
  projection: Projection = NO_PROJECTION,
): TypesenseDocument | undefined {
  if (projection.filter !== undefined && !matchesFilter(projection.filter, item)) return undefined;
  let id: string;
  try {
    id = documentId(item as MarshalledKey, keyAttributes);
  } catch (error) {
    if (error instanceof KeyError) throw new ProjectionError(`item key: ${error.message}`, '(unknown)');
    throw error;
  }
  try {
    const { include, exclude } = attributeFilterOf(projection);
    const document: TypesenseDocument = { id };
    for (const [name, value] of Object.entries(item)) {
      if (name === 'id' || exclude.has(name) || (include !== undefined && !include.has(name))) continue;
      if (value.NULL !== undefined) continue; // An absent field, as Typesense would store it (see documentValue).
      setMember(document, name, documentValue(value));
    }
    return document;
  } catch (error) {
    throw new ProjectionError(`cannot project item: ${(error as Error).message}`, id);
  }
}
