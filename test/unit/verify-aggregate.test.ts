import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { type VerifyOptions, verifyIndex, verifyKeys } from '../../bin/cli/operations/verify.ts';
import { aggregationOf, buildAggregate } from '../../functions/core/aggregate.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

/* `verify` on an aggregated index: the table's partitions, built as the writer builds them, against the index. */

const API_KEY = 'verify-aggregate-key';
const suite = typesenseSuite(API_KEY);
type Item = Record<string, AttributeValue>;
const aggregation = aggregationOf(['pk', 'sk'], {
  parent: { prefix: 'ORDER#' },
  children: { lines: { prefix: 'LINE#' } },
});
const item = (pk: string, sk: string, fields: Item = {}): Item => ({
  pk: { S: pk },
  sk: { S: sk },
  ...fields,
});

/** A DynamoDB client with a Scan in pages of two (a partition spans pages) and a Query by `pk`. */
function tableOf(items: Item[]): DynamoDBClient {
  return {
    send: async (command: {
      input: {
        KeyConditionExpression?: string;
        ExpressionAttributeValues?: Record<string, AttributeValue>;
        ExclusiveStartKey?: { n: { N: string } };
      };
    }) => {
      const { input } = command;
      if (input.KeyConditionExpression !== undefined) {
        const partition = Object.values(input.ExpressionAttributeValues ?? {})[0]?.S;
        return { Items: items.filter((stored) => stored.pk?.S === partition) };
      }
      const start = Number(input.ExclusiveStartKey?.n.N ?? 0);
      return {
        Items: items.slice(start, start + 2),
        LastEvaluatedKey: start + 2 < items.length ? { n: { N: String(start + 2) } } : undefined,
      };
    },
  } as unknown as DynamoDBClient;
}

describe('verify on an aggregated index', () => {
  it('compares each partition’s aggregate: missing, stale (a line changed), extra (no parent any more)', async () => {
    const table = [
      item('o1', 'LINE#1', { qty: { N: '1' } }),
      item('o1', 'ORDER#o1', { customer: { S: 'ada' } }),
      item('o2', 'ORDER#o2', { customer: { S: 'bob' } }),
      item('o1', 'LINE#2', { qty: { N: '2' } }),
      item('o2', 'LINE#1', { qty: { N: '7' } }),
      item('o3', 'ORDER#o3'),
      item('o4', 'LINE#1'),
    ];
    const built = (pk: string, items: Item[]) =>
      JSON.stringify(
        buildAggregate(
          items.filter((stored) => stored.pk?.S === pk),
          aggregation,
          undefined,
          undefined,
        ),
      );
    await suite.typesense.createCollection({
      name: 'orders',
      fields: [{ name: 'customer', type: 'string', optional: true }],
    });
    const stale = table.map((stored) =>
      stored.pk?.S === 'o2' && stored.sk?.S === 'LINE#1' ? item('o2', 'LINE#1', { qty: { N: '6' } }) : stored,
    );
    await suite.typesense.importDocuments(
      'orders',
      [
        built('o1', table),
        built('o2', stale),
        // o4 had an order once: its aggregate is extra now.
        JSON.stringify({ id: 'o4', pk: 'o4', lines: [] }),
      ],
      'upsert',
    );
    const options: VerifyOptions = {
      dynamodb: tableOf(table),
      tableName: 'orders',
      keyAttributes: ['pk', 'sk'],
      aggregation,
      typesense: suite.typesense,
      collection: 'orders',
    };
    const whole = await verifyIndex(options);
    expect(whole).toMatchObject({ missing: ['o3'], extra: ['o4'], tableItems: 3, indexDocuments: 3 });
    expect(whole.stale.map(({ id }) => id)).toEqual(['o2']);
    const byKeys = await verifyKeys(
      options,
      ['o1', 'o2', 'o3', 'o4'].map((pk) => ({ pk: { S: pk } })),
    );
    expect(byKeys).toMatchObject({ missing: ['o3'], extra: ['o4'], tableItems: 3 });
    expect(byKeys.stale.map(({ id }) => id)).toEqual(['o2']);
  });
});
