export type Document = Record<string, unknown>;

export interface Drift {
  /** In the table, not in the index. */
  missing: string[];
  /** In the index, not in the table (a delete not applied, or a resurrection). */
  extra: string[];
  /** In both, with different field values: the index holds an old state. */
  stale: { id: string; fields: string[] }[];
}

/** The keys holding a value: Typesense stores no null (see projectItem), so a key holding one counts as absent. */
const presentKeys = (document: Document): string[] =>
  Object.keys(document).filter((key) => document[key] !== null && document[key] !== undefined);

/**
 * Equality of JSON values, blind to the order of object keys. An object key holding null counts as absent:
 * Typesense drops null fields when it stores a document (optional top-level nulls always, nested ones on
 * updates: src/validator.cpp validate_index_in_memory, src/index.cpp Index::get_doc_changes), so a null in
 * the table and a missing key in the index are the same state.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
    );
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const keysA = presentKeys(a as Document);
  const keysB = presentKeys(b as Document);
  return (
    keysA.length === keysB.length &&
    keysA.every((key) => sameValue((a as Document)[key], (b as Document)[key]))
  );
}

/**
 * The fields whose values differ, sorted. A field holding `null` counts as absent: Typesense never keeps
 * a null through an upsert (see projectItem), so an old document stored with one is not stale for it.
 */
export function staleFields(want: Document, have: Document): string[] {
  return [...new Set([...presentKeys(want), ...presentKeys(have)])]
    .filter((field) => !sameValue(want[field] ?? null, have[field] ?? null))
    .sort();
}

/**
 * The one comparison behind every diff: the index's documents are fed one at a time against the
 * documents the table implies, which are consumed as they are matched. What is left at the end is
 * missing from the index. `expected` may hold each document encoded (verify keeps JSON text, a few times
 * smaller than the parsed object) and `decode` turns it back when its index document comes; the index's
 * side is never held, so a streamed export adds no memory. Stale and extra ids come in index order.
 */
class DriftScan<T> {
  private readonly drift: Drift = { missing: [], extra: [], stale: [] };

  constructor(
    private readonly expected: Map<string, T>,
    private readonly decode: (encoded: T) => Document,
  ) {}

  /** Compares one document the index holds with what the table implies for its id. */
  see(id: string, have: Document): void {
    const want = this.expected.get(id);
    if (want === undefined) {
      this.drift.extra.push(id);
      return;
    }
    // Deleted as matched: what stays is what the index misses, and its memory is freed early.
    this.expected.delete(id);
    const fields = staleFields(this.decode(want), have);
    if (fields.length > 0) this.drift.stale.push({ id, fields });
  }

  /** The drift, once the index's every document has been seen. */
  finish(): Drift {
    this.drift.missing.push(...this.expected.keys());
    return this.drift;
  }
}

/**
 * Compares the documents the table implies (`expected`, by id, encoded as `decode` reads them; consumed:
 * the map is emptied of every id the index holds) with the index's documents as they stream in.
 */
export async function diffStream<T>(
  expected: Map<string, T>,
  actual: AsyncIterable<Document> | Iterable<Document>,
  decode: (encoded: T) => Document,
): Promise<Drift & { indexDocuments: number }> {
  const scan = new DriftScan(expected, decode);
  let indexDocuments = 0;
  for await (const have of actual) {
    indexDocuments++;
    scan.see(String(have.id), have);
  }
  return { ...scan.finish(), indexDocuments };
}

/** Compares the documents the table implies with those the index holds, field by field (both in memory). */
export function diffDocuments(
  expected: ReadonlyMap<string, Document>,
  actual: ReadonlyMap<string, Document>,
): Drift {
  const scan = new DriftScan(new Map(expected), (document: Document) => document);
  for (const [id, have] of actual) scan.see(id, have);
  return scan.finish();
}

/** A collection field as `GET /collections/{name}` lists it. */
export type SchemaField = { name: string; type: string };

/**
 * The document as a collection with this schema stores it. A schema with a fallback `.*` or another
 * pattern field makes Typesense coerce "dirty" values by default (src/collection.cpp: COERCE_OR_REJECT
 * unless dirty_values says otherwise), so `{"sku": 123}` is stored as `"123"` in a string field; verify
 * compares after the same coercion, or such a document would look stale for ever and `--repair` loop.
 * Without a pattern field Typesense rejects such values instead (the writer dead-letters them).
 * Only top-level fields of a concrete type are coerced; a value that cannot be coerced is left alone.
 */
export function coerceToSchema(document: Document, fields: readonly SchemaField[]): Document {
  if (!fields.some(({ name }) => name.includes('*'))) return document;
  let coerced: Document | undefined;
  for (const { name, type } of fields) {
    if (name.includes('*') || name.includes('.') || name === 'id' || !(name in document)) continue;
    const value = document[name];
    const element = type.endsWith('[]') ? type.slice(0, -2) : undefined;
    const next =
      element === undefined
        ? coerceScalar(type, value)
        : Array.isArray(value)
          ? value.map((item) => coerceScalar(element, item))
          : value;
    if (next !== value && !sameValue(next, value)) {
      coerced ??= { ...document };
      coerced[name] = next;
    }
  }
  return coerced ?? document;
}

/** typesense src/validator.cpp coerce_string/int32_t/int64_t/float/bool (COERCE_OR_REJECT branch). */
function coerceScalar(type: string, value: unknown): unknown {
  switch (type) {
    case 'string':
      if (typeof value === 'boolean') return value ? 'true' : 'false';
      if (typeof value === 'number') return Number.isInteger(value) ? String(value) : cppFloatText(value);
      return value;
    case 'int32':
    case 'int64':
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value === 'number' && !Number.isInteger(value)) return Math.trunc(Math.fround(value));
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
      return value;
    case 'float':
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        return Number(value);
      return value;
    case 'bool':
      if (value === 0 || value === 1) return value === 1;
      if (typeof value === 'string' && /^(?:true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      return value;
    default:
      return value;
  }
}

/** A float as C++ `ostream << (float)x` writes it (StringUtils::float_to_str): %g with 6 significant digits. */
function cppFloatText(value: number): string {
  const single = Math.fround(value);
  if (single === 0 || !Number.isFinite(single)) return String(single);
  const [mantissa = '', exponentText = '0'] = single.toExponential(5).split('e');
  const exponent = Number(exponentText);
  const trim = (text: string) => (text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text);
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    return `${trim(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return trim(single.toFixed(Math.max(0, 5 - exponent)));
}
