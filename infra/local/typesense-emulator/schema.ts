/**
 * Collection schemas and document validation, after src/field.cpp (json_field_to_field, fields_to_json_fields,
 * flatten_field), src/collection_manager.cpp (CollectionManager::create_collection) and src/validator.cpp
 * (validate_index_in_memory and the coerce_* functions).
 */

import { SyncError } from '../../../functions/core/errors.ts';
import { isObject, type JsonObject, type JsonValue } from './json.ts';

export class RequestError extends SyncError {
  override name = 'RequestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type FieldDef = {
  name: string;
  type: string;
  optional: boolean;
  facet: boolean;
  index: boolean;
  sort: boolean;
  infix: boolean;
  locale: string;
  stem: boolean;
  store: boolean;
};

export type Doc = JsonObject;

export type Collection = {
  name: string;
  fields: FieldDef[];
  defaultSortingField: string;
  enableNestedFields: boolean;
  synonymSets?: string[];
  curationSets?: string[];
  createdAt: number;
  /** Keyed by id; Map keeps insertion order, and an upsert of an existing id keeps its place, like a seq id. */
  docs: Map<string, Doc>;
  nextSeqId: number;
  collectionId: number;
};

export type DirtyValues = 'reject' | 'drop' | 'coerce_or_reject' | 'coerce_or_drop';

const SCALAR_TYPES = ['string', 'int32', 'int64', 'float', 'bool'];
const VALID_TYPES = new Set([
  ...SCALAR_TYPES,
  ...SCALAR_TYPES.map((type) => `${type}[]`),
  'object',
  'object[]',
  'auto',
  'string*',
]);
const NUMERIC = new Set(['int32', 'int64', 'float', 'bool']);
const FIELDS_FORMAT =
  'Wrong format for `fields`. It should be an array of objects containing `name`, `type`, `optional` and `facet` properties.';

/** field::is_dynamic in include/field.h. */
export function isDynamic(field: Pick<FieldDef, 'name' | 'type'>): boolean {
  return (
    field.type === 'string*' ||
    (field.name !== '.*' && field.type === 'auto') ||
    (field.name !== '.*' && field.name.includes('.*'))
  );
}

/** Validates a create-collection body like CollectionManager::create_collection and field::json_field_to_field. */
export function parseSchema(
  schema: JsonObject,
  globalSets: boolean,
): Omit<Collection, 'docs' | 'nextSeqId' | 'collectionId' | 'createdAt'> {
  if (schema.name === undefined) throw new RequestError(400, 'Parameter `name` is required.');
  if (typeof schema.name !== 'string' || schema.name === '') {
    throw new RequestError(400, 'Parameter `name` must be a non-empty string.');
  }
  if (schema.fields === undefined) throw new RequestError(400, 'Parameter `fields` is required.');
  const dsf = schema.default_sorting_field ?? '';
  if (typeof dsf !== 'string') {
    throw new RequestError(
      400,
      '`default_sorting_field` should be a string. It should be the name of an int32/float field.',
    );
  }
  const nested = schema.enable_nested_fields ?? false;
  if (typeof nested !== 'boolean') throw new RequestError(400, '`enable_nested_fields` should be a boolean.');
  const sets = globalSets ? parseSetReferences(schema) : {};
  if (!Array.isArray(schema.fields) || schema.fields.length === 0) {
    throw new RequestError(
      400,
      'The `fields` value should be an array of objects containing `name`, `type` and optionally, `facet` properties.',
    );
  }
  if (dsf === 'id') throw new RequestError(400, 'Invalid `default_sorting_field` value: cannot be `id`.');
  // A field named `id` is ignored with a warning (field::json_fields_to_fields).
  const fields = schema.fields
    .filter((raw) => !(isObject(raw) && raw.name === 'id'))
    .map((raw) => parseField(raw, nested));
  if (fields.filter((field) => field.name === '.*').length > 1) {
    throw new RequestError(400, 'There can be only one field named `.*`.');
  }
  checkFields(fields, dsf);
  return { name: schema.name, fields, defaultSortingField: dsf, enableNestedFields: nested, ...sets };
}

function parseSetReferences(schema: JsonObject): { synonymSets: string[]; curationSets: string[] } {
  const out = { synonymSets: [] as string[], curationSets: [] as string[] };
  for (const [key, target, what] of [
    ['synonym_sets', out.synonymSets, 'synonym sets'],
    ['curation_sets', out.curationSets, 'curation sets'],
  ] as const) {
    const value = schema[key];
    if (value === undefined) continue;
    if (!Array.isArray(value)) throw new RequestError(400, `\`${key}\` should be an array of ${what}.`);
    for (const name of value) {
      if (typeof name !== 'string' || name === '') {
        throw new RequestError(400, `\`${key}\` should be an array of non-empty strings.`);
      }
      target.push(name);
    }
  }
  return out;
}

function parseField(raw: unknown, enableNestedFields: boolean): FieldDef {
  if (!isObject(raw) || typeof raw.name !== 'string' || typeof raw.type !== 'string') {
    throw new RequestError(400, FIELDS_FORMAT);
  }
  const { name, type } = raw;
  if (name === '') throw new RequestError(400, 'Field name cannot be empty.');
  // field::add_default_json_values: dynamic fields are optional unless told otherwise.
  const defaults: Record<string, JsonValue> = {
    facet: false,
    optional: name === '.*' || isDynamic({ name, type }),
    index: true,
    sort: NUMERIC.has(type),
    infix: false,
    stem: false,
    store: true,
  };
  for (const property of ['store', 'facet', 'optional', 'index', 'sort', 'infix', 'stem']) {
    const value = raw[property] ?? defaults[property];
    if (typeof value !== 'boolean') {
      throw new RequestError(
        400,
        `The \`${property}\` property of the field \`${name}\` should be a boolean.`,
      );
    }
  }
  const locale = raw.locale ?? '';
  if (typeof locale !== 'string') {
    throw new RequestError(400, `The \`locale\` property of the field \`${name}\` should be a string.`);
  }
  const field: FieldDef = {
    name,
    type,
    optional: (raw.optional ?? defaults.optional) as boolean,
    facet: (raw.facet ?? defaults.facet) as boolean,
    index: (raw.index ?? defaults.index) as boolean,
    sort: (raw.sort ?? defaults.sort) as boolean,
    infix: (raw.infix ?? defaults.infix) as boolean,
    locale,
    stem: (raw.stem ?? defaults.stem) as boolean,
    store: (raw.store ?? defaults.store) as boolean,
  };
  if (name === '.*') {
    if (!field.optional) throw new RequestError(400, 'Field `.*` must be an optional field.');
    if (field.facet) throw new RequestError(400, 'Field `.*` cannot be a facet field.');
    if (!field.index) throw new RequestError(400, 'Field `.*` must be an index field.');
    if (!VALID_TYPES.has(type)) throw new RequestError(400, 'The `type` of field `.*` is invalid.');
  }
  if ((type === 'object' || type === 'object[]') && !enableNestedFields) {
    throw new RequestError(
      400,
      'Type `object` or `object[]` can be used only when nested fields are enabled by setting` enable_nested_fields` to true.',
    );
  }
  return field;
}

/** field::fields_to_json_fields. */
function checkFields(fields: FieldDef[], dsf: string): void {
  let foundDsf = false;
  for (const field of fields) {
    if (!VALID_TYPES.has(field.type)) {
      throw new RequestError(
        400,
        `Field \`${field.name}\` has an invalid data type \`${field.type}\`, see docs for supported data types.`,
      );
    }
    if (field.name === dsf) {
      if (!['int32', 'int64', 'float'].includes(field.type)) {
        throw new RequestError(400, `Default sorting field \`${dsf}\` is not a sortable type.`);
      }
      if (field.optional) {
        throw new RequestError(400, `Default sorting field \`${dsf}\` cannot be an optional field.`);
      }
      foundDsf = true;
    }
    if (isDynamic(field) && !field.optional) {
      throw new RequestError(400, `Field \`${field.name}\` must be an optional field.`);
    }
    if (!field.index && field.facet) {
      throw new RequestError(
        400,
        `Field \`${field.name}\` cannot be a facet since it's marked as non-indexable.`,
      );
    }
    // field::is_sort_field: numbers, bools and plain strings only.
    if (field.sort && !(NUMERIC.has(field.type) || field.type === 'string')) {
      throw new RequestError(400, `Field \`${field.name}\` cannot be a sortable field.`);
    }
  }
  if (dsf !== '' && !foundDsf) {
    throw new RequestError(
      400,
      `Default sorting field is defined as \`${dsf}\` but is not found in the schema.`,
    );
  }
  const statics = fields
    .filter((field) => field.name !== '.*' && !isDynamic(field))
    .map((field) => field.name);
  if (new Set(statics).size !== statics.length) {
    throw new RequestError(400, 'There are duplicate field names in the schema.');
  }
}

/** The dirty_values of a write: the request's, or `coerce_or_reject` when the schema has dynamic fields. */
export function dirtyValuesFor(collection: Collection, requested: string | null): DirtyValues {
  const upper = (requested ?? '').toLowerCase();
  if (upper === 'reject' || upper === 'drop' || upper === 'coerce_or_reject' || upper === 'coerce_or_drop')
    return upper;
  // Collection::parse_dirty_values_option: REJECT unless there is a fallback (`.*`) or dynamic field.
  const dynamic = collection.fields.some((field) => field.name === '.*' || isDynamic(field));
  return dynamic ? 'coerce_or_reject' : 'reject';
}

/** field::get_type: the type a value gives an auto-detected field, or undefined when it cannot say. */
function detectType(value: JsonValue): string | undefined {
  const single = (item: JsonValue | undefined): string | undefined => {
    if (typeof item === 'string') return 'string';
    if (typeof item === 'number') return 'float';
    if (typeof item === 'bigint') return 'int64';
    if (typeof item === 'boolean') return 'bool';
    if (isObject(item)) return 'object';
    return undefined;
  };
  if (Array.isArray(value)) {
    const type = single(value[0]);
    return type === undefined ? undefined : `${type}[]`;
  }
  return single(value);
}

/**
 * Collection::detect_new_fields: a document key no field names but a dynamic field matches gets a field of
 * its own, typed by the dynamic field or (for `auto`) by this first value, appended to the schema for good.
 */
export function detectNewFields(collection: Collection, doc: Doc): void {
  const known = new Set(
    collection.fields.filter((field) => !isDynamic(field) && field.name !== '.*').map((f) => f.name),
  );
  const dynamic = collection.fields.filter((field) => isDynamic(field) && field.name !== '.*');
  const fallback = collection.fields.find((field) => field.name === '.*');
  if (dynamic.length === 0 && fallback === undefined) return;
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'id' || known.has(key) || value === null) continue;
    const rule = dynamic.find((field) => new RegExp(`^(?:${field.name})$`).test(key)) ?? fallback;
    if (rule === undefined) continue;
    let type: string | undefined = rule.type;
    if (type === 'auto') type = detectType(value);
    else if (type === 'string*') type = Array.isArray(value) ? 'string[]' : 'string';
    if (type === undefined) continue;
    if ((type === 'object' || type === 'object[]') && !collection.enableNestedFields) continue;
    collection.fields.push({ ...rule, name: key, type, optional: true, sort: NUMERIC.has(type) });
    known.add(key);
  }
}
