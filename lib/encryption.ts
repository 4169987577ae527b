import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';

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
