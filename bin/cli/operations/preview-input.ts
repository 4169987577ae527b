import { readFile } from 'node:fs/promises';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { type ProjectionConfig, projectionSchema } from '../../../functions/contract/projection.ts';
import { isRecord } from '../../../functions/contract/records.ts';
import type { MarshalledKey } from '../../../functions/core/change.ts';
import { OperatorError } from '../../../functions/core/errors.ts';
import { readWireKey } from '../../../functions/core/keys.ts';

/**
 * What `preview` reads from the operator: a key (`--key`), an item (`--item`, DynamoDB JSON or plain
 * JSON) and a projection to try (`--projection`). Each problem is one PreviewInputError naming the
 * option, the file and what is wrong.
 */
export class PreviewInputError extends OperatorError {
  override name = 'PreviewInputError';
}

export type Item = Record<string, AttributeValue>;

const shortJson = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 60 ? text : `${text.slice(0, 59)}…`;
};

/** A file's text, or stdin's for `-`. */
export async function readInput(
  option: string,
  path: string,
  readStdin: (() => Promise<string>) | undefined,
): Promise<string> {
  try {
    if (path !== '-') return await readFile(path, 'utf8');
    if (readStdin === undefined) throw new Error('no standard input');
    return await readStdin();
  } catch (error) {
    throw new PreviewInputError(`cannot read ${option} ${path}: ${(error as Error).message}`);
  }
}

function parseJson(option: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PreviewInputError(`${option} is not JSON: ${(error as Error).message}`);
  }
}

/**
 * `--key '{"pk":"a","sk":1}'`: each key attribute of the target, no other, as a string (S), a number (N)
 * or a value in the wire form dead letters and `dlq show` use (`{"N":"12345678901234567890"}`,
 * `{"B":"<base64>"}`), which also gives numbers beyond a double's precision exactly.
 */
export function parseKeyOption(text: string, keyAttributes: readonly string[]): MarshalledKey {
  const given = parseJson('--key', text);
  if (!isRecord(given)) throw new PreviewInputError(`--key must be a JSON object, got ${shortJson(given)}`);
  const names = Object.keys(given);
  const missing = keyAttributes.filter((name) => !names.includes(name));
  const extra = names.filter((name) => !keyAttributes.includes(name));
  if (missing.length > 0 || extra.length > 0)
    throw new PreviewInputError(
      `--key must name the table's key attributes ${keyAttributes.join(', ')}, and only them` +
        (missing.length > 0 ? `; missing ${missing.join(', ')}` : '') +
        (extra.length > 0 ? `; not in the key: ${extra.join(', ')}` : ''),
    );
  const wire: Record<string, unknown> = {};
  for (const name of keyAttributes) wire[name] = wireValue(name, given[name]);
  const key = readWireKey(wire);
  if (key instanceof Error) throw new PreviewInputError(`--key: ${key.message}`);
  return key;
}

function wireValue(name: string, value: unknown): unknown {
  if (typeof value === 'string') return { S: value };
  if (typeof value !== 'number') return value; // the wire form, checked by readWireKey
  if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value)))
    throw new PreviewInputError(
      `--key ${name}: a JSON number beyond 2^53 has lost digits already; give it as {"N":"<digits>"}`,
    );
  return { N: String(value) };
}

const TYPES = 'S, N, B, SS, NS, BS, M, L, NULL, BOOL';
const isNumberText = (text: unknown) =>
  typeof text === 'string' && text.trim() !== '' && Number.isFinite(Number(text));
const bytesOf = (text: unknown) => Buffer.from(text as string, 'base64');
const everyOf = (value: unknown, check: (member: unknown) => boolean) =>
  Array.isArray(value) && value.every(check);

/** One DynamoDB JSON value as the SDK holds it (binary as bytes), or undefined when it is none. */
function attributeValue(value: unknown, at: string): AttributeValue | undefined {
  if (!isRecord(value)) return undefined;
  const entries = Object.entries(value);
  if (entries.length !== 1) return undefined;
  const [type, content] = entries[0] as [string, unknown];
  switch (type) {
    case 'S':
      return typeof content === 'string' ? { S: content } : undefined;
    case 'N':
      return isNumberText(content) ? { N: content as string } : undefined;
    case 'BOOL':
      return typeof content === 'boolean' ? { BOOL: content } : undefined;
    case 'NULL':
      return content === true ? { NULL: true } : undefined;
    case 'B':
      return typeof content === 'string' ? { B: bytesOf(content) } : undefined;
    case 'SS':
      return everyOf(content, (member) => typeof member === 'string')
        ? { SS: content as string[] }
        : undefined;
    case 'NS':
      return everyOf(content, isNumberText) ? { NS: content as string[] } : undefined;
    case 'BS':
      return everyOf(content, (member) => typeof member === 'string')
        ? { BS: (content as string[]).map(bytesOf) }
        : undefined;
    case 'M':
      return isRecord(content) ? { M: itemOf(content, at) } : undefined;
    case 'L':
      return Array.isArray(content)
        ? { L: content.map((member, position) => checked(member, `${at}[${position}]`)) }
        : undefined;
    default:
      return undefined;
  }
}

function checked(value: unknown, at: string): AttributeValue {
  const attribute = attributeValue(value, at);
  if (attribute === undefined)
    throw new PreviewInputError(
      `--item attribute ${at} is not a DynamoDB JSON value (one of ${TYPES}): got ${shortJson(value)}; ` +
        'for plain JSON give --plain',
    );
  return attribute;
}

function itemOf(record: Record<string, unknown>, at: string): Item {
  const item: Item = {};
  for (const [name, value] of Object.entries(record)) {
    const attribute = checked(value, at === '' ? name : `${at}.${name}`);
    // As the SDK's unmarshalled maps do: `__proto__` is an attribute like any other.
    Object.defineProperty(item, name, { value: attribute, enumerable: true, writable: true });
  }
  return item;
}

/**
 * `--item`: an item as DynamoDB JSON (`{"pk":{"S":"a"}}`, bare or as `aws dynamodb get-item` prints
 * it, `{"Item":{…}}`), or with `plain` as plain JSON marshalled as the SDK's DocumentClient would.
 */
export function parseItem(text: string, plain: boolean): Item {
  const given = parseJson('--item', text);
  if (!isRecord(given)) throw new PreviewInputError(`--item must be a JSON object, got ${shortJson(given)}`);
  if (plain) {
    try {
      return marshall(given, { removeUndefinedValues: true });
    } catch (error) {
      throw new PreviewInputError(`--item: cannot marshall plain JSON: ${(error as Error).message}`);
    }
  }
  const record = isRecord(given.Item) ? given.Item : given;
  if (Object.keys(record).length === 0)
    throw new PreviewInputError('--item has no attributes (an empty get-item answer means no item)');
  return itemOf(record, '');
}

/** `--projection`: a projection to try instead of the target's, checked as the construct checks it. */
export function parseProjection(text: string): ProjectionConfig {
  const result = projectionSchema.safeParse(parseJson('--projection', text));
  if (result.success) return result.data;
  const problems = result.error.issues.map(({ path, message }) => {
    const at = path.join('.');
    return at === '' || message.startsWith(at) ? message : `${at}: ${message}`;
  });
  throw new PreviewInputError(`--projection is not a valid projection: ${problems.join('; ')}`);
}
