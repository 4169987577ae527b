import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  type PreviewRules,
  previewGivenItem,
  previewItem,
  previewKey,
} from '../../bin/cli/operations/preview.ts';
import {
  type Item,
  parseItem,
  parseKeyOption,
  parseProjection,
  readInput,
} from '../../bin/cli/operations/preview-input.ts';
import {
  renderPreview,
  SHOWN_CHARACTERS,
  SHOWN_MEMBERS,
  shortened,
  wouldDeadLetter,
} from '../../bin/cli/render/preview.ts';

const rules: PreviewRules = {
  keyAttributes: ['pk', 'sk'],
  projection: { exclude: ['secretNote'], filter: { attribute: 'type', equals: 'order' } },
  index: 'orders',
};
const order: Item = {
  pk: { S: 'ORDER#17' },
  sk: { N: '1' },
  type: { S: 'order' },
  total: { N: '42.50' },
  secretNote: { S: 'left out by the projection' },
};
const key = { pk: { S: 'ORDER#17' }, sk: { N: '1' } };

/** A DynamoDB client that answers every GetItem with `item` and keeps the commands it was sent. */
function fakeDynamoDb(item: Item | undefined) {
  const sent: GetItemCommand[] = [];
  const client = {
    send: async (command: GetItemCommand) => {
      sent.push(command);
      return item === undefined ? {} : { Item: item };
    },
  } as unknown as DynamoDBClient;
  return { client, sent };
}

describe('preview: what the writer would do with one item', () => {
  it('an item the filter matches: its document, as the writer projects it, with the filter trace', async () => {
    const { client, sent } = fakeDynamoDb(order);
    const report = await previewKey(client, 'items', key, rules);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(GetItemCommand);
    expect(sent[0]?.input).toEqual({ TableName: 'items', Key: key, ConsistentRead: true });
    expect(report).toEqual({
      source: 'table items',
      key,
      indexes: [
        {
          index: 'orders',
          id: 'ORDER#17|1',
          outcome: 'indexed',
          document: { id: 'ORDER#17|1', pk: 'ORDER#17', sk: 1, type: 'order', total: 42.5 },
          filter: {
            matches: true,
            steps: [
              {
                path: 'filter',
                depth: 0,
                node: 'equals',
                attribute: 'type',
                operand: 'order',
                value: '"order"',
                matched: true,
              },
            ],
          },
        },
      ],
    });
  });

  it('a binary key is read with its bytes and shown as base64', async () => {
    const bytes = new Uint8Array([0, 1, 255]);
    const binaryRules = { ...rules, keyAttributes: ['pk'], projection: {} };
    const { client, sent } = fakeDynamoDb(undefined);
    const report = await previewKey(
      client,
      'items',
      parseKeyOption('{"pk":{"B":"AAH/"}}', ['pk']),
      binaryRules,
    );
    expect(sent[0]?.input.Key).toEqual({ pk: { B: Buffer.from(bytes) } });
    expect(report.key).toEqual({ pk: { B: 'AAH/' } });
    expect(report.indexes).toEqual([{ index: 'orders', id: 'AAH/', outcome: 'no-item' }]);
  });

  it('an item the filter leaves out, and one the table does not hold: the writer deletes the id', async () => {
    const customer = { ...order, type: { S: 'customer' } };
    const [left] = (await previewKey(fakeDynamoDb(customer).client, 'items', key, rules)).indexes;
    expect(left).toMatchObject({ outcome: 'filtered-out', id: 'ORDER#17|1', filter: { matches: false } });
    expect(left).not.toHaveProperty('document');
    const [missing] = (await previewKey(fakeDynamoDb(undefined).client, 'items', key, rules)).indexes;
    expect(missing).toEqual({ index: 'orders', id: 'ORDER#17|1', outcome: 'no-item' });
  });

  it('an item the projection cannot make a document of would be dead-lettered, with the reason', () => {
    const odd = { ...order, weird: { X: 1 } } as unknown as Item;
    const [preview] = previewItem(odd, key, rules, 'file odd.json').indexes;
    expect(preview).toMatchObject({
      outcome: 'dead-lettered',
      reason: expect.stringMatching(/^projection: cannot project item: unsupported attribute value type/),
    });
  });

  it('a given item must hold the key: a missing or unusable key attribute names it', () => {
    const { sk: _sk, ...keyless } = order;
    expect(() => previewGivenItem(keyless, rules, 'file item.json')).toThrow(
      "--item file item.json: key attribute 'sk' is missing (the table's key is pk, sk)",
    );
    expect(() => previewGivenItem({ ...order, sk: { BOOL: true } }, rules, 'stdin')).toThrow(
      "--item stdin: key attribute 'sk' must be of type S, N or B (the table's key is pk, sk)",
    );
    expect(previewGivenItem(order, rules, 'stdin').indexes[0]?.outcome).toBe('indexed');
  });
});

describe('preview input: --key, --item, --projection', () => {
  it('--key takes strings as S, numbers as N and the wire form for anything else', () => {
    expect(parseKeyOption('{"pk":"a","sk":1.5}', ['pk', 'sk'])).toEqual({ pk: { S: 'a' }, sk: { N: '1.5' } });
    expect(parseKeyOption('{"pk":"a","sk":{"N":"12345678901234567890"}}', ['pk', 'sk'])).toEqual({
      pk: { S: 'a' },
      sk: { N: '12345678901234567890' },
    });
  });

  it.each([
    ['not JSON', "{pk:'a'}", /^--key is not JSON: /],
    ['not an object', '"a"', /^--key must be a JSON object, got "a"$/],
    [
      'a missing and an unknown attribute',
      '{"pk":"a","id":1}',
      /^--key must name the table's key attributes pk, sk, and only them; missing sk; not in the key: id$/,
    ],
    ['an empty string', '{"pk":"","sk":1}', /^--key: key attribute 'pk' is not a valid S key value$/],
    ['a boolean', '{"pk":"a","sk":true}', /^--key: key attribute 'sk' must be one S, N or B value$/],
    [
      'an integer beyond a double',
      '{"pk":"a","sk":12345678901234567890}',
      /^--key sk: a JSON number beyond 2\^53 has lost digits already; give it as \{"N":"<digits>"\}$/,
    ],
  ])('--key %s is refused, naming what is wrong', (_, text, message) => {
    expect(() => parseKeyOption(text, ['pk', 'sk'])).toThrow(message);
  });

  it('--item reads DynamoDB JSON, bare or as get-item prints it, binary as bytes, nested values checked', () => {
    const item = {
      pk: { S: 'a' },
      blob: { B: 'AAE=' },
      parts: { L: [{ M: { size: { N: '2' } } }, { NULL: true }] },
      tags: { SS: ['x'] },
      codes: { BS: ['AQ=='] },
    };
    const expected = {
      ...item,
      blob: { B: Buffer.from([0, 1]) },
      codes: { BS: [Buffer.from([1])] },
    };
    expect(parseItem(JSON.stringify(item), false)).toEqual(expected);
    expect(parseItem(JSON.stringify({ Item: item, ConsumedCapacity: {} }), false)).toEqual(expected);
  });

  it.each([
    [
      'plain JSON without --plain',
      { pk: 'a' },
      /^--item attribute pk is not a DynamoDB JSON value .*got "a"; for plain JSON give --plain$/,
    ],
    [
      'a bad nested value, by path',
      { pk: { S: 'a' }, m: { M: { l: { L: [{ N: 'x' }] } } } },
      /^--item attribute m\.l\[0\] is not/,
    ],
    ['two types in one value', { pk: { S: 'a', N: '1' } }, /^--item attribute pk is not/],
    ['an empty get-item answer', {}, /^--item has no attributes \(an empty get-item answer means no item\)$/],
    ['a list', [1], /^--item must be a JSON object, got \[1\]$/],
  ])('--item: %s is refused, naming what is wrong', (_, value, message) => {
    expect(() => parseItem(JSON.stringify(value), false)).toThrow(message);
  });

  it('--item --plain marshalls plain JSON as the DocumentClient would', () => {
    expect(parseItem('{"pk":"a","n":1,"ok":true,"none":null,"list":["x"],"map":{"k":2}}', true)).toEqual({
      pk: { S: 'a' },
      n: { N: '1' },
      ok: { BOOL: true },
      none: { NULL: true },
      list: { L: [{ S: 'x' }] },
      map: { M: { k: { N: '2' } } },
    });
  });

  it('--projection is checked as the construct checks it, every problem named', () => {
    expect(parseProjection('{"filter":{"attribute":"type","equals":"order"}}')).toEqual({
      filter: { attribute: 'type', equals: 'order' },
    });
    expect(() => parseProjection('{"include":"type","filter":{"and":[{"attribute":"n","gt":"1"}]}}')).toThrow(
      '--projection is not a valid projection: include must be a list of attribute names; filter.and[0].gt must be a finite number, got "1"',
    );
    expect(() => parseProjection('{"fields":[]}')).toThrow(
      /^--projection is not a valid projection: projection has unknown key fields/,
    );
  });

  it('an unreadable file or no standard input is named', async () => {
    await expect(readInput('--item', '/nonexistent/item.json', undefined)).rejects.toThrow(
      /^cannot read --item \/nonexistent\/item\.json: ENOENT/,
    );
    await expect(readInput('--item', '-', undefined)).rejects.toThrow(
      'cannot read --item -: no standard input',
    );
    expect(await readInput('--item', '-', async () => '{"pk":{"S":"a"}}')).toBe('{"pk":{"S":"a"}}');
  });
});

describe('renderPreview', () => {
  it('an indexed item: the id, the filter trace node by node, the document', () => {
    const report = previewItem(order, key, rules, 'table items');
    expect(renderPreview(report)).toBe(
      [
        'item {"pk":{"S":"ORDER#17"},"sk":{"N":"1"}} from table items',
        "index 'orders', document id 'ORDER#17|1': indexed",
        '  filter: matches',
        '    ✓ filter: type equals "order" (item: "order")',
        '  document:',
        '    {',
        '      "id": "ORDER#17|1",',
        '      "pk": "ORDER#17",',
        '      "sk": 1,',
        '      "type": "order",',
        '      "total": 42.5',
        '    }',
      ].join('\n'),
    );
  });

  it('an item left out shows the failing nodes, indented under their combinator', () => {
    const filter = {
      and: [{ attribute: 'type', equals: 'order' }, { not: { attribute: 'total', lt: 50 } }],
    };
    const report = previewItem(order, key, { ...rules, projection: { filter } }, 'stdin');
    expect(renderPreview(report)).toBe(
      [
        'item {"pk":{"S":"ORDER#17"},"sk":{"N":"1"}} from stdin',
        "index 'orders', document id 'ORDER#17|1': not indexed — the filter leaves it out (the writer deletes the id, a no-op where absent)",
        '  filter: does not match',
        '    ✗ filter: and',
        '      ✓ filter.and[0]: type equals "order" (item: "order")',
        '      ✗ filter.and[1]: not',
        '        ✓ filter.and[1].not: total lt 50 (item: 42.50)',
      ].join('\n'),
    );
  });

  it('no filter, a missing item, a dead letter', () => {
    const all = renderPreview(previewItem(order, key, { ...rules, projection: {} }, 'table items'));
    expect(all).toContain('  filter: none (every item is indexed)\n  document:');
    expect(renderPreview(previewItem(undefined, key, rules, 'table items'))).toBe(
      [
        'item {"pk":{"S":"ORDER#17"},"sk":{"N":"1"}} from table items: not found',
        "index 'orders', document id 'ORDER#17|1': no item — the writer deletes the id (a no-op where absent)",
      ].join('\n'),
    );
    const odd = { ...order, weird: { X: 1 } } as unknown as Item;
    expect(wouldDeadLetter(previewItem(odd, key, rules, 'stdin'))).toBe(true);
    expect(wouldDeadLetter(previewItem(undefined, key, rules, 'stdin'))).toBe(false);
    expect(wouldDeadLetter(previewItem(order, key, rules, 'stdin'))).toBe(false);
    expect(renderPreview(previewItem(odd, key, rules, 'stdin'))).toContain(
      "document id 'ORDER#17|1': would be dead-lettered: projection: cannot project item: unsupported attribute value type",
    );
  });

  it('long strings and lists are cut in the text, saying how much was left out', () => {
    const long = 'x'.repeat(SHOWN_CHARACTERS + 7);
    const many = Array.from({ length: SHOWN_MEMBERS + 3 }, (_, n) => n);
    expect(shortened({ a: long, nested: { list: many }, n: 1, none: null })).toEqual({
      a: `${'x'.repeat(SHOWN_CHARACTERS)}… (7 more characters)`,
      nested: { list: [...many.slice(0, SHOWN_MEMBERS), '… 3 more'] },
      n: 1,
      none: null,
    });
    const report = previewItem({ ...order, text: { S: long } }, key, rules, 'stdin');
    expect(renderPreview(report)).toContain('… (7 more characters)');
    expect(renderPreview(report)).not.toContain(long);
  });
});

describe('preview with an id rule', () => {
  const customers = {
    keyAttributes: ['pk', 'sk'],
    index: 'customers',
    projection: {
      filter: { attribute: 'sk', equals: 'PROFILE' },
      id: { attributes: ['pk'], stripPrefix: { pk: 'CUSTOMER#' } },
    },
  };

  it('shows the id the rule gives, and that a key it leaves out is never in the index', () => {
    const profile = { pk: { S: 'CUSTOMER#123' }, sk: { S: 'PROFILE' } };
    const [indexed] = previewItem(profile, profile, customers, 'stdin').indexes;
    expect(indexed).toMatchObject({ id: '123', outcome: 'indexed', document: { id: '123' } });
    const order = { pk: { S: 'CUSTOMER#123' }, sk: { S: 'ORDER#1' } };
    const report = previewItem(order, order, customers, 'stdin');
    expect(report.indexes).toEqual([{ index: 'customers', outcome: 'not-in-index' }]);
    expect(renderPreview(report)).toContain(
      "index 'customers', document id none: never in this index — its id rule leaves out a key attribute the filter pins to another value",
    );
  });
});
