export type Document = Record<string, unknown>;

export interface Drift {
  /** In the table, not in the index. */
  missing: string[];
  /** In the index, not in the table (a delete not applied, or a resurrection). */
  extra: string[];
  /** In both, with different field values: the index holds an old state. */
  stale: { id: string; fields: string[] }[];
}

/** Equality of JSON values, blind to the order of object keys. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
    );
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return (
    keysA.length === keysB.length &&
    keysA.every((key) => sameValue((a as Document)[key], (b as Document)[key]))
  );
}

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
      (field) => !sameValue(want[field], have[field]),
    );
    if (fields.length > 0) drift.stale.push({ id, fields: fields.sort() });
  }
  for (const id of actual.keys()) if (!expected.has(id)) drift.extra.push(id);
  return drift;
}
