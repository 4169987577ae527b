import { Annotations, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';

/** Narrow grants shared by the sync's constructs: exactly what a function does, no CDK grant extras. */

/**
 * The use of a table's customer managed key, if it has one: the KMS actions CDK's own table grants
 * give for reads (decrypt) or writes (encrypt too).
 */
export function grantTableKey(table: dynamodb.ITable, fn: lambda.IFunction, access: 'read' | 'write'): void {
  const key = table.encryptionKey;
  if (key === undefined) return;
  if (access === 'read') {
    key.grant(fn, 'kms:Decrypt', 'kms:DescribeKey');
    return;
  }
  key.grantEncryptDecrypt(fn);
  NagSuppressions.addResourceSuppressions(
    fn.role as iam.IRole,
    [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          "DynamoDB encrypts written items with the table's customer managed key on the caller's behalf; these are the " +
          "KMS actions of CDK's own table write grants, on that one key only.",
        appliesTo: ['Action::kms:ReEncrypt*', 'Action::kms:GenerateDataKey*'],
      },
    ],
    true,
  );
}

/** DynamoDB actions that write items; a grant of any of them also needs a table key's encrypt side. */
const TABLE_WRITE_ACTIONS = new Set([
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
]);

/**
 * Exactly `actions` on a table, and the use of its key. CDK's grantReadData / grantReadWriteData would
 * give every read or write action, including Scan on the source table to functions that never scan.
 */
export function grantTable(table: dynamodb.ITable, fn: lambda.IFunction, actions: string[]): void {
  table.grant(fn, ...actions);
  grantTableKey(table, fn, actions.some((action) => TABLE_WRITE_ACTIONS.has(action)) ? 'write' : 'read');
}

/**
 * Read access to the Typesense API key secret, and to its imported customer managed key (`secretKey`) via
 * Secrets Manager only. A secret defined in the app with its own key is covered by `grantRead`.
 */
export function grantSecretRead(
  secret: secretsmanager.ISecret,
  secretKey: kms.IKey | undefined,
  fn: lambda.IFunction,
): void {
  secret.grantRead(fn);
  if (secretKey === undefined || secretKey === secret.encryptionKey) return;
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [secretKey.keyArn],
      conditions: {
        StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(fn).region}.amazonaws.com` },
      },
    }),
  );
}

/**
 * SendMessage (which also authorises SendMessageBatch) on a queue, and with a KMS queue what SQS
 * requires of a producer: GenerateDataKey and Decrypt. CDK's grantSendMessages adds queue attribute
 * reads and every encrypt action.
 */
export function grantSendMessage(queue: sqs.IQueue, fn: lambda.IFunction): void {
  queue.grant(fn, 'sqs:SendMessage');
  queue.encryptionMasterKey?.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
}

/**
 * An EventBridge rule target sending to an SQS queue (and to `deadLetterQueue` what it cannot deliver),
 * which lets only that rule send. Not `targets.SqsQueue`: for a KMS-encrypted queue it drops the
 * condition naming the rule from the queue policy (EventBridge in any account may then send, unless a
 * feature flag is set in the app), and grants EventBridge Encrypt and ReEncrypt on the key, which it
 * never needs. The key policy can only name the account: naming the rule there would make the key depend
 * on the rule, which depends on the queue, which depends on the key.
 */
export function queueRuleTarget(
  queue: sqs.IQueue,
  options: { message?: events.RuleTargetInput; deadLetterQueue?: sqs.IQueue } = {},
): events.IRuleTarget {
  return {
    bind: (rule) => {
      const eventBridge = new iam.ServicePrincipal('events.amazonaws.com');
      const queues = options.deadLetterQueue === undefined ? [queue] : [queue, options.deadLetterQueue];
      for (const each of queues) {
        each.addToResourcePolicy(
          new iam.PolicyStatement({
            principals: [eventBridge],
            actions: ['sqs:SendMessage'],
            resources: [each.queueArn],
            conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleArn } },
          }),
        );
        const key = each.encryptionMasterKey;
        if (key === undefined) continue;
        // aws:SourceArn narrows the key use to rules (not buses, pipes or other EventBridge features) of this
        // account and region, as the confused-deputy guidance for service principals on an encrypted queue's
        // key recommends (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-least-privilege-policy.html,
        // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-encryption-key-policy.html). A pattern,
        // not the rule's own ARN, which would make the key depend on the rule (see above). A delivery this
        // refuses shows in the rule's FailedInvocations alarm (lib/alarms.ts).
        const stack = Stack.of(rule);
        const keyUse = new iam.PolicyStatement({
          principals: [eventBridge],
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: ['*'],
          conditions: {
            StringEquals: { 'aws:SourceAccount': stack.account },
            ArnLike: {
              'aws:SourceArn': stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' }),
            },
          },
        });
        if (!key.addToResourcePolicy(keyUse, true).statementAdded) {
          Annotations.of(rule).addWarningV2(
            'typesense-sync:importedQueueKey',
            'The queue encryption key is imported, so its policy cannot be changed here. Allow the service principal ' +
              'events.amazonaws.com kms:GenerateDataKey and kms:Decrypt on it (conditions aws:SourceAccount = this ' +
              'account, aws:SourceArn like arn:aws:events:<region>:<account>:rule/*), or EventBridge cannot deliver ' +
              "this rule's events to the encrypted queue",
          );
        }
      }
      return {
        arn: queue.queueArn,
        targetResource: queue,
        ...(options.message === undefined ? {} : { input: options.message }),
        ...(options.deadLetterQueue === undefined
          ? {}
          : { deadLetterConfig: { arn: options.deadLetterQueue.queueArn } }),
      };
    },
  };
}
