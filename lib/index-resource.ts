import { CustomResource, Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { NagSuppressions } from 'cdk-nag';
import { Construct, type IDependable } from 'constructs';
import type { CollectionSchema } from '../functions/contract/collection-schema.ts';
import {
  type IndexOnDelete,
  type IndexResourceData,
  indexResourceProperties,
} from '../functions/contract/index-resource.ts';
import { grantSecretRead, grantSendMessage, grantTable } from './builders/grants.ts';
import type { SyncFunction } from './sync-function.ts';

/**
 * The index as code: a CloudFormation custom resource (the CDK Provider framework) whose handler
 * (functions/index-resource/) converges Typesense to the schema on every create and update. It checks the
 * nodes and the key, then, when the alias does not exist, creates the first collection and starts the first
 * load as a re-sync whose swap creates the alias; when the schema differs from the live collection's, it
 * starts a migration re-sync; an unchanged schema starts nothing. It returns as soon as a job is started.
 */

/** What the handler does within one invocation: check the nodes, create a collection, start a job. */
export const INDEX_HANDLER_TIMEOUT = Duration.minutes(3);

export interface IndexResourceProps {
  /**
   * The handler, with the re-sync's environment (it starts re-syncs through the re-sync core) and network.
   * Granted here exactly what the re-sync start path and the drop on delete need.
   */
  readonly handler: SyncFunction;
  /** The alias the sync serves: the index's stable name. */
  readonly alias: string;
  /** The collection schema without its name. @default adopt the existing alias as it is */
  readonly schema?: CollectionSchema;
  /** @default true */
  readonly checkNodes?: boolean;
  /** @default 'retain' */
  readonly onDelete?: IndexOnDelete;
  /** The source table: its item count estimates the load (DescribeTable). */
  readonly table: dynamodb.ITable;
  /** Jobs, segments and the active pointer of the re-sync it starts. */
  readonly resyncStateTable: dynamodb.ITable;
  /** Where it sends the started re-sync's segment tasks. */
  readonly resyncQueue: sqs.IQueue;
  /** The key that may create and drop collections and aliases, and its imported customer managed key. */
  readonly adminApiKeySecret: secretsmanager.ISecret;
  readonly adminApiKeySecretKey?: kms.IKey;
  /** Retention and key of the Provider framework's log group, as the sync's functions' log groups. */
  readonly logRetention?: logs.RetentionDays;
  readonly logEncryptionKey?: kms.IKey;
  /**
   * What the started job needs running before the resource is created (and after it is deleted): the
   * re-sync's queue consumer, and the stream-to-writer path that applies changes made during the load.
   */
  readonly runsAfter: readonly IDependable[];
}

/** The index custom resource: the Provider, the resource and what its handler answered. */
export class IndexResource extends Construct {
  public readonly handler: SyncFunction;
  public readonly provider: cr.Provider;
  public readonly resource: CustomResource;
  /** The collection the alias serves, or will serve once the load this deploy started swaps. */
  public readonly collection: string;
  /** What the deploy did: created, migrating, unchanged, adopted (see functions/contract/index-resource.ts). */
  public readonly action: string;

  constructor(scope: Construct, id: string, props: IndexResourceProps) {
    super(scope, id);
    this.handler = props.handler;
    grantResyncStart(props);
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: props.handler,
      // The framework function only relays the event to the handler and the answer to CloudFormation's
      // response URL: it stays outside the VPC, where that URL is reachable without a NAT gateway.
      logGroup: new logs.LogGroup(this, 'ProviderLogGroup', {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        ...(props.logEncryptionKey !== undefined && { encryptionKey: props.logEncryptionKey }),
      }),
    });
    acceptProviderFindings(this.provider);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::TypesenseIndex',
      properties: indexResourceProperties({
        alias: props.alias,
        ...(props.schema === undefined ? {} : { schema: props.schema }),
        ...(props.checkNodes === undefined ? {} : { checkNodes: props.checkNodes }),
        ...(props.onDelete === undefined ? {} : { onDelete: props.onDelete }),
      }),
    });
    this.resource.node.addDependency(...props.runsAfter);
    this.collection = this.resource.getAttString('Collection' satisfies keyof IndexResourceData);
    this.action = this.resource.getAttString('Action' satisfies keyof IndexResourceData);
  }
}

/**
 * Exactly what the re-sync start path (functions/core/resync/operator.ts `startResync`) and the drop on
 * delete call: the table's item count; the active pointer read and claim, the job and its segments written,
 * and on a failed start the job moved to failed and the pointer released; the segment tasks sent; the
 * admin key read. No Scan: the started re-sync's own function scans.
 */
function grantResyncStart(props: IndexResourceProps): void {
  const { handler } = props;
  // DescribeTable reads no item, so it needs no use of the table's key.
  props.table.grant(handler, 'dynamodb:DescribeTable');
  grantTable(props.resyncStateTable, handler, [
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
  ]);
  grantSendMessage(props.resyncQueue, handler);
  grantSecretRead(props.adminApiKeySecret, props.adminApiKeySecretKey, handler);
}

/** The cdk-nag findings of the Provider framework's own function, which CDK builds and we cannot change. */
function acceptProviderFindings(provider: cr.Provider): void {
  const framework = provider.node.findChild('framework-onEvent') as lambda.Function;
  NagSuppressions.addResourceSuppressions(
    framework.role as iam.IRole,
    [
      {
        id: 'AwsSolutions-IAM4',
        reason:
          'The Provider framework function CDK builds logs through the standard AWSLambdaBasicExecutionRole policy, ' +
          'which only allows creating log streams and putting log events.',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      },
      {
        id: 'AwsSolutions-IAM5',
        reason:
          "The Provider framework grants itself lambda:InvokeFunction on the index handler's ARN and its versions " +
          '(`:*`), one function only: it is how the framework calls the handler.',
        appliesTo: [{ regex: '/^Resource::<.*IndexHandler[0-9A-F]{8}\\.Arn>:\\*$/g' }],
      },
    ],
    true,
  );
}
