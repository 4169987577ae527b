export type Document = Record<string, unknown>;

export interface Drift {
  /** In the table, not in the index. */
  missing: string[];
  /** In the index, not in the table (a delete not applied, or a resurrection). */
  extra: string[];
  /** In both, with different field values: the index holds an old state. */
  stale: { id: string; fields: string[] }[];
}

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
  const present = (doc: object) => Object.keys(doc).filter((key) => (doc as Document)[key] !== null);
  const keysA = present(a);
  const keysB = present(b);
  return (
    keysA.length === keysB.length &&
    keysA.every((key) => sameValue((a as Document)[key], (b as Document)[key]))
  );
}

const sameField = (a: unknown, b: unknown) => ((a ?? null) === null ? (b ?? null) === null : sameValue(a, b));

/** Compares the documents the table implies with those the index holds, field by field. */
export function diffDocuments(
  expected: ReadonlyMap<string, Document>,
  actual: ReadonlyMap<string, Document>,
): Drift {
  const drift: Drift = { missing: [], extra: [], stale: [] };
  for (const [id, want] of expected) {
    const have = actual.get(id);
    if (have === undefined) {
      drift.missing.push(id);
      continue;
    }
    const fields = [...new Set([...Object.keys(want), ...Object.keys(have)])].filter(
      (field) => !sameField(want[field], have[field]),
    );
    if (fields.length > 0) drift.stale.push({ id, fields: fields.sort() });
  }
  for (const id of actual.keys()) if (!expected.has(id)) drift.extra.push(id);
  return drift;
}
