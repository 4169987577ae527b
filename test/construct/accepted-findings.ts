/**
 * Every finding of the external template validators that is not fixed, with the reason it stands: one
 * place for cfn-lint (test/construct/cfn-lint.test.ts) and for the Control Tower proactive controls of
 * @cdklabs/cdk-validator-cfnguard (test/construct/cfn-guard.test.ts). An entry matches findings by rule and
 * resource logical id; a finding no entry matches fails the test, and so does an entry that no longer
 * matches anything (fixed findings are removed from here).
 *
 * Stacks: `Default` (TypesenseSyncStack without context), `FullyFeatured` (every option on) and
 * `LocalStack` (the app as the LocalStack suite deploys it) `TwoIndexes` (a table with two routed indexes) and `AtlasIndexes` (an Atlas source with two routed indexes),
 * see test/construct/stacks.ts.
 */
export interface AcceptedFinding {
  /** cfn-lint rule id (e.g. W3005) or cfn-guard rule name (e.g. sqs_dlq_check). */
  readonly rule: string;
  /** Logical ids of the resources it applies to. */
  readonly resources: RegExp;
  /** Only in these stacks; every stack when absent. */
  readonly stacks?: readonly string[];
  readonly reason: string;
}

/**
 * The sync's functions, with the index custom resource's handler and its Provider framework function; those of
 * a further index under its `Index<Alias>` construct.
 */
const SYNC_FUNCTIONS =
  /^Sync(Index[A-Z][A-Za-z0-9]*?)?(Batcher|Writer|Resync|LagCheck|IngestionDelay|MongoAtlasIngest|IndexHandler|IndexProviderframeworkonEvent)[0-9A-F]{8}$/;
const SYNC_LOG_GROUPS =
  /^Sync(Index[A-Z][A-Za-z0-9]*?)?(Batcher|Writer|Resync|LagCheck|IngestionDelay|MongoAtlasIngest|IndexHandler|IndexProvider)LogGroup[0-9A-F]{8}$/;
const FIXTURE = ['FullyFeatured'];
/** The Lambda CDK adds to a VPC under the cdk.json flag @aws-cdk/aws-ec2:restrictDefaultSecurityGroup. */
const FIXTURE_VPC_PROVIDER = /^CustomVpcRestrictDefaultSGCustomResourceProviderHandler[0-9A-F]{8}$/;

/** cfn-lint 1.x: no errors anywhere; these warnings stay. */
export const CFN_LINT_ACCEPTED: readonly AcceptedFinding[] = [
  {
    rule: 'W3005',
    resources: SYNC_FUNCTIONS,
    reason:
      "aws-cdk-lib's lambda.Function adds DependsOn on its service role (and its default policy) so the role's " +
      'policies exist before the function; the role one is redundant with the Role GetAtt, harmless, and not ours to remove.',
  },
  {
    rule: 'W3005',
    resources: FIXTURE_VPC_PROVIDER,
    stacks: FIXTURE,
    reason:
      "The same DependsOn, on the custom resource provider CDK adds to the test fixture's VPC to empty its " +
      'default security group (feature flag restrictDefaultSecurityGroup). Not part of the construct.',
  },
  {
    rule: 'W3010',
    resources: /^Vpc(Public|Private)Subnet[12]Subnet[0-9A-F]{8}$/,
    stacks: FIXTURE,
    reason:
      "The test fixture's VPC is synthesized without AZ lookups, so CDK writes its placeholder AZs (dummy1a/b); " +
      'a real app resolves them from the account. Not part of the construct.',
  },
];

/** Control Tower proactive controls (cfn-guard): what the construct deliberately does not do. */
export const CFN_GUARD_ACCEPTED: readonly AcceptedFinding[] = [
  {
    rule: 'cloudwatch_alarm_action_check',
    resources: /Alarm[0-9A-F]{8}$/,
    stacks: ['Default', 'LocalStack'],
    reason:
      'Without `alarms.topic` (the default stack) the alarms have no action: the operator chooses where they go. ' +
      'With a topic every alarm notifies it (the fully featured stack shows no finding for them).',
  },
  {
    rule: 'cloudwatch_log_group_retention_period_check',
    resources: SYNC_LOG_GROUPS,
    reason:
      'Retention is the `logRetention` prop, one month by default (debug logs with keys and counts, no documents); ' +
      'accounts that require a year set `logRetention: RetentionDays.ONE_YEAR`.',
  },
  {
    rule: 'cloudwatch_log_group_encrypted_check',
    resources: SYNC_LOG_GROUPS,
    stacks: ['Default', 'LocalStack'],
    reason:
      "Without `encryptionKey` log groups use CloudWatch Logs' service encryption, like the queues use SQS's; " +
      'with it they use the key (the fully featured stack shows no finding for them).',
  },
  {
    rule: 'cloudwatch_log_group_encrypted_check',
    resources: /^VpcallLogGroup[0-9A-F]{8}$/,
    stacks: FIXTURE,
    reason: "The test fixture's VPC flow log group, not part of the construct.",
  },
  {
    rule: 'dynamodb_table_pitr_enabled_check',
    resources: /^Sync(Index[A-Z][A-Za-z0-9]*?)?(ResyncStateTable|MongoAtlasVersionsTable)[0-9A-F]{8}$/,
    reason:
      'Derived state, not data: the re-sync state table holds checkpoints (a lost one re-runs the re-sync), the Atlas ' +
      'versions table holds TTL-expiring ordering marks. The source table (created by the stack) has PITR.',
  },
  {
    rule: 'lambda_inside_vpc_check',
    resources: SYNC_FUNCTIONS,
    reason:
      'Without `vpc` (the default: Typesense Cloud over HTTPS) no function is in a VPC. With `vpc` the writer, re-sync, ' +
      'lag check and index handler are placed in it; the batcher, the ingestion-delay endpoint and the Atlas ingest ' +
      'only call AWS APIs and stay out, saving NAT traffic and cold-start ENIs, and so does the index Provider ' +
      "framework function, which only invokes the handler and answers CloudFormation's pre-signed S3 response URL.",
  },
  {
    rule: 'lambda_inside_vpc_check',
    resources: FIXTURE_VPC_PROVIDER,
    stacks: FIXTURE,
    reason:
      "CDK's provider Lambda that empties the test fixture VPC's default security group (feature flag " +
      'restrictDefaultSecurityGroup) only calls the EC2 API. Not part of the construct.',
  },
  {
    rule: 's3_bucket_default_encryption_kms_check',
    resources: /^SyncStreamFailureBucket[0-9A-F]{8}$/,
    stacks: ['Default', 'LocalStack'],
    reason:
      'SSE-S3 unless `encryptionKey` is given; with it the bucket uses the key (no finding in FullyFeatured).',
  },
  {
    rule: 's3_bucket_logging_enabled_check',
    resources: /^SyncStreamFailureBucket[0-9A-F]{8}$/,
    reason:
      "Only the Lambda service (the stream's on-failure destination) writes the failure bucket and operators " +
      'running replay-stream-failures read it; CloudTrail records those requests, and an access log bucket would ' +
      'need one of its own (the same reason as its cdk-nag AwsSolutions-S1 suppression).',
  },
  {
    rule: 's3_event_notifications_enabled_check',
    resources: /^SyncStreamFailureBucket[0-9A-F]{8}$/,
    reason:
      'Failed batches are replayed by the operator (`typesense-sync replay-stream-failures`), not by an event ' +
      'consumer: a notification target would be a resource nothing reads.',
  },
  {
    rule: 's3_bucket_object_lock_enabled_check',
    resources: /^SyncStreamFailureBucket[0-9A-F]{8}$/,
    reason:
      'The bucket is versioned (an overwrite or delete by a replay is recoverable) and retained with the stack; its ' +
      'lifecycle expires records after the failure retention, which object lock would block.',
  },
  {
    rule: 'subnet_auto_assign_public_ip_disabled_check',
    resources: /^VpcPublicSubnet[12]Subnet[0-9A-F]{8}$/,
    stacks: FIXTURE,
    reason: "The test fixture VPC's public subnets (for its NAT gateway), not part of the construct.",
  },
  {
    rule: 'kms_create_grant_aws_service_check',
    resources: /^(Key961B73FD|undefined)$/,
    stacks: [...FIXTURE, 'TwoIndexes', 'AtlasIndexes'],
    reason:
      "The test fixture's kms.Key with CDK's default key policy (the guard rule reports it once more without a " +
      'logical id); an app brings its own key and policy.',
  },
];

/** The accepted entry for a finding, if any. */
export function acceptedEntry(
  accepted: readonly AcceptedFinding[],
  finding: { rule: string; stack: string; resource: string },
): AcceptedFinding | undefined {
  return accepted.find(
    (entry) =>
      entry.rule === finding.rule &&
      entry.resources.test(finding.resource) &&
      (entry.stacks === undefined || entry.stacks.includes(finding.stack)),
  );
}
