import { type AttributeValue, type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { readPartitionConsistently, SourceReadError } from '../../functions/shared/aws.ts';

/* The aggregated index's re-read: a strongly consistent, paged Query of one partition. */

type Item = Record<string, AttributeValue>;

/** A client answering Query from `items` in pages of `pageSize` (or fewer when the request's Limit says so). */
function partitionClient(items: Item[], pageSize: number) {
  const inputs: QueryCommand['input'][] = [];
  const client = {
    send: async (command: unknown) => {
      expect(command).toBeInstanceOf(QueryCommand);
      const { input } = command as QueryCommand;
      inputs.push(input);
      const start = Number(input.ExclusiveStartKey?.at?.N ?? 0);
      const end = Math.min(items.length, start + Math.min(pageSize, input.Limit ?? pageSize));
      return {
        Items: items.slice(start, end),
        ...(end < items.length ? { LastEvaluatedKey: { at: { N: String(end) } } } : {}),
      };
    },
  };
  return { client: client as unknown as DynamoDBClient, inputs };
}

const lines = (count: number): Item[] =>
  Array.from({ length: count }, (_, n) => ({ pk: { S: 'o1' }, sk: { S: `LINE#${n}` } }));

describe('readPartitionConsistently', () => {
  it('follows LastEvaluatedKey with consistent reads on the partition key alone, and returns every item', async () => {
    const { client, inputs } = partitionClient(lines(7), 3);
    const items = await readPartitionConsistently(client, 'orders')({ pk: { S: 'o1' } }, 1_001);
    expect(items).toEqual(lines(7));
    expect(inputs).toHaveLength(3);
    for (const input of inputs)
      expect(input).toMatchObject({
        TableName: 'orders',
        KeyConditionExpression: '#partition = :partition',
        ExpressionAttributeNames: { '#partition': 'pk' },
        ExpressionAttributeValues: { ':partition': { S: 'o1' } },
        ConsistentRead: true,
      });
    expect(inputs.map((input) => input.ExclusiveStartKey)).toEqual([
      undefined,
      { at: { N: '3' } },
      { at: { N: '6' } },
    ]);
  });

  it('stops once `limit` items are read, asking each page for no more than are missing', async () => {
    const { client, inputs } = partitionClient(lines(50), 4);
    const items = await readPartitionConsistently(client, 'orders')({ pk: { S: 'o1' } }, 6);
    expect(items).toEqual(lines(6));
    expect(inputs.map((input) => input.Limit)).toEqual([6, 2]);
  });

  it('reads a binary partition key as its bytes, and refuses a key of more than the partition key', async () => {
    const { client, inputs } = partitionClient([], 3);
    const read = readPartitionConsistently(client, 'orders');
    await read({ pk: { B: 'AQI=' } } as unknown as Item, 10);
    expect(inputs[0]?.ExpressionAttributeValues?.[':partition']).toEqual({ B: Buffer.from([1, 2]) });
    await expect(read({ pk: { S: 'o1' }, sk: { S: 'LINE#1' } }, 10)).rejects.toThrow(SourceReadError);
  });
});
