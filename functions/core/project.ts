import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Conversion, DocumentIdConfig, NestedMode } from '../contract/projection.ts';
import type { MarshalledKey } from './change.ts';
import { convertValue, Refusal } from './conversions.ts';
import { indexDocumentId } from './document-id.ts';
import { ProjectionError } from './errors.ts';
import { type ItemFilter, matchesFilter } from './filter.ts';
import { KeyError } from './keys.ts';

export type TypesenseDocument = { id: string } & Record<string, unknown>;

export interface Projection {
  /** Top-level attributes to keep (all when absent). */
  include?: string[] | undefined;
  /** Top-level attributes to drop. */
  exclude?: string[] | undefined;
  /** Only the items it matches are indexed (all when absent); see filter.ts. */
  filter?: ItemFilter | undefined;
  /** Top-level attribute → its field's name. */
  rename?: Readonly<Record<string, string>> | undefined;
  /** Nested maps kept as objects (default) or flattened to dotted names. */
  nested?: NestedMode | undefined;
  /** Field (after rename and flatten) → its conversion (conversions.ts). */
  convert?: Readonly<Record<string, Conversion>> | undefined;
  /** How a key becomes the document id (document-id.ts); the key's encoding when absent. */
  id?: DocumentIdConfig | undefined;
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
// Module-level comparators: a re-sync sorts the sets of every item, and a closure made per set showed in its profile.
const byText = (a: unknown, b: unknown) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);
const byNumber = (a: unknown, b: unknown) => Number(a) - Number(b) || byText(a, b);
const compareMembers = (numeric: boolean) => (numeric ? byNumber : byText);

// A view of the bytes, not a copy of them. Text is base64 already: a Lambda stream event's JSON images
// carry binary so (the SDK's reads give bytes).
const base64 = (bytes: Uint8Array | string) =>
  typeof bytes === 'string'
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

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
    const members = value.M;
    for (const name of Object.keys(members)) {
      const member = members[name] as AttributeValue;
      if (member.NULL === undefined) setMember(map, name, documentValue(member));
    }
    return map;
  }
  if (value.L !== undefined) {
    const list: unknown[] = [];
    for (const member of value.L) if (member.NULL === undefined) list.push(documentValue(member));
    return list;
  }
  if (value.SS !== undefined) return [...value.SS].sort(compareMembers(false));
  if (value.NS !== undefined) {
    const members = value.NS.map(numberValue);
    return members.sort(compareMembers(members.some((member) => typeof member === 'number')));
  }
  if (value.B !== undefined) return base64(value.B);
  if (value.BS !== undefined) return value.BS.map(base64).sort(compareMembers(false));
  throw new Error(`unsupported attribute value type ${JSON.stringify(Object.keys(value))}`);
}

/** The projection compiled once: a re-sync projects every item of the table with the same one. */
interface CompiledProjection {
  include: ReadonlySet<string> | undefined;
  exclude: ReadonlySet<string>;
  rename: ReadonlyMap<string, string>;
  flatten: boolean;
  convert: ReadonlyMap<string, Conversion>;
  /** Whether rename, flatten or convert apply at all; without them the plain copy is the fast path. */
  mapped: boolean;
}

const NO_PROJECTION: Projection = {};

const compiledProjections = new WeakMap<Projection, CompiledProjection>();

function compiledOf(projection: Projection): CompiledProjection {
  let compiled = compiledProjections.get(projection);
  if (compiled === undefined) {
    const rename = new Map(Object.entries(projection.rename ?? {}));
    const convert = new Map(Object.entries(projection.convert ?? {}));
    const flatten = projection.nested === 'flatten';
    compiled = {
      include: projection.include === undefined ? undefined : new Set(projection.include),
      exclude: new Set(projection.exclude ?? []),
      rename,
      flatten,
      convert,
      mapped: rename.size > 0 || convert.size > 0 || flatten,
    };
    compiledProjections.set(projection, compiled);
  }
  return compiled;
}

/** A leaf of a flattened map: one value, or (under a list of maps) the values gathered from every member. */
type Leaf = { gathered: boolean; values: AttributeValue[] };

const isMap = (value: AttributeValue) => value.M !== undefined;

/** The members of a list holding maps; undefined when it holds none; an error when it mixes maps with other values. */
function mapMembers(value: AttributeValue, path: string): AttributeValue[] | undefined {
  const members = value.L?.filter((member) => member.NULL === undefined);
  if (members === undefined || !members.some(isMap)) return undefined;
  if (!members.every(isMap))
    throw new Error(`cannot flatten ${path}: its list holds maps beside other values`);
  return members;
}

function addLeaf(leaves: Map<string, Leaf>, path: string, value: AttributeValue, gathered: boolean): void {
  const leaf = leaves.get(path);
  if (leaf === undefined) leaves.set(path, { gathered, values: [value] });
  else if (gathered && leaf.gathered) leaf.values.push(value);
  else throw new Error(`field ${path} is produced twice: a map member's name holds a dot`);
}

/**
 * Collects the leaves of `value` under dotted names, as Typesense flattens a document with nested fields
 * (src/field.cpp field::flatten_obj): a map member is `path.member`; under a list of maps every member's
 * values gather, in order, into one array per dotted name (lists inside concatenated), so
 * `lines: [{ sku: 'a' }, { sku: 'b' }]` gives `lines.sku: ['a', 'b']`. A list without maps is a leaf.
 */
function flattenInto(
  leaves: Map<string, Leaf>,
  path: string,
  value: AttributeValue,
  gathered: boolean,
): void {
  if (value.NULL !== undefined) return;
  if (value.M !== undefined) {
    for (const [name, member] of Object.entries(value.M))
      flattenInto(leaves, `${path}.${name}`, member, gathered);
    return;
  }
  const maps = mapMembers(value, path);
  if (maps !== undefined) {
    for (const member of maps) flattenInto(leaves, path, member, true);
  } else if (!gathered) addLeaf(leaves, path, value, false);
  else if (value.L !== undefined) {
    for (const member of value.L) flattenInto(leaves, path, member, true);
  } else {
    const members = (value.SS ?? value.NS ?? value.BS) ? documentMembers(value) : [value];
    for (const member of members) addLeaf(leaves, path, member, true);
  }
}

/** A set's members, in the sorted order projectItem gives sets, as attribute values. */
const documentMembers = (value: AttributeValue): AttributeValue[] =>
  (documentValue(value) as (string | number)[]).map((member) =>
    value.NS !== undefined ? { N: String(member) } : { S: String(member) },
  );

/** Adds one field to a mapped document, converted when `convert` names it; two values for one field are an error. */
function addField(
  document: TypesenseDocument,
  compiled: CompiledProjection,
  field: string,
  value: AttributeValue,
) {
  if (Object.hasOwn(document, field))
    throw new Error(`field ${field} is produced twice (by a rename or a flattened map): rename one of them`);
  const conversion = compiled.convert.get(field);
  if (conversion === undefined) return setMember(document, field, documentValue(value));
  const converted = convertValue(value, conversion);
  if (converted instanceof Refusal) throw new Error(`field ${field}: ${conversion} ${converted.reason}`);
  setMember(document, field, converted);
}

/** The document of an item under rename, flatten and convert (projectItem's slow path). */
function mappedDocument(item: Record<string, AttributeValue>, compiled: CompiledProjection, id: string) {
  const { include, exclude, rename, flatten } = compiled;
  const document: TypesenseDocument = { id };
  for (const [name, value] of Object.entries(item)) {
    if (name === 'id' || exclude.has(name) || (include !== undefined && !include.has(name))) continue;
    if (value.NULL !== undefined) continue;
    const field = rename.get(name) ?? name;
    if (!flatten || (value.M === undefined && mapMembers(value, field) === undefined)) {
      addField(document, compiled, field, value);
      continue;
    }
    const leaves = new Map<string, Leaf>();
    flattenInto(leaves, field, value, false);
    for (const [path, leaf] of leaves)
      addField(
        document,
        compiled,
        path,
        leaf.gathered ? { L: leaf.values } : (leaf.values[0] as AttributeValue),
      );
  }
  return document;
}

/**
 * A DynamoDB item (marshalled) → the Typesense document that represents it, or undefined when the
 * projection's filter leaves the item out of the index. The document id is derived from the key by the
 * projection's id rule (document-id.ts; an item attribute named `id` is replaced by it). Without a projection every item has a document. Mapping runs
 * in this order: filter (on the item), include/exclude (attribute names), rename, flatten, convert (on
 * the field names rename and flatten give).
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
  let id: string | undefined;
  try {
    id = indexDocumentId(item as MarshalledKey, keyAttributes, projection);
  } catch (error) {
    if (error instanceof KeyError) throw new ProjectionError(`item key: ${error.message}`, '(unknown)');
    throw error;
  }
  // A key the id rule leaves out of the index (its filter pins what the rule leaves out), as the filter does.
  if (id === undefined) return undefined;
  try {
    const compiled = compiledOf(projection);
    if (compiled.mapped) return mappedDocument(item, compiled, id);
    const { include, exclude } = compiled;
    const document: TypesenseDocument = { id };
    for (const name of Object.keys(item)) {
      if (name === 'id' || exclude.has(name) || (include !== undefined && !include.has(name))) continue;
      const value = item[name] as AttributeValue;
      if (value.NULL !== undefined) continue; // An absent field, as Typesense would store it (see documentValue).
      setMember(document, name, documentValue(value));
    }
    return document;
  } catch (error) {
    throw new ProjectionError(`cannot project item: ${(error as Error).message}`, id);
  }
}

/** Marks a bigint inside JSON text; the nonce keeps a string value from ever passing for one. */
const BIGINT_MARK = `\u0000${Math.random().toString(36).slice(2)}:`;
const BIGINT_MARKS = new RegExp(`"\\\\u0000${BIGINT_MARK.slice(1)}(-?\\d+)"`, 'g');

/**
 * A document as the JSON line Typesense is sent (or, with `indent`, a report holding documents as the CLI
 * prints it). An int64 beyond 2^53 (a `bigint`, from an `int64` conversion) is written as its bare digits,
 * which Typesense reads and stores as that exact int64; `JSON.stringify` alone cannot write it.
 */
export function documentJson(value: unknown, indent?: number): string {
  try {
    // The common case, at full speed: a replacer would cost the re-sync a third more CPU per document.
    return JSON.stringify(value, null, indent);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // A bigint: written below.
  }
  const text = JSON.stringify(
    value,
    (_name, member) => (typeof member === 'bigint' ? `${BIGINT_MARK}${member}` : member),
    indent,
  );
  return text.replace(BIGINT_MARKS, '$1');
}
