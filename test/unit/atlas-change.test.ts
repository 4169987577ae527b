import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AtlasChange,
  AtlasEventError,
  type AtlasIngestPorts,
  type AtlasVersion,
  attributeValueOf,
  documentIdOf,
  isNewer,
  itemSizeBytes,
  MAX_ITEM_BYTES,
  parseAtlasEvent,
  processAtlasMessages,
} from '../../functions/core/atlas-change.ts';
import type { DeadLetter } from '../../functions/core/change.ts';
import { projectItem } from '../../functions/core/project.ts';
import { applyAtlasChange, atlasTransaction } from '../../functions/shared/atlas-ingest-adapters.ts';
import { atlasEvent, atlasFixture, malformedAtlasEvents } from '../helpers/atlas-events.ts';
import { sqsRecord } from '../helpers/factories.ts';

const OID = '65f1c2a9e4b0a1b2c3d4e5f6';
const parse = (event: unknown, messageId = 'm-1') => parseAtlasEvent(JSON.stringify(event), messageId);
const clusterTime = (t: number, i: number) => (BigInt(t) << 32n) | BigInt(i);

function rejection(fn: () => unknown): AtlasEventError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AtlasEventError);
    return error as AtlasEventError;
  }
  throw new Error('expected an AtlasEventError');
}

describe('parseAtlasEvent: the four document operations (fixtures)', () => {
  it('insert (canonical Extended JSON): id from the ObjectId, version from the cluster time, converted item', () => {
    const change = parse(atlasFixture('atlas-eventbridge-insert.json'));
    expect(change).toMatchObject({ id: OID, operation: 'insert' });
    expect(change.version.clusterTime).toBe(clusterTime(1_710_342_825, 1));
    expect(change.version.token).toMatch(/^8265F1C2A9/);
    expect(change.item).toEqual({
      _id: { S: OID },
      name: { S: 'Nordlys kettle' },
      price: { N: '49.9' },
      stock: { N: '12' },
      sku: { N: '9007199254740993' },
      weight: { S: '1.250' },
      tags: { L: [{ S: 'kitchen' }, { S: 'steel' }] },
      createdAt: { N: '1710342825000' },
      supplier: { M: { id: { S: '65f1c0d2a4b5c6d7e8f90001' }, country: { S: 'NO' } } },
    });
  });

  it('update with fullDocument (relaxed Extended JSON): the full document, not the update description', () => {
    const change = parse(atlasFixture('atlas-eventbridge-update.json'));
    expect(change).toMatchObject({ id: OID, operation: 'update' });
    expect(change.version.clusterTime).toBe(clusterTime(1_710_342_842, 3));
    expect(change.item).toMatchObject({
      price: { N: '44.9' },
      stock: { N: '11' },
      tags: { L: [{ S: 'kitchen' }, { S: 'steel' }, { S: 'sale' }] },
      createdAt: { N: String(Date.parse('2024-03-13T15:13:45Z')) },
    });
    expect(change.item).not.toHaveProperty('updateDescription');
  });

  it('replace: the new document only (fields of the old one are gone)', () => {
    const change = parse(atlasFixture('atlas-eventbridge-replace.json'));
    expect(change.operation).toBe('replace');
    expect(Object.keys(change.item ?? {}).sort()).toEqual(['_id', 'name', 'price', 'stock', 'tags']);
  });

  it('delete: the id and version, no item', () => {
    const change = parse(atlasFixture('atlas-eventbridge-delete.json'));
    expect(change).toMatchObject({ id: OID, operation: 'delete' });
    expect(change.item).toBeUndefined();
    expect(change.version.clusterTime).toBe(clusterTime(1_710_342_991, 1));
  });

  it("the trigger's default plain JSON: clusterTime { T, I } and a hex string _id give the same id and order", () => {
    const change = parse(atlasFixture('atlas-eventbridge-plain-json.json'));
    expect(change.id).toBe('65f1c36fe4b0a1b2c3d4e5f7');
    expect(change.version.clusterTime).toBe(clusterTime(1_710_343_023, 8));
    expect(change.item).toMatchObject({ price: { N: '12.5' }, stock: { N: '140' } });
  });

  it('keeps no document content in the reference used by logs and dead letters', () => {
    const change = parse(atlasFixture('atlas-eventbridge-insert.json'), 'msg-7');
    expect(change.reference).toEqual({
      messageId: 'msg-7',
      eventId: '2f1e7c5a-3b8d-4e0f-9a61-7c2d5e4b3a10',
      operationType: 'insert',
      ns: { db: 'shop', coll: 'products' },
      clusterTime: clusterTime(1_710_342_825, 1).toString(),
    });
  });

  it('the mirror item projects to the document the writer indexes (id = ObjectId hex, exact numbers)', () => {
    const change = parse(atlasFixture('atlas-eventbridge-insert.json'));
    const document = projectItem(change.item as Record<string, AttributeValue>, ['_id']);
    expect(document).toMatchObject({
      id: OID,
      name: 'Nordlys kettle',
      price: 49.9,
      stock: 12,
      // Beyond 2^53: kept exact as text, like a DynamoDB number of that size.
      sku: '9007199254740993',
      weight: '1.250',
      createdAt: 1_710_342_825_000,
      supplier: { id: '65f1c0d2a4b5c6d7e8f90001', country: 'NO' },
    });
  });
});

describe('Extended JSON → DynamoDB values', () => {
  it.each([
    ['ObjectId', { $oid: '65F1C2A9E4B0A1B2C3D4E5F6' }, { S: OID }],
    ['canonical date', { $date: { $numberLong: '-86400000' } }, { N: '-86400000' }],
    ['relaxed date', { $date: '1970-01-02T00:00:00.000Z' }, { N: '86400000' }],
    ['int32', { $numberInt: '-7' }, { N: '-7' }],
    ['safe int64', { $numberLong: '42' }, { N: '42' }],
    ['int64 beyond 2^53 (exact)', { $numberLong: '-9223372036854775808' }, { N: '-9223372036854775808' }],
    ['double', { $numberDouble: '0.5' }, { N: '0.5' }],
    ['double needing 17 digits (rounded to 15)', 0.1 + 0.2, { N: '0.3' }],
    ['double beyond DynamoDB range', 1e300, { S: '1e+300' }],
    ['double below DynamoDB range', { $numberDouble: '1e-200' }, { S: '1e-200' }],
    ['Infinity', { $numberDouble: 'Infinity' }, { S: 'Infinity' }],
    ['NaN', { $numberDouble: 'NaN' }, { S: 'NaN' }],
    [
      'decimal128 (text)',
      { $numberDecimal: '1234567890.123456789012345678901234' },
      { S: '1234567890.123456789012345678901234' },
    ],
    [
      'UUID binary',
      { $binary: { base64: 'ASNFZ4mrze8BI0VniavN7w==', subType: '04' } },
      { S: '01234567-89ab-cdef-0123-456789abcdef' },
    ],
    [
      'relaxed $uuid',
      { $uuid: '01234567-89AB-CDEF-0123-456789ABCDEF' },
      { S: '01234567-89ab-cdef-0123-456789abcdef' },
    ],
    ['generic binary (base64)', { $binary: { base64: 'AQID', subType: '00' } }, { S: 'AQID' }],
    ['legacy binary', { $binary: 'AQID', $type: '00' }, { S: 'AQID' }],
    ['timestamp (ms of its seconds)', { $timestamp: { t: 1_700_000_000, i: 9 } }, { N: '1700000000000' }],
    ['regular expression', { $regularExpression: { pattern: '^a.c$', options: 'i' } }, { S: '/^a.c$/i' }],
    ['undefined', { $undefined: true }, { NULL: true }],
    ['null', null, { NULL: true }],
    ['boolean', false, { BOOL: false }],
    ['a document that merely has a $ field', { $price: 3 }, { M: { $price: { N: '3' } } }],
  ])('%s', (_name, input, expected) => {
    expect(attributeValueOf(input)).toEqual(expected);
  });

  it('nests maps and lists', () => {
    expect(attributeValueOf({ a: [{ b: { $numberInt: '1' } }, 'x'] })).toEqual({
      M: { a: { L: [{ M: { b: { N: '1' } } }, { S: 'x' }] } },
    });
  });

  it('rejects values with no searchable form, naming where they are', () => {
    const event = atlasEvent({
      oid: OID,
      operation: 'insert',
      t: 1,
      document: { limits: { low: { $minKey: 1 } } },
    });
    const error = rejection(() => parse(event));
    expect(error.code).toBe('unrepresentable');
    expect(error.message).toBe('fullDocument.limits.low: BSON type $minKey has no searchable value');
    expect(error.id).toBe(OID);
  });

  it('rejects nesting deeper than DynamoDB allows', () => {
    let deep: unknown = 'leaf';
    for (let level = 0; level < 40; level++) deep = { x: deep };
    const error = rejection(() =>
      parse(atlasEvent({ oid: OID, operation: 'insert', t: 1, document: { deep } })),
    );
    expect(error.code).toBe('unrepresentable');
    expect(error.message).toContain('nested deeper');
  });
});

describe('documentIdOf', () => {
  it.each([
    ['ObjectId → lowercase hex', { $oid: '65F1C2A9E4B0A1B2C3D4E5F6' }, OID],
    ['string → itself', 'sku-1', 'sku-1'],
    ['int32', { $numberInt: '1' }, '1'],
    ['int64', { $numberLong: '1' }, '1'],
    ['double 1.0 (the same _id as 1 in MongoDB)', { $numberDouble: '1.0' }, '1'],
    ['plain number', 1, '1'],
    [
      'UUID',
      { $binary: { base64: 'ASNFZ4mrze8BI0VniavN7w==', subType: '04' } },
      '01234567-89ab-cdef-0123-456789abcdef',
    ],
    ['date → ms', { $date: { $numberLong: '1700000000000' } }, '1700000000000'],
    [
      'document → its JSON text',
      { region: 'eu', n: { $numberInt: '3' } },
      '{"region":"eu","n":{"$numberInt":"3"}}',
    ],
  ])('%s', (_name, input, expected) => {
    expect(documentIdOf(input)).toBe(expected);
  });
});

describe('itemSizeBytes', () => {
  it('counts names and values as DynamoDB does', () => {
    expect(itemSizeBytes({ ab: { S: 'xyz' } })).toBe(5);
    expect(itemSizeBytes({ n: { N: '12345' } })).toBe(1 + 4);
    expect(itemSizeBytes({ l: { L: [{ S: 'a' }, { BOOL: true }] } })).toBe(1 + 3 + 2 + 2);
    expect(itemSizeBytes({ m: { M: { k: { S: 'é' } } } })).toBe(1 + 3 + 1 + 1 + 2);
  });
});

describe('parseAtlasEvent: bad input is rejected with a reason', () => {
  const malformed = malformedAtlasEvents();

  it.each([
    ['not-json', 'bad-event', 'message body is not JSON'],
    ['no-id', 'no-id', 'the event has no documentKey._id'],
    ['drop', 'unsupported-operation', "operationType 'drop' is not a document change"],
    ['update-without-full-document', 'no-full-document', 'turn on "Full Document" in the Atlas trigger'],
    ['no-cluster-time', 'bad-cluster-time', 'clusterTime is missing'],
    ['not-atlas', 'bad-event', 'source: must start with aws.partner/mongodb.com'],
  ])('%s → %s', (name, code, message) => {
    const value = malformed[name];
    const body = typeof value === 'string' ? value : JSON.stringify(value);
    const error = rejection(() => parseAtlasEvent(body, 'm-bad'));
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
    expect(error.reference.messageId).toBe('m-bad');
  });

  it.each(['rename', 'invalidate', 'dropDatabase'])('%s is not a document change', (operationType) => {
    const event = atlasEvent({ oid: OID, operation: 'delete', t: 5 });
    event.detail.operationType = operationType;
    expect(rejection(() => parse(event)).code).toBe('unsupported-operation');
  });

  it('an update whose fullDocument is null (deleted before the lookup) is a stale event, not a rejection', () => {
    const event = atlasEvent({ oid: OID, operation: 'update', t: 5 });
    event.detail.fullDocument = null;
    const change = parse(event);
    expect(change).toMatchObject({ id: OID, operation: 'update', stale: 'deleted-before-lookup' });
    expect(change.item).toBeUndefined();
  });

  it('a null _id, an empty string _id and a cluster time beyond 32 bits', () => {
    const nullId = atlasEvent({ oid: OID, operation: 'delete', t: 5 });
    nullId.detail.documentKey = { _id: null };
    expect(rejection(() => parse(nullId)).code).toBe('no-id');
    const emptyId = atlasEvent({ oid: OID, operation: 'delete', t: 5 });
    emptyId.detail.documentKey = { _id: '' };
    expect(rejection(() => parse(emptyId)).code).toBe('unrepresentable');
    const badTime = atlasEvent({ oid: OID, operation: 'delete', t: 5 });
    badTime.detail.clusterTime = { $timestamp: { t: 2 ** 32, i: 0 } };
    expect(rejection(() => parse(badTime)).code).toBe('bad-cluster-time');
  });

  it('a document too large for a DynamoDB item', () => {
    const event = atlasEvent({
      oid: OID,
      operation: 'insert',
      t: 5,
      document: { blob: 'x'.repeat(MAX_ITEM_BYTES) },
    });
    const error = rejection(() => parse(event));
    expect(error).toMatchObject({ code: 'too-large', id: OID });
    expect(error.message).toContain(`at most ${MAX_ITEM_BYTES}`);
  });
});

const versionArbitrary = fc.record({
  clusterTime: fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 }))
    .map(([t, i]) => clusterTime(t, i)),
  token: fc.constantFrom('', '82A0', '82A1', '82B0'),
});
const versionKey = (version: AtlasVersion) => `${version.clusterTime}|${version.token}`;
const compare = (a: AtlasVersion, b: AtlasVersion) => (isNewer(a, b) ? 1 : isNewer(b, a) ? -1 : 0);

/** Distinct events of one document and a delivery order: each at least once, some more often, shuffled. */
const deliveries = fc
  .uniqueArray(fc.tuple(versionArbitrary, fc.constantFrom('insert', 'update', 'replace', 'delete')), {
    minLength: 1,
    maxLength: 8,
    selector: ([version]) => versionKey(version),
  })
  .chain((events) =>
    fc.array(fc.nat({ max: events.length - 1 }), { maxLength: 8 }).chain((duplicates) => {
      const order = [...events.keys(), ...duplicates];
      return fc
        .shuffledSubarray(order, { minLength: order.length, maxLength: order.length })
        .map((shuffled) => ({ events, order: shuffled }));
    }),
  );

describe('ordering by cluster time', () => {
  it('is strict: a duplicate is not newer, the resume token breaks a tie within one transaction', () => {
    const base = { clusterTime: clusterTime(10, 2), token: '82B0' };
    expect(isNewer(base, undefined)).toBe(true);
    expect(isNewer(base, base)).toBe(false);
    expect(isNewer({ ...base, clusterTime: clusterTime(10, 3) }, base)).toBe(true);
    expect(isNewer({ ...base, clusterTime: clusterTime(9, 0xffff_ffff) }, base)).toBe(false);
    expect(isNewer({ ...base, token: '82B1' }, base)).toBe(true);
    expect(isNewer({ ...base, token: '82A9' }, base)).toBe(false);
  });

  it('applying any permutation (with duplicates) of the events yields the state of the newest one', () => {
    fc.assert(
      fc.property(deliveries, ({ events, order }) => {
        let applied: { version: AtlasVersion; index: number } | undefined;
        for (const index of order) {
          const [version] = events[index] as (typeof events)[number];
          if (isNewer(version, applied?.version)) applied = { version, index };
        }
        const newest = events.reduce(
          (best, event, index) =>
            compare(event[0], (events[best] as (typeof events)[number])[0]) > 0 ? index : best,
          0,
        );
        expect(applied?.index).toBe(newest);
      }),
    );
  });
});

/** An in-memory mirror with the versions table's condition: what the transaction does, in memory. */
function memoryMirror() {
  const versions = new Map<string, AtlasVersion>();
  const items = new Map<string, Record<string, AttributeValue>>();
  const applied: AtlasChange[] = [];
  const ports: AtlasIngestPorts & { letters: DeadLetter[] } = {
    letters: [],
    async apply(change) {
      if (!isNewer(change.version, versions.get(change.id))) return 'stale';
      versions.set(change.id, change.version);
      if (change.item === undefined) items.delete(change.id);
      else items.set(change.id, change.item);
      applied.push(change);
      return 'applied';
    },
    async sendDeadLetters(letters) {
      ports.letters.push(...letters);
    },
    now: () => 1_700_000_000_000,
  };
  return { ports, items, applied };
}

const record = (event: unknown, messageId: string): SQSRecord =>
  sqsRecord({ messageId, body: typeof event === 'string' ? event : JSON.stringify(event) });

describe('processAtlasMessages', () => {
  it('whatever the batches and their order, the mirror ends with the newest event of each document', async () => {
    const oids = ['65f1c2a9e4b0a1b2c3d4e5f1', '65f1c2a9e4b0a1b2c3d4e5f2'];
    await fc.assert(
      fc.asyncProperty(
        deliveries,
        deliveries,
        fc.integer({ min: 1, max: 10 }),
        async (first, second, batchSize) => {
          const scenarios = [first, second].map((scenario, n) => ({ ...scenario, oid: oids[n] as string }));
          const messages = scenarios.flatMap(({ events, order, oid }) =>
            order.map((index) => {
              const [version, operation] = events[index] as (typeof events)[number];
              const t = Number(version.clusterTime >> 32n);
              const i = Number(version.clusterTime & 0xffff_ffffn);
              return atlasEvent({
                oid,
                operation,
                t,
                i,
                token: version.token,
                document: { revision: index },
              });
            }),
          );
          const { ports, items } = memoryMirror();
          for (let start = 0; start < messages.length; start += batchSize) {
            const batch = messages
              .slice(start, start + batchSize)
              .map((event, n) => record(event, `m-${start + n}`));
            const { batchItemFailures } = await processAtlasMessages(batch, ports);
            expect(batchItemFailures).toEqual([]);
          }
          for (const { events, oid } of scenarios) {
            const newest = events.reduce((best, event) => (compare(event[0], best[0]) > 0 ? event : best));
            const index = events.indexOf(newest);
            if (newest[1] === 'delete') expect(items.has(oid)).toBe(false);
            else expect(items.get(oid)?.revision).toEqual({ N: String(index) });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('skips an update whose document was deleted before the lookup and counts it as stale', async () => {
    const { ports, applied } = memoryMirror();
    const gone = atlasEvent({ oid: OID, operation: 'update', t: 12 });
    gone.detail.fullDocument = null;
    const { summary, batchItemFailures } = await processAtlasMessages([record(gone, 'gone')], ports);
    expect(batchItemFailures).toEqual([]);
    expect(applied).toEqual([]);
    expect(ports.letters).toEqual([]);
    expect(summary).toEqual({ messages: 1, applied: 0, stale: 1, deadLettered: 0, failed: 0 });
  });

  it('applies only the newest event of a document in a batch and counts the others as stale', async () => {
    const { ports, applied } = memoryMirror();
    const older = atlasEvent({ oid: OID, operation: 'update', t: 10, document: { n: 1 } });
    const newer = atlasEvent({ oid: OID, operation: 'update', t: 11, document: { n: 2 } });
    const { summary, batchItemFailures } = await processAtlasMessages(
      [record(newer, 'a'), record(older, 'b'), record(newer, 'c')],
      ports,
    );
    expect(batchItemFailures).toEqual([]);
    expect(applied.map((change) => change.item?.n)).toEqual([{ N: '2' }]);
    expect(summary).toEqual({ messages: 3, applied: 1, stale: 2, deadLettered: 0, failed: 0 });
  });

  it('dead-letters bad events with stage atlas, the reason and no document content; acknowledges them', async () => {
    const { ports } = memoryMirror();
    const malformed = malformedAtlasEvents();
    const secret = atlasEvent({
      oid: OID,
      operation: 'insert',
      t: 3,
      document: { note: 'confidential-note', bad: { $maxKey: 1 } },
    });
    const { summary, batchItemFailures } = await processAtlasMessages(
      [
        record(malformed.drop, 'drop'),
        record(malformed['update-without-full-document'], 'update'),
        record(secret, 'secret'),
        record(atlasFixture('atlas-eventbridge-insert.json'), 'good'),
      ],
      ports,
    );
    expect(batchItemFailures).toEqual([]);
    expect(summary).toMatchObject({ applied: 1, deadLettered: 3, failed: 0 });
    expect(ports.letters.map((letter) => [letter.record, letter.reason.code])).toEqual([
      [expect.objectContaining({ messageId: 'drop', operationType: 'drop' }), 'unsupported-operation'],
      [expect.objectContaining({ messageId: 'update' }), 'no-full-document'],
      [expect.objectContaining({ messageId: 'secret' }), 'unrepresentable'],
    ]);
    for (const letter of ports.letters)
      expect(letter).toMatchObject({
        v: 1,
        kind: 'dead-letter',
        stage: 'atlas',
        firstSeen: 1_700_000_001_500,
        attempts: 1,
      });
    expect(ports.letters[1]?.id).toBe('65f1c3bce4b0a1b2c3d4e5f8');
    expect(JSON.stringify(ports.letters)).not.toContain('confidential-note');
  });

  it('fails the messages of a document whose write failed (SQS redelivers them); others flow', async () => {
    const { ports } = memoryMirror();
    const failing = '65f1c2a9e4b0a1b2c3d4e5aa';
    const apply = ports.apply;
    ports.apply = async (change) => {
      if (change.id === failing)
        throw Object.assign(new Error('conflict'), { name: 'TransactionCanceledException' });
      return apply(change);
    };
    const { batchItemFailures, summary } = await processAtlasMessages(
      [
        record(atlasEvent({ oid: failing, operation: 'update', t: 1, document: {} }), 'f1'),
        record(atlasEvent({ oid: OID, operation: 'insert', t: 1, document: {} }), 'ok'),
        record(atlasEvent({ oid: failing, operation: 'update', t: 2, document: {} }), 'f2'),
      ],
      ports,
    );
    expect(batchItemFailures.map(({ itemIdentifier }) => itemIdentifier).sort()).toEqual(['f1', 'f2']);
    expect(summary).toMatchObject({ applied: 1, failed: 2 });
  });

  it('a rejection by DynamoDB itself is a dead letter; a DLQ that refuses fails the bad messages instead', async () => {
    const { ports } = memoryMirror();
    ports.apply = async (change) => {
      throw new AtlasEventError(
        'rejected-by-dynamodb',
        'DynamoDB refused the mirror item: too big',
        change.reference,
        change.id,
      );
    };
    const first = await processAtlasMessages(
      [record(atlasEvent({ oid: OID, operation: 'insert', t: 1 }), 'x')],
      ports,
    );
    expect(first.batchItemFailures).toEqual([]);
    expect(ports.letters[0]).toMatchObject({ id: OID, reason: { code: 'rejected-by-dynamodb' } });

    ports.sendDeadLetters = async () => {
      throw new Error('DLQ unavailable');
    };
    const second = await processAtlasMessages([record('not json', 'y')], ports);
    expect(second.batchItemFailures).toEqual([{ itemIdentifier: 'y' }]);
    expect(second.summary).toMatchObject({ deadLettered: 0, failed: 1 });
  });
});

describe('the mirror transaction (DynamoDB adapter)', () => {
  const tables = { mirrorTable: 'mirror', versionsTable: 'versions', versionTtlSeconds: 30 * 86_400 };

  it('raises the version under the ordering condition and puts the item, in one transaction', () => {
    const change = parse(atlasFixture('atlas-eventbridge-insert.json'));
    const input = atlasTransaction(change, tables, 1_700_000_000_999);
    expect(input.TransactItems?.[0]).toEqual({
      Update: {
        TableName: 'versions',
        Key: { id: { S: OID } },
        UpdateExpression:
          'SET clusterTime = :t, eventToken = :token, deleted = :deleted, expiresAt = :expires',
        ConditionExpression:
          'attribute_not_exists(clusterTime) OR clusterTime < :t OR (clusterTime = :t AND eventToken < :token)',
        ExpressionAttributeValues: {
          ':t': { N: clusterTime(1_710_342_825, 1).toString() },
          ':token': { S: change.version.token },
          ':deleted': { BOOL: false },
          ':expires': { N: String(1_700_000_000 + 30 * 86_400) },
        },
      },
    });
    expect(input.TransactItems?.[1]).toEqual({ Put: { TableName: 'mirror', Item: change.item } });
  });

  it('a delete removes the mirror item and leaves the version as its tombstone', () => {
    const input = atlasTransaction(parse(atlasFixture('atlas-eventbridge-delete.json')), tables, 0);
    expect(input.TransactItems?.[0]?.Update?.ExpressionAttributeValues?.[':deleted']).toEqual({ BOOL: true });
    expect(input.TransactItems?.[1]).toEqual({ Delete: { TableName: 'mirror', Key: { _id: { S: OID } } } });
  });

  const cancelled = (...codes: string[]) =>
    Object.assign(new Error('Transaction cancelled'), {
      name: 'TransactionCanceledException',
      CancellationReasons: codes.map((Code) => ({ Code, Message: `${Code} message` })),
    });
  const clientFailingWith = (error: Error | undefined) => {
    const sent: unknown[] = [];
    const client = {
      send: async (command: unknown) => {
        sent.push(command);
        if (error !== undefined) throw error;
        return {};
      },
    } as unknown as DynamoDBClient;
    return { client, sent };
  };
  const change = () => parse(atlasFixture('atlas-eventbridge-update.json'));

  it('applied when the transaction commits', async () => {
    const { client, sent } = clientFailingWith(undefined);
    expect(await applyAtlasChange(client, tables)(change())).toBe('applied');
    expect(sent[0]).toBeInstanceOf(TransactWriteItemsCommand);
  });

  it('stale when the version condition failed', async () => {
    const { client } = clientFailingWith(cancelled('ConditionalCheckFailed', 'None'));
    expect(await applyAtlasChange(client, tables)(change())).toBe('stale');
  });

  it('a dead letter when DynamoDB refuses the item', async () => {
    const { client } = clientFailingWith(cancelled('None', 'ValidationError'));
    await expect(applyAtlasChange(client, tables)(change())).rejects.toMatchObject({
      code: 'rejected-by-dynamodb',
      id: OID,
      message: 'DynamoDB refused the mirror item: ValidationError message',
    });
  });

  it('retried (thrown as is) on a conflict, throttling or any other error', async () => {
    for (const error of [
      cancelled('TransactionConflict', 'None'),
      cancelled('None', 'ThrottlingError'),
      new Error('network'),
    ]) {
      const { client } = clientFailingWith(error);
      await expect(applyAtlasChange(client, tables)(change())).rejects.toBe(error);
    }
  });
});
