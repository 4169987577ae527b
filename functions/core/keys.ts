import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { MarshalledKey } from './change.ts';

/** Thrown when a key attribute is missing or of a type DynamoDB keys cannot have. */
export class KeyError extends Error {
  override name = 'KeyError';
}

function keyPart(name: string, value: AttributeValue | undefined): string {
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
