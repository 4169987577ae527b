import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SyncFunction } from './sync-function.ts';

export interface TypesenseSyncTypesenseProps {
  /** Node URLs, e.g. `https://xyz.a1.typesense.net:443`. */
  readonly nodes: string[];
  /** Secret whose value is the Typesense API key; only its ARN reaches the function environment. */
  readonly apiKeySecret: secretsmanager.ISecret;
  /** The alias the writer writes to. */
  readonly collection: string;
}

export interface TypesenseSyncProjection {
  readonly include?: string[];
  readonly exclude?: string[];
}

export interface TypesenseSyncProps {
  /** A table to sync from. It must have a stream. Mutually exclusive with `tableProps`. */
  readonly existingTableObj?: dynamodb.ITable;
  /** Overrides for the table the construct creates. Mutually exclusive with `existingTableObj`. */
  readonly tableProps?: Partial<dynamodb.TableProps>;
  /**
   * Primary key attribute names, partition key first. Required with `existingTableObj`; derived from
   * the key schema for a created table (if given, it must match).
   */
  readonly keyAttributes?: string[];
  readonly typesense: TypesenseSyncTypesenseProps;
  /** Which item attributes become document fields. Default: all. */
  readonly projection?: TypesenseSyncProjection;
  /** FIFO message groups keys are hashed into: the writer's maximum parallelism. @default 16 */
  readonly messageGroupBuckets?: number;
  /** Changes queue maximum message size, 8192..1048576. @default 262144 */
  readonly maxMessageBytes?: number;
  /** @default Duration.seconds(30) */
  readonly writerTimeout?: Duration;
  /** Receives of one changes message before SQS moves it to the DLQ. @default 10 */
  readonly maxReceiveCount?: number;
  /** @default 100 */
  readonly streamBatchSize?: number;
  /** @default Duration.days(1) */
  readonly streamMaxRecordAge?: Duration;
  /** @default 10 */
  readonly streamRetryAttempts?: number;
  /** Concurrent batcher invocations per stream shard, 1..10. @default 1 */
  readonly parallelizationFactor?: number;
  /** Item attribute holding a precise change time (ms epoch number or ISO string). */
  readonly sourceTimestampAttribute?: string;
}

// The batcher's env contract (functions/shared/config.ts) rejects anything outside these ranges, so a
// value the construct accepted would otherwise only fail at the first cold start.
const MAX_MESSAGE_BYTES_RANGE = [8_192, 1_048_576] as const;
const MESSAGE_GROUP_BUCKETS_RANGE = [1, 10_000] as const;
const PARALLELIZATION_FACTOR_RANGE = [1, 10] as const;

function checkIntRange(name: string, value: number, [min, max]: readonly [number, number]): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`TypesenseSync: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, index) => name === b[index]);
}

/**
 * Keeps a Typesense alias in step with a DynamoDB table:
 * stream -> batcher -> SQS FIFO (keys only) -> writer (consistent re-read) -> Typesense.
 */
export class TypesenseSync extends Construct {
  public readonly table: dynamodb.ITable;
  public readonly changesQueue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly batcher: SyncFunction;
  public readonly writer: SyncFunction;

  constructor(scope: Construct, id: string, props: TypesenseSyncProps) {
    super(scope, id);

    const messageGroupBuckets = props.messageGroupBuckets ?? 16;
    const maxMessageBytes = props.maxMessageBytes ?? 262_144;
    const writerTimeout = props.writerTimeout ?? Duration.seconds(30);
    const maxReceiveCount = props.maxReceiveCount ?? 10;
    const parallelizationFactor = props.parallelizationFactor ?? 1;

    // Validate everything before creating any resource: a bad prop then costs no bundling.
    checkIntRange('maxMessageBytes', maxMessageBytes, MAX_MESSAGE_BYTES_RANGE);
    checkIntRange('messageGroupBuckets', messageGroupBuckets, MESSAGE_GROUP_BUCKETS_RANGE);
    checkIntRange('parallelizationFactor', parallelizationFactor, PARALLELIZATION_FACTOR_RANGE);
    checkIntRange('maxReceiveCount', maxReceiveCount, [1, 1_000]);
    if (props.typesense.nodes.length === 0) {
      throw new Error('TypesenseSync: typesense.nodes must name at least one Typesense node URL');
    }
    for (const node of props.typesense.nodes) {
      if (Token.isUnresolved(node)) continue;
      if (!URL.canParse(node) || node.includes(',')) {
        throw new Error(`TypesenseSync: typesense.nodes entry is not a URL: ${JSON.stringify(node)}`);
      }
    }
    if (!Token.isUnresolved(props.typesense.collection) && props.typesense.collection.length === 0) {
      throw new Error('TypesenseSync: typesense.collection must not be empty');
    }

    const { table, keyAttributes } = this.resolveTable(props);
    this.table = table;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // A FIFO source queue can only redrive into a FIFO DLQ.
      fifo: true,
      // The functions send their own dead letters; this keeps a SendMessage without an explicit
      // deduplication id valid, while an explicit id still takes precedence.
      contentBasedDeduplication: true,
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    this.changesQueue = new sqs.Queue(this, 'ChangesQueue', {
      fifo: true,
      contentBasedDeduplication: false,
      // High-throughput FIFO: limits apply per message group, so buckets scale throughput.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      maxMessageSizeBytes: maxMessageBytes,
      // AWS guidance for SQS event sources: at least six times the function timeout, so batches
      // retried after throttling are not made visible again while still in flight.
      visibilityTimeout: Duration.seconds(writerTimeout.toSeconds() * 6),
      // Outlive a long indexing outage rather than silently expiring unapplied changes.
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    const keyAttributesEnv = keyAttributes.join(',');

    this.batcher = new SyncFunction(this, 'Batcher', {
      entry: fileURLToPath(new URL('../functions/batcher/handler.ts', import.meta.url)),
      serviceName: 'typesense-sync-batcher',
      description: 'DynamoDB stream -> packed key-only change messages on the SQS FIFO changes queue',
      timeout: Duration.seconds(60),
      environment: {
        QUEUE_URL: this.changesQueue.queueUrl,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        KEY_ATTRIBUTES: keyAttributesEnv,
        MESSAGE_GROUP_BUCKETS: String(messageGroupBuckets),
        MAX_MESSAGE_BYTES: String(maxMessageBytes),
        ...(props.sourceTimestampAttribute !== undefined && {
          SOURCE_TIMESTAMP_ATTRIBUTE: props.sourceTimestampAttribute,
        }),
      },
    });
    this.batcher.addEventSource(
      new DynamoEventSource(this.table, {
        // Start from the oldest retained record so nothing written before deployment is skipped.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: props.streamBatchSize ?? 100,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        maxRecordAge: props.streamMaxRecordAge ?? Duration.days(1),
        retryAttempts: props.streamRetryAttempts ?? 10,
        parallelizationFactor,
      }),
    );
    this.changesQueue.grantSendMessages(this.batcher);
    this.deadLetterQueue.grantSendMessages(this.batcher);

    this.writer = new SyncFunction(this, 'Writer', {
      entry: fileURLToPath(new URL('../functions/writer/handler.ts', import.meta.url)),
      serviceName: 'typesense-sync-writer',
      description: 'SQS FIFO changes -> consistent re-read of each key -> Typesense upsert/delete',
      timeout: writerTimeout,
      environment: {
        TABLE_NAME: this.table.tableName,
        DLQ_URL: this.deadLetterQueue.queueUrl,
        KEY_ATTRIBUTES: keyAttributesEnv,
        TYPESENSE_NODES: props.typesense.nodes.join(','),
        // The key is fetched at runtime: a value in the environment would be readable by anyone
        // allowed lambda:GetFunctionConfiguration.
        TYPESENSE_API_KEY_SECRET_ARN: props.typesense.apiKeySecret.secretArn,
        TYPESENSE_COLLECTION: props.typesense.collection,
        PROJECTION: JSON.stringify(props.projection ?? {}),
      },
    });
    this.writer.addEventSource(
      new SqsEventSource(this.changesQueue, {
        // The maximum for FIFO queues.
        batchSize: 10,
        reportBatchItemFailures: true,
      }),
    );
    // BatchGetItem for the strongly consistent re-read.
    this.table.grantReadData(this.writer);
    this.deadLetterQueue.grantSendMessages(this.writer);
    props.typesense.apiKeySecret.grantRead(this.writer);
  }

  private resolveTable(props: TypesenseSyncProps): { table: dynamodb.ITable; keyAttributes: string[] } {
    const { existingTableObj, tableProps } = props;
    if (existingTableObj !== undefined && tableProps !== undefined) {
      throw new Error('TypesenseSync: pass either existingTableObj or tableProps, not both');
    }
    if (props.keyAttributes !== undefined) {
      const names = props.keyAttributes;
      if (
        names.length < 1 ||
        names.length > 2 ||
        names.some((name) => name.length === 0 || name.includes(','))
      ) {
        throw new Error(
          'TypesenseSync: keyAttributes must be one or two non-empty attribute names: partition key first, then sort key',
        );
      }
    }

    if (existingTableObj !== undefined) {
      if (existingTableObj.tableStreamArn === undefined) {
        throw new Error(
          'TypesenseSync: existingTableObj has no stream ARN; enable a DynamoDB stream (NEW_AND_OLD_IMAGES) on the table ' +
            'and import it with Table.fromTableAttributes({ tableName, tableStreamArn })',
        );
      }
      if (props.keyAttributes === undefined) {
        throw new Error(
          'TypesenseSync: keyAttributes is required with existingTableObj (the key schema of an imported table is unknown)',
        );
      }
      return { table: existingTableObj, keyAttributes: [...props.keyAttributes] };
    }

    const partitionKey = tableProps?.partitionKey ?? { name: 'pk', type: dynamodb.AttributeType.STRING };
    const derived = [partitionKey.name, ...(tableProps?.sortKey ? [tableProps.sortKey.name] : [])];
    if (props.keyAttributes !== undefined && !sameNames(props.keyAttributes, derived)) {
      throw new Error(
        `TypesenseSync: keyAttributes ${JSON.stringify(props.keyAttributes)} do not match the table key schema ${JSON.stringify(derived)}`,
      );
    }
    // `??` instead of spreading defaults: a key present with the value undefined must not erase a default.
    const table = new dynamodb.Table(this, 'Table', {
      ...tableProps,
      partitionKey,
      billingMode: tableProps?.billingMode ?? dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: tableProps?.stream ?? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      // The deprecated boolean and the specification cannot both be set.
      ...(tableProps?.pointInTimeRecovery === undefined && {
        pointInTimeRecoverySpecification: tableProps?.pointInTimeRecoverySpecification ?? {
          pointInTimeRecoveryEnabled: true,
        },
      }),
      encryption:
        tableProps?.encryption ??
        (tableProps?.encryptionKey
          ? dynamodb.TableEncryption.CUSTOMER_MANAGED
          : dynamodb.TableEncryption.AWS_MANAGED),
      // The table is the source of truth; the index can always be rebuilt from it, not the reverse.
      removalPolicy: tableProps?.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    return { table, keyAttributes: derived };
  }
}
