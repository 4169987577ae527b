import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { NoSuchBucket } from '@aws-sdk/client-s3';
import { QueueDoesNotExist, SQSServiceException } from '@aws-sdk/client-sqs';
import { CredentialsProviderError } from '@smithy/core/config';
import { describe, expect, it } from 'vitest';
import { explain } from '../../bin/cli/explain.ts';
import { FilterError } from '../../bin/cli/operations/dead-letters.ts';
import { LagUnknownError } from '../../bin/cli/operations/lag.ts';
import { PreviewInputError } from '../../bin/cli/operations/preview-input.ts';
import { ResyncBusyError } from '../../bin/cli/operations/resync.ts';
import { TargetError } from '../../bin/cli/operations/target.ts';
import { TransformLoadError } from '../../bin/cli/operations/transform.ts';
import { AggregateTooLargeError, AggregationError } from '../../functions/core/aggregate.ts';
import { AtlasEventError } from '../../functions/core/atlas-change.ts';
import { IdCollisionError } from '../../functions/core/document-id.ts';
import {
  MessageFormatError,
  OperatorError,
  ProjectionError,
  RecordError,
  SyncError,
  TransformError,
} from '../../functions/core/errors.ts';
import { IndexResourceError } from '../../functions/core/index-lifecycle.ts';
import { KeyError } from '../../functions/core/keys.ts';
import { OversizeChangeError } from '../../functions/core/pack.ts';
import { ResyncImportError } from '../../functions/core/resync/backfill.ts';
import { ResyncError } from '../../functions/core/resync.ts';
import { LeaseLostError, LeaseNotTakenError } from '../../functions/core/write-batch/lease.ts';
import { AtlasEventSendError } from '../../functions/shared/atlas-ingest-adapters.ts';
import { DeadLetterError, SourceReadError, VisibilityChangeError } from '../../functions/shared/aws.ts';
import { ConfigError } from '../../functions/shared/config.ts';
import { ResyncQueueError } from '../../functions/shared/resync-adapters.ts';
import { ResyncStoreError } from '../../functions/shared/resync-store.ts';
import { TransformModuleError } from '../../functions/shared/transform-registry.ts';
import {
  TypesenseError,
  TypesenseHttpError,
  TypesenseNotSentError,
  TypesenseProtocolError,
  TypesenseUnavailableError,
} from '../../functions/shared/typesense.ts';
import { DynamoDbLocalError } from '../../infra/local/dynamodb-local.ts';
import { UnsupportedPolicyError } from '../../infra/local/iam/evaluate.ts';
import { UnresolvableIntrinsicError } from '../../infra/local/iam/policies.ts';
import { UnmappedCommandError } from '../../infra/local/iam/requests.ts';
import { OverloadScenarioError } from '../../infra/local/overload.ts';
import { JsonSyntaxError } from '../../infra/local/typesense-emulator/json.ts';
import { TypesenseEmulatorProcessError } from '../../infra/local/typesense-emulator/process.ts';
import { RequestError } from '../../infra/local/typesense-emulator/schema.ts';
import { LocalStackSetupError } from '../../infra/localstack/deploy.ts';
import { WaitForIndexedArgumentError } from '../../lib/read-your-writes.ts';

/** Every error class the project throws, with one instance each (the source scan below keeps it complete). */
const PROJECT_ERRORS: [name: string, make: () => Error][] = [
  ['RecordError', () => new RecordError('no keys', '42')],
  ['ProjectionError', () => new ProjectionError('bad field', 'p-1')],
  ['MessageFormatError', () => new MessageFormatError('not a change message')],
  ['TransformError', () => new TransformError('transform threw: no title', 'p-1')],
  ['AggregationError', () => new AggregationError('o-1 has two parent items', 'o-1')],
  [
    'AggregateTooLargeError',
    () => new AggregateTooLargeError('o-1 holds 1,001 items, over maxItems 1,000', 'o-1'),
  ],
  ['IdCollisionError', () => new IdCollisionError("keys 'a' and 'b' have the same document id '1'", '1')],
  ['TransformModuleError', () => new TransformModuleError('the registered transform is a number')],
  ['TransformLoadError', () => new TransformLoadError('cannot load the transform module /x.ts')],
  ['KeyError', () => new KeyError("key attribute 'pk' is missing")],
  ['OversizeChangeError', () => new OversizeChangeError('p-1', 300_000, 262_144)],
  ['AtlasEventError', () => new AtlasEventError('no-id', 'no _id', { eventId: 'e-1' } as never)],
  ['ResyncError', () => new ResyncError('not a re-sync task')],
  ['ResyncImportError', () => new ResyncImportError('page import kept failing')],
  ['DeadLetterError', () => new DeadLetterError('2 dead letters not stored')],
  ['SourceReadError', () => new SourceReadError('unprocessed keys')],
  ['ConfigError', () => new ConfigError('TABLE_NAME: required')],
  ['ResyncStoreError', () => new ResyncStoreError('job vanished')],
  ['AtlasEventSendError', () => new AtlasEventSendError('1 event refused')],
  ['ResyncQueueError', () => new ResyncQueueError('queue refused')],
  ['TypesenseHttpError', () => new TypesenseHttpError(404, 'Not Found', 'GET', '/collections/x')],
  ['TypesenseUnavailableError', () => new TypesenseUnavailableError('Typesense unreachable')],
  ['TypesenseNotSentError', () => new TypesenseNotSentError('Typesense POST /x not sent: its time ran out')],
  ['TypesenseProtocolError', () => new TypesenseProtocolError('no list')],
  ['TargetError', () => new TargetError('no target')],
  ['PreviewInputError', () => new PreviewInputError('preview needs --key <json> or --item <file>')],
  ['FilterError', () => new FilterError('bad filter')],
  ['LagUnknownError', () => new LagUnknownError('lag unknown: no endpoint')],
  ['ResyncBusyError', () => new ResyncBusyError('re-sync j-1 is running')],
  [
    'IndexResourceError',
    () => new IndexResourceError('alias products does not exist: give the index a schema'),
  ],
  ['WaitForIndexedArgumentError', () => new WaitForIndexedArgumentError('timeoutMs must be positive')],
  ['LocalStackSetupError', () => new LocalStackSetupError('no outputs')],
  ['DynamoDbLocalError', () => new DynamoDbLocalError('no java')],
  ['UnsupportedPolicyError', () => new UnsupportedPolicyError('NotAction')],
  ['UnmappedCommandError', () => new UnmappedCommandError('FooCommand')],
  ['UnresolvableIntrinsicError', () => new UnresolvableIntrinsicError('Fn::ImportValue')],
  ['TypesenseEmulatorProcessError', () => new TypesenseEmulatorProcessError('exited')],
  ['RequestError', () => new RequestError(400, 'Parameter `name` is required.')],
  ['JsonSyntaxError', () => new JsonSyntaxError('[json.exception.parse_error.101]')],
  ['OverloadScenarioError', () => new OverloadScenarioError('the writer did not drain the backlog in time')],
  ['LeaseLostError', () => new LeaseLostError('visibility lease of 2 messages ended: write not sent')],
  ['LeaseNotTakenError', () => new LeaseNotTakenError('visibility lease of 2 s not taken')],
  ['VisibilityChangeError', () => new VisibilityChangeError('ChangeMessageVisibility refused 1 of 2')],
];

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_FOLDERS = ['bin', 'lib', 'functions', 'infra', 'bench', 'scripts'];

describe('project errors', () => {
  it.each(PROJECT_ERRORS)('%s is a SyncError named after its class', (name, make) => {
    const error = make();
    expect(error).toBeInstanceOf(SyncError);
    expect(error.name).toBe(name);
    expect(error.constructor.name).toBe(name);
  });

  it('the list above names every error class in the sources, and only SyncError extends Error itself', async () => {
    const declared: string[] = [];
    const direct: string[] = [];
    for (const folder of SOURCE_FOLDERS) {
      const files = (await readdir(join(ROOT, folder), { recursive: true })).map(String);
      for (const file of files.filter((name) => /\.(ts|mjs)$/.test(name))) {
        const text = await readFile(join(ROOT, folder, file), 'utf8');
        for (const [, name, base] of text.matchAll(/class (\w+Error) extends (\w+)/g)) {
          declared.push(name as string);
          if (base === 'Error') direct.push(`${relative(ROOT, join(ROOT, folder, file))}: ${name}`);
        }
      }
    }
    expect(direct).toEqual(['functions/core/errors.ts: SyncError']);
    // Bases (never thrown themselves) and one module-private class, reachable only through its module.
    const notListed = ['SyncError', 'OperatorError', 'TypesenseError', 'UnrepresentableError'];
    expect(declared.filter((name) => !notListed.includes(name)).sort()).toEqual(
      PROJECT_ERRORS.map(([name]) => name).sort(),
    );
  });

  it('a SyncError keeps the error it wraps as its cause', () => {
    const cause = new Error('socket hang up');
    const error = new SyncError('could not reach the queue', { cause });
    expect(error.cause).toBe(cause);
    expect(error.message).toBe('could not reach the queue');
  });

  it('Typesense errors stay under TypesenseError, where the retry rule reads `retryable`', () => {
    for (const make of [
      () => new TypesenseHttpError(503, 'Not Ready or Lagging', 'POST', '/x'),
      () => new TypesenseUnavailableError('reset'),
      () => new TypesenseNotSentError('not sent'),
      () => new TypesenseProtocolError('no list'),
    ])
      expect(make()).toBeInstanceOf(TypesenseError);
  });
});

describe('explain: what the CLI prints after "error: "', () => {
  const operatorErrors = [
    new TargetError('target file t.json is not JSON'),
    new TransformLoadError("the target's transform module /t.ts has no function export 'transform'"),
    new FilterError("bad filter 'colour=red'"),
    new LagUnknownError('lag unknown: the target names no ingestion-delay endpoint'),
    new ResyncBusyError('re-sync j-1 is running'),
    new ResyncError('the alias points at x, which does not exist'),
    new IndexResourceError('re-sync r1 is running: wait for it to finish or cancel it'),
  ];

  it.each(operatorErrors.map((error) => [error.name, error] as const))(
    '%s is an OperatorError: its message alone, one line',
    (_name, error) => {
      expect(error).toBeInstanceOf(OperatorError);
      expect(explain(error)).toBe(error.message);
    },
  );

  it("Typesense's HTTP and unavailable errors: their message, which names the request", () => {
    const http = new TypesenseHttpError(404, 'Not Found', 'GET', '/collections/products');
    expect(explain(http)).toBe('Typesense GET /collections/products failed with HTTP 404: Not Found');
    expect(explain(new TypesenseUnavailableError('no Typesense node answered'))).toBe(
      'no Typesense node answered',
    );
  });

  it('any other error, project or not, is prefixed with its class name', () => {
    expect(explain(new TypesenseProtocolError('Typesense import: no list'))).toBe(
      'TypesenseProtocolError: Typesense import: no list',
    );
    expect(explain(new ConfigError('TABLE_NAME: Required'))).toBe('ConfigError: TABLE_NAME: Required');
    expect(explain(new KeyError("key attribute 'pk' is missing"))).toBe(
      "KeyError: key attribute 'pk' is missing",
    );
    expect(explain(new TypeError('x is not a function'))).toBe('TypeError: x is not a function');
    expect(explain('boom')).toBe('boom');
  });

  it('missing AWS credentials: says how to give them', () => {
    expect(explain(new CredentialsProviderError('Could not load credentials from any providers'))).toBe(
      'no AWS credentials: use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (Could not load credentials from any providers)',
    );
  });

  it("AWS's not-found errors (table, queue, bucket): their message", () => {
    const metadata = { $metadata: {} };
    const errors = [
      new ResourceNotFoundException({ message: 'Requested resource not found', ...metadata }),
      new QueueDoesNotExist({ message: 'The specified queue does not exist.', ...metadata }),
      new SQSServiceException({
        name: 'AWS.SimpleQueueService.NonExistentQueue',
        $fault: 'client',
        message: 'The specified queue does not exist for this wsdl version.',
        ...metadata,
      }),
      new NoSuchBucket({ message: 'The specified bucket does not exist', ...metadata }),
    ];
    for (const error of errors) expect(explain(error)).toBe(error.message);
  });
});
