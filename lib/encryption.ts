import { Annotations, ArnFormat, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** At-rest encryption shared by the sync's constructs: the customer managed key when given, else AWS's. */

/** Queue props: KMS with `key`, else SQS-managed SSE. */
export function queueEncryptionOf(
  key: kms.IKey | undefined,
): Pick<sqs.QueueProps, 'encryption' | 'encryptionMasterKey'> {
  return key === undefined
    ? { encryption: sqs.QueueEncryption.SQS_MANAGED }
    : { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key };
}

/** Table props: customer managed with `key`, else AWS-managed. */
export function tableEncryptionOf(
  key: kms.IKey | undefined,
): Pick<dynamodb.TableProps, 'encryption' | 'encryptionKey'> {
  return key === undefined
    ? { encryption: dynamodb.TableEncryption.AWS_MANAGED }
    : { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key };
}

/** Keys whose policy already lets CloudWatch Logs use them: one statement per key, however many syncs. */
const logsAllowed = new WeakSet<kms.IKey>();

/**
 * Lets CloudWatch Logs of this region use `key` for the log groups of this account, and nothing else
 * (the encryption context names the log group):
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
 * An imported key's policy cannot be changed here: a synth warning says what to add.
 */
export function allowLogGroupEncryption(scope: Construct, key: kms.IKey): void {
  if (logsAllowed.has(key)) return;
  logsAllowed.add(key);
  const stack = Stack.of(scope);
  const logGroups = stack.formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: '*',
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const { statementAdded } = key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': logGroups } },
    }),
    true,
  );
  if (!statementAdded) {
    Annotations.of(scope).addWarningV2(
      'typesense-sync:importedLogKey',
      'The encryption key is imported, so its policy cannot be changed here. Allow the service principal ' +
        'logs.<region>.amazonaws.com kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey* and kms:Describe* ' +
        'on it (condition ArnLike kms:EncryptionContext:aws:logs:arn = arn:aws:logs:<region>:<account>:log-group:*), ' +
        'or the function log groups cannot be created',
    );
  }
}
