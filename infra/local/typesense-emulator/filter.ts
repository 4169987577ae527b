/**
 * filter_by, for the clauses the sync sends: src/filter.cpp and StringUtils::split_to_values.
 */
import { type Collection, type Doc, RequestError } from './schema.ts';

export type Predicate = (doc: Doc) => boolean;

/**
 * Supports one clause: `id:` forms (`id:x`, `id:=x`, `id:[a,b]`, backtick-quoted values) and `field:=value`,
 * `field:value`, `field:[a,b]` on schema fields. Boolean operators and parentheses are refused loudly rather
 * than half-supported, so a test never passes on a filter the emulator silently misread.
 */
export function compileFilter(collection: Collection, filter: string): Predicate {
  const expression = filter.trim();
  if (expression === '') throw new RequestError(400, 'Could not parse the filter query.');
  if (hasOperatorOutsideBackticks(expression)) {
    throw new RequestError(
      400,
      `Filter expression \`${expression}\` is not supported by the emulator: only a single id or field clause is.`,
    );
  }
  const colon = expression.indexOf(':');
  if (colon === -1) throw new RequestError(400, 'Could not parse the filter query.');
  const fieldName = expression.slice(0, colon).trim();
  let raw = expression.slice(colon + 1).trim();

  if (fieldName === 'id') {
    const emptyError = 'Error with filter field `id`: Filter value cannot be empty.';
    let negate = false;
    if (raw.startsWith('=')) raw = raw.slice(1).trimStart();
    else if (raw.startsWith('!=')) {
      negate = true;
      raw = raw.slice(2).trimStart();
    }
    if (raw === '') throw new RequestError(400, emptyError);
    const values =
      raw.startsWith('[') && raw.endsWith(']')
        ? splitToValues(raw.slice(1, -1))
        : splitToValues(raw).slice(0, 1);
    if (values.length === 0) throw new RequestError(400, emptyError);
    // As in Typesense, a `*` value matches every document.
    const all = values.includes('*');
    const wanted = new Set(values);
    return (doc) => (all || wanted.has(doc.id as string)) !== negate;
  }

  const field = collection.fields.find((candidate) => candidate.name === fieldName);
  if (field === undefined) {
    throw new RequestError(404, `Could not find a filter field named \`${fieldName}\` in the schema.`);
  }
  const exact = raw.startsWith('=');
  if (exact) raw = raw.slice(1).trimStart();
  if (raw === '')
    throw new RequestError(400, `Error with filter field \`${fieldName}\`: Filter value cannot be empty.`);
  const values =
    raw.startsWith('[') && raw.endsWith(']') ? splitToValues(raw.slice(1, -1)) : splitToValues(raw);
  const base = field.type.replace(/\[\]$/, '');

  const matchesOne = (candidate: unknown): boolean =>
    values.some((value) => {
      if (base === 'string' || base === 'string*' || base === 'auto') {
        if (typeof candidate !== 'string') return String(candidate) === value;
        if (exact) return candidate === value;
        // `field:value` on a string is a token match in Typesense; a case-insensitive word match approximates it.
        const tokens = candidate.toLowerCase().split(/\s+/);
        return value
          .toLowerCase()
          .split(/\s+/)
          .every((token) => tokens.includes(token));
      }
      if (base === 'bool') return String(candidate) === value;
      return (
        (typeof candidate === 'number' || typeof candidate === 'bigint') &&
        Number(candidate) === Number(value)
      );
    });

  return (doc) => {
    const candidate = doc[fieldName];
    if (candidate === undefined || candidate === null) return false;
    return Array.isArray(candidate) ? candidate.some(matchesOne) : matchesOne(candidate);
  };
}

function hasOperatorOutsideBackticks(expression: string): boolean {
  let inTick = false;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === '`') inTick = !inTick;
    else if (!inTick) {
      if (c === '(' || c === ')') return true;
      if ((c === '&' || c === '|') && expression[i + 1] === c) return true;
    }
  }
  return false;
}

/**
 * Typesense's `StringUtils::split_to_values`, quirks included: commas split outside backticks, backticks
 * themselves are dropped, an escaped backtick keeps its backslash, and every value is trimmed.
 */
export function splitToValues(input: string): string[] {
  const values: string[] = [];
  let insideTick = false;
  let buffer = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string;
    const escapedTick = i !== 0 && c === '`' && input[i - 1] === '\\';
    if (c === '`') {
      if (escapedTick) buffer += c;
      else if (insideTick && buffer !== '') insideTick = false;
      else insideTick = true;
    } else if (c === ',' && !insideTick) {
      values.push(buffer.trim());
      buffer = '';
    } else {
      buffer += c;
    }
  }
  if (buffer !== '') values.push(buffer.trim());
  return values;
}
