import { SyncError } from '../../../functions/core/errors.ts';
/**
 * JSON as Typesense's nlohmann::json sees it. `JSON.parse` cannot tell `1` from `1.0` and rounds integers
 * above 2^53, but the server can: `1.0` is a float (refused by an int32 field), and int64 values are exact.
 * So documents are parsed here with integers as `bigint` and floats as `number`, and written back with the
 * same distinction (a float keeps its `.0`, as nlohmann's dump does).
 */

export type JsonValue = null | boolean | bigint | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

export class JsonSyntaxError extends SyncError {
  override name = 'JsonSyntaxError';
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** nlohmann's parse error text, close enough to be recognised ("[json.exception.parse_error.101] ..."). */
function syntaxError(text: string, at: number, what: string): JsonSyntaxError {
  const column = at - text.lastIndexOf('\n', at - 1);
  const line = text.slice(0, at).split('\n').length;
  return new JsonSyntaxError(
    `[json.exception.parse_error.101] parse error at line ${line}, column ${column}: syntax error while parsing value - ${what}`,
  );
}

/**
 * Parses with the native JSON.parse when no number in the text is ambiguous to it (an integral float such as
 * `1.0` or `1e3`, or an integer beyond 2^53), which is almost always; otherwise with the exact parser below.
 */
export function parseJson(text: string): JsonValue {
  let native: unknown;
  try {
    native = JSON.parse(text);
  } catch {
    return parseExact(text);
  }
  NUMBER_OR_STRING.lastIndex = 0;
  for (let match = NUMBER_OR_STRING.exec(text); match !== null; match = NUMBER_OR_STRING.exec(text)) {
    if (match[1] === undefined) continue;
    const isFloat = match[2] !== undefined || match[3] !== undefined;
    const value = Number(match[1]);
    if (isFloat ? Number.isInteger(value) : !Number.isSafeInteger(value)) return parseExact(text);
  }
  return fromJs(native);
}

/** A JSON string (skipped) or a number literal (group 1; fraction group 2, exponent group 3). */
const NUMBER_OR_STRING = /"(?:[^"\\]|\\.)*"|(-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/g;

function parseExact(text: string): JsonValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const value = (): JsonValue => {
    ws();
    const c = text[i];
    if (c === undefined)
      throw syntaxError(text, i + 1, "unexpected end of input; expected '[', '{', or a literal");
    if (c === '{') {
      i++;
      const out: JsonObject = {};
      ws();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw syntaxError(text, i + 1, 'invalid literal; expected string literal');
        const key = string();
        ws();
        if (text[i] !== ':') throw syntaxError(text, i + 1, "unexpected token; expected ':'");
        i++;
        out[key] = value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return out;
        }
        throw syntaxError(text, i + 1, "unexpected end of input; expected '}'");
      }
    }
    if (c === '[') {
      i++;
      const out: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return out;
        }
        throw syntaxError(text, i + 1, "unexpected end of input; expected ']'");
      }
    }
    if (c === '"') return string();
    for (const [literal, result] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return result;
      }
    }
    const match = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (match === null) throw syntaxError(text, i + 1, 'invalid literal');
    i += match[0].length;
    // An integer literal stays an integer (bigint), exactly; a fraction or exponent makes a float.
    if (match[1] === undefined && match[2] === undefined) return BigInt(match[0]);
    return Number(match[0]);
  };
  const string = (): string => {
    const start = i;
    i++;
    // Plain strings (no escapes, no raw control characters) are sliced; others go through JSON.parse.
    let simple = true;
    for (;;) {
      const code = text.charCodeAt(i);
      if (Number.isNaN(code)) throw syntaxError(text, i + 1, 'invalid string: missing closing quote');
      if (code === 34) break;
      if (code === 92) {
        simple = false;
        i += 2;
        continue;
      }
      if (code < 0x20) simple = false;
      i++;
    }
    i++;
    const raw = text.slice(start, i);
    if (simple) return raw.slice(1, -1);
    try {
      return JSON.parse(raw) as string;
    } catch {
      throw syntaxError(text, i, 'invalid string');
    }
  };
  const result = value();
  ws();
  if (i < text.length) throw syntaxError(text, i + 1, 'unexpected token; expected end of input');
  return result;
}

/** nlohmann's dump: floats keep a fractional part or exponent, integers (bigint) are exact. */
export function stringifyJson(value: JsonValue | undefined): string {
  // Native stringify with markers for what it cannot write: bigints, and integral floats (`2.0`).
  const text = JSON.stringify(value ?? null, (_key, item: unknown) => {
    if (typeof item === 'bigint') return `\u0000i${item}`;
    if (typeof item === 'number' && Number.isInteger(item)) return `\u0000f${formatFloat(item)}`;
    return item;
  });
  return text.includes('\\u0000') ? text.replace(/"\\u0000[if]([^"]*)"/g, '$1') : text;
}

function formatFloat(value: number): string {
  if (!Number.isFinite(value)) return 'null';
  const text = String(value);
  if (/[.e]/.test(text)) return text.replace(/e\+?/, (e) => (e === 'e' ? 'e' : 'e+'));
  return `${text}.0`;
}

/** Converts a JS value (e.g. from `JSON.parse` in the emulator's own code) to the emulator's model. */
export function fromJs(value: unknown): JsonValue {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(fromJs);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJs(v)]));
  return value as JsonValue;
}

/**
 * RFC 7386 merge patch, as nlohmann's `merge_patch` (v27, v28): null deletes, objects merge recursively.
 * From v29 (src/index.cpp Index::get_doc_changes, apply_merge_patch and process_value) a value that replaces
 * another also loses its nulls inside arrays (`cleanArrays`).
 */
export function mergePatch(target: JsonValue | undefined, patch: JsonValue, cleanArrays = false): JsonValue {
  if (!isObject(patch)) return cleanArrays ? withoutNulls(patch) : patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value, cleanArrays);
  }
  return out;
}

function withoutNulls(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.filter((item) => item !== null).map(withoutNulls);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, item]) => item !== null)
        .map(([key, item]) => [key, withoutNulls(item)]),
    );
  }
  return value;
}

/** `%g` with 6 significant digits, as C++'s `ostream << float` prints (StringUtils::float_to_str). */
export function formatCFloat(value: number): string {
  const f = Math.fround(value);
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  if (!Number.isFinite(f)) return Number.isNaN(f) ? 'nan' : f > 0 ? 'inf' : '-inf';
  const exponent = Math.floor(Math.log10(Math.abs(Number(f.toPrecision(6)))));
  if (exponent < -4 || exponent >= 6) {
    const [mantissa, exp] = f.toExponential(5).split('e') as [string, string];
    const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const sign = exp.startsWith('-') ? '-' : '+';
    return `${trimmed}e${sign}${exp.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  const fixed = f.toFixed(Math.max(0, 5 - exponent));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}
