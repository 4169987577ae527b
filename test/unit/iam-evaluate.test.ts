import { describe, expect, it } from 'vitest';
import {
  evaluate,
  type PolicyStatement,
  UnsupportedPolicyError,
  wildcardMatch,
} from '../../infra/local/iam/evaluate.ts';
import { requestsOf, UnmappedCommandError } from '../../infra/local/iam/requests.ts';

const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/items';
const allow = (actions: string[], resources: string[], conditions = {}): PolicyStatement => ({
  effect: 'Allow',
  actions,
  resources,
  conditions,
});
const CANARY_ONLY = { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['__canary__'] } };

describe('IAM wildcards', () => {
  it('matches actions with * case-insensitively and resources case-sensitively', () => {
    expect(wildcardMatch('dynamodb:Get*', 'dynamodb:getitem', true)).toBe(true);
    expect(wildcardMatch('dynamodb:Get*', 'dynamodb:BatchGetItem', true)).toBe(false);
    expect(wildcardMatch(`${TABLE}/index/*`, `${TABLE}/index/byName`)).toBe(true);
    expect(wildcardMatch(`${TABLE}/index/*`, TABLE)).toBe(false);
    expect(wildcardMatch(TABLE, TABLE.toUpperCase())).toBe(false);
  });

  it("matches a secret name's six-character suffix with -??????, and nothing longer or shorter", () => {
    const pattern = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:typesense-sync/api-key-??????';
    const secret = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`;
    expect(wildcardMatch(pattern, secret('typesense-sync/api-key-AbC123'))).toBe(true);
    expect(wildcardMatch(pattern, secret('typesense-sync/api-key-AbC12'))).toBe(false);
    expect(wildcardMatch(pattern, secret('typesense-sync/api-key-other-AbC123'))).toBe(false);
  });

  it('does not read regular-expression characters in a pattern as such', () => {
    expect(wildcardMatch('arn:aws:s3:::a.b/*', 'arn:aws:s3:::axb/key')).toBe(false);
    expect(wildcardMatch('arn:aws:s3:::a.b/*', 'arn:aws:s3:::a.b/key')).toBe(true);
  });
});

describe('IAM evaluation', () => {
  it('allows what a statement allows and implicitly denies the rest', () => {
    const policy = [allow(['dynamodb:Scan', 'dynamodb:DescribeTable'], [TABLE])];
    expect(evaluate(policy, { action: 'dynamodb:Scan', resource: TABLE })).toBe('allow');
    expect(evaluate(policy, { action: 'dynamodb:BatchGetItem', resource: TABLE })).toBe('implicit-deny');
    expect(evaluate(policy, { action: 'dynamodb:Scan', resource: `${TABLE}/index/byName` })).toBe(
      'implicit-deny',
    );
  });

  it('lets an explicit Deny win over any Allow', () => {
    const policy: PolicyStatement[] = [
      allow(['dynamodb:*'], ['*']),
      { effect: 'Deny', actions: ['dynamodb:DeleteItem'], resources: [TABLE], conditions: {} },
    ];
    expect(evaluate(policy, { action: 'dynamodb:PutItem', resource: TABLE })).toBe('allow');
    expect(evaluate(policy, { action: 'dynamodb:DeleteItem', resource: TABLE })).toBe('explicit-deny');
  });

  it('allows a write to the leading keys ForAllValues:StringEquals names, and only to them', () => {
    const policy = [allow(['dynamodb:PutItem'], [TABLE], CANARY_ONLY)];
    const put = (keys: string[]) =>
      evaluate(policy, {
        action: 'dynamodb:PutItem',
        resource: TABLE,
        context: { 'dynamodb:LeadingKeys': keys },
      });
    expect(put(['__canary__'])).toBe('allow');
    expect(put(['customer-1'])).toBe('implicit-deny');
    expect(put(['__canary__', 'customer-1'])).toBe('implicit-deny');
  });

  it('refuses to guess: an unknown operator, an unknown key or a key the request lacks is an error', () => {
    const request = {
      action: 'dynamodb:PutItem',
      resource: TABLE,
      context: { 'dynamodb:LeadingKeys': ['a'] },
    };
    expect(() =>
      evaluate(
        [allow(['dynamodb:PutItem'], [TABLE], { StringLike: { 'dynamodb:LeadingKeys': ['a'] } })],
        request,
      ),
    ).toThrow(
      new UnsupportedPolicyError('unsupported condition operator StringLike (key dynamodb:LeadingKeys)'),
    );
    expect(() =>
      evaluate(
        [allow(['dynamodb:PutItem'], [TABLE], { Bool: { 'aws:SecureTransport': ['true'] } })],
        request,
      ),
    ).toThrow(/unsupported condition key aws:SecureTransport/);
    expect(() =>
      evaluate([allow(['dynamodb:PutItem'], [TABLE], CANARY_ONLY)], {
        action: 'dynamodb:PutItem',
        resource: TABLE,
      }),
    ).toThrow(/condition key dynamodb:LeadingKeys is not known for dynamodb:PutItem/);
  });
});

describe("commands' IAM requests", () => {
  const keys = new Map([
    ['items', 'pk'],
    ['state', 'pk'],
  ]);

  it('checks BatchGetItem once per table, with the partition keys as leading keys', () => {
    expect(
      requestsOf(
        'DynamoDB',
        'BatchGetItemCommand',
        {
          RequestItems: {
            items: { Keys: [{ pk: { S: 'a' } }, { pk: { S: 'b' } }] },
            state: { Keys: [{ pk: { S: 'job' }, sk: { S: '1' } }] },
          },
        },
        keys,
      ),
    ).toEqual([
      { action: 'dynamodb:BatchGetItem', resource: TABLE, context: { 'dynamodb:LeadingKeys': ['a', 'b'] } },
      {
        action: 'dynamodb:BatchGetItem',
        resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/state',
        context: { 'dynamodb:LeadingKeys': ['job'] },
      },
    ]);
  });

  it('checks TransactWriteItems per item as its single-item action', () => {
    const requests = requestsOf(
      'DynamoDB',
      'TransactWriteItemsCommand',
      {
        TransactItems: [
          { Put: { TableName: 'items', Item: { pk: { S: 'a' }, name: { S: 'x' } } } },
          { Update: { TableName: 'state', Key: { pk: { S: 'v' } }, UpdateExpression: 'SET n = :n' } },
        ],
      },
      keys,
    );
    expect(requests.map(({ action, context }) => [action, context])).toEqual([
      ['dynamodb:PutItem', { 'dynamodb:LeadingKeys': ['a'] }],
      ['dynamodb:UpdateItem', { 'dynamodb:LeadingKeys': ['v'] }],
    ]);
  });

  it('checks a query of an index on the index ARN', () => {
    expect(requestsOf('DynamoDB', 'QueryCommand', { TableName: 'items', IndexName: 'byName' }, keys)).toEqual(
      [{ action: 'dynamodb:Query', resource: `${TABLE}/index/byName` }],
    );
  });

  it('maps the SQS batch calls to their single-message actions on the queue ARN of the URL', () => {
    const queueUrl = 'http://127.0.0.1:4566/000000000000/items-changes.fifo';
    const arn = 'arn:aws:sqs:us-east-1:000000000000:items-changes.fifo';
    expect(requestsOf('SQS', 'SendMessageBatchCommand', { QueueUrl: queueUrl }, keys)).toEqual([
      { action: 'sqs:SendMessage', resource: arn },
    ]);
    expect(requestsOf('SQS', 'ChangeMessageVisibilityBatchCommand', { QueueUrl: queueUrl }, keys)).toEqual([
      { action: 'sqs:ChangeMessageVisibility', resource: arn },
    ]);
  });

  it('checks S3 writes on the object ARN and listings on the bucket', () => {
    expect(requestsOf('S3', 'PutObjectCommand', { Bucket: 'failures', Key: 'aws/lambda/x' }, keys)).toEqual([
      { action: 's3:PutObject', resource: 'arn:aws:s3:::failures/aws/lambda/x' },
    ]);
    expect(requestsOf('S3', 'ListObjectsV2Command', { Bucket: 'failures' }, keys)).toEqual([
      { action: 's3:ListBucket', resource: 'arn:aws:s3:::failures' },
    ]);
  });

  it('fails a command it has no mapping for', () => {
    expect(() => requestsOf('DynamoDB', 'CreateTableCommand', { TableName: 'x' }, keys)).toThrow(
      new UnmappedCommandError('no IAM mapping for DynamoDB CreateTable'),
    );
    expect(() => requestsOf('SQS', 'PurgeQueueCommand', { QueueUrl: 'x/q' }, keys)).toThrow(
      'no IAM mapping for SQS PurgeQueue',
    );
    expect(() => requestsOf('Lambda', 'InvokeCommand', {}, keys)).toThrow('no IAM mapping for Lambda Invoke');
  });
});
