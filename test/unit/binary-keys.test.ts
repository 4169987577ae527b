import type { AttributeValue, BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Change, DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import { documentId, keyOfDocumentId } from '../../functions/core/keys.ts';
import { packChanges, parseChangeMessage } from '../../functions/core/pack.ts';
import { processChangeMessages } from '../../functions/core/write-batch.ts';
import { readItemsConsistently } from '../../functions/shared/aws.ts';
import { changeOfKey } from '../../functions/shared/enqueue.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

const KEYS = ['pk', 'bk'] as const;
const BYTES = Uint8Array.from([0, 1, 2, 250, 255, 0x7c]);
const BASE64 = Buffer.from(BYTES).toString('base64');

describe('binary keys round-trip through messages, letters and redrive', () => {
  it('a key rebuilt from a document id (verify --repair) travels as base64, never as {"type":"Buffer"}', () => {
    const id = documentId({ pk: { S: 'a|b' }, bk: { B: BYTES } }, KEYS);
    const key = keyOfDocumentId(id, KEYS, ['S', 'B']);
    const queued = changeOfKey(key, KEYS, 1_700_000_000_000);
    const { messages } = packChanges([queued], 4, 262_144);
    const body = messages[0]?.body ?? '';
    expect(body).not.toContain('Buffer');
    const parsed = parseChangeMessage(body)?.changes[0];
    expect(parsed?.key).toEqual({ pk: { S: 'a|b' }, bk: { B: BASE64 } });
    expect(parsed?.id).toBe(id);
    // The wire form names the same document id as the bytes did.
    expect(documentId(parsed?.key as MarshalledKey, KEYS)).toBe(id);
  });

  it('N keys keep their exact decimal text', () => {
    const key = keyOfDocumentId('12345678901234567890.5', ['n'], ['N']);
    const { messages } = packChanges([changeOfKey(key, ['n'], 1)], 1, 262_144);
    expect(parseChangeMessage(messages[0]?.body ?? '')?.changes[0]?.key).toEqual({
      n: { N: '12345678901234567890.5' },
    });
  });

  it('the DynamoDB adapter reads a base64 B key as its bytes (the SDK would encode the text again)', async () => {
    const sent: BatchGetItemCommand[] = [];
    const client = {
      send: async (command: BatchGetItemCommand) => {
        sent.push(command);
        return { Responses: { t: [] } };
      },
    } as unknown as DynamoDBClient;
    await readItemsConsistently(
      client,
      't',
    )([{ pk: { S: 'a' }, bk: { B: BASE64 as unknown as Uint8Array } }]);
    const key = sent[0]?.input.RequestItems?.t?.Keys?.[0] as Record<string, AttributeValue>;
    expect(key.pk).toEqual({ S: 'a' });
    expect(Buffer.from(key.bk?.B as Uint8Array)).toEqual(Buffer.from(BYTES));
  });
});

describe('a malformed key dead-letters its change alone', () => {
  it('never reads, fails or dead-letters its batch-mates', async () => {
    const good = change('good');
    const bad: Change[] = [
      { ...change('legacy'), key: { pk: { B: { type: 'Buffer', data: [1, 2] } as unknown as Uint8Array } } },
      { ...change('typeless'), key: { pk: { X: 'y' } as unknown as AttributeValue } },
      { ...change('not-base64'), key: { pk: { B: '%%%' as unknown as Uint8Array } } },
      { ...change('missing'), key: { other: { S: 'missing' } } },
    ];
    const letters: DeadLetter[] = [];
    const reads: MarshalledKey[][] = [];
    const result = await processChangeMessages(
      [sqsRecord({ messageId: 'm1', groupId: 'b1', changes: [...bad, good] })],
      {
        async readItems(keys) {
          reads.push(keys);
          if (keys.some((key) => typeof key.pk?.S !== 'string')) throw new Error('ValidationException');
          return keys.map((key) => ({ ...key, title: { S: 't' } }));
        },
        importDocuments: async (lines) => lines.map(() => ({ success: true as const })),
        deleteDocuments: async (ids) => ids.length,
        sendDeadLetters: async (sent) => {
          letters.push(...sent);
        },
        now: () => 1_700_000_010_000,
      },
      { keyAttributes: ['pk'] },
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(reads).toEqual([[{ pk: { S: 'good' } }]]);
    expect(result.summary.upserted).toBe(1);
    expect(letters.map((letter) => [letter.id, letter.reason.code]).sort()).toEqual(
      bad.map(({ id }) => [id, 'bad-key']).sort(),
    );
  });
});
