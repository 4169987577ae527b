import { describe, expect, it } from 'vitest';
import {
  batcherConfigSchema,
  ConfigError,
  parseConfig,
  writerConfigSchema,
} from '../../functions/shared/config.ts';

const changesQueues = [
  {
    queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo',
    deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo',
  },
];

const batcherEnv = {
  QUEUES: JSON.stringify(changesQueues),
  DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo',
  KEY_ATTRIBUTES: 'pk',
};

const writerEnv = {
  TABLE_NAME: 'orders',
  QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo',
  DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo',
  KEY_ATTRIBUTES: 'pk',
  TYPESENSE_NODES: 'https://xyz-1.a1.typesense.net:443',
  TYPESENSE_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ts-key-AbCdEf',
  TYPESENSE_COLLECTION: 'orders',
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('batcher config', () => {
  it('applies defaults', () => {
    expect(parseConfig(batcherConfigSchema, batcherEnv)).toEqual({
      ...batcherEnv,
      QUEUES: changesQueues,
      KEY_ATTRIBUTES: ['pk'],
      MESSAGE_GROUP_BUCKETS: 4,
      MAX_MESSAGE_BYTES: 262_144,
    });
  });

  it('splits and trims two key attributes, partition first', () => {
    const config = parseConfig(batcherConfigSchema, { ...batcherEnv, KEY_ATTRIBUTES: ' pk , sk ' });
    expect(config.KEY_ATTRIBUTES).toEqual(['pk', 'sk']);
  });

  it('coerces numeric variables and keeps the optional timestamp attribute', () => {
    const config = parseConfig(batcherConfigSchema, {
      ...batcherEnv,
      MESSAGE_GROUP_BUCKETS: '64',
      MAX_MESSAGE_BYTES: '1048576',
      SOURCE_TIMESTAMP_ATTRIBUTE: 'updatedAt',
    });
    expect(config).toMatchObject({
      MESSAGE_GROUP_BUCKETS: 64,
      MAX_MESSAGE_BYTES: 1_048_576,
      SOURCE_TIMESTAMP_ATTRIBUTE: 'updatedAt',
    });
  });

  it('names a missing QUEUES', () => {
    const { QUEUES: _omitted, ...env } = batcherEnv;
    expect(configError(() => parseConfig(batcherConfigSchema, env)).message).toMatch(/QUEUES: Required/);
  });

  it.each([
    [
      'a queue URL that is not a URL',
      [{ ...changesQueues[0], queueUrl: 'changes.fifo' }],
      /QUEUES\.0\.queueUrl/,
    ],
    ['no queue', [], /QUEUES: must list at least one changes queue/],
    [
      'three key attributes',
      [{ ...changesQueues[0], keyAttributes: ['a', 'b', 'c'] }],
      /QUEUES\.0\.keyAttributes/,
    ],
    ['an unknown field', [{ ...changesQueues[0], url: 'x' }], /QUEUES\.0/],
  ])('names QUEUES holding %s', (_case, queues, message) => {
    const error = configError(() =>
      parseConfig(batcherConfigSchema, { ...batcherEnv, QUEUES: JSON.stringify(queues) }),
    );
    expect(error.message).toMatch(message);
  });

  it('names QUEUES that is not JSON', () => {
    const error = configError(() => parseConfig(batcherConfigSchema, { ...batcherEnv, QUEUES: '[{' }));
    expect(error.message).toMatch(/QUEUES: is not valid JSON/);
  });

  it("keeps a queue's own key attributes (an aggregated index's partition key)", () => {
    const queues = [...changesQueues, { ...changesQueues[0], keyAttributes: ['pk'] }];
    const config = parseConfig(batcherConfigSchema, { ...batcherEnv, QUEUES: JSON.stringify(queues) });
    expect(config.QUEUES).toEqual(queues);
  });

  it.each(['pk,sk,extra', 'pk,', ',sk', ''])('rejects KEY_ATTRIBUTES=%j, naming it', (value) => {
    const error = configError(() =>
      parseConfig(batcherConfigSchema, { ...batcherEnv, KEY_ATTRIBUTES: value }),
    );
    expect(error.message).toMatch(/KEY_ATTRIBUTES/);
  });

  it('explains what KEY_ATTRIBUTES must hold when given three names', () => {
    const error = configError(() =>
      parseConfig(batcherConfigSchema, { ...batcherEnv, KEY_ATTRIBUTES: 'pk,sk,extra' }),
    );
    expect(error.message).toMatch(/KEY_ATTRIBUTES: must be one or two attribute names/);
  });

  it.each(['8191', '1024', '1048577', '0', 'lots'])('rejects MAX_MESSAGE_BYTES=%s, naming it', (value) => {
    const error = configError(() =>
      parseConfig(batcherConfigSchema, { ...batcherEnv, MAX_MESSAGE_BYTES: value }),
    );
    expect(error.message).toMatch(/MAX_MESSAGE_BYTES/);
  });

  it('accepts MAX_MESSAGE_BYTES at both bounds', () => {
    for (const value of ['8192', '1048576'])
      expect(
        parseConfig(batcherConfigSchema, { ...batcherEnv, MAX_MESSAGE_BYTES: value }).MAX_MESSAGE_BYTES,
      ).toBe(Number(value));
  });

  it('rejects MESSAGE_GROUP_BUCKETS out of range', () => {
    for (const value of ['0', '10001', '2.5'])
      expect(
        configError(() => parseConfig(batcherConfigSchema, { ...batcherEnv, MESSAGE_GROUP_BUCKETS: value }))
          .message,
      ).toMatch(/MESSAGE_GROUP_BUCKETS/);
  });

  it('names every bad variable in one error', () => {
    const { QUEUES: _omitted, ...env } = batcherEnv;
    const error = configError(() =>
      parseConfig(batcherConfigSchema, { ...env, KEY_ATTRIBUTES: 'a,b,c', MAX_MESSAGE_BYTES: '100' }),
    );
    expect(error.message).toMatch(/^invalid configuration: /);
    for (const name of ['QUEUES', 'KEY_ATTRIBUTES', 'MAX_MESSAGE_BYTES'])
      expect(error.message).toContain(name);
    expect(error.message).not.toContain('DLQ_URL');
  });
});

describe('writer config', () => {
  it('applies defaults and splits the node list', () => {
    const config = parseConfig(writerConfigSchema, {
      ...writerEnv,
      TYPESENSE_NODES: 'https://a.example:443, https://b.example:443',
    });
    expect(config).toEqual({
      ...writerEnv,
      KEY_ATTRIBUTES: ['pk'],
      TYPESENSE_NODES: ['https://a.example:443', 'https://b.example:443'],
      TYPESENSE_TIMEOUT_MS: 5_000,
      PROJECTION: {},
      MAX_RECEIVE_COUNT: 10,
      MAX_MESSAGE_BYTES: 262_144,
      RETRY_BASE_SECONDS: 2,
      RETRY_MAX_SECONDS: 300,
      RETRY_BUDGET_HOURS: 72,
      CIRCUIT_FAILURE_THRESHOLD: 3,
      CIRCUIT_PROBE_SECONDS: 15,
      CIRCUIT_MAX_PROBE_SECONDS: 300,
      TYPESENSE_MAX_CONCURRENT_IMPORTS: 4,
    });
  });

  it('rejects an import cap below 1 and reads a latency target, naming the variable', () => {
    expect(() =>
      parseConfig(writerConfigSchema, { ...writerEnv, TYPESENSE_MAX_CONCURRENT_IMPORTS: '0' }),
    ).toThrow(/TYPESENSE_MAX_CONCURRENT_IMPORTS/);
    const config = parseConfig(writerConfigSchema, {
      ...writerEnv,
      TYPESENSE_MAX_CONCURRENT_IMPORTS: '6',
      TYPESENSE_IMPORT_LATENCY_TARGET_MS: '8000',
    });
    expect(config).toMatchObject({
      TYPESENSE_MAX_CONCURRENT_IMPORTS: 6,
      TYPESENSE_IMPORT_LATENCY_TARGET_MS: 8_000,
    });
  });

  it('reads a visibility lease in whole seconds up to the 12 h SQS limit, none by default', () => {
    expect(parseConfig(writerConfigSchema, writerEnv).VISIBILITY_LEASE_SECONDS).toBeUndefined();
    expect(
      parseConfig(writerConfigSchema, { ...writerEnv, VISIBILITY_LEASE_SECONDS: '5' })
        .VISIBILITY_LEASE_SECONDS,
    ).toBe(5);
    for (const bad of ['0', '1.5', '43201'])
      expect(() => parseConfig(writerConfigSchema, { ...writerEnv, VISIBILITY_LEASE_SECONDS: bad })).toThrow(
        /VISIBILITY_LEASE_SECONDS/,
      );
  });

  it('rejects a retry backoff beyond the 12 h SQS visibility limit, naming the variable', () => {
    expect(() => parseConfig(writerConfigSchema, { ...writerEnv, RETRY_MAX_SECONDS: '43201' })).toThrow(
      /RETRY_MAX_SECONDS: Number must be less than or equal to 43200/,
    );
  });

  it('parses a PROJECTION with include and exclude', () => {
    const config = parseConfig(writerConfigSchema, {
      ...writerEnv,
      PROJECTION: JSON.stringify({ include: ['title'], exclude: ['secret'] }),
    });
    expect(config.PROJECTION).toEqual({ include: ['title'], exclude: ['secret'] });
  });

  it('treats an empty PROJECTION as no projection', () => {
    expect(parseConfig(writerConfigSchema, { ...writerEnv, PROJECTION: '' }).PROJECTION).toEqual({});
  });

  it('names a PROJECTION that is not JSON', () => {
    const error = configError(() =>
      parseConfig(writerConfigSchema, { ...writerEnv, PROJECTION: '{include:' }),
    );
    expect(error.message).toMatch(/PROJECTION: is not valid JSON/);
  });

  it('names a PROJECTION with an unknown key', () => {
    const error = configError(() =>
      parseConfig(writerConfigSchema, { ...writerEnv, PROJECTION: '{"fields":["title"]}' }),
    );
    expect(error.message).toMatch(/PROJECTION/);
    expect(error.message).toContain('fields');
  });

  it('rejects a PROJECTION whose include is not a list of names', () => {
    const error = configError(() =>
      parseConfig(writerConfigSchema, { ...writerEnv, PROJECTION: '{"include":"title"}' }),
    );
    expect(error.message).toMatch(/PROJECTION\.include/);
  });

  it('requires one source of the API key, naming the secret variable', () => {
    const { TYPESENSE_API_KEY_SECRET_ARN: _omitted, ...env } = writerEnv;
    const error = configError(() => parseConfig(writerConfigSchema, env));
    expect(error.message).toMatch(
      /TYPESENSE_API_KEY_SECRET_ARN or TYPESENSE_API_KEY: one of them must be set/,
    );
  });

  it('accepts a plain API key instead of a secret', () => {
    const { TYPESENSE_API_KEY_SECRET_ARN: _omitted, ...env } = writerEnv;
    expect(parseConfig(writerConfigSchema, { ...env, TYPESENSE_API_KEY: 'xyz' }).TYPESENSE_API_KEY).toBe(
      'xyz',
    );
  });

  it('names a node that is not a URL', () => {
    const error = configError(() =>
      parseConfig(writerConfigSchema, { ...writerEnv, TYPESENSE_NODES: 'https://a.example:443,not a url' }),
    );
    expect(error.message).toMatch(/TYPESENSE_NODES/);
  });

  it('names a missing API key source together with other bad variables (regression)', () => {
    const { TABLE_NAME: _table, TYPESENSE_API_KEY_SECRET_ARN: _arn, ...env } = writerEnv;
    expect(() => parseConfig(writerConfigSchema, env)).toThrow(
      /TABLE_NAME: .*; TYPESENSE_API_KEY_SECRET_ARN or TYPESENSE_API_KEY: one of them must be set/,
    );
  });

  it('does not leak the internal API key check into the parsed config', () => {
    expect(Object.keys(parseConfig(writerConfigSchema, writerEnv))).not.toContain(
      'TYPESENSE_API_KEY_SECRET_ARN or TYPESENSE_API_KEY',
    );
  });

  it('names a missing TABLE_NAME and a bad timeout together', () => {
    const { TABLE_NAME: _omitted, ...env } = writerEnv;
    const error = configError(() => parseConfig(writerConfigSchema, { ...env, TYPESENSE_TIMEOUT_MS: '-5' }));
    expect(error.message).toContain('TABLE_NAME');
    expect(error.message).toContain('TYPESENSE_TIMEOUT_MS');
  });

  it('reads process.env when no env is given', () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, batcherEnv, { MESSAGE_GROUP_BUCKETS: '7' });
      expect(parseConfig(batcherConfigSchema).MESSAGE_GROUP_BUCKETS).toBe(7);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
