import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDeadLetter } from '../../bin/cli/operations/dead-letters.ts';
import type { DeadLetter } from '../../functions/core/change.ts';
import { queueDepth } from '../../functions/shared/aws.ts';
import type { CollectionSchema } from '../../functions/shared/typesense.ts';
import { type LocalAtlasSource, type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { atlasEvent, atlasFixture, malformedAtlasEvents } from '../helpers/atlas-events.ts';

/**
 * The Atlas trigger path on the embedded stack: EventBridge events (fixtures in the Atlas docs' shape)
 * sent to the ingest queue → the real atlas-ingest handler → the mirror table (DynamoDB Local) → its
 * stream → batcher → writer → the Typesense emulator. No MongoDB server is involved.
 */

const schema: CollectionSchema = {
  name: 'products',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'price', type: 'float' },
    { name: 'stock', type: 'int32', optional: true },
    { name: 'tags', type: 'string[]', optional: true },
  ],
};

const oid = (n: number) => `65f1c2a9e4b0a1b2c3d4${n.toString(16).padStart(4, '0')}`;
const product = (name: string, price: number, extra: Record<string, unknown> = {}) => ({
  name,
  price,
  ...extra,
});

let stack: LocalStack;
let atlas: LocalAtlasSource;

beforeAll(async () => {
  stack = await startLocalStack({ atlas: true, schema, logLevel: 'ERROR', visibilityTimeoutSeconds: 1 });
  atlas = stack.atlas as LocalAtlasSource;
});

afterAll(async () => {
  await stack?.stop();
});

const documentOf = (id: string) => stack.typesense.getDocument(stack.alias, id);

/**
 * Sends each event on its own and waits until the ingest consumed it, so each is applied in its own
 * batch, in this order: the versions table's condition, not the batch's coalescing, decides.
 */
async function deliverOneByOne(events: readonly unknown[]): Promise<void> {
  for (const event of events) {
    await atlas.sendEvents([event]);
    await expect
      .poll(
        async () => !atlas.poller.busy && (await queueDepth(stack.sqs, atlas.ingestQueueUrl)).total === 0,
        {
          timeout: 30_000,
          interval: 50,
        },
      )
      .toBe(true);
  }
}

/**
 * Receives and deletes what is on the DLQ. Letters without a document id share one FIFO message
 * group, which SQS blocks while one of its messages is in flight, so they must be deleted as read.
 */
async function takeDeadLetters(): Promise<DeadLetter[]> {
  const { Messages = [] } = await stack.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: stack.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  if (Messages.length === 0) return [];
  await stack.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: stack.dlqUrl,
      Entries: Messages.map((message, index) => ({
        Id: String(index),
        ReceiptHandle: message.ReceiptHandle,
      })),
    }),
  );
  return Messages.map((message) => JSON.parse(message.Body ?? '{}') as DeadLetter);
}

describe('the MongoDB Atlas source on the embedded pipeline', () => {
  it(
    'indexes the newest state of each document whatever the order and duplication of its events',
    { timeout: 180_000 },
    async () => {
      const [reordered, replaced, plain, sameTransaction] = [
        oid(1),
        oid(2),
        '65f1c36fe4b0a1b2c3d4e5f7',
        oid(4),
      ];
      const events = [
        // Updates delivered newest first, with a duplicate of the newest and of the insert.
        atlasEvent({
          oid: reordered,
          operation: 'update',
          t: 300,
          document: product('kettle v3', 30, { stock: 3 }),
        }),
        atlasEvent({ oid: reordered, operation: 'insert', t: 100, document: product('kettle v1', 10) }),
        atlasEvent({ oid: reordered, operation: 'update', t: 200, document: product('kettle v2', 20) }),
        atlasEvent({
          oid: reordered,
          operation: 'update',
          t: 300,
          document: product('kettle v3', 30, { stock: 3 }),
        }),
        atlasEvent({ oid: reordered, operation: 'insert', t: 100, document: product('kettle v1', 10) }),
        // A replace drops the fields the new document does not have.
        atlasEvent({ oid: replaced, operation: 'replace', t: 150, document: product('mug', 5) }),
        atlasEvent({
          oid: replaced,
          operation: 'insert',
          t: 140,
          document: product('mug', 4, { tags: ['old'] }),
        }),
        // The trigger's default plain JSON (no Extended JSON).
        atlasFixture('atlas-eventbridge-plain-json.json'),
        // Inserted and deleted in one transaction: one cluster time, ordered by resume token.
        atlasEvent({
          oid: sameTransaction,
          operation: 'delete',
          t: 500,
          i: 7,
          token: '8200000500000000070002',
        }),
        atlasEvent({
          oid: sameTransaction,
          operation: 'insert',
          t: 500,
          i: 7,
          token: '8200000500000000070001',
          document: product('ephemeral', 1),
        }),
      ];
      await deliverOneByOne(events);

      await expect
        .poll(() => documentOf(reordered), { timeout: 60_000, interval: 200 })
        .toMatchObject({
          name: 'kettle v3',
          price: 30,
          stock: 3,
        });
      await stack.waitForIdle(60_000);
      expect(await documentOf(reordered)).toMatchObject({ id: reordered, _id: reordered });
      const mug = await documentOf(replaced);
      expect(mug).toMatchObject({ name: 'mug', price: 5 });
      expect(mug).not.toHaveProperty('tags');
      expect(await documentOf(plain)).toMatchObject({ name: 'Café Crème mug', price: 12.5, stock: 140 });
      expect(await documentOf(sameTransaction)).toBeUndefined();

      const report = await stack.verify();
      expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
        missing: [],
        extra: [],
        stale: [],
      });
      expect(report.indexDocuments).toBe(3);
    },
  );

  it(
    'never resurrects a deleted document when an older update arrives after the delete',
    { timeout: 180_000 },
    async () => {
      const id = oid(10);
      await atlas.sendEvents([
        atlasEvent({ oid: id, operation: 'insert', t: 1_000, document: product('lamp', 40) }),
      ]);
      await expect
        .poll(() => documentOf(id), { timeout: 60_000, interval: 200 })
        .toMatchObject({ name: 'lamp' });
      await atlas.sendEvents([atlasEvent({ oid: id, operation: 'delete', t: 1_200 })]);
      await expect.poll(() => documentOf(id), { timeout: 60_000, interval: 200 }).toBeUndefined();

      // Late: a duplicate of the delete, then an update from before the delete (an EventBridge retry).
      await deliverOneByOne([
        atlasEvent({ oid: id, operation: 'delete', t: 1_200 }),
        atlasEvent({ oid: id, operation: 'update', t: 1_100, document: product('lamp (late)', 41) }),
      ]);
      await stack.waitForIdle(60_000);
      expect(await documentOf(id)).toBeUndefined();
      const { Item: mirrored } = await stack.dynamodb.send(
        new GetItemCommand({ TableName: stack.tableName, Key: { _id: { S: id } }, ConsistentRead: true }),
      );
      expect(mirrored).toBeUndefined();
      // The version stays as the delete's tombstone.
      const { Item: version } = await stack.dynamodb.send(
        new GetItemCommand({ TableName: atlas.versionsTable, Key: { id: { S: id } }, ConsistentRead: true }),
      );
      expect(version).toMatchObject({
        clusterTime: { N: ((1_200n << 32n) | 1n).toString() },
        deleted: { BOOL: true },
      });

      // A newer insert (the same _id re-created) does come back.
      await atlas.sendEvents([
        atlasEvent({ oid: id, operation: 'insert', t: 1_300, document: product('lamp II', 45) }),
      ]);
      await expect
        .poll(() => documentOf(id), { timeout: 60_000, interval: 200 })
        .toMatchObject({ name: 'lamp II' });
    },
  );

  it(
    'dead-letters bad events at the ingest and documents the schema rejects at the writer, each with a reason',
    { timeout: 180_000 },
    async () => {
      const poison = oid(20);
      const malformed = malformedAtlasEvents();
      const { 'not-json': notJson, ...badEvents } = malformed;
      await atlas.sendEvents(Object.values(badEvents));
      await stack.sqs.send(new SendMessageCommand({ QueueUrl: atlas.ingestQueueUrl, MessageBody: notJson }));
      await atlas.sendEvents([
        atlasEvent({
          oid: poison,
          operation: 'insert',
          t: 2_000,
          document: { name: 'sofa', price: 'call for price' },
        }),
        atlasEvent({ oid: oid(21), operation: 'insert', t: 2_000, document: product('chair', 60) }),
      ]);

      const letters: DeadLetter[] = [];
      await expect
        .poll(
          async () => {
            letters.push(...(await takeDeadLetters()));
            return letters.length;
          },
          { timeout: 60_000, interval: 300 },
        )
        .toBe(Object.keys(malformed).length + 1);
      await stack.waitForIdle(60_000);

      const atIngest = letters.filter((letter) => letter.stage === 'atlas');
      expect(atIngest.map((letter) => letter.reason.code).sort()).toEqual(
        [
          'bad-event',
          'bad-event',
          'bad-cluster-time',
          'no-full-document',
          'no-id',
          'unsupported-operation',
        ].sort(),
      );
      for (const letter of atIngest) {
        expect(letter).toMatchObject({ v: 1, kind: 'dead-letter', attempts: 1 });
        expect(letter.reason.message.length).toBeGreaterThan(10);
      }
      expect(atIngest.find((letter) => letter.reason.code === 'no-full-document')?.reason.message).toContain(
        'Full Document',
      );
      // The operator CLI reads them as Atlas letters that a redrive cannot fix, with the way out.
      for (const letter of atIngest) {
        const entry = describeDeadLetter(
          { MessageId: 'm', Body: JSON.stringify(letter) },
          ['_id'],
          Date.now(),
        );
        expect(entry).toMatchObject({ kind: 'letter', stage: 'atlas', changes: [] });
        expect(entry.notRedrivable).toMatch(/update the document in MongoDB/);
      }

      const atWriter = letters.filter((letter) => letter.stage === 'writer');
      expect(atWriter).toHaveLength(1);
      expect(atWriter[0]).toMatchObject({ kind: 'dead-letter', id: poison, reason: { code: 400 } });
      expect(atWriter[0]?.reason.message).toContain('price');
      expect(JSON.stringify(letters)).not.toContain('call for price');

      expect(await documentOf(poison)).toBeUndefined();
      expect(await documentOf(oid(21))).toMatchObject({ name: 'chair', price: 60 });
      // Nothing failed over to the ingest queue's own DLQ: every bad event was handled with a reason.
      expect((await queueDepth(stack.sqs, atlas.ingestDeadLetterQueueUrl)).total).toBe(0);
    },
  );
});
