import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';

/** An item as a plain record: strings as they are, numbers as numbers (the attribute kinds these tests write). */
export type PlainItem = Record<string, string | number>;

export const plainItem = (item: Record<string, AttributeValue>): PlainItem =>
  Object.fromEntries(Object.entries(item).map(([name, value]) => [name, value.S ?? Number(value.N)]));

/** Every item of the table, by a strongly consistent paged scan: the state the indexes must converge to. */
export async function scanItems(
  dynamodb: DynamoDBClient,
  tableName: string,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** UTF-8 byte order of sort keys, as DynamoDB sorts an item collection. */
export const bySortKey = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
