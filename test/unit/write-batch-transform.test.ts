import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import type { Transform } from '../../functions/core/transform.ts';
import { processChangeMessages } from '../../functions/core/write-batch.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

/*
 * The writer with the app's transform: its document is what is upserted; `null` deletes the id (as a
 * filtered-out item); a throw or a bad answer dead-letters that change alone with `transform-error`.
 */

type Item = Record<string, AttributeValue>;
const item = (id: string, title: string): Item => ({ pk: { S: id }, title: { S: title } });

/** Lower-cases the title; drafts are not indexed; a title "boom" is a bug in the app's code. */
const transform: Transform = (document) => {
  if (document.title === 'boom') throw new Error('cannot lower-case boom');
  if (document.title === 'draft') return null;
  if (document.title === 'nan') return { ...document, score: Number.NaN };
  return { ...document, title_lower: String(document.title).toLowerCase() };
};

function world() {
  const table = new Map<string, Item>();
  const index = new Map<string, Record<string, unknown>>();
  const deadLetters: DeadLetter[] = [];
  const ports = {
    readItems: async (keys: MarshalledKey[]) =>
      keys.flatMap((key) => {
        const stored = table.get(String(key.pk?.S));
        return stored === undefined ? [] : [structuredClone(stored)];
      }),
    importDocuments: async (lines: string[]) =>
      lines.map((line) => {
        const document = JSON.parse(line) as { id: string };
        index.set(document.id, document);
        return { success: true } as const;
      }),
    deleteDocuments: async (ids: string[]) => ids.filter((id) => index.delete(id)).length,
    sendDeadLetters: async (letters: DeadLetter[]) => {
      deadLetters.push(...letters);
    },
    now: () => 1_700_000_010_000,
  };
  /** One message per id, in one batch. */
  const write = (...ids: string[]) =>
    processChangeMessages(
      ids.map((id) => sqsRecord({ messageId: `m-${id}`, groupId: 'g1', changes: [change(id)] })),
      ports,
      { keyAttributes: ['pk'], transform },
    );
  return { table, index, deadLetters, write };
}

describe('the writer with a transform', () => {
  it("upserts the transform's document", async () => {
    const { table, index, write } = world();
    table.set('a', item('a', 'Hello'));
    await write('a');
    expect(index.get('a')).toEqual({ id: 'a', pk: 'a', title: 'Hello', title_lower: 'hello' });
  });

  it('deletes the id of an item the transform answers null for, as a filtered-out one', async () => {
    const { table, index, write } = world();
    index.set('d', { id: 'd', title: 'was published' });
    table.set('d', item('d', 'draft'));
    const { summary, batchItemFailures } = await write('d');
    expect(index.has('d')).toBe(false);
    expect(summary).toMatchObject({ deleted: 1, deadLettered: 0 });
    expect(batchItemFailures).toEqual([]);
  });

  it('dead-letters only the changes the transform refuses, with transform-error and the message; batch-mates are written', async () => {
    const { table, index, deadLetters, write } = world();
    table.set('a', item('a', 'Hello'));
    table.set('b', item('b', 'boom'));
    table.set('c', item('c', 'World'));
    table.set('n', item('n', 'nan'));
    index.set('b', { id: 'b', title: 'old' });
    const { summary, batchItemFailures } = await write('a', 'b', 'c', 'n');
    expect(batchItemFailures).toEqual([]);
    expect(summary).toMatchObject({ upserted: 2, deadLettered: 2 });
    expect([...index.keys()].sort()).toEqual(['a', 'b', 'c']);
    // A refused item keeps its old document: nothing is deleted on a transform's failure.
    expect(index.get('b')).toEqual({ id: 'b', title: 'old' });
    expect(deadLetters.map(({ id, reason, stage }) => ({ id, reason, stage }))).toEqual([
      {
        id: 'b',
        stage: 'writer',
        reason: { code: 'transform-error', message: 'transform threw: cannot lower-case boom' },
      },
      {
        id: 'n',
        stage: 'writer',
        reason: {
          code: 'transform-error',
          message: 'transform returned a document that is not JSON: score: NaN is not a JSON number',
        },
      },
    ]);
  });
});
