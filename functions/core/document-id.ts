import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type DocumentIdConfig, type ItemFilter, pinnedEquality } from '../contract/projection.ts';
import type { MarshalledKey } from './change.ts';
import { ProjectionError, SyncError } from './errors.ts';
import { matchesFilter } from './filter.ts';
import {
  documentId,
  KeyError,
  type KeyType,
  keyOfDocumentId,
  keyPart,
  readWireKey,
  toWireKey,
} from './keys.ts';

/*
 * An index's document id rule (`projection.id`, docs/configuration.md "Document ids"): key → the id of its
 * document in that index. Key-derived only, because a delete (or an item that stops matching the filter)
 * reaches the writer as a key without an item. A change's own `id` stays the key's encoding: coalescing,
 * message groups and the writer's message check use it; this rule only names documents.
 */

/** What the rule is read from: the projection's `id` and the `filter` that pins what it leaves out. */
export interface IdRuleSource {
  readonly id?: DocumentIdConfig | undefined;
  readonly filter?: ItemFilter | undefined;
}

type CompiledRule = (key: MarshalledKey) => string | undefined;

const compiledRules = new WeakMap<IdRuleSource, Map<string, CompiledRule>>();

/** The id rule over keys of `keyAttributes`; see `indexDocumentId`. */
function compileRule(
  keyAttributes: readonly string[],
  rule: DocumentIdConfig,
  filter: ItemFilter | undefined,
) {
  const attributes = rule.attributes ?? keyAttributes;
  const pins = keyAttributes
    .filter((name) => !attributes.includes(name))
    .map((name) => {
      const pin = pinnedEquality(filter, name);
      if (pin === undefined)
        throw new SyncError(
          `projection.id leaves out the key attribute ${name}, which projection.filter does not pin`,
        );
      return pin;
    });
  const prefixes = attributes.map((name) => rule.stripPrefix?.[name]);
  return (key: MarshalledKey): string | undefined => {
    if (!pins.every((pin) => matchesFilter(pin, key))) return undefined;
    const parts: MarshalledKey = {};
    attributes.forEach((name, at) => {
      const text = keyPart(name, key[name]);
      const prefix = prefixes[at];
      // A value without the prefix, or that is only the prefix, is kept whole: every key has a non-empty id.
      const stripped =
        prefix !== undefined && text.length > prefix.length && text.startsWith(prefix)
          ? text.slice(prefix.length)
          : text;
      parts[name] = { S: stripped };
    });
    return documentId(parts, attributes);
  };
}

/**
 * The id of `key`'s document in the index `projection` describes. Without `projection.id` it is the key's
 * encoding (`documentId`), byte for byte. With it: the values of `id.attributes` (default every key
 * attribute), each without its `id.stripPrefix`, encoded as `documentId` encodes a key of those
 * attributes. Undefined for a key that is never in the index: a key attribute the rule leaves out holds
 * another value than the one the filter pins. Throws KeyError when a key attribute is missing.
 */
export function indexDocumentId(
  key: MarshalledKey,
  keyAttributes: readonly string[],
  projection: IdRuleSource | undefined,
): string | undefined {
  const rule = projection?.id;
  if (projection === undefined || rule === undefined) return documentId(key, keyAttributes);
  let byKeys = compiledRules.get(projection);
  if (byKeys === undefined) {
    byKeys = new Map<string, CompiledRule>();
    compiledRules.set(projection, byKeys);
  }
  const name = keyAttributes.join('\u0000');
  let compiled = byKeys.get(name);
  if (compiled === undefined) {
    compiled = compileRule(keyAttributes, rule, projection.filter);
    byKeys.set(name, compiled);
  }
  return compiled(key);
}

function typedValue(text: string, type: KeyType): AttributeValue {
  if (type === 'S') return { S: text };
  if (type === 'N') return { N: text };
  return { B: Buffer.from(text, 'base64') };
}

/** Every assignment of one text out of each list: the cartesian product. */
const combinations = (lists: readonly string[][]): string[][] =>
  lists.reduce<string[][]>(
    (sofar, list) => sofar.flatMap((done) => list.map((text) => [...done, text])),
    [[]],
  );

/**
 * Every key (of the table's `keyTypes`, in `keyAttributes` order) whose document id is `id`: the inverse of
 * `indexDocumentId`, so an operator can act on a document the table no longer holds. One key under the
 * default rule (`keyOfDocumentId`); under a rule, each value with and without its prefix, and the pinned
 * value of each attribute left out, kept when they map back to `id` and DynamoDB would take them as a key.
 */
export function keysOfDocumentId(
  id: string,
  keyAttributes: readonly string[],
  keyTypes: readonly KeyType[],
  projection: IdRuleSource | undefined,
): MarshalledKey[] {
  const rule = projection?.id;
  if (rule === undefined) return [keyOfDocumentId(id, keyAttributes, keyTypes)];
  const attributes = rule.attributes ?? keyAttributes;
  const parts = keyOfDocumentId(
    id,
    attributes,
    attributes.map((): KeyType => 'S'),
  );
  const texts = keyAttributes.map((name) => {
    const part = parts[name]?.S;
    if (part === undefined) {
      const pinned = pinnedEquality(projection?.filter, name)?.equals;
      return pinned === undefined ? [] : [String(pinned)];
    }
    const prefix = rule.stripPrefix?.[name];
    return prefix === undefined ? [part] : [part, `${prefix}${part}`];
  });
  return combinations(texts)
    .map((values) =>
      Object.fromEntries(
        keyAttributes.map((name, at) => [name, typedValue(values[at] as string, keyTypes[at] as KeyType)]),
      ),
    )
    .filter(
      (key) =>
        !(readWireKey(toWireKey(key)) instanceof KeyError) &&
        indexDocumentId(key, keyAttributes, projection) === id,
    );
}

/** Two or more keys whose documents would have one id in an index: none of them can be written there. */
export class IdCollisionError extends ProjectionError {
  override name = 'IdCollisionError';
  override readonly code = 'id-collision';
}

/** The collision of `keys` (their encodings) on the document id `id`, naming every key. */
export const idCollision = (id: string, keys: readonly string[]) =>
  new IdCollisionError(
    `keys ${keys.map((key) => `'${key}'`).join(' and ')} have the same document id '${id}' (projection.id): only one key may make a document`,
    id,
  );
