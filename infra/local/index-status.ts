import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { FINISHED_PHASES, resyncProgress } from '../../functions/core/resync.ts';
import { queueDepth } from '../../functions/shared/aws.ts';
import { dynamoResyncStore } from '../../functions/shared/resync-store.ts';
import type { TypesenseClient } from '../../functions/shared/typesense.ts';
import type { LocalIndex, LocalIndexStatus, LocalStatus } from './stack-options.ts';

/** The embedded stack's figures of one index: what the status page shows per index (issue 20, item 3). */

/** The re-sync running on the state table, if any: a first load (the alias appears at its swap) or a migration. */
async function runningLoad(
  dynamodb: DynamoDBClient,
  stateTable: string,
  now: number,
): Promise<LocalStatus['load']> {
  const progress = await resyncProgress(dynamoResyncStore(dynamodb, stateTable), now).catch(() => undefined);
  if (progress === undefined || FINISHED_PHASES.has(progress.job.phase)) return undefined;
  const { job, scanned } = progress;
  return {
    jobId: job.jobId,
    firstLoad: job.firstLoad === true,
    phase: job.phase,
    scanned,
    ...(job.estimatedItems === undefined ? {} : { estimatedItems: job.estimatedItems }),
  };
}

/** One index's documents, queues, writer figures and running re-sync. */
export async function indexStatusOf(
  clients: { dynamodb: DynamoDBClient; sqs: SQSClient; typesense: TypesenseClient },
  index: Pick<
    LocalIndex,
    'alias' | 'queueUrl' | 'dlqUrl' | 'resyncStateTable' | 'indexFigures' | 'functions'
  >,
  now: number,
): Promise<LocalIndexStatus> {
  const [collection, pending, dlq, load] = await Promise.all([
    // Unknown while Typesense is unreachable (the chaos runs read the status through outages).
    clients.typesense
      .getCollection(index.alias)
      .then(
        (collection) => ({ documents: collection?.num_documents ?? 0 }),
        () => ({ documents: undefined }),
      ),
    queueDepth(clients.sqs, index.queueUrl),
    queueDepth(clients.sqs, index.dlqUrl),
    runningLoad(clients.dynamodb, index.resyncStateTable, now),
  ]);
  return {
    alias: index.alias,
    // 0 before its first load's swap: the alias names no collection yet.
    documents: collection.documents,
    changesApplied: index.indexFigures.changesApplied,
    pendingMessages: pending.total,
    dlqDepth: dlq.total,
    lagMs: index.indexFigures.lagMs(now),
    oldestPendingAgeMs: index.indexFigures.oldestPendingAgeMs(now),
    circuit: index.functions.writer.handler.breaker.state,
    ...(load === undefined ? {} : { load }),
  };
}
