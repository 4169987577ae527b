import type { CollectionDefinition } from './typesense-port.ts';

/*
 * The deployed schema against the live collection's, compared after normalising what Typesense adds
 * when it stores a schema (asserted in test/contract/typesense.contract.test.ts):
 * - each field's defaults (src/field.cpp json_field_to_field): facet, index, optional (true for `.*`
 *   and dynamic fields), sort (true for numbers, bools and geopoints), infix, locale, stem, store;
 * - the collection's (Collection::get_summary_json): default_sorting_field '', enable_nested_fields
 *   false, token_separators and symbols_to_index [] (and v30's synonym_sets, curation_sets []);
 * - fields it appends on its own: those a `.*` or dynamic field detected from documents, and the
 *   children of object fields (`address.city`);
 * - the field order, and its statistics (name, num_documents, created_at).
 */

/** One way the live collection is not what is deployed: `fields.brand.facet`, `fields.rating`, … */
export interface SchemaDifference {
  /** `fields.<name>` for a field added or removed, `fields.<name>.<property>`, or a collection property. */
  path: string;
  /** Undefined: the deployed schema lacks it (a field the live collection has). */
  deployed: unknown;
  /** Undefined: the live collection lacks it (a field to add). */
  live: unknown;
}

type Field = Record<string, unknown> & { name: string; type: string };

const SORTED_BY_DEFAULT = new Set(['int32', 'int64', 'float', 'bool', 'geopoint', 'geopoint[]']);
const OBJECT_TYPES = new Set(['object', 'object[]', 'auto']);

/** field::is_dynamic in include/field.h: a field whose name or type matches others. */
export function isDynamicField(field: Pick<Field, 'name' | 'type'>): boolean {
  return (
    field.name === '.*' || field.type === 'string*' || field.type === 'auto' || field.name.includes('.*')
  );
}

/** A field with the defaults Typesense fills in (src/field.cpp field::json_field_to_field). */
export function normaliseField(raw: Record<string, unknown>): Field {
  const field = raw as Field;
  const defaults = {
    facet: false,
    optional: isDynamicField(field),
    index: true,
    sort: SORTED_BY_DEFAULT.has(field.type),
    infix: false,
    locale: '',
    stem: false,
    store: true,
  };
  // range_index is only listed when true (Collection::get_summary_json).
  const { range_index: rangeIndex, ...rest } = field;
  return { ...defaults, ...rest, ...(rangeIndex === true ? { range_index: true } : {}) };
}

const COLLECTION_DEFAULTS: Record<string, unknown> = {
  default_sorting_field: '',
  enable_nested_fields: false,
  token_separators: [],
  symbols_to_index: [],
};
/** v30 lists these on every collection; older servers never do. Compared only when deployed names them. */
const LISTED_WHEN_SUPPORTED = ['synonym_sets', 'curation_sets'];
const STATISTICS = new Set(['name', 'num_documents', 'created_at', 'fields']);

/** JSON with object keys sorted: equal values give equal text whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** Whether Typesense could have added this live field on its own, given the deployed fields. */
function autoDetected(name: string, deployed: readonly Field[]): boolean {
  return deployed.some((field) => {
    if (field.name === '.*') return true;
    if (OBJECT_TYPES.has(field.type) && name.startsWith(`${field.name}.`)) return true;
    return isDynamicField(field) && new RegExp(`^(?:${field.name})$`).test(name);
  });
}

function diffFields(deployedRaw: CollectionDefinition['fields'], liveRaw: CollectionDefinition['fields']) {
  // A field named `id` is ignored by Typesense (field::json_fields_to_fields).
  const deployed = deployedRaw.map(normaliseField).filter((field) => field.name !== 'id');
  const live = new Map(liveRaw.map((raw) => [String(raw.name), normaliseField(raw)]));
  const differences: SchemaDifference[] = [];
  for (const field of deployed) {
    const current = live.get(field.name);
    live.delete(field.name);
    if (current === undefined) {
      differences.push({ path: `fields.${field.name}`, deployed: field, live: undefined });
      continue;
    }
    for (const property of new Set([...Object.keys(field), ...Object.keys(current)])) {
      if (!same(field[property], current[property]))
        differences.push({
          path: `fields.${field.name}.${property}`,
          deployed: field[property],
          live: current[property],
        });
    }
  }
  for (const [name, field] of live)
    if (!autoDetected(name, deployed))
      differences.push({ path: `fields.${name}`, deployed: undefined, live: field });
  return differences;
}

/**
 * What differs between the deployed schema and the live collection's, after normalising both; empty
 * when a re-sync would build the same collection.
 */
export function diffSchemas(deployed: CollectionDefinition, live: CollectionDefinition): SchemaDifference[] {
  const differences = diffFields(deployed.fields, live.fields);
  const properties = new Set(
    [...Object.keys(COLLECTION_DEFAULTS), ...Object.keys(deployed), ...Object.keys(live)].filter(
      (key) => !STATISTICS.has(key),
    ),
  );
  for (const property of properties) {
    if (LISTED_WHEN_SUPPORTED.includes(property) && deployed[property] === undefined) continue;
    const fallback = COLLECTION_DEFAULTS[property];
    const want = deployed[property] ?? fallback;
    const have = live[property] ?? fallback;
    if (!same(want, have)) differences.push({ path: property, deployed: want, live: have });
  }
  return differences;
}

/** One line per difference, for a deploy's answer, the log and `schema diff`. */
export function describeDifference({ path, deployed, live }: SchemaDifference): string {
  if (live === undefined) return `${path}: added`;
  if (deployed === undefined) return `${path}: removed`;
  return `${path}: ${JSON.stringify(live)} → ${JSON.stringify(deployed)}`;
}
