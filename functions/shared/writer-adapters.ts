import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { canaryCollectionOf } from '../core/canary.ts';
import type { WriterPorts } from '../core/write-batch.ts';
import { changeVisibility, readItemsConsistently, sendDeadLetters, sendPackedMessages } from './aws.ts';
import type { WriterConfig } from './config.ts';
import { dynamoResyncStore } from './resync-store.ts';
import type { TypesenseClient } from './typesense.ts';
import { importTimeoutWithin } from './typesense-client.ts';

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
  const resyncStore =
    config.RESYNC_STATE_TABLE === undefined
      ? undefined
      : dynamoResyncStore(dynamodb, config.RESYNC_STATE_TABLE);
  return {
    readItems: readItemsConsistently(dynamodb, config.TABLE_NAME),
    importDocuments: (lines: string[], remainingMs?: number) =>
      typesense.importDocuments(config.TYPESENSE_COLLECTION, lines, 'upsert', importCall(remainingMs)),
    deleteDocuments: (ids: string[]) => typesense.deleteByIds(config.TYPESENSE_COLLECTION, ids),
    importCanaries: (lines: string[], remainingMs?: number) =>
      typesense.importDocuments(
        canaryCollectionOf(config.TYPESENSE_COLLECTION),
        lines,
        'upsert',
        importCall(remainingMs),
      ),
    sendDeadLetters: sendDeadLetters(sqs, config.DLQ_URL),
    health: () => typesense.health(),
    changeVisibility: changeVisibility(sqs, config.QUEUE_URL),
    requeue: sendPackedMessages(sqs, config.QUEUE_URL),
    ...(resyncStore === undefined
      ? {}
      : {
          resync: {
            active: () => resyncStore.active(),
            importDocuments: (collection: string, lines: string[], remainingMs?: number) =>
              typesense.importDocuments(collection, lines, 'upsert', importCall(remainingMs)),
            deleteDocuments: (collection: string, ids: string[]) => typesense.deleteByIds(collection, ids),
            recordDeletes: resyncStore.recordDeletes,
            recordRejections: resyncStore.recordRejections,
            clearRejections: resyncStore.clearRejections,
          },
        }),
    now: Date.now,
  };
}
