import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { AdaptiveTimeout } from '../core/adaptive-timeout.ts';
import { canaryCollectionOf } from '../core/canary.ts';
import type { WriteLease } from '../core/write-batch/lease.ts';
import type { WriterPorts } from '../core/write-batch.ts';
import {
  changeVisibility,
  readItemsConsistently,
  readPartitionConsistently,
  sendDeadLetters,
  sendPackedMessages,
} from './aws.ts';
import type { WriterConfig } from './config.ts';
import { dynamoResyncStore } from './resync-store.ts';
import type { CallOptions, TypesenseClient } from './typesense.ts';
import { importTimeoutWithin } from './typesense-client.ts';
import { isTimeout } from './typesense-errors.ts';
import { IMPORT_TIMEOUT_MS } from './typesense-nodes.ts';

/** The writer's clients: one set per Lambda instance, or per function on the embedded stack. */
export interface WriterClients {
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  typesense: TypesenseClient;
}

/**
 * The writer's adapters from its core's ports to DynamoDB, SQS and Typesense, for the resources its
 * config names. The re-sync ports are present only when a re-sync state table is configured.
 */
export function writerAdapters(clients: WriterClients, config: WriterConfig): WriterPorts {
  const { dynamodb, sqs, typesense } = clients;
  /** An import may run until shortly before its invocation ends (the core passes what remains of it). */
  const importCall = (remainingMs: number | undefined) =>
    remainingMs === undefined
      ? {}
      : { timeoutMs: importTimeoutWithin(remainingMs, config.TYPESENSE_IMPORT_TIMEOUT_MS) };
  const liveImportCeiling = (remainingMs: number | undefined) =>
    importCall(remainingMs).timeoutMs ?? config.TYPESENSE_IMPORT_TIMEOUT_MS ?? IMPORT_TIMEOUT_MS;
  /** An upsert outside the live collection's adaptive timeout (canaries, the re-sync's collection). */
  const leasedUpsert = async (
    collection: string,
    lines: string[],
    remainingMs?: number,
    lease?: WriteLease,
  ) =>
    typesense.importDocuments(
      collection,
      lines,
      'upsert',
      await leasedCall(liveImportCeiling(remainingMs), lease),
    );
  const liveImports = timedWrites(new AdaptiveTimeout());
  const liveDeletes = timedWrites(new AdaptiveTimeout());
  const resyncStore =
    config.RESYNC_STATE_TABLE === undefined
      ? undefined
      : dynamoResyncStore(dynamodb, config.RESYNC_STATE_TABLE);
  return {
    readItems: readItemsConsistently(dynamodb, config.TABLE_NAME),
    ...(config.AGGREGATE === undefined
      ? {}
      : { readPartition: readPartitionConsistently(dynamodb, config.TABLE_NAME) }),
    importDocuments: (lines: string[], remainingMs?: number, lease?: WriteLease) =>
      liveImports(lines.length, liveImportCeiling(remainingMs), lease, (call) =>
        typesense.importDocuments(config.TYPESENSE_COLLECTION, lines, 'upsert', call),
      ),
    deleteDocuments: (ids: string[], lease?: WriteLease) =>
      liveDeletes(ids.length, config.TYPESENSE_TIMEOUT_MS, lease, (call) =>
        typesense.deleteByIds(config.TYPESENSE_COLLECTION, ids, call),
      ),
    importCanaries: (lines: string[], remainingMs?: number, lease?: WriteLease) =>
      leasedUpsert(canaryCollectionOf(config.TYPESENSE_COLLECTION), lines, remainingMs, lease),
    sendDeadLetters: sendDeadLetters(sqs, config.DLQ_URL),
    health: () => typesense.health(),
    changeVisibility: changeVisibility(sqs, config.QUEUE_URL),
    requeue: sendPackedMessages(sqs, config.QUEUE_URL),
    ...(resyncStore === undefined
      ? {}
      : {
          resync: {
            active: () => resyncStore.active(),
            importDocuments: leasedUpsert,
            deleteDocuments: async (collection: string, ids: string[], lease?: WriteLease) =>
              typesense.deleteByIds(collection, ids, await leasedCall(config.TYPESENSE_TIMEOUT_MS, lease)),
            recordDeletes: resyncStore.recordDeletes,
            recordRejections: resyncStore.recordRejections,
            clearRejections: resyncStore.clearRejections,
          },
        }),
    now: Date.now,
  };
}

/**
 * A write's bounds: `wantedMs`, or less when the batch's visibility lease cannot give that much; under
 * a lease no request of the call is sent after its time (the lease ends half a lease later).
 */
async function leasedCall(wantedMs: number, lease: WriteLease | undefined): Promise<CallOptions> {
  if (lease === undefined) return { timeoutMs: wantedMs };
  const timeoutMs = await lease.window(wantedMs);
  return { timeoutMs, sendBy: Date.now() + timeoutMs };
}

/**
 * Live writes under an adaptive timeout (core/adaptive-timeout.ts): each request of `size` lines or ids
 * gets ~10× the recent latency, at most `ceilingMs` (and what the lease gives); its success or timeout
 * adapts the next ones.
 */
function timedWrites(timeout: AdaptiveTimeout) {
  return async <T>(
    size: number,
    ceilingMs: number,
    lease: WriteLease | undefined,
    write: (call: CallOptions) => Promise<T>,
  ): Promise<T> => {
    const call = await leasedCall(timeout.timeoutMs(size, ceilingMs), lease);
    const startedAt = Date.now();
    try {
      const result = await write(call);
      timeout.succeeded(Date.now() - startedAt, size);
      return result;
    } catch (error) {
      if (isTimeout(error)) timeout.timedOut();
      throw error;
    }
  };
}
