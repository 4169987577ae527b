import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { verifyIndex, verifyKeys } from '../../bin/cli/operations/verify.ts';
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

/** A DynamoDB client serving both a paged Scan and BatchGetItem (by `pk`) from `items`. */
function tableOf(items: Item[]): DynamoDBClient {
  const scan = scanning(items);
  return {
    send: async (command: { input: { RequestItems?: Record<string, { Keys: Item[] }> } }) => {
      const request = command.input.RequestItems;
      if (request === undefined) return scan.send(command as never);
      const [[table, { Keys }] = ['', { Keys: [] }]] = Object.entries(request);
      const wanted = new Set(Keys.map((key) => key.pk?.S));
      return { Responses: { [table]: items.filter((item) => wanted.has(item.pk?.S)) } };
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

  it('the whole-index diff (streamed) and the by-keys diff (in memory) agree on the same table and index', async () => {
    const items: Item[] = [
      { pk: { S: 'same' }, title: { S: 't' }, note: { NULL: true } },
      { pk: { S: 'stale' }, title: { S: 'new' }, sku: { N: '7' } },
      { pk: { S: 'missing' }, title: { S: 'm' } },
      { pk: { S: 'coerced' }, title: { S: 'c' }, sku: { N: '123' } },
      { pk: { S: 'stale2' }, title: { S: 'x' }, tags: { L: [{ S: 'a' }, { S: 'b' }] } },
    ];
    const typesense = await indexWith({
      name: 'docs',
      fields: [
        { name: '.*', type: 'auto' },
        { name: 'title', type: 'string' },
        { name: 'sku', type: 'string', optional: true },
      ],
    });
    await typesense.importDocuments(
      'docs',
      [
        '{"id":"same","pk":"same","title":"t"}',
        '{"id":"stale","pk":"stale","title":"old","sku":"7"}',
        '{"id":"coerced","pk":"coerced","title":"c","sku":123}',
        '{"id":"stale2","pk":"stale2","title":"x","tags":["b","a"]}',
        '{"id":"extra","pk":"extra","title":"e"}',
      ],
      'upsert',
    );
    const options = {
      dynamodb: tableOf(items),
      tableName: 't',
      keyAttributes: ['pk'],
      typesense,
      collection: 'docs',
    };
    const whole = await verifyIndex(options);
    const keys = ['same', 'stale', 'missing', 'coerced', 'stale2', 'extra'].map((pk) => ({ pk: { S: pk } }));
    const byKeys = await verifyKeys(options, keys);
    const sorted = (report: typeof whole) => ({
      ...report,
      missing: [...report.missing].sort(),
      extra: [...report.extra].sort(),
      stale: [...report.stale].sort((a, b) => a.id.localeCompare(b.id)),
    });
    expect(sorted(whole)).toEqual({
      missing: ['missing'],
      extra: ['extra'],
      stale: [
        { id: 'stale', fields: ['title'] },
        { id: 'stale2', fields: ['tags'] },
      ],
      tableItems: 5,
      indexDocuments: 5,
      unprojectable: [],
    });
    expect(sorted(byKeys)).toEqual(sorted(whole));
  });
});
