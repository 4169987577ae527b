import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTarget, parseTarget, TargetError } from '../../bin/cli/operations/target.ts';

const valid = {
  tableName: 'items',
  keyAttributes: ['pk'],
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/items-changes.fifo',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/items-dlq.fifo',
  typesense: {
    nodes: ['https://xyz.a1.typesense.net:443'],
    collection: 'products',
    apiKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:typesense-sync/api-key-AbCdEf',
  },
};

describe('parseTarget', () => {
  it('fills the pipeline defaults the construct uses', () => {
    expect(parseTarget(valid, 'test')).toMatchObject({
      messageGroupBuckets: 4,
      maxMessageBytes: 262_144,
      projection: {},
    });
  });

  it('names the source and every bad field', () => {
    const bad = {
      ...valid,
      keyAttributes: ['pk', 'sk', 'x'],
      queueUrl: 'nope',
      typesense: { ...valid.typesense, apiKeySecretArn: undefined },
    };
    expect(() => parseTarget(bad, 'target file t.json')).toThrow(TargetError);
    try {
      parseTarget(bad, 'target file t.json');
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/^target file t\.json is not a valid typesense-sync target/);
      expect(message).toMatch(/keyAttributes/);
      expect(message).toMatch(/queueUrl/);
      expect(message).toMatch(/typesense: needs apiKeySecretArn/);
    }
  });

  it('refuses unknown fields, so a typo is not silently ignored', () => {
    expect(() => parseTarget({ ...valid, tabelName: 'x' }, 'test')).toThrow(/tabelName/);
  });
});

describe('loadTarget', () => {
  it('says how to give a target when there is none', async () => {
    await expect(loadTarget({})).rejects.toThrow(/no target: give --target <file> .* or --stack <name>/);
  });

  it('refuses both a file and a stack', async () => {
    await expect(loadTarget({ targetFile: 'a.json', stack: 'S' })).rejects.toThrow(
      /either --target or --stack/,
    );
  });

  it('names a missing or non-JSON file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'target-'));
    await expect(loadTarget({ targetFile: join(dir, 'absent.json') })).rejects.toThrow(
      /cannot read target file .*absent\.json/,
    );
    await writeFile(join(dir, 'broken.json'), '{');
    await expect(loadTarget({ targetFile: join(dir, 'broken.json') })).rejects.toThrow(
      /broken\.json is not JSON/,
    );
    await writeFile(join(dir, 'good.json'), JSON.stringify(valid));
    await expect(
      loadTarget({ targetFile: join(dir, 'good.json'), region: 'eu-west-1' }),
    ).resolves.toMatchObject({
      tableName: 'items',
      region: 'eu-west-1',
    });
  });
});
