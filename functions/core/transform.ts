import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { MarshalledKey } from './change.ts';
import { TransformError } from './errors.ts';
import { pickKey, toWireKey } from './keys.ts';
import { type Projection, projectItem, type TypesenseDocument } from './project.ts';

/**
 * What an app's transform module sees besides the projected document: the document id (derived from the
 * key, fixed), the key in wire form (DynamoDB JSON, binary as base64) and, read on demand, the whole item
 * as plain values (every attribute, before include/exclude; an attribute named `id` reads as the id).
 */
export interface TransformContext {
  readonly id: string;
  readonly key: MarshalledKey;
  readonly item: Readonly<Record<string, unknown>>;
  /**
   * An aggregated index only (docs/configuration.md "Aggregation"): every item of the partition as plain
   * values, in sort-key order, each with `id` from its full key; `document` is then the built aggregate
   * and `item` its parent item.
   */
  readonly items?: readonly Readonly<Record<string, unknown>>[];
}

/**
 * An app's transform: the projected document (plain JSON values) → the document to index, or `null` to
 * leave the item out of the index (as a filter does). It runs once per item on the writer's and the
 * re-sync's hot paths, so it must be synchronous; it may return its input changed.
 */
export type Transform = (
  document: Record<string, unknown>,
  context: TransformContext,
) => Record<string, unknown> | null;

/** Why a member of a document cannot go into it: it would not survive JSON as it is (undefined when it can). */
function notJson(value: unknown, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint': // An int64 beyond 2^53, as the int64 conversion gives it: documentJson writes it exactly.
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} is not a JSON number`;
    case 'object':
      return value === null ? undefined : notJsonContainer(value, seen);
    default:
      return `a ${typeof value}`;
  }
}

/**
 * An array's or a plain object's members, depth first. Loops over indexes and `for…in` rather than
 * `Object.entries`: this walk runs over every document of a re-sync, and allocating entry pairs doubled
 * its cost (a plain object's `for…in` sees its own members only, having no enumerable inherited ones).
 */
function notJsonContainer(value: object, seen: Set<object>): string | undefined {
  if (seen.has(value)) return 'a cycle';
  seen.add(value);
  let problem: string | undefined;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length && problem === undefined; index++) {
      // Typesense drops a null list member when it stores the document (see documentValue in
      // project.ts): sent, it would make the stored document differ from the sent one for ever.
      const member: unknown = value[index];
      const found =
        member === null || member === undefined ? `${member} in a list: leave it out` : notJson(member, seen);
      if (found !== undefined) problem = `[${index}]: ${found}`;
    }
  } else {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null)
      return `a ${(value as { constructor?: { name?: string } }).constructor?.name ?? 'non-plain'} object`;
    for (const name in value) {
      const member = (value as Record<string, unknown>)[name];
      // Left out of the line, as JSON.stringify leaves it out: `{ ...document, extra: maybe }` is fine.
      if (member === undefined) continue;
      const found = notJson(member, seen);
      if (found === undefined) continue;
      problem = `${name}: ${found}`;
      break;
    }
  }
  seen.delete(value);
  return problem;
}

/**
 * The transform's answer checked: a plain object of JSON values whose `id` is absent or the item's own
 * (ids come from the key: that is what lets a delete, which has only the key, find the document), or null.
 */
export function checkTransformResult(result: unknown, id: string): TypesenseDocument | null {
  if (result === null) return null;
  if (result instanceof Promise)
    throw new TransformError('transform returned a Promise: it must be synchronous', id);
  if (Array.isArray(result))
    throw new TransformError(
      'transform returned an array: one item makes at most one document (a delete knows only the key)',
      id,
    );
  if (typeof result !== 'object')
    throw new TransformError(
      `transform returned ${result === undefined ? 'undefined' : `a ${typeof result}`}, not a document or null`,
      id,
    );
  const problem = notJson(result, new Set());
  if (problem !== undefined)
    throw new TransformError(`transform returned a document that is not JSON: ${problem}`, id);
  const document = result as Record<string, unknown>;
  if (document.id !== undefined && document.id !== id)
    throw new TransformError(
      `transform changed the document id to ${JSON.stringify(document.id)}: it must stay ${id}`,
      id,
    );
  return document.id === id ? (document as TypesenseDocument) : { id, ...document };
}

/**
 * The context of one item (for an aggregate: of its parent, with the partition's `items` read with the full
 * key `itemKeyAttributes`); its key and items are built only when read (most transforms need neither).
 */
function contextOf(
  item: Record<string, AttributeValue>,
  keyAttributes: readonly string[],
  id: string,
  partition?: { items: readonly Record<string, AttributeValue>[]; itemKeyAttributes: readonly string[] },
): TransformContext {
  let key: MarshalledKey | undefined;
  let whole: Record<string, unknown> | undefined;
  let items: Record<string, unknown>[] | undefined;
  const context = {
    id,
    get key() {
      key ??= toWireKey(pickKey(item, keyAttributes));
      return key;
    },
    get item() {
      whole ??= projectItem(item, keyAttributes);
      return whole;
    },
  };
  if (partition === undefined) return context;
  return Object.defineProperty(context, 'items', {
    enumerable: true,
    get: () => {
      items ??= partition.items.map((member) => projectItem(member, partition.itemKeyAttributes));
      return items;
    },
  });
}

/**
 * The app's transform applied to a built document (`projected`, whose id it must keep): the document to
 * index, or undefined when the transform leaves it out. Throws TransformError when it throws or answers
 * something that is not a document. `partition` is set for an aggregate (functions/core/aggregate.ts).
 */
export function transformDocument(
  projected: TypesenseDocument,
  transform: Transform,
  item: Record<string, AttributeValue>,
  keyAttributes: readonly string[],
  partition?: Parameters<typeof contextOf>[3],
): TypesenseDocument | undefined {
  const { id } = projected;
  let result: unknown;
  try {
    result = transform(projected, contextOf(item, keyAttributes, id, partition));
  } catch (error) {
    throw new TransformError(
      `transform threw: ${error instanceof Error ? error.message : String(error)}`,
      id,
    );
  }
  return checkTransformResult(result, id) ?? undefined;
}

/**
 * The document an item becomes, as every builder of documents makes it (writer, re-sync, verify,
 * preview): `projectItem`, then the app's transform when there is one. Undefined when the filter or the
 * transform leaves the item out; throws ProjectionError, or TransformError when the transform throws or
 * answers something that is not a document.
 */
export function buildDocument(
  item: Record<string, AttributeValue>,
  keyAttributes: readonly string[],
  projection: Projection | undefined,
  transform: Transform | undefined,
): TypesenseDocument | undefined {
  const projected = projectItem(item, keyAttributes, projection);
  if (projected === undefined || transform === undefined) return projected;
  return transformDocument(projected, transform, item, keyAttributes);
}
