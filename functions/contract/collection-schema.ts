import { isRecord } from './records.ts';

/**
 * The collection schema the construct's `typesense.schema` prop holds (a Typesense collection schema
 * without its name), and the checks of what Typesense's `POST /collections` would reject. Pure and free
 * of dependencies: the construct runs it at synth (lib/validate-props.ts), the index custom resource's
 * handler may run it again at deploy. Each rule names the server code it mirrors:
 * - include/field.h, `field::fields_to_json_fields` and `has_valid_type` (typesense/typesense);
 * - src/field.cpp, `field::json_field_to_field`;
 * - src/collection_manager.cpp, `CollectionManager::create_collection`;
 * - https://typesense.org/docs/latest/api/collections.html (field types, schema parameters).
 */

/** Every field type Typesense accepts (include/field.h `field_types`, docs "Field types"). */
export const COLLECTION_FIELD_TYPES = [
  'string',
  'string[]',
  'int32',
  'int32[]',
  'int64',
  'int64[]',
  'float',
  'float[]',
  'bool',
  'bool[]',
  'geopoint',
  'geopoint[]',
  'geopolygon',
  'object',
  'object[]',
  'string*',
  'auto',
  'image',
] as const;
export type CollectionFieldType = (typeof COLLECTION_FIELD_TYPES)[number];

export interface CollectionSchemaField {
  readonly name: string;
  readonly type: string;
  readonly optional?: boolean;
  readonly facet?: boolean;
  readonly index?: boolean;
  readonly sort?: boolean;
  readonly infix?: boolean;
  readonly locale?: string;
  readonly [option: string]: unknown;
}

/** A collection schema without `name`: the name is versioned by the sync (`<alias>_<timestamp>`). */
export interface CollectionSchema {
  readonly fields: readonly CollectionSchemaField[];
  readonly default_sorting_field?: string;
  readonly enable_nested_fields?: boolean;
  readonly token_separators?: readonly string[];
  readonly symbols_to_index?: readonly string[];
  readonly [option: string]: unknown;
}

const FIELD_FLAGS = ['optional', 'facet', 'index', 'sort', 'infix'] as const;
/** Types whose sort index is on unless `sort: false` (src/field.cpp, the default of `sort`). */
const SORTED_BY_DEFAULT = new Set(['int32', 'int64', 'float', 'bool', 'geopoint', 'geopoint[]']);
/** Types that may have a sort index (include/field.h `is_sort_field`). */
const SORTABLE = new Set([...SORTED_BY_DEFAULT, 'string']);
const OBJECT_TYPES = new Set(['object', 'object[]']);
const KNOWN_TYPES: ReadonlySet<string> = new Set(COLLECTION_FIELD_TYPES);

/** A field name with `.*` in it matches document fields by pattern (docs: "RegEx field names"). */
const isPatternName = (name: string) => name.includes('.*');

/**
 * Dynamic fields: `string*`, `auto` (except the `.*` fallback) and pattern names (include/field.h
 * `field::is_dynamic`). Typesense makes them optional by default and rejects `optional: false`.
 */
const isDynamic = (field: CollectionSchemaField) =>
  field.type === 'string*' ||
  (field.name !== '.*' && field.type === 'auto') ||
  (field.name !== '.*' && isPatternName(field.name));

/** Whether documents may lack the field: `optional`, which defaults to true for dynamic fields (src/field.cpp). */
const isOptional = (field: CollectionSchemaField) =>
  field.optional ?? (field.name === '.*' || isDynamic(field));

/** A field inside an object (src/field.cpp: object types, or a dotted name with nested fields enabled). */
const isNested = (field: CollectionSchemaField, nestedFields: boolean) =>
  OBJECT_TYPES.has(field.type) || (!isPatternName(field.name) && nestedFields && field.name.includes('.'));

/**
 * Every reason Typesense would reject creating a collection with `schema`, each naming the field and
 * the option; empty when it would accept it. Messages start with the schema option (`fields[2] "price"`),
 * for the caller to prefix with where the schema came from.
 */
export function collectionSchemaProblems(schema: unknown): string[] {
  if (!isRecord(schema)) return ['must be an object with a fields list'];
  const problems: string[] = [];
  if ('name' in schema) {
    problems.push('must not have a name: the sync names each collection after the alias and a version');
  }
  problems.push(...collectionOptionProblems(schema));
  const { fields } = schema;
  if (!Array.isArray(fields) || fields.length === 0) {
    problems.push('fields must list at least one field');
    return problems;
  }
  const nestedFields = schema.enable_nested_fields === true;
  const wellFormed: CollectionSchemaField[] = [];
  fields.forEach((field: unknown, position) => {
    const shapeProblem = fieldShapeProblem(field);
    if (shapeProblem !== undefined) {
      problems.push(`fields[${position}] ${shapeProblem}`);
      return;
    }
    const checked = field as CollectionSchemaField;
    wellFormed.push(checked);
    const where = `fields[${position}] ${JSON.stringify(checked.name)}`;
    problems.push(...fieldProblems(checked, nestedFields).map((problem) => `${where} ${problem}`));
  });
  problems.push(...duplicateNameProblems(wellFormed));
  if (typeof schema.default_sorting_field === 'string' && schema.default_sorting_field !== '') {
    problems.push(...defaultSortingFieldProblems(schema.default_sorting_field, wellFormed));
  }
  return problems;
}

/** The collection-level options (src/collection_manager.cpp `create_collection`). */
function collectionOptionProblems(schema: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const sorting = schema.default_sorting_field;
  if (sorting !== undefined && typeof sorting !== 'string') {
    problems.push('default_sorting_field must be a string: the name of a numeric field');
  }
  const nested = schema.enable_nested_fields;
  if (nested !== undefined && typeof nested !== 'boolean') {
    problems.push('enable_nested_fields must be a boolean');
  }
  for (const option of ['token_separators', 'symbols_to_index'] as const) {
    const symbols = schema[option];
    if (symbols === undefined) continue;
    const characters =
      Array.isArray(symbols) && symbols.every((s) => typeof s === 'string' && s.length === 1);
    if (!characters) {
      problems.push(`${option} must be a list of single characters, got ${JSON.stringify(symbols)}`);
    }
  }
  return problems;
}

/** A field must be an object with a non-empty string name and a string type (src/field.cpp). */
function fieldShapeProblem(field: unknown): string | undefined {
  if (!isRecord(field)) return 'must be an object with a name and a type';
  if (typeof field.name !== 'string' || field.name.trim() === '') return 'must have a non-empty name';
  if (typeof field.type !== 'string') return `${JSON.stringify(field.name)} must have a type`;
  return undefined;
}

/** One field's own options (src/field.cpp `json_field_to_field`, include/field.h `fields_to_json_fields`). */
function fieldProblems(field: CollectionSchemaField, nestedFields: boolean): string[] {
  const problems: string[] = [];
  if (!KNOWN_TYPES.has(field.type)) {
    problems.push(
      `has the type ${JSON.stringify(field.type)}, which Typesense does not know (one of: ${COLLECTION_FIELD_TYPES.join(', ')})`,
    );
    return problems;
  }
  for (const flag of FIELD_FLAGS) {
    if (field[flag] !== undefined && typeof field[flag] !== 'boolean')
      problems.push(`${flag} must be a boolean`);
  }
  if (
    field.locale !== undefined &&
    (typeof field.locale !== 'string' || ![0, 2].includes(field.locale.length))
  ) {
    problems.push('locale must be a two-letter language code');
  }
  if ('drop' in field) problems.push('must not have drop: Typesense allows it only in a schema update');
  if (OBJECT_TYPES.has(field.type) && !nestedFields) {
    problems.push(`has the type ${field.type}, which needs enable_nested_fields: true`);
  }
  // Typesense checks the `.*` field on its own and accepts it once those checks pass.
  if (field.name === '.*') return [...problems, ...fallbackFieldProblems(field)];
  if (field.optional === false && isDynamic(field) && !isNested(field, nestedFields)) {
    problems.push('must be optional: a string*, auto or pattern-named field matches only some documents');
  }
  if (field.index === false && !isOptional(field)) {
    problems.push('must be optional: true, since it has index: false');
  }
  if (field.index === false && field.facet === true) problems.push('cannot be a facet: it has index: false');
  if (field.sort === true && !SORTABLE.has(field.type)) {
    problems.push(`cannot be sortable: a ${field.type} field has no sort index`);
  }
  if (field.num_dim !== undefined) problems.push(...vectorProblems(field));
  return problems;
}

/** The `.*` field, which gives unlisted fields a type (src/field.cpp). */
function fallbackFieldProblems(field: CollectionSchemaField): string[] {
  const problems: string[] = [];
  if (field.optional === false) problems.push('must be optional: it matches every unlisted field');
  if (field.facet === true) problems.push('cannot be a facet: Typesense refuses facet on the .* field');
  if (field.index === false) problems.push('must be indexed: index: false makes the .* field pointless');
  return problems;
}

/** A vector field: `num_dim` on a float[] field, without facet or sort (src/field.cpp). */
function vectorProblems(field: CollectionSchemaField): string[] {
  const problems: string[] = [];
  const dimensions = field.num_dim;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions <= 0) {
    problems.push('num_dim must be a positive integer');
  }
  if (field.type !== 'float[]') problems.push('has num_dim, which is allowed only on a float[] field');
  if (field.facet === true) problems.push('cannot be a facet: it is a vector field (num_dim)');
  if (field.sort === true) problems.push('cannot be sortable: it is a vector field (num_dim)');
  return problems;
}

/**
 * Two fields of one name (include/field.h): Typesense allows at most one static and one dynamic field
 * of a name.
 */
function duplicateNameProblems(fields: readonly CollectionSchemaField[]): string[] {
  const byName = new Map<string, { static: number; dynamic: number }>();
  for (const field of fields) {
    const count = byName.get(field.name) ?? { static: 0, dynamic: 0 };
    if (field.name === '.*' || isDynamic(field)) count.dynamic += 1;
    else count.static += 1;
    byName.set(field.name, count);
  }
  return [...byName]
    .filter(([, count]) => count.static > 1 || count.dynamic > 1)
    .map(([name]) => `fields lists ${JSON.stringify(name)} more than once`);
}

/**
 * The default sorting field (include/field.h `fields_to_json_fields`): a listed, non-optional field with a
 * sort index: int32, int64, float or bool (sorted unless `sort: false`), or a string with `sort: true`;
 * never a geopoint.
 */
function defaultSortingFieldProblems(name: string, fields: readonly CollectionSchemaField[]): string[] {
  const field = fields.find((each) => each.name === name);
  const where = `default_sorting_field ${JSON.stringify(name)}`;
  if (field === undefined) return [`${where} is not one of the fields`];
  const problems: string[] = [];
  const sortIndex = (field.sort ?? SORTED_BY_DEFAULT.has(field.type)) && SORTABLE.has(field.type);
  if (field.type === 'geopoint' || field.type === 'geopoint[]') {
    problems.push(`${where} cannot be a geopoint field`);
  } else if (!sortIndex) {
    problems.push(
      `${where} must be a sortable field: int32, int64, float or bool (not sort: false), or a string with sort: true; it is a ${field.type}`,
    );
  }
  if (isOptional(field)) {
    problems.push(`${where} cannot be optional: every document must have it`);
  }
  return problems;
}
