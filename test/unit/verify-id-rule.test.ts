import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { keysToRepair } from '../../bin/cli/operations/repair.ts';
import type { Connection } from '../../bin/cli/operations/target.ts';
import { type VerifyOptions, verifyIndex, verifyKeys } from '../../bin/cli/operations/verify.ts';
import type { Projection } from '../../functions/core/project.ts';
import { typesenseSuite } from '../helpers/typesense-suite.ts';

/* `verify` and `--repair` on an index with an id rule (projection.id): documents named by the rule. */

const API_KEY = 'verify-id-rule-key';
const suite = typesenseSuite(API_KEY);
type Item = Record<string, AttributeValue>;
const projection: Projection = {
  filter: { attribute: 'sk', equals: 'PROFILE' },
  id: { attributes: ['pk'], stripPrefix: { pk: 'CUSTOMER#' } },
};
const item = (pk: string, sk: string, name = pk): Item => ({
  pk: { S: pk },
  sk: { S: sk },
  name: { S: name },
});
const text = (value: AttributeValue | undefined) => value?.S;

/** A DynamoDB client over `items`: a Scan in pages of two, and BatchGetItem by pk and sk. */
function tableOf(items: Item[]): DynamoDBClient {
  return {
    send: async (command: {
      input: {
        RequestItems?: Record<string, { Keys: Item[] }>;
        ExclusiveStartKey?: { n: { N: string } };
      };
    }) => {
      const { input } = command;
      if (input.RequestItems !== undefined) {
        const [[table, { Keys }]] = Object.entries(input.RequestItems) as [[string, { Keys: Item[] }]];
        const found = Keys.flatMap(
          (key) =>
            items.filter((stored) => text(stored.pk) === text(key.pk) && text(stored.sk) === text(key.sk)) ??
            [],
        );
        return { Responses: { [table]: found } };
      }
      const start = Number(input.ExclusiveStartKey?.n.N ?? 0);
      return {
        Items: items.slice(start, start + 2),
        LastEvaluatedKey: start + 2 < items.length ? { n: { N: String(start + 2) } } : undefined,
      };
    },
  } as unknown as DynamoDBClient;
}

describe('verify with an id rule', () => {
  it('compares documents by their ruled ids, ignores the items the rule leaves out, and names both keys of a collision', async () => {
    const table = [
      item('CUSTOMER#1', 'PROFILE'),
      item('CUSTOMER#1', 'ORDER#1'),
      item('CUSTOMER#2', 'PROFILE', 'new name'),
      item('3', 'PROFILE'),
      item('CUSTOMER#3', 'PROFILE'),
    ];
    await suite.typesense.createCollection({ name: 'customers', fields: [{ name: 'name', type: 'string' }] });
    const document = (id: string, pk: string, name = pk) => JSON.stringify({ id, pk, sk: 'PROFILE', name });
    await suite.typesense.importDocuments(
      'customers',
      [
        document('1', 'CUSTOMER#1'),
        document('2', 'CUSTOMER#2', 'old name'),
        document('3', '3'),
        document('9', 'CUSTOMER#9'),
      ],
      'upsert',
    );
    const options: VerifyOptions = {
      dynamodb: tableOf(table),
      tableName: 'items',
      keyAttributes: ['pk', 'sk'],
      projection,
      typesense: suite.typesense,
      collection: 'customers',
    };
    const whole = await verifyIndex(options);
    expect(whole).toMatchObject({ missing: [], extra: ['9'], tableItems: 4, indexDocuments: 4 });
    expect(whole.stale.map(({ id }) => id)).toEqual(['2']);
    expect(whole.unprojectable).toEqual([
      {
        id: '3',
        code: 'id-collision',
        reason:
          "keys '3|PROFILE' and 'CUSTOMER#3|PROFILE' have the same document id '3' (projection.id): only one key may make a document",
      },
    ]);
    const byKeys = await verifyKeys(options, [
      { pk: { S: 'CUSTOMER#1' }, sk: { S: 'PROFILE' } },
      { pk: { S: 'CUSTOMER#1' }, sk: { S: 'ORDER#1' } },
      { pk: { S: 'CUSTOMER#2' }, sk: { S: 'PROFILE' } },
    ]);
    expect(byKeys).toMatchObject({ missing: [], extra: [], tableItems: 2 });
    expect(byKeys.stale.map(({ id }) => id)).toEqual(['2']);
  });

  it('repair finds the keys of ruled ids: the ones the table holds, else one whose change deletes the id; none for an id no key can have', async () => {
    const connection = {
      dynamodb: tableOf([item('CUSTOMER#2', 'PROFILE'), item('5', 'PROFILE')]),
      target: { tableName: 'items', projection },
    } as unknown as Connection;
    const repair = await keysToRepair(connection, ['2', '5', '9'], ['pk', 'sk'], ['S', 'S']);
    expect(repair).toEqual({
      keys: [
        { pk: { S: 'CUSTOMER#2' }, sk: { S: 'PROFILE' } },
        { pk: { S: '5' }, sk: { S: 'PROFILE' } },
        { pk: { S: '9' }, sk: { S: 'PROFILE' } },
      ],
      unrecoverable: [],
    });
    // Under a rule of both key attributes, an id of three parts is no key's.
    const both = {
      ...connection,
      target: { tableName: 'items', projection: { id: { stripPrefix: { pk: 'CUSTOMER#' } } } },
    } as unknown as Connection;
    expect(await keysToRepair(both, ['a|b|c'], ['pk', 'sk'], ['S', 'S'])).toEqual({
      keys: [],
      unrecoverable: ['a|b|c'],
    });
  });
});
