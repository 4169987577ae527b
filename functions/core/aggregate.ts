import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type AggregateConfig, aggregateLimits } from '../contract/aggregate.ts';
import type { MarshalledKey } from './change.ts';
import { indexDocumentId } from './document-id.ts';
import { ProjectionError, SyncError } from './errors.ts';
import { documentId, pickKey } from './keys.ts';
import { documentJson, type Projection, projectItem, type TypesenseDocument } from './project.ts';
import { type Transform, transformDocument } from './transform.ts';

/*
 * Item-collection aggregation (docs/configuration.md "Aggregation"): one document per partition key, built
 * from every item of the partition as it is now. Whoever builds one (writer, re-sync, verify) reads the
 * whole partition first, so an aggregate is always that of one consistent read of its items.
 */

/** Partitions read at once, at most, by one writer batch or one re-sync page: each is a Query of its own. */
export const PARTITION_READS = 16;

/** An aggregation resolved against the table's key: its partition and sort key, its limits applied. */
export interface Aggregation {
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly parent: AggregateConfig['parent'];
  readonly children: AggregateConfig['children'];
  readonly maxItems: number;
  readonly maxDocumentBytes: number;
}

/** The aggregation of a table keyed by `keyAttributes` (partition key, sort key); undefined when not aggregated. */
export function aggregationOf(keyAttributes: readonly string[], config: AggregateConfig): Aggregation;
export function aggregationOf(
  keyAttributes: readonly string[],
  config: AggregateConfig | undefined,
): Aggregation | undefined;
export function aggregationOf(
  keyAttributes: readonly string[],
  config: AggregateConfig | undefined,
): Aggregation | undefined {
  if (config === undefined) return undefined;
  const [partitionKey, sortKey] = keyAttributes;
  if (partitionKey === undefined || sortKey === undefined || keyAttributes.length !== 2)
    throw new SyncError('aggregation needs a table keyed by a partition key and a sort key');
  return {
    partitionKey,
    sortKey,
    parent: config.parent,
    children: config.children,
    ...aggregateLimits(config),
  };
}

/** A partition the index cannot hold as one document: the reason code of its dead letter. */
export class AggregationError extends ProjectionError {
  override name = 'AggregationError';
  override readonly code: string = 'aggregate-invalid';
}

/** A partition of more than `maxItems` items, or a document over `maxDocumentBytes`. */
export class AggregateTooLargeError extends AggregationError {
  override name = 'AggregateTooLargeError';
  override readonly code = 'aggregate-too-large';
}

const sortKeyText = (item: Record<string, AttributeValue>, sortKey: string) => item[sortKey]?.S;

/** DynamoDB's order of string sort keys: by their UTF-8 bytes (JavaScript compares UTF-16 units). */
const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The partition key of each partition these items belong to, once each, in the order first met. */
export function partitionKeysOf(
  items: readonly Record<string, AttributeValue>[],
  partitionKey: string,
): MarshalledKey[] {
  const keys = new Map<string, MarshalledKey>();
  for (const item of items) {
    const key = pickKey(item, [partitionKey]);
    keys.set(documentId(key, [partitionKey]), key);
  }
  return [...keys.values()];
}

const childProjections = new WeakMap<Projection, Projection>();

/**
 * The projection of a child item: the index's without its id rule, which names the index's documents (the
 * partitions); a child keeps its item's key encoding as its `id`.
 */
function childProjectionOf(projection: Projection | undefined): Projection | undefined {
  if (projection?.id === undefined) return projection;
  const child = childProjections.get(projection) ?? { ...projection, id: undefined };
  childProjections.set(projection, child);
  return child;
}

/**
 * The document of one partition from all its `items` (in any order): the parent item's document, one
 * array field per child kind holding the children's documents by sort key, then the app's transform (which
 * also sees every item). Every part of the projection applies to every item: its filter leaves out a child,
 * or a parent (then there is no document). Undefined when the partition has no (indexed) parent or the
 * transform answers null. Its id is the partition key's under the projection's id rule; a child's is its key's encoding. Throws AggregateTooLargeError over the limits, AggregationError for two parents
 * or a child field the parent's document already has, and what `buildDocument` throws.
 */
export function buildAggregate(
  items: readonly Record<string, AttributeValue>[],
  aggregation: Aggregation,
  projection: Projection | undefined,
  transform: Transform | undefined,
): TypesenseDocument | undefined {
  const { partitionKey, sortKey } = aggregation;
  const first = items[0];
  if (first === undefined) return undefined;
  // The rule of an aggregated index uses the partition key alone (checked at synth): every partition has an id.
  const id = indexDocumentId(pickKey(first, [partitionKey]), [partitionKey], projection) as string;
  if (items.length > aggregation.maxItems)
    throw new AggregateTooLargeError(
      `the partition holds more than ${aggregation.maxItems} items (aggregate.maxItems)`,
      id,
    );
  const sorted = items
    .map((item) => ({ item, sort: sortKeyText(item, sortKey) }))
    .filter(
      (entry): entry is { item: Record<string, AttributeValue>; sort: string } => entry.sort !== undefined,
    )
    .sort((a, b) => byUtf8(a.sort, b.sort));
  const parents = sorted.filter(({ sort }) => sort.startsWith(aggregation.parent.prefix));
  if (parents.length > 1)
    throw new AggregationError(
      `the partition has ${parents.length} parent items (sort keys beginning ${aggregation.parent.prefix}): one is expected`,
      id,
    );
  const parent = parents[0]?.item;
  const base = parent === undefined ? undefined : projectItem(parent, [partitionKey], projection);
  if (parent === undefined || base === undefined) return undefined;
  const itemKeyAttributes = [partitionKey, sortKey];
  const childProjection = childProjectionOf(projection);
  for (const [field, { prefix }] of Object.entries(aggregation.children)) {
    if (Object.hasOwn(base, field))
      throw new AggregationError(
        `the parent's document has a field ${field}, which aggregate.children.${field} fills: exclude or rename it`,
        id,
      );
    base[field] = sorted
      .filter(({ sort }) => sort.startsWith(prefix))
      .flatMap(({ item }) => projectItem(item, itemKeyAttributes, childProjection) ?? []);
  }
  const document =
    transform === undefined
      ? base
      : transformDocument(base, transform, parent, [partitionKey], {
          items: sorted.map(({ item }) => item),
          itemKeyAttributes,
        });
  if (document === undefined) return undefined;
  const bytes = Buffer.byteLength(documentJson(document));
  if (bytes > aggregation.maxDocumentBytes)
    throw new AggregateTooLargeError(
      `the document's JSON has ${bytes} bytes, more than ${aggregation.maxDocumentBytes} (aggregate.maxDocumentBytes)`,
      id,
    );
  return document;
}
