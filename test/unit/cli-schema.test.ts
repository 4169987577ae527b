import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../bin/cli/program.ts';
import { renderInit, renderSchemaDiff } from '../../bin/cli/render/schema.ts';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { startTypesenseEmulator, type TypesenseEmulator } from '../../infra/local/typesense-emulator.ts';
import { cliAt } from '../helpers/cli.ts';

describe('schema renderers', () => {
  it('schema diff: missing alias, same schema, and one line per difference', () => {
    expect(renderSchemaDiff({ alias: 'products', collection: undefined, differences: [] })).toBe(
      "alias 'products' does not exist: a deploy (or init) creates it with a first load",
    );
    expect(renderSchemaDiff({ alias: 'products', collection: 'products_r1', differences: [] })).toContain(
      'the live schema is the deployed one (a deploy starts nothing)',
    );
    const report = {
      alias: 'products',
      collection: 'products_r1',
      differences: [
        { path: 'fields.tags.facet', deployed: true, live: false },
        { path: 'fields.rating', deployed: { name: 'rating', type: 'int32' }, live: undefined },
      ],
    };
    expect(renderSchemaDiff(report).split('\n')).toEqual([
      "alias 'products' → products_r1: 2 differences (live → deployed)",
      '  fields.tags.facet: false → true',
      '  fields.rating: added',
      'a deploy (or init) migrates with a zero-downtime re-sync; follow it with: resync status',
    ]);
  });

  it('init: a first load, a migration, or nothing', () => {
    expect(renderInit({ Action: 'created', Collection: 'products_r1', JobId: 'r1' })).toBe(
      'started the first load: re-sync r1 into products_r1; the alias appears at its swap (resync status)',
    );
    expect(renderInit({ Action: 'migrating', Collection: 'products_r2', JobId: 'r2' })).toContain(
      'started migration re-sync r2',
    );
    expect(renderInit({ Action: 'unchanged', Collection: 'products_r1' })).toBe(
      'the live schema is the deployed one (products_r1): nothing started',
    );
  });
});

describe('typesense-sync schema diff', () => {
  const API_KEY = 'cli-schema-key';
  let emulator: TypesenseEmulator;
  let directory: string;
  const schema = {
    fields: [
      { name: 'title', type: 'string' },
      { name: 'tags', type: 'string[]' },
    ],
  };

  const targetWith = async (deployed: object | undefined) => {
    const file = join(directory, `target-${Math.random().toString(36).slice(2)}.json`);
    const target = {
      region: 'us-east-1',
      endpoints: { dynamodb: 'http://127.0.0.1:9', sqs: 'http://127.0.0.1:9' },
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      tableName: 'items',
      keyAttributes: ['pk'],
      queueUrl: 'http://127.0.0.1:9/000000000000/items.fifo',
      dlqUrl: 'http://127.0.0.1:9/000000000000/items-dlq.fifo',
      typesense: {
        nodes: [emulator.url],
        collection: 'products',
        apiKey: API_KEY,
        ...(deployed === undefined ? {} : { schema: deployed }),
      },
    };
    await writeFile(file, JSON.stringify(target));
    return file;
  };

  beforeAll(async () => {
    emulator = await startTypesenseEmulator({ apiKey: API_KEY });
    directory = await mkdtemp(join(tmpdir(), 'cli-schema-'));
  });
  afterAll(async () => {
    await emulator.stop();
  });

  it('exit 2 while the alias is missing; 0 when the live schema is the deployed one; 2 naming each difference', async () => {
    const file = await targetWith(schema);
    const missing = await cliAt(file, 'schema', 'diff');
    expect(missing).toMatchObject({ code: EXIT.problem, err: '' });
    expect(missing.out).toContain("alias 'products' does not exist");

    const typesense = new TypesenseClient({ nodes: [emulator.url], apiKey: API_KEY });
    await typesense.createCollection({ ...schema, name: 'products_v1' });
    await typesense.upsertAlias('products', 'products_v1');
    const same = await cliAt(file, 'schema', 'diff');
    expect(same).toMatchObject({ code: EXIT.ok, err: '' });

    const faceted = await targetWith({ fields: [schema.fields[0], { ...schema.fields[1], facet: true }] });
    const differs = await cliAt(faceted, '--json', 'schema', 'diff');
    expect(differs.code).toBe(EXIT.problem);
    expect(differs.json()).toEqual({
      alias: 'products',
      collection: 'products_v1',
      differences: [{ path: 'fields.tags.facet', deployed: true, live: false }],
    });
  });

  it('a target without a deployed schema and no --schema is a clear error', async () => {
    const result = await cliAt(await targetWith(undefined), 'schema', 'diff');
    expect(result.code).toBe(EXIT.error);
    expect(result.err).toContain(
      'no deployed schema: the target names none (typesense.schema); give --schema <file>',
    );
  });
});
