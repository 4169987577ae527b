import type { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { AggregateConfig } from '../functions/contract/aggregate.ts';
import type { CollectionSchema } from '../functions/contract/collection-schema.ts';
import type { IndexOnDelete } from '../functions/contract/index-resource.ts';
import type { Conversion, ItemFilter, NestedMode } from '../functions/contract/projection.ts';
import type { TypesenseSyncAlarmsProps } from './observability.ts';

/** The props of `TypesenseSync` (lib/typesense-sync.ts), validated by lib/validate-props.ts. */

export interface TypesenseSyncTypesenseProps {
  /** Node URLs, e.g. `https://xyz.a1.typesense.net:443`. */
  readonly nodes: string[];
  /**
   * Secret whose value is the Typesense API key; only its ARN reaches the function environment. The
   * writer and the lag check use it; so do the index custom resource, the re-sync and the operator CLI
   * unless `adminApiKeySecret` is given (one key for all). With `adminApiKeySecret` it can be a key
   * scoped to the alias's collections (docs/construct.md, "Scoped API keys").
   */
  readonly apiKeySecret: secretsmanager.ISecret;
  /**
   * A separate secret holding an admin key, for what creates and drops collections and aliases: the index
   * custom resource, the re-sync and the operator CLI. The writer's and lag check's roles cannot read it,
   * so a compromised writer cannot drop the index. @default `apiKeySecret` for everything
   */
  readonly adminApiKeySecret?: secretsmanager.ISecret;
  /** The customer managed key of an imported `adminApiKeySecret`, as `apiKeySecretKey`. @default none needed */
  readonly adminApiKeySecretKey?: kms.IKey;
  /**
   * The collection schema without its name: fields, `default_sorting_field`, `enable_nested_fields`,
   * `token_separators`, `symbols_to_index`… Checked at synth against what Typesense accepts. Deploys
   * converge Typesense to it: the first deploy creates the first collection and loads the table into it
   * (the swap creates the alias); a changed schema starts a zero-downtime re-sync. @default none: adopt
   * the existing alias as it is (re-syncs copy the live collection's schema)
   */
  readonly schema?: CollectionSchema;
  /**
   * Before anything is created, check that every node answers and the key may do what the sync needs;
   * `false` for teams that deploy before Typesense exists. @default true
   */
  readonly checkNodes?: boolean;
  /**
   * What deleting the stack (or the construct) does to the index: `retain` leaves the alias and its
   * collections in place, `drop` deletes them. @default 'retain'
   */
  readonly onDelete?: IndexOnDelete;
  /**
   * The customer managed key the secret is encrypted with, when it is imported (an imported secret does
   * not know its key): the functions reading it are granted `kms:Decrypt` on it, through Secrets Manager
   * only. @default the secret's own `encryptionKey` (a secret defined in the app), else none needed
   */
  readonly apiKeySecretKey?: kms.IKey;
  /**
   * Accept `http://` nodes, which send the API key in clear text: for local stacks (LocalStack, a private
   * test network) only. @default false: every node must be `https://`
   */
  readonly allowInsecureHttp?: boolean;
  /**
   * The alias the writer writes to: the first (and only) index's, when `indexes` is not given. With
   * `indexes`, leave it (and `schema`, `projection`, `transform`) unset: each index names its own.
   */
  readonly collection?: string;
}

export interface TypesenseSyncProjection {
  readonly include?: string[];
  readonly exclude?: string[];
  /**
   * Only the items it matches are indexed; an item that stops matching leaves the index. A JSON tree:
   * `{ attribute, equals | in | beginsWith | exists | lt | lte | gt | gte }`, `{ and: [...] }`, `{ or: [...] }`,
   * `{ not: ... }` (docs/configuration.md "Filter"). Checked at synth. @default every item
   */
  readonly filter?: ItemFilter;
  /**
   * Top-level attribute → its document field's name, e.g. `{ created_at: 'createdAt' }` (docs/configuration.md
   * "Mapping"). Checked at synth: no rename to `id`, no two attributes to one field. @default none
   */
  readonly rename?: Record<string, string>;
  /**
   * Nested maps as objects (the collection needs `enable_nested_fields`) or flattened to dotted field names
   * (`address.city`), lists of maps to arrays per dotted name as Typesense flattens them. @default 'object'
   */
  readonly nested?: NestedMode;
  /**
   * Document field (named after rename, dotted under `nested: 'flatten'`) → its conversion: `epochSeconds`,
   * `epochMillis`, `int64`, `float`, `string`, `stringArray`. A value that does not convert dead-letters its
   * change with the reason. @default none
   */
  readonly convert?: Record<string, Conversion>;
  /**
   * How a key becomes its document's id in this index, from the key alone (docs/configuration.md "Document
   * ids"): `attributes`, the key attributes whose values make it (a left-out one must be pinned by `filter`
   * with `equals`), and `stripPrefix`, key attribute → a prefix taken off its value. `{ attributes: ['pk'],
   * stripPrefix: { pk: 'CUSTOMER#' } }` with `filter: { attribute: 'sk', equals: 'PROFILE' }` names
   * `CUSTOMER#123 / PROFILE` `123`. Checked at synth. @default the key's encoding: `pk`, or `pk|sk`
   */
  readonly id?: TypesenseSyncDocumentId;
}

/** A document id rule (`projection.id`): see TypesenseSyncProjection.id. */
export interface TypesenseSyncDocumentId {
  /** The key attributes whose values make the id, in order. @default every key attribute (an aggregated index: the partition key) */
  readonly attributes?: string[];
  /** Key attribute → a prefix taken off the start of its value; a value without it is kept whole. @default none */
  readonly stripPrefix?: Record<string, string>;
}

/**
 * Backoff of changes that failed retryably. Unset fields keep the writer's defaults (its env contract
 * in functions/contract/env.ts).
 */
export interface TypesenseSyncRetryProps {
  /** First backoff; it doubles per receive (with jitter) up to `maxDelay`. Whole seconds. @default 2 s */
  readonly baseDelay?: Duration;
  /** Backoff cap, at most 12 hours (the SQS visibility timeout maximum). Whole seconds. @default 5 min */
  readonly maxDelay?: Duration;
  /**
   * How long a change may keep failing retryably before it is dead-lettered anyway. Whole hours, at
   * least 1, shorter than the changes queue retention (14 days). @default 72 h
   */
  readonly budget?: Duration;
}

/**
 * The writer's circuit breaker around Typesense. Unset fields keep the writer's defaults (its env
 * contract in functions/contract/env.ts).
 */
export interface TypesenseSyncCircuitBreakerProps {
  /** Consecutive batches failing for outage reasons that open the circuit. @default 3 */
  readonly failureThreshold?: number;
  /** First wait before probing Typesense's health while open; doubles up to the max. Whole seconds. @default 15 s */
  readonly probeInterval?: Duration;
  /** Probe interval cap, at most 12 hours. Whole seconds. @default 5 min */
  readonly maxProbeInterval?: Duration;
}

/** The full re-sync: a zero-downtime rebuild of the index into a new collection, then an alias swap. */
export interface TypesenseSyncResyncProps {
  /** When to start a re-sync on its own. @default none: only operators and the triggers below start one */
  readonly schedule?: events.Schedule;
  /** Parallel Scan segments, each a task of its own, 1..1000. @default 8 */
  readonly totalSegments?: number;
  /** Items per Scan page (one import request each; checkpoints record whole pages), 1..10000. @default 500 */
  readonly pageSize?: number;
  /** Older collections kept for rollback after a swap, 1..100. @default 2 */
  readonly keepCollections?: number;
  /** The re-sync function's timeout, 1 s..15 min. Whole seconds. @default 5 min */
  readonly timeout?: Duration;
  /** Start a re-sync when the stream iterator age nears `streamMaxRecordAge`. @default true */
  readonly onStreamGap?: boolean;
  /** Concurrent re-sync tasks, 2..1000 (the SQS event source minimum is 2). @default max(2, totalSegments) */
  readonly maxConcurrency?: number;
  /** Concurrency reserved for the re-sync function; at least `maxConcurrency`. @default none reserved */
  readonly reservedConcurrentExecutions?: number;
  /**
   * How long a running re-sync may go without progress before the stall alarm fires (needs the lag check
   * schedule, which reports the progress age), whole minutes from 5 to 1440. @default 30 minutes
   */
  readonly stallAlarmAfter?: Duration;
}

/** The writer's concurrency. */
export interface TypesenseSyncWriterProps {
  /**
   * Concurrent writer invocations the changes queue's event source may run, 2..1000: a cap on the
   * load on Typesense. FIFO message groups bound it too (`messageGroupBuckets`). @default no cap
   */
  readonly maxConcurrency?: number;
  /**
   * Concurrency reserved for the writer, at least `maxConcurrency` (a throttled batch returns to the
   * queue and its receive counts towards the DLQ). @default none reserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Cores of one Typesense node (N), 3..1024: Typesense asks for at most N − 2 concurrent imports, the
   * default of `maxConcurrentImports`. @default 6 (4 imports, as many as the 4 default message groups run)
   */
  readonly typesenseCores?: number;
  /**
   * The most live imports in flight, 1..1000: the cap of each writer instance's adaptive (AIMD) import
   * limit, and, when below `messageGroupBuckets` and `maxConcurrency` is unset, the event source's
   * `maxConcurrency` (at least 2), the bound across Lambda instances. @default typesenseCores − 2
   */
  readonly maxConcurrentImports?: number;
  /**
   * The writer's visibility lease, whole seconds up to 12 h: each batch sets its messages invisible for
   * this long when it starts (one more SQS request per batch) and extends it while its writes need it, so
   * that an invocation that dies (out of memory, a runtime exit) holds its FIFO message groups about a
   * lease instead of the queue's visibility timeout (6 × `writerTimeout`). Every Typesense write of the
   * batch is sent at the latest half a lease before the lease ends (docs/configuration.md, "Visibility
   * lease"). Must be shorter than the changes queue's visibility timeout; `Duration.seconds(0)` takes
   * none. @default a sixth of the changes queue's visibility timeout: `writerTimeout` (30 s) unless
   * `queueProps.visibilityTimeout` is longer
   */
  readonly visibilityLease?: Duration;
}

/** The batcher's concurrency. */
export interface TypesenseSyncBatcherProps {
  /**
   * Concurrency reserved for the batcher: at least shards × `parallelizationFactor`, or the stream
   * falls behind. @default none reserved
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Where the functions that talk to Typesense (writer, re-sync, lag check) run, e.g. to reach a private
 * Typesense. The subnets need a route to DynamoDB, SQS, Secrets Manager and CloudWatch (a NAT gateway
 * or VPC endpoints); the batcher, the ingestion-delay function and the Atlas ingest only call AWS and
 * stay outside.
 */
export interface TypesenseSyncVpcProps {
  readonly vpc: ec2.IVpc;
  /** @default the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default one security group per function, allowing all outbound traffic */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** The scheduled lag check: a canary item written to the table and timed until Typesense has it. */
export interface TypesenseSyncLagCheckProps {
  /**
   * How often to check, as a rate (the alarms and the ingestion-delay endpoint need the interval),
   * 1 minute..1 hour; `false` for no schedule (and then no lag alarms). @default rate(1 minute)
   */
  readonly schedule?: events.Schedule | false;
  /** How long to wait for the canary to reach Typesense, 5 s..10 min. Whole seconds. @default 45 s */
  readonly canaryTimeout?: Duration;
}

/** The ingestion-delay endpoint: a Lambda Function URL serving `GET …/v1/ingestion-delay`. */
export interface TypesenseSyncIngestionDelayEndpointProps {
  /** `AWS_IAM` requires SigV4-signed requests; `NONE` makes the figures public. @default AWS_IAM */
  readonly authType?: lambda.FunctionUrlAuthType;
  /**
   * Concurrency reserved for (and so capping) the endpoint's function, 1..100000, or `false` for none. A
   * public endpoint is capped so that anyone calling it cannot run up costs or starve the account's other
   * functions. Reserving needs 100 unreserved executions left in the account (new accounts may have a
   * quota of 10: then pass `false` or keep `AWS_IAM`). @default 2 with `NONE`, none with `AWS_IAM`
   */
  readonly reservedConcurrentExecutions?: number | false;
}

/** The Typesense schema of the collections a re-sync creates; the name is generated. */
export interface TypesenseSyncCollectionSchema {
  readonly fields: Array<{ name: string; type: string; [k: string]: unknown }>;
  readonly [k: string]: unknown;
}

/** A MongoDB Atlas Database Trigger as the source (see lib/atlas-source.ts). */
export interface TypesenseSyncMongoAtlasProps {
  /** The trigger's partner event source: `aws.partner/mongodb.com/stitch.trigger/<trigger id>`. */
  readonly eventSourceName: string;
  /** Only events of this database. @default any */
  readonly database?: string;
  /** Only events of this collection. @default any */
  readonly collection?: string;
  /** How long a document's version outlives its last event, 15..365 whole days. @default 30 days */
  readonly versionRetention?: Duration;
}

/**
 * The app's transform module (docs/configuration.md "Transform"): a TypeScript or JavaScript file exporting
 * `(document, context) => document | null`, run after the projection by every function that builds
 * documents. Bundled into the writer and the re-sync at synth, which then needs esbuild in the app.
 */
export interface TypesenseSyncTransform {
  /** Absolute path of the module. */
  readonly entry: string;
  /** The export that is the transform. @default 'transform' */
  readonly exportName?: string;
}

/**
 * One index of the table: a Typesense alias with its schema, the items it holds (`projection.filter`), their
 * fields and transform. Each index gets its own pipeline (changes queue and DLQ, writer, re-sync, index custom
 * resource); the batcher sends every change to every index, and each writer upserts an item its filter
 * matches and deletes one it does not (the routing rule).
 */
export interface TypesenseSyncIndex {
  /** The alias this index's writer writes to; distinct across the indexes. */
  readonly collection: string;
  /** As `typesense.schema`, for this index. @default adopt the existing alias as it is */
  readonly schema?: CollectionSchema;
  /** Which items this index holds and which of their attributes become fields. @default all, as they are */
  readonly projection?: TypesenseSyncProjection;
  /** Computes each of this index's documents from the projected one. @default none */
  readonly transform?: TypesenseSyncTransform;
  /** One document per partition key for this index, as the top-level `aggregate`. @default none */
  readonly aggregate?: AggregateConfig;
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
  /**
   * Several indexes of the table, at most 5 (an EventBridge rule, which starts every index's re-sync on a
   * stream gap, has at most 5 targets). The first keeps the construct ids of a single-index sync. Without
   * it, `typesense.collection`, `typesense.schema`, `projection`, `transform` and `aggregate` are the one index.
   * @default one index, from the top-level props
   */
  readonly indexes?: TypesenseSyncIndex[];
  /** Which items are indexed and which of their attributes become document fields. Default: all. */
  readonly projection?: TypesenseSyncProjection;
  /** Computes each document from the projected one, or leaves the item out. @default none */
  readonly transform?: TypesenseSyncTransform;
  /**
   * One document per partition key, built from the partition's items (docs/configuration.md
   * "Aggregation"): a parent item plus child arrays, by sort-key prefix. Needs a sort key. @default none
   */
  readonly aggregate?: AggregateConfig;
  /**
   * FIFO message groups keys are hashed into: the writer's maximum parallelism. Fewer groups make
   * fuller messages (bench P1: 16 groups bill 1.9× the byte-count lower bound of SQS requests, 4 groups
   * 1.3×, 2 groups 1.2×). Changing it on a deployed stack moves keys to other groups: let the changes
   * queue drain first, or two changes of a key may be applied at once. @default 4
   */
  readonly messageGroupBuckets?: number;
  /** Changes queue maximum message size, 8192..1048576. @default 262144 */
  readonly maxMessageBytes?: number;
  /** @default Duration.seconds(30) */
  readonly writerTimeout?: Duration;
  /**
   * Receives of one changes message before SQS moves it to the DLQ. Also passed to the writer, which
   * re-sends a message failing for a retryable reason before it reaches this limit. 3..1000 (below 3
   * the re-send would loop without backoff). @default 10
   */
  readonly maxReceiveCount?: number;
  /** Writer backoff for retryable failures. @default the writer's defaults */
  readonly retry?: TypesenseSyncRetryProps;
  /** Writer circuit breaker around Typesense. @default the writer's defaults */
  readonly circuitBreaker?: TypesenseSyncCircuitBreakerProps;
  /**
   * Records per batcher invocation at most (the stream event source's `BatchSize`), 1..10000. Lambda
   * also stops at its 6 MB invocation payload, so with large items the window and that limit decide.
   * @default 10000
   */
  readonly streamBatchSize?: number;
  /**
   * How long the stream event source gathers records before invoking the batcher unless the batch fills
   * first (`MaximumBatchingWindowInSeconds`): whole seconds, 0..300. Fuller batches mean fuller SQS
   * messages (fewer billed requests); every change may wait up to this long. With
   * `parallelizationFactor` > 1 each concurrent batch of a shard gathers for its own window. None by
   * default (lag first); at a steady few hundred writes/s, 1 s cuts SQS requests up to 4× for ≤ 1 s
   * more lag (bench P1 in bench/RESULTS.md).
   * @default Duration.seconds(0)
   */
  readonly streamMaxBatchingWindow?: Duration;
  /** @default Duration.days(1) */
  readonly streamMaxRecordAge?: Duration;
  /** @default 10 */
  readonly streamRetryAttempts?: number;
  /** Concurrent batcher invocations per stream shard, 1..10. @default 1 */
  readonly parallelizationFactor?: number;
  /** Item attribute holding a precise change time (ms epoch number or ISO string). */
  readonly sourceTimestampAttribute?: string;
  /**
   * Bucket receiving stream batches the batcher failed to process (after the retry attempts or the
   * maximum record age): the S3 on-failure destination, which gets the full records, not only
   * metadata. Mutually exclusive with `failureRetention`. @default a new bucket
   */
  readonly existingFailureBucketObj?: s3.IBucket;
  /** How long the created failure bucket keeps failed batches. Whole days. @default Duration.days(30) */
  readonly failureRetention?: Duration;
  /** Full re-sync tuning and triggers. @default see TypesenseSyncResyncProps */
  readonly resync?: TypesenseSyncResyncProps;
  /**
   * Schema of the collections a re-sync creates. @default the live collection's schema
   * @deprecated use `typesense.schema`, which also creates and migrates the index on deploy; the two
   * cannot be combined.
   */
  readonly collectionSchema?: TypesenseSyncCollectionSchema;
  /** The CloudWatch namespace of every function's EMF metrics. @default 'TypesenseSync' */
  readonly metricsNamespace?: string;
  /** The scheduled lag check. @default see TypesenseSyncLagCheckProps */
  readonly lagCheck?: TypesenseSyncLagCheckProps;
  /** The ingestion-delay endpoint (see `grantIngestionDelayRead`). @default see TypesenseSyncIngestionDelayEndpointProps */
  readonly ingestionDelayEndpoint?: TypesenseSyncIngestionDelayEndpointProps;
  /** @default a name CloudFormation generates */
  readonly dashboardName?: string;
  /** Alarm notifications and thresholds. @default see TypesenseSyncAlarmsProps */
  readonly alarms?: TypesenseSyncAlarmsProps;
  /**
   * Also sync a MongoDB collection, through an Atlas Database Trigger's EventBridge events mirrored
   * into the table (keyed by `_id`). See README, "MongoDB Atlas source". @default no Atlas source
   */
  readonly mongoAtlas?: TypesenseSyncMongoAtlasProps;
  /**
   * A customer managed KMS key for every queue (changes, re-sync work and both DLQs, and the Atlas ingest
   * queue and its DLQ), the created tables (with the Atlas versions table), the created failure bucket,
   * every function's log group, the Atlas partner event bus and a created alarms topic; each function is
   * granted only the use of it its resources need. The key policy must let EventBridge (the rules' target
   * queues, the partner bus), CloudWatch Logs and CloudWatch alarms use it: added to a key defined in the
   * same app, to be added by hand to an imported key (synth warnings say what). @default SQS-managed SSE,
   * AWS managed table keys, S3-managed bucket encryption, CloudWatch Logs' and EventBridge's own keys
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Overrides of the changes queue's props. Rejected: `fifo: false`, `deadLetterQueue`, `encryption`
   * and `encryptionMasterKey` (use `encryptionKey`), `enforceSSL: false`, `maxMessageSizeBytes` (use
   * `maxMessageBytes`), a `retentionPeriod` other than 14 days and a `visibilityTimeout` shorter than
   * 6 × `writerTimeout`. @default see the README
   */
  readonly queueProps?: Partial<sqs.QueueProps>;
  /**
   * Overrides of the changes DLQ's props. Rejected: `fifo: false`, `deadLetterQueue`, `encryption`
   * and `encryptionMasterKey` (use `encryptionKey`) and `enforceSSL: false`. @default FIFO, 14 days
   */
  readonly deadLetterQueueProps?: Partial<sqs.QueueProps>;
  /** Writer concurrency. @default no cap, none reserved */
  readonly writer?: TypesenseSyncWriterProps;
  /** Batcher concurrency. @default none reserved */
  readonly batcher?: TypesenseSyncBatcherProps;
  /** Runs the writer, re-sync and lag check in a VPC. @default no VPC */
  readonly vpc?: TypesenseSyncVpcProps;
  /** Retention of every function's log group. @default one month */
  readonly logRetention?: logs.RetentionDays;
}
