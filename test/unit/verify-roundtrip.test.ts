import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { verifyIndex } from '../../bin/cli/operations/verify.ts';
import { projectItem } from '../../functions/core/project.ts';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { startTypesenseEmulator, type TypesenseEmulator } from '../../infra/local/typesense-emulator.ts';

const API_KEY = 'verify-unit-key';
type Item = Record<string, AttributeValue>;
let server: TypesenseEmulator | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** A DynamoDB client whose Scan returns `items` in pages of two. */
function scanning(items: Item[]): DynamoDBClient {
  return {
    send: async (command: { input: { ExclusiveStartKey?: { n: { N: string } } } }) => {
      const start = Number(command.input.ExclusiveStartKey?.n.N ?? 0);
      const page = items.slice(start, start + 2);
      return {
        Items: page,
        LastEvaluatedKey: start + 2 < items.length ? { n: { N: String(start + 2) } } : undefined,
      };
    },
  } as unknown as DynamoDBClient;
}

async function indexWith(schema: Parameters<TypesenseClient['createCollection']>[0]) {
  server = await startTypesenseEmulator({ apiKey: API_KEY });
  const typesense = new TypesenseClient({ nodes: [server.url], apiKey: API_KEY });
  await typesense.createCollection(schema);
  return typesense;
}

describe('what the writer sends round-trips through the index (verify stays clean)', () => {
  it('a DynamoDB NULL is an absent field, at any depth, as Typesense stores an upsert (merge-patch)', async () => {
    const items: Item[] = [
      { pk: { S: 'a' }, title: { S: 't' }, note: { NULL: true } },
      {
        pk: { S: 'b' },
        title: { S: 'u' },
        meta: { M: { kept: { S: 'k' }, gone: { NULL: true } } },
        list: { L: [{ S: 'x' }, { NULL: true }, { S: 'y' }] },
      },
    ];
    const typesense = await indexWith({ name: 'docs', fields: [{ name: 'title', type: 'string' }] });
    // The writer never sends a null: Typesense would drop it (src/index.cpp get_doc_changes: a null member
    // erases the field, process_value drops nulls inside objects and arrays), so sent = stored.
    const lines = items.map((item) => JSON.stringify(projectItem(item, ['pk'])));
    for (const line of lines) expect(line).not.toContain('null');
    await typesense.importDocuments('docs', lines, 'upsert');
    expect(await typesense.getDocument('docs', 'b')).toEqual({
      id: 'b',
      pk: 'b',
      title: 'u',
      meta: { kept: 'k' },
      list: ['x', 'y'],
    });
    const report = await verifyIndex({
      dynamodb: scanning(items),
      tableName: 't',
      keyAttributes: ['pk'],
      typesense,
      collection: 'docs',
    });
    expect(report).toMatchObject({ missing: [], extra: [], stale: [], tableItems: 2, indexDocuments: 2 });
  });

  it('a value the schema coerces (auto schema, dirty values coerced) is compared after that coercion', async () => {
    const items: Item[] = [
      { pk: { S: 'a' }, sku: { N: '123' }, price: { S: '12.5' }, count: { S: '7' }, live: { S: 'true' } },
      { pk: { S: 'b' }, sku: { S: 'x1' }, price: { N: '3' }, count: { N: '2' }, live: { BOOL: false } },
      { pk: { S: 'c' }, sku: { BOOL: true }, price: { BOOL: true }, count: { BOOL: true }, live: { N: '1' } },
    ];
    const typesense = await indexWith({
      name: 'auto',
      fields: [
        { name: '.*', type: 'auto' },
        { name: 'sku', type: 'string' },
        { name: 'price', type: 'float' },
        { name: 'count', type: 'int64' },
        { name: 'live', type: 'bool' },
      ],
    });
    const results = await typesense.importDocuments(
      'auto',
      items.map((item) => JSON.stringify(projectItem(item, ['pk']))),
      'upsert',
    );
    expect(results.every((result) => result.success)).toBe(true);
    expect(await typesense.getDocument('auto', 'a')).toMatchObject({ sku: '123', price: 12.5, count: 7 });
    const report = await verifyIndex({
      dynamodb: scanning(items),
      tableName: 't',
      keyAttributes: ['pk'],
      typesense,
      collection: 'auto',
    });
    expect(report).toMatchObject({ missing: [], extra: [], stale: [], tableItems: 3, indexDocuments: 3 });
  });

  it('still reports a real difference, and reads the index as a stream, not as one array', async () => {
    const items: Item[] = [
      { pk: { S: 'a' }, title: { S: 'new' } },
      { pk: { S: 'b' }, title: { S: 'same' } },
    ];
    const typesense = await indexWith({ name: 'docs', fields: [{ name: 'title', type: 'string' }] });
    await typesense.importDocuments(
      'docs',
      ['{"id":"a","pk":"a","title":"old"}', '{"id":"b","pk":"b","title":"same"}', '{"id":"z","title":"x"}'],
      'upsert',
    );
    const whole = vi.spyOn(typesense, 'exportDocuments');
    const report = await verifyIndex({
      dynamodb: scanning(items),
      tableName: 't',
      keyAttributes: ['pk'],
      typesense,
      collection: 'docs',
    });
    expect(whole).not.toHaveBeenCalled();
    expect(report).toMatchObject({
      missing: [],
      extra: ['z'],
      stale: [{ id: 'a', fields: ['title'] }],
      indexDocuments: 3,
    });
  });
});
