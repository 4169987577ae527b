import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { ProjectionConfig } from '../../../functions/contract/projection.ts';
import { type Aggregation, buildAggregate } from '../../../functions/core/aggregate.ts';
import type { MarshalledKey } from '../../../functions/core/change.ts';
import { indexDocumentId } from '../../../functions/core/document-id.ts';
import { ProjectionError } from '../../../functions/core/errors.ts';
import { explainFilter, type FilterExplanation } from '../../../functions/core/filter.ts';
import { documentId, KeyError, pickKey, toSdkKey, toWireKey } from '../../../functions/core/keys.ts';
import type { TypesenseDocument } from '../../../functions/core/project.ts';
import { buildDocument, type Transform } from '../../../functions/core/transform.ts';
import { readPartitionConsistently } from '../../../functions/shared/aws.ts';
import { type Item, PreviewInputError } from './preview-input.ts';

/** What decides an item's documents: the target's key attributes and index, and the projection to apply. */
export interface PreviewRules {
  keyAttributes: readonly string[];
  projection: ProjectionConfig;
  /** The app's transform module (the target's), applied after the projection. */
  transform?: Transform;
  /** The alias (or collection) the writer writes to. */
  index: string;
  /** An aggregated index: its document is built from the item's whole partition. */
  aggregation?: Aggregation;
}

/** What the writer does with the item in one index, as the writer decides it (write-batch/documents.ts). */
export type IndexOutcome =
  | { outcome: 'indexed'; document: TypesenseDocument }
  /** The filter leaves the item out: the writer deletes its id (a no-op where absent). */
  | { outcome: 'filtered-out' }
  /** The app's transform answers null: the writer deletes its id, as for a filtered-out item. */
  | { outcome: 'left-out-by-transform' }
  /** The projection cannot make a document of it: the writer dead-letters the change with this reason. */
  | { outcome: 'dead-lettered'; reason: string }
  /** The table holds no item with the key: the writer deletes its id. */
  | { outcome: 'no-item' }
  /** An aggregated index whose partition holds no parent item: the writer deletes the partition's id. */
  | { outcome: 'no-parent' }
  /** An aggregated index, previewed from `--item` alone: its document needs the partition (`--key`). */
  | { outcome: 'needs-partition' }
  /** The id rule leaves the key out of the index (projection.id): the writer writes nothing there. */
  | { outcome: 'not-in-index' };

export type IndexPreview = IndexOutcome & {
  index: string;
  /** The document id the item's key maps to (the projection's id rule); absent for `not-in-index`. */
  id?: string;
  /** Why the filter routes the item here or not; absent when the projection has no filter (all are in). */
  filter?: FilterExplanation;
};

export interface PreviewReport {
  /** Where the item came from: `table <name>` (a strongly consistent read) or the `--item` file. */
  source: string;
  /** The item's key in wire form (binary as base64), as dead letters show keys. */
  key: MarshalledKey;
  /** One entry per index previewed: every index of the table, or the one `--index` selects. */
  indexes: IndexPreview[];
}

/** An aggregated index's outcome: the partition's aggregate, as the writer builds it (core/aggregate.ts). */
function aggregatePreview(
  key: MarshalledKey,
  partition: Item[] | undefined,
  rules: PreviewRules,
): IndexPreview {
  const { index, aggregation } = rules;
  if (aggregation === undefined) throw new PreviewInputError(`index ${index} is not aggregated`);
  const id = indexDocumentId(
    pickKey(key, [aggregation.partitionKey]),
    [aggregation.partitionKey],
    rules.projection,
  );
  if (id === undefined) return { index, outcome: 'not-in-index' };
  if (partition === undefined) return { index, id, outcome: 'needs-partition' };
  try {
    const document = buildAggregate(partition, aggregation, rules.projection, rules.transform);
    return document === undefined
      ? { index, id, outcome: 'no-parent' }
      : { index, id, outcome: 'indexed', document };
  } catch (error) {
    if (!(error instanceof ProjectionError)) throw error;
    return { index, id, outcome: 'dead-lettered', reason: `${error.code}: ${error.message}` };
  }
}

function indexPreview(item: Item | undefined, key: MarshalledKey, rules: PreviewRules): IndexPreview {
  const { index, projection } = rules;
  const id = indexDocumentId(key, rules.keyAttributes, projection);
  if (id === undefined) return { index, outcome: 'not-in-index' };
  if (item === undefined) return { index, id, outcome: 'no-item' };
  const filter = projection.filter === undefined ? undefined : explainFilter(projection.filter, item);
  const explained = filter === undefined ? {} : { filter };
  try {
    const document = buildDocument(item, rules.keyAttributes, projection, rules.transform);
    if (document === undefined)
      return {
        index,
        id,
        outcome: filter?.matches === false ? 'filtered-out' : 'left-out-by-transform',
        ...explained,
      };
    return { index, id, outcome: 'indexed', document, ...explained };
  } catch (error) {
    if (!(error instanceof ProjectionError)) throw error;
    return { index, id, outcome: 'dead-lettered', reason: `${error.code}: ${error.message}`, ...explained };
  }
}

/**
 * What the writer would make of `item` (undefined: the table holds none with `key`) in each index. Pure:
 * the same projection and transform the writer, the re-sync and `verify` apply (`buildDocument`).
 */
export function previewItem(
  item: Item | undefined,
  key: MarshalledKey,
  rules: PreviewRules | readonly PreviewRules[],
  source: string,
  partition?: Item[],
): PreviewReport {
  const indexes = [rules]
    .flat()
    .map((one) =>
      one.aggregation === undefined ? indexPreview(item, key, one) : aggregatePreview(key, partition, one),
    );
  return { source, key: toWireKey(key), indexes };
}

/** The table's key attributes, which every index's rules share. */
function keyAttributesOf(rules: readonly PreviewRules[]): readonly string[] {
  const [first] = rules;
  if (first === undefined) throw new PreviewInputError('preview needs the rules of at least one index');
  return first.keyAttributes;
}

/** `--item`: an item given as JSON, checked to hold the target's key, previewed without any AWS call. */
export function previewGivenItem(
  item: Item,
  rules: PreviewRules | readonly PreviewRules[],
  source: string,
): PreviewReport {
  const keyAttributes = keyAttributesOf([rules].flat());
  let key: MarshalledKey;
  try {
    key = pickKey(item, keyAttributes);
    documentId(key, keyAttributes);
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    throw new PreviewInputError(
      `--item ${source}: ${error.message} (the table's key is ${keyAttributes.join(', ')})`,
    );
  }
  return previewItem(item, key, rules, source);
}

/**
 * `--key`: the item read as the writer reads it, strongly consistent, then previewed; for an aggregated
 * index, its whole partition too (a consistent, paged Query, as that index's writer reads it).
 */
export async function previewKey(
  dynamodb: DynamoDBClient,
  tableName: string,
  key: MarshalledKey,
  rules: PreviewRules | readonly PreviewRules[],
): Promise<PreviewReport> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: tableName, Key: toSdkKey(key), ConsistentRead: true }),
  );
  const aggregation = [rules].flat().find((one) => one.aggregation !== undefined)?.aggregation;
  const partition =
    aggregation === undefined
      ? undefined
      : await readPartitionConsistently(dynamodb, tableName)(
          pickKey(key, [aggregation.partitionKey]),
          aggregation.maxItems + 1,
        );
  return previewItem(Item, key, rules, `table ${tableName}`, partition);
}
