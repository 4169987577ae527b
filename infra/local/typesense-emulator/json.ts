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
  const parser = new ExactParser(text);
  const result = parser.value();
  parser.ws();
  if (parser.i < text.length)
    throw syntaxError(text, parser.i + 1, 'unexpected token; expected end of input');
  return result;
}

/** A recursive-descent JSON parser keeping integers exact (bigint) and floats as numbers; `i` is the cursor. */
class ExactParser {
  i = 0;

  constructor(private readonly text: string) {}

  ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i] as string)) this.i++;
  }

  value(): JsonValue {
    this.ws();
    const c = this.text[this.i];
    if (c === undefined)
      throw syntaxError(this.text, this.i + 1, "unexpected end of input; expected '[', '{', or a literal");
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    return this.literal();
  }

  /** Consumes `close` if it comes next (after white space); says whether it did. */
  private closes(close: string): boolean {
    this.ws();
    if (this.text[this.i] !== close) return false;
    this.i++;
    return true;
  }

  /** After a member: a `,` (more follow, true), the closing bracket (false), or a syntax error. */
  private more(close: string): boolean {
    this.ws();
    if (this.text[this.i] === ',') {
      this.i++;
      return true;
    }
    if (this.text[this.i] === close) {
      this.i++;
      return false;
    }
    throw syntaxError(this.text, this.i + 1, `unexpected end of input; expected '${close}'`);
  }

  private object(): JsonObject {
    this.i++;
    const out: JsonObject = {};
    if (this.closes('}')) return out;
    do {
      this.ws();
      if (this.text[this.i] !== '"')
        throw syntaxError(this.text, this.i + 1, 'invalid literal; expected string literal');
      const key = this.string();
      this.ws();
      if (this.text[this.i] !== ':')
        throw syntaxError(this.text, this.i + 1, "unexpected token; expected ':'");
      this.i++;
      out[key] = this.value();
    } while (this.more('}'));
    return out;
  }

  private array(): JsonValue[] {
    this.i++;
    const out: JsonValue[] = [];
    if (this.closes(']')) return out;
    do out.push(this.value());
    while (this.more(']'));
    return out;
  }

  private literal(): JsonValue {
    for (const [literal, result] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(literal, this.i)) {
        this.i += literal.length;
        return result;
      }
    }
    const match = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (match === null) throw syntaxError(this.text, this.i + 1, 'invalid literal');
    this.i += match[0].length;
    // An integer literal stays an integer (bigint), exactly; a fraction or exponent makes a float.
    if (match[1] === undefined && match[2] === undefined) return BigInt(match[0]);
    return Number(match[0]);
  }

  private string(): string {
    const { text } = this;
    const start = this.i;
    this.i++;
    // Plain strings (no escapes, no raw control characters) are sliced; others go through JSON.parse.
    let simple = true;
    for (;;) {
      const code = text.charCodeAt(this.i);
      if (Number.isNaN(code)) throw syntaxError(text, this.i + 1, 'invalid string: missing closing quote');
      if (code === 34) break;
      if (code === 92) {
        simple = false;
        this.i += 2;
        continue;
      }
      if (code < 0x20) simple = false;
      this.i++;
    }
    this.i++;
    const raw = text.slice(start, this.i);
    if (simple) return raw.slice(1, -1);
    try {
      return JSON.parse(raw) as string;
    } catch {
      throw syntaxError(text, this.i, 'invalid string');
    }
  }
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
