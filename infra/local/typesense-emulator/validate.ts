/**
 * Document validation and value coercion, after src/validator.cpp (validate_index_in_memory, coerce_element
 * and coerce_string / coerce_int32_t / coerce_int64_t / coerce_float / coerce_bool) and src/field.cpp
 * (flatten_field, for nested fields).
 */
import { formatCFloat, isObject, type JsonValue } from './json.ts';
import { type Collection, type DirtyValues, type Doc, type FieldDef, isDynamic } from './schema.ts';

const INT32_MIN = -2_147_483_648n;
const INT32_MAX = 2_147_483_647n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

type Operation = 'create' | 'upsert' | 'update' | 'emplace';

/** The error (status, message) of the first field that fails, or undefined. Coerces `doc` in place. */
export function validateDocument(
  collection: Collection,
  doc: Doc,
  operation: Operation,
  isUpdate: boolean,
  dirty: DirtyValues,
): { code: number; error: string } | undefined {
  const nested = validateNested(collection, doc, isUpdate || operation === 'update');
  if (nested !== undefined) return nested;
  const dsf = collection.defaultSortingField;
  if ((operation === 'create' || operation === 'upsert') && dsf !== '' && !(dsf in doc)) {
    return {
      code: 400,
      error: `Field \`${dsf}\` has been declared as a default sorting field, but is not found in the document.`,
    };
  }
  for (const field of collection.fields) {
    if (field.name === '.*' || isDynamic(field) || field.name.includes('.')) continue;
    if (field.type === 'object' || field.type === 'object[]') continue;
    const present = field.name in doc;
    if (!present && (field.optional || operation === 'update' || (operation === 'emplace' && isUpdate)))
      continue;
    if (!present) {
      return {
        code: 400,
        error: `Field \`${field.name}\` has been declared in the schema, but is not found in the document.`,
      };
    }
    const value = doc[field.name] as JsonValue;
    if (value === null && field.optional) {
      // An optional null is dropped on write; on update it is kept so the merge removes the field.
      if (!isUpdate) delete doc[field.name];
      continue;
    }
    const error = coerceField(field, doc, dirty);
    if (error !== undefined) return { code: 400, error };
  }
  return undefined;
}

/** field::flatten_field: a required nested field that is missing is a 404, a wrong shape a 400. */
function validateNested(
  collection: Collection,
  doc: Doc,
  isUpdate: boolean,
): { code: number; error: string } | undefined {
  if (!collection.enableNestedFields) return undefined;
  for (const field of collection.fields) {
    const isObjectType = field.type === 'object' || field.type === 'object[]';
    if (
      !field.index ||
      isDynamic(field) ||
      field.name === '.*' ||
      (!isObjectType && !field.name.includes('.'))
    )
      continue;
    if (field.name in doc && field.name.includes('.')) continue;
    const values = walk(doc, field.name.split('.'));
    if (values === undefined) {
      if (field.optional || isUpdate) continue;
      return { code: 404, error: `Field \`${field.name}\` not found.` };
    }
    const ok = values.every((value) => {
      if (value === null) return field.optional;
      if (field.type === 'object') return isObject(value);
      if (field.type === 'object[]')
        return isObject(value) || (Array.isArray(value) && value.every(isObject));
      return typeMatches(field.type.replace(/\[\]$/, ''), value);
    });
    if (!ok) return { code: 400, error: `Field \`${field.name}\` has an incorrect type.` };
  }
  return undefined;
}

function walk(value: JsonValue | undefined, path: string[]): JsonValue[] | undefined {
  if (path.length === 0) return value === undefined ? undefined : [value];
  if (Array.isArray(value)) {
    const found = value.map((item) => walk(item, path)).filter((item) => item !== undefined);
    return found.length === 0 ? undefined : found.flat();
  }
  if (!isObject(value)) return undefined;
  const [head, ...rest] = path as [string, ...string[]];
  return walk(value[head], rest);
}

function typeMatches(type: string, value: JsonValue): boolean {
  if (Array.isArray(value)) return value.every((item) => typeMatches(type, item));
  if (type === 'string') return typeof value === 'string';
  if (type === 'bool') return typeof value === 'boolean';
  if (type === 'float') return typeof value === 'number' || typeof value === 'bigint';
  return typeof value === 'bigint';
}

/** coerce_element for one top-level field; returns the error message or undefined. */
function coerceField(field: FieldDef, doc: Doc, dirty: DirtyValues): string | undefined {
  const { name, type } = field;
  const value = doc[name] as JsonValue;
  if (type === 'auto' || type === 'string*') return undefined;
  if (!type.endsWith('[]')) {
    const result = coerceScalar(type, value, dirty, field.optional, false, name);
    if (result.error !== undefined) return result.error;
    if (result.drop) delete doc[name];
    else doc[name] = result.value as JsonValue;
    return undefined;
  }
  const items = value === null ? [] : value;
  if (!Array.isArray(items)) {
    if (field.optional && (dirty === 'drop' || dirty === 'coerce_or_drop')) {
      delete doc[name];
      return undefined;
    }
    return `Field \`${name}\` must be an array.`;
  }
  const out: JsonValue[] = [];
  for (const item of items) {
    const result = coerceScalar(type.slice(0, -2), item, dirty, field.optional, true, name);
    if (result.error !== undefined) return result.error;
    if (!result.drop) out.push(result.value as JsonValue);
  }
  doc[name] = out;
  return undefined;
}

type Coerced = { value?: JsonValue; drop?: boolean; error?: string };

function coerceScalar(
  type: string,
  value: JsonValue,
  dirty: DirtyValues,
  optional: boolean,
  inArray: boolean,
  name: string,
): Coerced {
  const article: Record<string, string> = inArray
    ? {
        string: 'an array of',
        int32: 'an array of',
        int64: 'an array of',
        float: 'a array of',
        bool: 'a array of',
      }
    : { string: 'a', int32: 'an', int64: 'an', float: 'a', bool: 'a' };
  const error = `Field \`${name}\` must be ${article[type] ?? 'a'} ${type}.`;
  if (isExpectedType(type, value)) return { value };
  if (dirty === 'reject') return { error };
  if (dirty === 'drop') return optional ? { drop: true } : { error };
  const coerced = coerce(type, value);
  if (coerced === 'bad-bool') return { error };
  if (coerced !== undefined) {
    if (type === 'int32' && typeof coerced === 'bigint' && coerced > INT32_MAX) {
      // coerce_int32_t's range check runs only on coerced values (a JSON integer is never checked).
      if (optional && dirty === 'coerce_or_reject') return { drop: true };
      return { error: `Field \`${name}\` exceeds maximum value of int32.` };
    }
    return { value: coerced };
  }
  if (dirty === 'coerce_or_drop' && optional) return { drop: true };
  return { error };
}

function isExpectedType(type: string, value: JsonValue): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'int32':
    case 'int64':
      // `is_number_integer`: any JSON integer, even one above INT32_MAX for an int32 field (a server bug).
      return typeof value === 'bigint';
    case 'float':
      return typeof value === 'number' || typeof value === 'bigint';
    case 'bool':
      return typeof value === 'boolean';
    default:
      return false;
  }
}

function coerce(type: string, value: JsonValue): JsonValue | undefined | 'bad-bool' {
  switch (type) {
    case 'string':
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'number') return formatCFloat(value);
      if (typeof value === 'boolean') return value ? 'true' : 'false';
      return undefined;
    case 'int32':
    case 'int64': {
      // static_cast<intN_t>(item.get<float>()): through a 32-bit float first.
      if (typeof value === 'number') return BigInt(Math.trunc(Math.fround(value)));
      if (typeof value === 'boolean') return value ? 1n : 0n;
      if (typeof value === 'string') return parseCInteger(value, type === 'int32');
      return undefined;
    }
    case 'float':
      if (typeof value === 'string') return parseCFloat(value);
      if (typeof value === 'boolean') return value ? 1 : 0;
      return undefined;
    case 'bool':
      if (typeof value === 'bigint' && (value === 0n || value === 1n)) return value === 1n;
      if (typeof value === 'string') {
        const lower = value.toLowerCase();
        return lower === 'true' ? true : lower === 'false' ? false : 'bad-bool';
      }
      return undefined;
    default:
      return undefined;
  }
}

/**
 * StringUtils::is_int32_t / is_int64_t (strtol/strtoll consuming the whole string): leading whitespace and
 * a sign are allowed, trailing characters are not; int64 saturates like strtoll.
 */
function parseCInteger(text: string, int32: boolean): bigint | undefined {
  const match = /^[ \t\n\v\f\r]*([+-]?)(\d+)$/.exec(text);
  if (match === null) return undefined;
  let n = BigInt(match[2] as string);
  if (match[1] === '-') n = -n;
  if (int32) return n < INT32_MIN || n > INT32_MAX ? undefined : n;
  return n < INT64_MIN ? INT64_MIN : n > INT64_MAX ? INT64_MAX : n;
}

/** StringUtils::is_float (std::stof consuming the whole string) then std::atof. */
function parseCFloat(text: string): number | undefined {
  const body = text.replace(/^[ \t\n\v\f\r]+/, '');
  const decimal = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
  const special = /^[+-]?(?:inf|infinity|nan)$/i;
  if (!decimal.test(body) && !special.test(body)) return undefined;
  const n = special.test(body)
    ? /nan/i.test(body)
      ? Number.NaN
      : body.startsWith('-')
        ? -Infinity
        : Infinity
    : Number(body);
  // std::stof throws out_of_range beyond float's range.
  if (Number.isFinite(n) && Math.abs(n) > 3.4028234663852886e38) return undefined;
  return n;
}
