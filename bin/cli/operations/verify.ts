import {
  type AttributeValue,
  DescribeTableCommand,
  type DynamoDBClient,
  ScanCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { type Aggregation, buildAggregate, PARTITION_READS } from '../../../functions/core/aggregate.ts';
import { isCanaryItem } from '../../../functions/core/canary.ts';
import type { MarshalledKey } from '../../../functions/core/change.ts';
import {
  coerceToSchema,
  type Document,
  type Drift,
  diffDocuments,
  diffStream,
  type SchemaField,
} from '../../../functions/core/diff.ts';
import { idCollision, indexDocumentId, keysOfDocumentId } from '../../../functions/core/document-id.ts';
import { ProjectionError } from '../../../functions/core/errors.ts';
import { documentId, type KeyType, pickKey } from '../../../functions/core/keys.ts';
import { inParallel } from '../../../functions/core/parallel.ts';
import { documentJson, type Projection } from '../../../functions/core/project.ts';
import { buildDocument, type Transform } from '../../../functions/core/transform.ts';
import { readItemsConsistently, readPartitionConsistently } from '../../../functions/shared/aws.ts';
import type { TypesenseClient } from '../../../functions/shared/typesense.ts';

export interface VerifyOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  /** The table's key attributes. */
  keyAttributes: readonly string[];
  /** Set for an aggregated index: documents are compared per partition (functions/core/aggregate.ts). */
  aggregation?: Aggregation;
  projection?: Projection;
  /** The app's transform module (the target's), applied after the projection as the writer does. */
  transform?: Transform;
  typesense: TypesenseClient;
  /** Alias or collection name. */
  collection: string;
}

export interface VerifyReport extends Drift {
  /** Items compared (all of them, or the sample's keys); partitions, for an aggregated index. */
  tableItems: number;
  indexDocuments: number;
  /** Items the projection rejects: they can never be in the index. */
  /** Items the projection or the transform refuses: their id, reason code (`projection`, `transform-error`) and message. */
  unprojectable: { id: string; code: string; reason: string }[];
}

/** The collection's fields, to compare documents after the coercion Typesense applies on write. */
async function schemaFieldsOf(options: VerifyOptions): Promise<SchemaField[]> {
  return (await options.typesense.getCollection(options.collection))?.fields ?? [];
}

type Unprojectable = VerifyReport['unprojectable'][number];

type Item = Record<string, AttributeValue>;
/** What one item (or partition) implies: its document and the key it comes from (its encoding), or why none. */
type Expected = { document: Document; source: string } | { unprojectable: Unprojectable } | undefined;

/**
 * What the index should hold for these items: each item's document, or for an aggregated index each
 * partition's aggregate (`items` then hold whole partitions), as the writer builds them. The lag check's
 * canary is never expected.
 */
function expectedDocuments(items: readonly Item[], options: VerifyOptions, fields: readonly SchemaField[]) {
  const { aggregation, keyAttributes, projection, transform } = options;
  const kept = items.filter((item) => !isCanaryItem(item, keyAttributes));
  if (aggregation === undefined)
    return kept.map((item) =>
      expectedDocument(
        () => buildDocument(item, keyAttributes, projection, transform),
        fields,
        documentId(item, keyAttributes),
      ),
    );
  const partitions = new Map<string, Item[]>();
  for (const item of kept) {
    const id = documentId(item, [aggregation.partitionKey]);
    partitions.set(id, [...(partitions.get(id) ?? []), item]);
  }
  return [...partitions].map(([source, members]) =>
    expectedDocument(() => buildAggregate(members, aggregation, projection, transform), fields, source),
  );
}

/** The key attributes of the index's document ids: the table's, or the partition key of an aggregate. */
const documentKeyAttributes = (options: VerifyOptions) =>
  options.aggregation === undefined ? options.keyAttributes : [options.aggregation.partitionKey];

/**
 * What `build` builds, then the schema's coercion (see coerceToSchema); or why it cannot be built;
 * undefined for an item the projection's filter or the transform leaves out (a document of it in the
 * index is `extra`).
 */
function expectedDocument(
  build: () => Record<string, unknown> | undefined,
  fields: readonly SchemaField[],
  source: string,
): Expected {
  try {
    const document = build();
    return document === undefined ? undefined : { document: coerceToSchema(document, fields), source };
  } catch (error) {
    if (!(error instanceof ProjectionError)) throw error;
    return { unprojectable: { id: error.id, code: error.code, reason: error.message } };
  }
}

/**
 * What the table implies, gathered outcome by outcome: the documents by id (as `keep` stores them), the
 * items refused, and keys whose documents share one id (the projection's id rule): a refusal
 * `id-collision` naming both keys; the first key's document stays the one expected.
 */
class Expectations<Stored> {
  readonly expected = new Map<string, Stored>();
  readonly unprojectable: Unprojectable[] = [];
  tableItems = 0;
  private readonly sources = new Map<string, string>();

  constructor(private readonly keep: (document: Document) => Stored) {}

  add(outcomes: readonly Expected[]): void {
    for (const outcome of outcomes) {
      if (outcome === undefined) continue;
      this.tableItems++;
      if ('unprojectable' in outcome) {
        this.unprojectable.push(outcome.unprojectable);
        continue;
      }
      const id = String(outcome.document.id);
      const first = this.sources.get(id);
      if (first !== undefined) {
        const { code, message } = idCollision(id, [first, outcome.source]);
        this.unprojectable.push({ id, code, reason: message });
        continue;
      }
      this.sources.set(id, outcome.source);
      this.expected.set(id, this.keep(outcome.document));
    }
  }
}

/**
 * Compares what the index should hold for these items (each through the same projection the writer
 * uses) with the documents it holds, field by field.
 */
function compare(
  items: readonly Record<string, AttributeValue>[],
  actual: ReadonlyMap<string, Document>,
  options: VerifyOptions,
  fields: readonly SchemaField[],
): VerifyReport {
  const expectations = new Expectations((document) => document);
  expectations.add(expectedDocuments(items, options, fields));
  const { expected, tableItems, unprojectable } = expectations;
  return { ...diffDocuments(expected, actual), tableItems, indexDocuments: actual.size, unprojectable };
}

/**
 * Compares the whole table with the whole index, field by field: what the index should hold (each
 * item through the same projection the writer uses) against what it holds. The table's side is kept as
 * one JSON text per item; the index's side streams (one export line at a time), so the export adds no
 * memory however large the collection.
 */
export async function verifyIndex(options: VerifyOptions): Promise<VerifyReport> {
  const fields = await schemaFieldsOf(options);
  const expectations = new Expectations((document) => documentJson(document));
  // An aggregate needs its whole partition, which may span pages: those items are kept until the end.
  const aggregated: Item[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await options.dynamodb.send(
      new ScanCommand({ TableName: options.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    if (options.aggregation === undefined)
      expectations.add(expectedDocuments(page.Items ?? [], options, fields));
    else aggregated.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  expectations.add(expectedDocuments(aggregated, options, fields));

  const { expected, tableItems, unprojectable } = expectations;
  const drift = await diffStream(
    expected,
    options.typesense.exportDocumentStream(options.collection),
    (text) => JSON.parse(text) as Document,
  );
  return { ...drift, tableItems, unprojectable };
}

/** Compares only these keys: their current items (strongly consistent) against their documents. */
export async function verifyKeys(
  options: VerifyOptions,
  keys: readonly MarshalledKey[],
): Promise<VerifyReport> {
  const keyAttributes = documentKeyAttributes(options);
  // BatchGetItem refuses a request that names a key twice; several keys may name one document (projection.id).
  const unique = [...new Map(keys.map((key) => [documentId(key, keyAttributes), key])).values()];
  const ids = [
    ...new Set(unique.flatMap((key) => indexDocumentId(key, keyAttributes, options.projection) ?? [])),
  ];
  const items = await readCurrentItems(options, unique);
  const actual = new Map<string, Document>();
  // A few requests at a time: enough to be quick, few enough not to look like a load test.
  for (let start = 0; start < ids.length; start += 10) {
    const documents = await Promise.all(
      ids.slice(start, start + 10).map((id) => options.typesense.getDocument(options.collection, id)),
    );
    for (const document of documents) if (document !== undefined) actual.set(String(document.id), document);
  }
  return compare(items, actual, options, await schemaFieldsOf(options));
}

/** The items of these keys (strongly consistent): BatchGetItem, or a Query of each aggregate's partition. */
async function readCurrentItems(options: VerifyOptions, keys: readonly MarshalledKey[]): Promise<Item[]> {
  const { aggregation } = options;
  if (aggregation === undefined) return readItemsConsistently(options.dynamodb, options.tableName)([...keys]);
  const readPartition = readPartitionConsistently(options.dynamodb, options.tableName);
  return (
    await inParallel(keys, PARTITION_READS, (key) => readPartition(key, aggregation.maxItems + 1))
  ).flat();
}

/** The table's key attribute types, in `keyAttributes` order (to turn document ids back into keys). */
export async function tableKeyTypes(
  dynamodb: DynamoDBClient,
  tableName: string,
  keyAttributes: readonly string[],
): Promise<KeyType[]> {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  return keyTypesOf(Table, tableName, keyAttributes);
}

function keyTypesOf(
  table: TableDescription | undefined,
  tableName: string,
  keyAttributes: readonly string[],
) {
  return keyAttributes.map((name) => {
    const type = table?.AttributeDefinitions?.find(
      ({ AttributeName }) => AttributeName === name,
    )?.AttributeType;
    if (type === undefined) throw new Error(`table ${tableName} has no key attribute '${name}'`);
    return type as KeyType;
  });
}

/**
 * A sample check: `size` items from a random part of the table (missing or stale documents) and
 * `size` documents from a random page of the index (documents the table no longer holds).
 */
export async function verifySample(
  options: VerifyOptions,
  size: number,
  random: () => number = Math.random,
): Promise<VerifyReport> {
  const { Table } = await options.dynamodb.send(new DescribeTableCommand({ TableName: options.tableName }));
  // About `size` items per segment, so one random segment is a sample of the asked size.
  const totalSegments = Math.min(1_000_000, Math.max(1, Math.ceil((Table?.ItemCount ?? 0) / size)));
  const { Items = [] } = await options.dynamodb.send(
    new ScanCommand({
      TableName: options.tableName,
      Segment: Math.floor(random() * totalSegments),
      TotalSegments: totalSegments,
      Limit: size,
    }),
  );
  const perPage = Math.min(size, 250);
  const firstPage = await options.typesense.search(options.collection, { q: '*', per_page: perPage });
  const pages = Math.max(1, Math.ceil(firstPage.found / perPage));
  const page = 1 + Math.floor(random() * pages);
  const sampled =
    page === 1
      ? firstPage
      : await options.typesense.search(options.collection, { q: '*', per_page: perPage, page });
  const keyAttributes = documentKeyAttributes(options);
  const keyTypes = keyTypesOf(Table, options.tableName, keyAttributes);
  const keys = [
    ...Items.map((item) => pickKey(item, keyAttributes)),
    ...sampled.hits.flatMap(({ document }) =>
      keysOfDocumentId(String(document.id), keyAttributes, keyTypes, options.projection),
    ),
  ];
  return verifyKeys(options, keys);
}
