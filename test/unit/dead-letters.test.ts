import { describe, expect, it } from 'vitest';
import {
  describeDeadLetter,
  FilterError,
  groupByReason,
  matchesFilters,
  parseFilter,
} from '../../bin/cli/operations/dead-letters.ts';
import { redriveDeadLetters } from '../../bin/cli/operations/redrive.ts';
import type { Connection } from '../../bin/cli/operations/target.ts';
import type { ChangeMessage, DeadLetter } from '../../functions/core/change.ts';
import { change } from '../helpers/factories.ts';

const NOW = 1_700_000_100_000;
const sqsMessage = (body: unknown, attributes: Record<string, string> = {}) => ({
  MessageId: 'm-1',
  ReceiptHandle: 'rh-1',
  Body: typeof body === 'string' ? body : JSON.stringify(body),
  Attributes: attributes,
});
const letter = (overrides: Partial<DeadLetter>): DeadLetter => ({
  v: 1,
  kind: 'dead-letter',
  stage: 'writer',
  reason: { code: 400, message: 'Field `price` must be a float.' },
  firstSeen: 1_700_000_000_000,
  attempts: 1,
  ...overrides,
});

describe('describeDeadLetter', () => {
  it('reads a writer letter: its key is what a redrive re-applies', () => {
    const failed = change('p-1');
    const entry = describeDeadLetter(sqsMessage(letter({ change: failed, id: 'p-1' })), ['pk'], NOW);
    expect(entry).toMatchObject({
      kind: 'letter',
      stage: 'writer',
      ids: ['p-1'],
      reason: { code: 400, message: 'Field `price` must be a float.' },
      firstSeen: 1_700_000_000_000,
      attempts: 1,
      changes: [failed],
    });
    expect(entry.notRedrivable).toBeUndefined();
  });

  it('reads a change message the changes queue moved after maxReceiveCount, naming that as the reason', () => {
    const body: ChangeMessage = { v: 1, changes: [change('a'), change('b')] };
    const entry = describeDeadLetter(
      sqsMessage(body, { SentTimestamp: '1700000000500', ApproximateReceiveCount: '10' }),
      ['pk'],
      NOW,
    );
    expect(entry).toMatchObject({
      kind: 'moved',
      stage: 'queue',
      ids: ['a', 'b'],
      reason: { code: 'receive-limit' },
      firstSeen: 1_700_000_000_500,
      attempts: 10,
    });
    expect(entry.changes).toEqual(body.changes);
  });

  it('makes a batcher letter redrivable when its record keys are usable, re-reading from now', () => {
    const entry = describeDeadLetter(
      sqsMessage(
        letter({
          stage: 'batcher',
          reason: { code: 'bad-record', message: 'no new image' },
          record: { keys: { pk: { S: 'k-9' } }, eventName: 'MODIFY' },
        }),
      ),
      ['pk'],
      NOW,
    );
    expect(entry.ids).toEqual(['k-9']);
    expect(entry.changes).toEqual([
      { id: 'k-9', key: { pk: { S: 'k-9' } }, op: 'upsert', version: '0', sourceTs: NOW, clock: 'stream' },
    ]);
  });

  it('keeps a batcher letter without a usable key, saying why', () => {
    const entry = describeDeadLetter(
      sqsMessage(
        letter({
          stage: 'batcher',
          reason: { code: 'bad-record', message: "key attribute 'pk' must be of type S, N or B" },
          record: { keys: { pk: { BOOL: true } } },
        }),
      ),
      ['pk'],
      NOW,
    );
    expect(entry.changes).toEqual([]);
    expect(entry.notRedrivable).toMatch(/no usable key .*'pk' must be of type S, N or B/);
  });

  it('reads an Atlas ingest letter as stage atlas, not redrivable, saying how to fix it upstream', () => {
    const atlasLetter = letter({
      stage: 'atlas',
      id: '65f1c2a9e4b0a1b2c3d40014',
      record: { messageId: 'ingest-7', eventId: 'ev-7', operationType: 'insert' },
      reason: { code: 'too-large', message: 'the converted document is about 500000 bytes' },
    });
    const entry = describeDeadLetter(sqsMessage(atlasLetter), ['_id'], NOW);
    expect(entry).toMatchObject({
      kind: 'letter',
      stage: 'atlas',
      ids: ['65f1c2a9e4b0a1b2c3d40014'],
      reason: { code: 'too-large' },
      changes: [],
    });
    expect(entry.notRedrivable).toMatch(/Atlas trigger event/);
    expect(entry.notRedrivable).toMatch(/update the document in MongoDB/);
    expect(entry.notRedrivable).toMatch(/send the event to the Atlas ingest queue again/);
    expect(matchesFilters(entry, [parseFilter('stage=atlas')])).toBe(true);

    // An event without a usable _id names no document.
    const anonymous = describeDeadLetter(
      sqsMessage(
        letter({
          stage: 'atlas',
          record: { messageId: 'ingest-8' },
          reason: { code: 'no-id', message: 'no _id' },
        }),
      ),
      ['_id'],
      NOW,
    );
    expect(anonymous).toMatchObject({ stage: 'atlas', ids: [], changes: [] });
    expect(anonymous.notRedrivable).toBe(entry.notRedrivable);
  });

  it('reports anything else as unreadable, never redrivable', () => {
    for (const body of ['not json', '{"hello":1}', '[]']) {
      const entry = describeDeadLetter(sqsMessage(body), ['pk'], NOW);
      expect(entry).toMatchObject({ kind: 'unreadable', stage: 'unknown', ids: [], changes: [] });
      expect(entry.notRedrivable).toBeDefined();
    }
  });
});

describe('dead letter filters', () => {
  const entry = describeDeadLetter(sqsMessage(letter({ change: change('p-7'), id: 'p-7' })), ['pk'], NOW);

  it('parses FIELD=VALUE and FIELD~TEXT', () => {
    expect(parseFilter('code=400')).toEqual({ field: 'code', op: '=', value: '400' });
    expect(parseFilter('reason~price')).toEqual({ field: 'reason', op: '~', value: 'price' });
  });

  it('rejects anything else with a message naming the fields', () => {
    for (const bad of ['code', 'colour=red', '=400', 'code=']) {
      expect(() => parseFilter(bad)).toThrow(FilterError);
    }
    expect(() => parseFilter('colour=red')).toThrow(/code, stage, id, reason, kind/);
  });

  it('selects an entry only when every filter matches', () => {
    const matches = (...filters: string[]) => matchesFilters(entry, filters.map(parseFilter));
    expect(matches()).toBe(true);
    expect(matches('code=400', 'stage=writer', 'id=p-7', 'kind=letter', 'reason~price')).toBe(true);
    expect(matches('code=40')).toBe(false);
    expect(matches('code~40')).toBe(true);
    expect(matches('code=400', 'stage=batcher')).toBe(false);
    expect(matches('id=p-8')).toBe(false);
  });

  it('groups by stage, code and reason with numbers folded, largest first', () => {
    const at = (id: string, message: string, code: number | string = 400) =>
      describeDeadLetter(sqsMessage(letter({ change: change(id), reason: { code, message } })), ['pk'], NOW);
    const groups = groupByReason([
      at('a', 'line 1: bad price'),
      at('b', 'line 22: bad price'),
      at('c', 'Not Found', 404),
    ]);
    expect(groups).toEqual([
      { stage: 'writer', code: '400', reason: 'line N: bad price', count: 2, ids: ['a', 'b'] },
      { stage: 'writer', code: '404', reason: 'Not Found', count: 1, ids: ['c'] },
    ]);
  });
});

describe('redriveDeadLetters of Atlas ingest letters', () => {
  /** A DLQ holding `bodies`, answering what a redrive asks of SQS and recording every call. */
  function fakeDlq(bodies: unknown[]) {
    const calls: string[] = [];
    let unreceived = bodies.map((body, index) => ({
      MessageId: `m-${index}`,
      ReceiptHandle: `rh-${index}`,
      Body: JSON.stringify(body),
      Attributes: {},
    }));
    const released: string[] = [];
    const sqs = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        const name = command.constructor.name;
        calls.push(name);
        if (name === 'GetQueueAttributesCommand')
          return { Attributes: { ApproximateNumberOfMessages: String(unreceived.length) } };
        if (name === 'ReceiveMessageCommand') {
          const messages = unreceived.slice(0, 10);
          unreceived = unreceived.slice(10);
          return { Messages: messages };
        }
        if (name === 'ChangeMessageVisibilityBatchCommand') {
          const entries = command.input.Entries as { ReceiptHandle: string; VisibilityTimeout: number }[];
          for (const entry of entries) if (entry.VisibilityTimeout === 0) released.push(entry.ReceiptHandle);
          return { Successful: entries, Failed: [] };
        }
        throw new Error(`a redrive of Atlas letters must not call ${name}`);
      },
    };
    return { sqs, calls, released };
  }

  it('keeps every Atlas letter on the DLQ with its reason, enqueues and deletes nothing, and stops', async () => {
    const letters = [
      letter({
        stage: 'atlas',
        id: 'doc-1',
        reason: { code: 'unrepresentable', message: 'fullDocument.x: MinKey' },
      }),
      letter({ stage: 'atlas', reason: { code: 'unsupported-operation', message: "operationType 'drop'" } }),
    ];
    const { sqs, calls, released } = fakeDlq(letters);
    const connection = {
      sqs,
      target: { dlqUrl: 'https://sqs.local/dlq.fifo', keyAttributes: ['_id'] },
    } as unknown as Connection;

    const report = await redriveDeadLetters(connection, { filters: [], dryRun: false, waitMs: 0 });

    expect(report).toMatchObject({ selected: 2, redrivable: 0, redriven: 0, settlement: undefined });
    expect(report.kept).toEqual([
      { messageId: 'm-0', ids: ['doc-1'], reason: expect.stringMatching(/update the document in MongoDB/) },
      { messageId: 'm-1', ids: [], reason: expect.stringMatching(/update the document in MongoDB/) },
    ]);
    // Given back at once (visibility 0), read once: no deletion, no send, no second round.
    expect(released.sort()).toEqual(['rh-0', 'rh-1']);
    expect(calls.filter((name) => /Send|Delete/.test(name))).toEqual([]);
  });
});
