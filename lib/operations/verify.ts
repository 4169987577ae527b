import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { type Document, type Drift, diffDocuments } from '../../functions/core/diff.ts';
import { ProjectionError } from '../../functions/core/errors.ts';
import { type Projection, projectItem } from '../../functions/core/project.ts';
import type { TypesenseClient } from '../../functions/shared/typesense.ts';

export interface VerifyOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  keyAttributes: readonly string[];
  projection?: Projection;
  typesense: TypesenseClient;
  /** Alias or collection name. */
  collection: string;
}

export interface VerifyReport extends Drift {
  tableItems: number;
  indexDocuments: number;
  /** Items the projection rejects: they can never be in the index. */
  unprojectable: { id: string; reason: string }[];
}

/**
 * Compares the whole table with the whole index, field by field: what the index should hold (each
 * item through the same projection the writer uses) against what it holds.
 */
export async function verifyIndex(options: VerifyOptions): Promise<VerifyReport> {
  const expected = new Map<string, Document>();
  const unprojectable: VerifyReport['unprojectable'] = [];
  let tableItems = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await options.dynamodb.send(
      new ScanCommand({ TableName: options.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    for (const item of page.Items ?? []) {
      tableItems++;
      try {
        const document = projectItem(item, options.keyAttributes, options.projection);
        expected.set(document.id, document);
      } catch (error) {
        if (!(error instanceof ProjectionError)) throw error;
        unprojectable.push({ id: error.id, reason: error.message });
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);

  const documents = await options.typesense.exportDocuments(options.collection);
  const actual = new Map(documents.map((document) => [String(document.id), document]));
  return { ...diffDocuments(expected, actual), tableItems, indexDocuments: actual.size, unprojectable };
}
