import {
  type DynamoDBClient,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { AtlasIngestPorts } from '../core/atlas-change.ts';
import {
  type ApplyOutcome,
  ATLAS_KEY_ATTRIBUTE,
  type AtlasChange,
  AtlasEventError,
} from '../core/atlas-change.ts';
import { SyncError } from '../core/errors.ts';
import { sendDeadLetters, sendJsonMessages } from './aws.ts';
import type { AtlasIngestConfig } from './config.ts';

/** The Atlas ingest's adapters to DynamoDB, SQS and CloudWatch; the logic lives in core/atlas-change.ts. */

export interface AtlasTables {
  /** The mirror: the source table of the pipeline, keyed by `_id`. */
  mirrorTable: string;
  /** The last applied version of each document id. */
  versionsTable: string;
  /** How long a version is kept after its document's last event (DynamoDB TTL). */
  versionTtlSeconds: number;
}

/**
 * One event as one transaction: raise the document's version only if the event is newer (the
 * condition is `isNewer` in DynamoDB's words), and write the mirror item (Put, or Delete for a delete)
 * in the same step, so the version and the item can never disagree. The version of a deleted document
 * stays behind as its tombstone: a late, older update then fails the condition instead of reviving it.
 */
export function atlasTransaction(
  change: AtlasChange,
  tables: AtlasTables,
  nowMs: number,
): TransactWriteItemsCommandInput {
  const key = { S: change.id };
  return {
    TransactItems: [
      {
        Update: {
          TableName: tables.versionsTable,
          Key: { id: key },
          UpdateExpression:
            'SET clusterTime = :t, eventToken = :token, deleted = :deleted, expiresAt = :expires',
          ConditionExpression:
            'attribute_not_exists(clusterTime) OR clusterTime < :t OR (clusterTime = :t AND eventToken < :token)',
          ExpressionAttributeValues: {
            ':t': { N: change.version.clusterTime.toString() },
            ':token': { S: change.version.token },
            ':deleted': { BOOL: change.operation === 'delete' },
            ':expires': { N: String(Math.floor(nowMs / 1000) + tables.versionTtlSeconds) },
          },
        },
      },
      change.item === undefined
        ? { Delete: { TableName: tables.mirrorTable, Key: { [ATLAS_KEY_ATTRIBUTE]: key } } }
        : { Put: { TableName: tables.mirrorTable, Item: change.item } },
    ],
  };
}

interface CancellationReason {
  Code?: string;
  Message?: string;
}

/**
 * `apply` for the ingest core. A transaction cancelled by the version condition is a stale or
 * duplicate event; one cancelled because DynamoDB refuses the mirror item is a dead letter; anything
 * else (a conflict with a concurrent event of the same document, throttling) is thrown and retried.
 */
export function applyAtlasChange(
  dynamodb: DynamoDBClient,
  tables: AtlasTables,
  now: () => number = Date.now,
) {
  return async (change: AtlasChange): Promise<ApplyOutcome> => {
    try {
      await dynamodb.send(new TransactWriteItemsCommand(atlasTransaction(change, tables, now())));
      return 'applied';
    } catch (error) {
      // By name: DynamoDB Local and the SDK's own class both set it.
      if ((error as Error).name !== 'TransactionCanceledException') throw error;
      const [version, mirror] = ((error as { CancellationReasons?: CancellationReason[] })
        .CancellationReasons ?? []) as (CancellationReason | undefined)[];
      if (version?.Code === 'ConditionalCheckFailed') return 'stale';
      if (mirror?.Code === 'ValidationError')
        throw new AtlasEventError(
          'rejected-by-dynamodb',
          `DynamoDB refused the mirror item: ${mirror.Message ?? 'validation error'}`,
          change.reference,
          change.id,
        );
      throw error;
    }
  };
}

/** The Atlas ingest function's adapters, for the mirror, versions table and DLQ its config names. */
export function atlasIngestAdapters(
  clients: { dynamodb: DynamoDBClient; sqs: SQSClient },
  config: AtlasIngestConfig,
): AtlasIngestPorts {
  return {
    apply: applyAtlasChange(clients.dynamodb, {
      mirrorTable: config.TABLE_NAME,
      versionsTable: config.ATLAS_VERSIONS_TABLE,
      versionTtlSeconds: config.ATLAS_VERSION_TTL_DAYS * 86_400,
    }),
    sendDeadLetters: sendDeadLetters(clients.sqs, config.DLQ_URL),
    now: Date.now,
  };
}

/** Thrown when the ingest queue refused some of the events sent to it. */
export class AtlasEventSendError extends SyncError {
  override name = 'AtlasEventSendError';
}

/**
 * Sends EventBridge events to the ingest queue exactly as an EventBridge SQS target does (the body is
 * the whole event), 10 per call: for the embedded stack and for a one-off backfill.
 */
export function sendEventBridgeEvents(sqs: SQSClient, queueUrl: string) {
  return async (events: readonly unknown[]): Promise<void> => {
    // One send each, as before: a refused event is the caller's to re-send.
    const refused = await sendJsonMessages(sqs, queueUrl, events, { attempts: 1 });
    if (refused > 0) throw new AtlasEventSendError(`${refused} events were refused by the ingest queue`);
  };
}
