import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';

/**
 * The bucket receiving failed stream batches: private, encrypted, TLS-only, versioned, expiring after
 * `retention`, retained when the stack is deleted.
 */
export function failureBucket(
  scope: Construct,
  options: { encryptionKey: kms.IKey | undefined; retention: Duration },
): s3.Bucket {
  const { encryptionKey, retention } = options;
  const bucket = new s3.Bucket(scope, 'StreamFailureBucket', {
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    ...(encryptionKey === undefined
      ? { encryption: s3.BucketEncryption.S3_MANAGED }
      : {
          encryption: s3.BucketEncryption.KMS,
          encryptionKey,
          // One data key per bucket, not per object: fewer KMS requests.
          bucketKeyEnabled: true,
        }),
    // Versioning keeps a batch that a replay overwrote or deleted by mistake.
    versioned: true,
    lifecycleRules: [
      { expiration: retention, noncurrentVersionExpiration: retention },
      { expiredObjectDeleteMarker: true },
    ],
    // Failed batches are unapplied changes: deleting the stack must not delete them.
    removalPolicy: RemovalPolicy.RETAIN,
  });
  NagSuppressions.addResourceSuppressions(bucket, [
    {
      id: 'AwsSolutions-S1',
      reason:
        'Only the Lambda service (the stream on-failure destination) and operators running replay-stream-failures ' +
        'use this bucket; CloudTrail records those requests, and an access log bucket would need one of its own.',
    },
  ]);
  return bucket;
}

/**
 * The stream's S3 on-failure destination with only what Lambda needs to write there: s3:PutObject on
 * the objects, s3:ListBucket and, for a KMS bucket, kms:GenerateDataKey. CDK's S3OnFailureDestination
 * grants read, write and delete on the whole bucket.
 */
export class FailureBucketDestination implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  bind(target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    const statements = [
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('*')] }),
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    ];
    if (this.bucket.encryptionKey !== undefined) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey'],
          resources: [this.bucket.encryptionKey.keyArn],
        }),
      );
    }
    // A policy of its own, so the object wildcard below is suppressed for this policy alone.
    const policy = new iam.Policy(targetHandler, 'FailureDestinationPolicy', { statements });
    targetHandler.role?.attachInlinePolicy(policy);
    // Lambda checks the destination permissions when the mapping is created.
    target.node.addDependency(policy);
    NagSuppressions.addResourceSuppressions(policy, [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Lambda names each failed batch object itself (aws/lambda/<mapping id>/<shard>/<date>/...), so s3:PutObject ' +
          'needs the object wildcard of the failure bucket; nothing may be read or deleted.',
        appliesTo: [{ regex: '/^Resource::.+\\/\\*$/' }],
      },
    ]);
    return { destination: this.bucket.bucketArn };
  }
}
