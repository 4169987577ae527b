import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { DeadLetter, MarshalledKey } from '../../functions/core/change.ts';
import {
  type ImportOutcome,
  processChangeMessages,
  type ResyncWriterPorts,
  type WriterPorts,
} from '../../functions/core/write-batch.ts';
import { change, sqsRecord } from '../helpers/factories.ts';

/*
 * The writer during a first load (issue 19): the alias does not exist yet, so a batch writes into the
 * loading job's collection only. Nothing is retried or dead-lettered for want of the alias.
 */

type Item = Record<string, AttributeValue>;
const NOW = 1_700_000_010_000;
const item = (id: string): Item => ({ pk: { S: id }, title: { S: `title ${id}` } });

function ports(answer: (id: string) => ImportOutcome, firstLoad: boolean) {
  const log: string[] = [];
  const deadLetters: DeadLetter[] = [];
  const rejected: string[] = [];
  const table = new Map([['kept', item('kept')]]);
  const idsOf = (lines: string[]) => lines.map((line) => (JSON.parse(line) as { id: string }).id);
  const resync: ResyncWriterPorts = {
    active: async () => ({ jobId: 'r1', collection: 'products_r1', ...(firstLoad ? { firstLoad } : {}) }),
    async importDocuments(collection, lines) {
      log.push(`import ${collection} ${idsOf(lines)}`);
      return idsOf(lines).map(answer);
    },
    async deleteDocuments(collection, ids) {
      log.push(`delete ${collection} ${ids}`);
      return ids.length;
    },
    async recordDeletes(jobId, keys) {
      log.push(`tombstone ${jobId} ${keys.map(({ id }) => id)}`);
    },
    async recordRejections(_jobId, list) {
      rejected.push(...list.map(({ id }) => id));
    },
    clearRejections: async () => 0,
  };
  const writer: WriterPorts = {
    readItems: async (keys: MarshalledKey[]) =>
      keys.flatMap((key) => {
        const found = table.get(key.pk?.S as string);
        return found === undefined ? [] : [found];
      }),
    async importDocuments(lines) {
      log.push(`import alias ${idsOf(lines)}`);
      return lines.map(() => ({ success: false, code: 404, error: 'Not Found' }));
    },
    async deleteDocuments(ids) {
      log.push(`delete alias ${ids}`);
      throw new Error('Typesense DELETE failed with HTTP 404: Not Found');
    },
    async sendDeadLetters(letters) {
      deadLetters.push(...letters);
    },
    resync,
    now: () => NOW,
  };
  return { writer, log, deadLetters, rejected };
}

const records = () => [
  sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('kept')] }),
  sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('gone', { op: 'delete' })] }),
];

describe('processChangeMessages during a first load', () => {
  it('writes into the loading collection only, tombstone before delete, and counts the changes applied', async () => {
    const fake = ports(() => ({ success: true }), true);
    const result = await processChangeMessages(records(), fake.writer, { keyAttributes: ['pk'] });
    expect(result.batchItemFailures).toEqual([]);
    expect(fake.log.filter((entry) => entry.includes('alias'))).toEqual([]);
    expect(fake.log).toContain('import products_r1 kept');
    expect(fake.log.filter((entry) => !entry.startsWith('import'))).toEqual([
      'tombstone r1 gone',
      'delete products_r1 gone',
    ]);
    expect(fake.deadLetters).toEqual([]);
    expect(result.summary).toMatchObject({ upserted: 1, deleted: 1, deadLettered: 0, retrying: 0 });
  });

  it('a document the loading collection refuses fails the load and is dead-lettered with the reason', async () => {
    const fake = ports(() => ({ success: false, code: 400, error: 'Field `title` must be a string.' }), true);
    const result = await processChangeMessages(records(), fake.writer, { keyAttributes: ['pk'] });
    expect(result.batchItemFailures).toEqual([]);
    expect(fake.rejected).toEqual(['kept']);
    expect(fake.deadLetters).toEqual([
      expect.objectContaining({ reason: expect.objectContaining({ code: 400 }) }),
    ]);
  });

  it('a re-sync that is not a first load still writes the live alias too', async () => {
    const fake = ports(() => ({ success: true }), false);
    await processChangeMessages(records(), fake.writer, { keyAttributes: ['pk'] });
    expect(fake.log).toContain('import alias kept');
    expect(fake.log).toContain('delete alias gone');
  });
});
