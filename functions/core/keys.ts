import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { MarshalledKey } from './change.ts';
import { SyncError } from './errors.ts';

/** Thrown when a key attribute is missing or of a type DynamoDB keys cannot have. */
export class KeyError extends SyncError {
  override name = 'KeyError';
}

/** The text of one key value: S and N as they are, B as base64. */
export function keyPart(name: string, value: AttributeValue | undefined): string {
  if (value === undefined) throw new KeyError(`key attribute '${name}' is missing`);
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return value.N;
  if (value.B !== undefined) {
    // Lambda event JSON carries binary as base64 text; the SDK gives bytes. Both map to base64.
    const bytes = value.B as Uint8Array | string;
    return typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64');
  }
  throw new KeyError(`key attribute '${name}' must be of type S, N or B`);
}

/** Escapes the separator so that composite ids stay unambiguous: ('a|b','c') ≠ ('a','b|c'). */
const escapePart = (part: string): string => part.replace(/[\\|]/g, (c) => `\\${c}`);

/**
 * The Typesense document id of a DynamoDB key: the partition key value for a simple key; for a
 * composite key, both values joined by `|` with `\` and `|` inside values escaped by `\`.
 */
export function documentId(key: MarshalledKey, keyAttributes: readonly string[]): string {
  const parts = keyAttributes.map((name) => keyPart(name, key[name]));
  if (parts.length === 1) return parts[0] as string;
  return parts.map(escapePart).join('|');
}

/** Only the key attributes of an item or key, in marshalled form. */
export function pickKey(item: MarshalledKey, keyAttributes: readonly string[]): MarshalledKey {
  const key: MarshalledKey = {};
  for (const name of keyAttributes) {
    const value = item[name];
    if (value === undefined) throw new KeyError(`key attribute '${name}' is missing`);
    key[name] = value;
  }
  return key;
}

/** DynamoDB key attribute types, as a table's `AttributeDefinitions` give them. */
export type KeyType = 'S' | 'N' | 'B';

/**
 * The key a document id was derived from (the inverse of `documentId`), so an operator can act on a
 * document the table no longer holds. `keyTypes` follow `keyAttributes` (from the table's definition).
 */
export function keyOfDocumentId(
  id: string,
  keyAttributes: readonly string[],
  keyTypes: readonly KeyType[],
): MarshalledKey {
  const parts: string[] = [];
  if (keyAttributes.length === 1) parts.push(id);
  else {
    let part = '';
    for (let index = 0; index < id.length; index++) {
      const char = id[index] as string;
      if (char === '\\' && index + 1 < id.length) part += id[++index];
      else if (char === '|') {
        parts.push(part);
        part = '';
      } else part += char;
    }
    parts.push(part);
  }
  if (parts.length !== keyAttributes.length)
    throw new KeyError(`document id '${id}' does not hold ${keyAttributes.length} key parts`);
  const key: MarshalledKey = {};
  keyAttributes.forEach((name, index) => {
    const part = parts[index] as string;
    const type = keyTypes[index];
    if (type === 'S') key[name] = { S: part };
    else if (type === 'N') key[name] = { N: part };
    else if (type === 'B') key[name] = { B: Buffer.from(part, 'base64') };
    else throw new KeyError(`key attribute '${name}' has no known type`);
  });
  return key;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** `{"type":"Buffer","data":[…]}`: what JSON.stringify made of a Buffer key before keys were encoded. */
function legacyBufferBytes(value: unknown): Uint8Array | undefined {
  const candidate = value as { type?: unknown; data?: unknown } | null;
  if (typeof candidate !== 'object' || candidate === null || candidate.type !== 'Buffer') return undefined;
  const { data } = candidate;
  if (!Array.isArray(data) || !data.every((byte) => Number.isInteger(byte) && byte >= 0 && byte <= 255))
    return undefined;
  return Uint8Array.from(data as number[]);
}

/**
 * A key in the form it travels in on queues, letters and redrives: B as base64 text (the form of
 * Lambda's stream event JSON), S and N as they are. Every key type round-trips through JSON this way.
 */
export function toWireKey(key: MarshalledKey): MarshalledKey {
  const wire: MarshalledKey = {};
  for (const [name, value] of Object.entries(key)) {
    const bytes = value.B as unknown;
    wire[name] =
      bytes instanceof Uint8Array
        ? ({ B: Buffer.from(bytes).toString('base64') } as unknown as AttributeValue)
        : value;
  }
  return wire;
}

/** A wire key as the SDK needs it: B as bytes (given text, the SDK would base64-encode the text again). */
export function toSdkKey(key: MarshalledKey): MarshalledKey {
  const sdk: MarshalledKey = {};
  for (const [name, value] of Object.entries(key)) {
    const bytes = value.B as unknown;
    sdk[name] = typeof bytes === 'string' ? { B: Buffer.from(bytes, 'base64') } : value;
  }
  return sdk;
}

/**
 * A key read from a message, checked and in wire form, or why it cannot be used. Only S, N or B
 * values DynamoDB accepts in a key pass (non-empty; N a number; B base64), so a bad key fails its own
 * change and never the batch read its batch-mates share. A Buffer serialised by an older version is
 * taken as its bytes.
 */
export function readWireKey(key: unknown): MarshalledKey | KeyError {
  if (typeof key !== 'object' || key === null || Array.isArray(key))
    return new KeyError('the key is not an object');
  const wire: MarshalledKey = {};
  const entries = Object.entries(key as Record<string, unknown>);
  if (entries.length === 0) return new KeyError('the key has no attributes');
  for (const [name, value] of entries) {
    const fields = typeof value === 'object' && value !== null ? Object.entries(value) : [];
    const [type, text] = fields[0] ?? [];
    const legacy = type === 'B' ? legacyBufferBytes(text) : undefined;
    if (fields.length !== 1 || (typeof text !== 'string' && legacy === undefined))
      return new KeyError(`key attribute '${name}' must be one S, N or B value`);
    if (legacy !== undefined) {
      if (legacy.length === 0) return new KeyError(`key attribute '${name}' is empty`);
      wire[name] = { B: Buffer.from(legacy).toString('base64') } as unknown as AttributeValue;
      continue;
    }
    const valid =
      text !== '' &&
      (type === 'S' ||
        (type === 'N' && NUMBER.test(text as string)) ||
        (type === 'B' && BASE64.test(text as string)));
    if (!valid) return new KeyError(`key attribute '${name}' is not a valid ${String(type)} key value`);
    wire[name] = { [type as string]: text } as unknown as AttributeValue;
  }
  return wire;
}
