import { afterEach, describe, expect, it } from 'vitest';
import { documentId } from '../../functions/core/keys.ts';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import {
  splitToValues,
  startTypesenseEmulator,
  type TypesenseEmulator,
} from '../../infra/local/typesense-emulator.ts';

const API_KEY = 'cluster-unit-key';
const started: TypesenseEmulator[] = [];

async function emulator(): Promise<TypesenseEmulator> {
  const instance = await startTypesenseEmulator({ apiKey: API_KEY });
  started.push(instance);
  return instance;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((instance) => instance.stop()));
});

describe('deletes of ids ending in a backslash (Typesense filter parser)', () => {
  it('the emulator splits filter values like StringUtils::split_to_values: `\\` before a backtick escapes it', () => {
    // typesense/typesense src/string_utils.cpp split_to_values: `escaped_tick = (i != 0) && c == '`' &&
    // vals_str[i-1] == '\\'` appends the backtick to the value instead of closing it, so `a\` swallows the
    // comma and the next value: neither id is looked up.
    expect(splitToValues('`a\\`,`b`')).toEqual(['a\\`,b']);
    expect(splitToValues('`a\\b`,`c`')).toEqual(['a\\b', 'c']);
  });

  it('deletes every id, including composite ids whose sort key ends in a backslash', async () => {
    const server = await emulator();
    const ts = new TypesenseClient({ nodes: [server.url], apiKey: API_KEY });
    await ts.createCollection({ name: 'c', fields: [{ name: 'n', type: 'int32' }] });
    const ids = [
      documentId({ pk: { S: 'p' }, sk: { S: 'ends\\' } }, ['pk', 'sk']),
      'plain-1',
      'simple\\',
      'plain-2',
    ];
    expect(ids[0]).toBe('p|ends\\\\');
    await ts.importDocuments(
      'c',
      ids.map((id, n) => JSON.stringify({ id, n })),
      'upsert',
    );
    expect(await ts.deleteByIds('c', ids)).toBe(ids.length);
    expect(await ts.exportDocuments('c')).toEqual([]);
  });
});
