import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  aggregateProblems,
  aggregateSchema,
  changeKeyAttributes,
} from '../../functions/contract/aggregate.ts';
import { writerEnvironment } from '../../functions/contract/env-builders.ts';
import {
  AggregateTooLargeError,
  AggregationError,
  aggregationOf,
  buildAggregate,
  partitionKeysOf,
} from '../../functions/core/aggregate.ts';
import { coalesce } from '../../functions/core/coalesce.ts';
import { normaliseRecords } from '../../functions/core/normalise.ts';
import { packChanges } from '../../functions/core/pack.ts';
import type { TransformContext } from '../../functions/core/transform.ts';
import { parseConfig, writerConfigSchema } from '../../functions/shared/config.ts';
import { seq } from '../helpers/factories.ts';

type Item = Record<string, AttributeValue>;
const ORDERS = { parent: { prefix: 'ORDER#' }, children: { lines: { prefix: 'LINE#' } } };
const aggregation = aggregationOf(['pk', 'sk'], ORDERS);
const item = (pk: string, sk: string, fields: Item = {}): Item => ({
  pk: { S: pk },
  sk: { S: sk },
  ...fields,
});

describe('buildAggregate', () => {
  it('is the parent’s document with each child kind as an array of its documents, by sort key', () => {
    const items = [
      item('o1', 'LINE#2', { qty: { N: '2' } }),
      item('o1', 'ORDER#o1', { customer: { S: 'ada' } }),
      item('o1', 'NOTE#1', { text: { S: 'not a child kind: left out' } }),
      item('o1', 'LINE#1', { qty: { N: '1' } }),
    ];
    expect(buildAggregate(items, aggregation, undefined, undefined)).toEqual({
      id: 'o1',
      pk: 'o1',
      sk: 'ORDER#o1',
      customer: 'ada',
      lines: [
        { id: 'o1|LINE#1', pk: 'o1', sk: 'LINE#1', qty: 1 },
        { id: 'o1|LINE#2', pk: 'o1', sk: 'LINE#2', qty: 2 },
      ],
    });
  });

  it('orders children as DynamoDB orders sort keys: by UTF-8 bytes, not UTF-16 units', () => {
    // U+FF21 is one UTF-16 unit above the surrogate pair of U+1F600, but its UTF-8 bytes sort first.
    const items = [item('o1', 'ORDER#'), item('o1', 'LINE#😀'), item('o1', 'LINE#Ａ')];
    const built = buildAggregate(items, aggregation, undefined, undefined);
    expect((built?.lines as { sk: string }[]).map(({ sk }) => sk)).toEqual(['LINE#Ａ', 'LINE#😀']);
  });

  it('gives an empty array for a child kind the partition has none of', () => {
    expect(buildAggregate([item('o1', 'ORDER#')], aggregation, undefined, undefined)?.lines).toEqual([]);
  });

  it('has no document without a parent item, or when the filter leaves the parent out', () => {
    expect(buildAggregate([item('o1', 'LINE#1')], aggregation, undefined, undefined)).toBeUndefined();
    expect(buildAggregate([], aggregation, undefined, undefined)).toBeUndefined();
    const onlyOpen = { filter: { attribute: 'status', equals: 'open' } };
    const closed = [item('o1', 'ORDER#', { status: { S: 'closed' } }), item('o1', 'LINE#1')];
    expect(buildAggregate(closed, aggregation, onlyOpen, undefined)).toBeUndefined();
  });

  it('applies the whole projection to every item: the filter drops a child, include/rename shape each', () => {
    const projection = {
      filter: {
        or: [
          { attribute: 'sk', beginsWith: 'ORDER#' },
          { attribute: 'qty', gt: 0 },
        ],
      },
      include: ['customer', 'qty'],
      rename: { qty: 'quantity' },
    };
    const items = [
      item('o1', 'ORDER#', { customer: { S: 'ada' } }),
      item('o1', 'LINE#1', { qty: { N: '0' } }),
      item('o1', 'LINE#2', { qty: { N: '3' } }),
    ];
    expect(buildAggregate(items, aggregation, projection, undefined)).toEqual({
      id: 'o1',
      customer: 'ada',
      lines: [{ id: 'o1|LINE#2', quantity: 3 }],
    });
  });

  it('hands the transform the aggregate, the parent item and every item of the partition by sort key', () => {
    const seen: TransformContext[] = [];
    const transform = (document: Record<string, unknown>, context: TransformContext) => {
      seen.push(context);
      return { ...document, count: context.items?.length ?? -1 };
    };
    const items = [item('o1', 'LINE#1'), item('o1', 'ORDER#', { customer: { S: 'ada' } })];
    const built = buildAggregate(items, aggregation, undefined, transform);
    expect(built).toMatchObject({ id: 'o1', count: 2, lines: [{ id: 'o1|LINE#1' }] });
    expect(seen[0]?.item).toMatchObject({ customer: 'ada' });
    expect(seen[0]?.key).toEqual({ pk: { S: 'o1' } });
    expect(seen[0]?.items?.map((member) => member.id)).toEqual(['o1|LINE#1', 'o1|ORDER#']);
  });

  it('refuses a partition over maxItems, and a document over maxDocumentBytes, as aggregate-too-large', () => {
    const small = { ...aggregation, maxItems: 2 };
    const three = [item('o1', 'ORDER#'), item('o1', 'LINE#1'), item('o1', 'LINE#2')];
    expect(() => buildAggregate(three, small, undefined, undefined)).toThrow(AggregateTooLargeError);
    expect(() => buildAggregate(three.slice(0, 2), small, undefined, undefined)).not.toThrow();
    const tight = { ...aggregation, maxDocumentBytes: 1_024 };
    const big = [item('o1', 'ORDER#'), item('o1', 'LINE#1', { text: { S: 'x'.repeat(1_000) } })];
    let refusal: unknown;
    try {
      buildAggregate(big, tight, undefined, undefined);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(AggregateTooLargeError);
    expect(refusal).toMatchObject({ code: 'aggregate-too-large', id: 'o1' });
    expect((refusal as Error).message).toMatch(/more than 1024 \(aggregate.maxDocumentBytes\)/);
  });

  it('refuses two parents, and a parent field that a child kind would overwrite, as aggregate-invalid', () => {
    const twoParents = [item('o1', 'ORDER#a'), item('o1', 'ORDER#b')];
    expect(() => buildAggregate(twoParents, aggregation, undefined, undefined)).toThrow(/2 parent items/);
    const clash = [item('o1', 'ORDER#', { lines: { N: '3' } })];
    expect(() => buildAggregate(clash, aggregation, undefined, undefined)).toThrow(AggregationError);
    expect(() => buildAggregate(clash, aggregation, undefined, undefined)).toThrow(/exclude or rename it/);
  });
});

describe('the aggregate contract', () => {
  it('accepts a parent and child kinds, and reports every problem at once with its path', () => {
    expect(aggregateProblems(ORDERS, 'aggregate', ['pk', 'sk'])).toEqual([]);
    const bad = {
      parent: { prefix: 'O' },
      children: { lines: { prefix: 'OL' }, id: { prefix: 'X' }, notes: { prefix: '' } },
      maxItems: 0,
      extra: true,
    };
    expect(aggregateProblems(bad, 'aggregate', ['pk'])).toEqual([
      'aggregate has unknown key extra: use parent, children, maxItems, maxDocumentBytes',
      'aggregate needs a table with a sort key: items are told apart by its prefixes',
      "aggregate.children may not name the field 'id'",
      'aggregate.children.notes.prefix must be a non-empty string',
      'aggregate.parent and aggregate.children.lines overlap: an item could belong to both',
      'aggregate.maxItems must be a whole number from 1 to 10000, got 0',
    ]);
  });

  it('parses the AGGREGATE variable’s value, and its absence', () => {
    expect(aggregateSchema.parse(undefined)).toBeUndefined();
    expect(aggregateSchema.safeParse({ parent: {} }).success).toBe(false);
  });

  it('round-trips through the writer’s environment, and a bad one names the variable and the problem', () => {
    const env = writerEnvironment({
      TYPESENSE_NODES: ['https://a.example:443'],
      TYPESENSE_API_KEY: 'k',
      TYPESENSE_COLLECTION: 'orders',
      KEY_ATTRIBUTES: ['pk', 'sk'],
      AGGREGATE: ORDERS,
      TABLE_NAME: 'orders',
      QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/changes.fifo',
      DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/dlq.fifo',
      MAX_RECEIVE_COUNT: 10,
      MAX_MESSAGE_BYTES: 262_144,
    });
    expect(parseConfig(writerConfigSchema, env).AGGREGATE).toEqual(ORDERS);
    expect(() =>
      parseConfig(writerConfigSchema, { ...env, AGGREGATE: JSON.stringify({ ...ORDERS, maxItems: -1 }) }),
    ).toThrow('AGGREGATE: aggregate.maxItems must be a whole number from 1 to 10000, got -1');
  });
});

describe('partition-level change keys', () => {
  const record = (n: number, sk: string): DynamoDBRecord =>
    ({
      eventName: 'MODIFY',
      dynamodb: { Keys: { pk: { S: 'order-7' }, sk: { S: sk } }, SequenceNumber: seq(n) },
    }) as DynamoDBRecord;

  it('gives every item change of a partition the partition’s id, one message group and one unit of work', () => {
    const keyAttributes = changeKeyAttributes(['pk', 'sk'], ORDERS);
    expect(keyAttributes).toEqual(['pk']);
    const { changes } = normaliseRecords([record(1, 'ORDER#7'), record(2, 'LINE#1'), record(3, 'LINE#2')], {
      keyAttributes,
    });
    expect(changes.map(({ change }) => [change.id, change.key])).toEqual([
      ['order-7', { pk: { S: 'order-7' } }],
      ['order-7', { pk: { S: 'order-7' } }],
      ['order-7', { pk: { S: 'order-7' } }],
    ]);
    // One FIFO group, whatever the number of groups: SQS serialises the partition's changes.
    for (const buckets of [1, 4, 64, 10_000]) {
      const { messages } = packChanges(
        changes.map(({ change }) => change),
        buckets,
        262_144,
      );
      expect(new Set(messages.map(({ groupId }) => groupId)).size).toBe(1);
    }
    // The writer's unit of work: one change, the latest.
    expect(coalesce(changes.map(({ change }) => change)).map(({ version }) => version)).toEqual([seq(3)]);
  });

  it('keeps the table’s whole key for an index that is not aggregated', () => {
    expect(changeKeyAttributes(['pk', 'sk'], undefined)).toEqual(['pk', 'sk']);
    const { changes } = normaliseRecords([record(1, 'LINE#1'), record(2, 'LINE#2')], {
      keyAttributes: ['pk', 'sk'],
    });
    expect(new Set(changes.map(({ change }) => change.id)).size).toBe(2);
  });

  it('lists each partition of a scanned page once', () => {
    const page = [item('a', 'ORDER#'), item('b', 'LINE#1'), item('a', 'LINE#1')];
    expect(partitionKeysOf(page, 'pk')).toEqual([{ pk: { S: 'a' } }, { pk: { S: 'b' } }]);
  });
});
