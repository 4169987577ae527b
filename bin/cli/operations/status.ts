import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { FINISHED_PHASES } from '../../../functions/core/resync.ts';
import { queueDepth } from '../../../functions/shared/aws.ts';
import { fetchIngestionDelay, type IngestionDelay } from './lag.ts';
import { resyncStatus } from './resync.ts';
import type { Connection } from './target.ts';

export interface PipelineStatus {
  table: {
    name: string;
    status: string | undefined;
    approximateItems: number | undefined;
    stream: string | undefined;
  };
  queue: Awaited<ReturnType<typeof queueDepth>>;
  dlq: Awaited<ReturnType<typeof queueDepth>>;
  /** Stream batches in the failure bucket, waiting for `replay-stream-failures` (1000 means "at least"). */
  streamFailures: number | undefined;
  typesense: {
    healthy: boolean;
    alias: string;
    collection: string | undefined;
    documents: number | undefined;
    error?: string;
    /** While the alias does not exist yet: the first load whose swap creates it. */
    firstLoad?: { jobId: string; collection: string; scanned: number };
  };
  lag: IngestionDelay | { unknown: string };
  /** Everything looks right: Typesense healthy, nothing dead-lettered, no failed stream batches. */
  healthy: boolean;
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** One look at every part of the pipeline; a part that cannot be reached says why instead of failing the rest. */
export async function pipelineStatus(connection: Connection): Promise<PipelineStatus> {
  const { dynamodb, sqs, s3, typesense, target } = connection;
  const [table, queue, dlq, streamFailures, typesenseStatus, lag] = await Promise.all([
    dynamodb.send(new DescribeTableCommand({ TableName: target.tableName })).then(({ Table }) => ({
      name: target.tableName,
      status: Table?.TableStatus,
      approximateItems: Table?.ItemCount,
      stream:
        Table?.StreamSpecification?.StreamEnabled === true
          ? Table.StreamSpecification.StreamViewType
          : undefined,
    })),
    queueDepth(sqs, target.queueUrl),
    queueDepth(sqs, target.dlqUrl),
    target.failureBucket === undefined
      ? Promise.resolve(undefined)
      : s3
          .send(new ListObjectsV2Command({ Bucket: target.failureBucket, MaxKeys: 1000 }))
          .then(({ KeyCount }) => KeyCount ?? 0),
    (async () => {
      const alias = target.typesense.collection;
      const healthy = await typesense.health();
      try {
        const collection = (await typesense.getAlias(alias))?.collection_name ?? alias;
        const info = await typesense.getCollection(collection);
        return { healthy, alias, collection: info?.name, documents: info?.num_documents };
      } catch (error) {
        return { healthy, alias, collection: undefined, documents: undefined, error: reasonOf(error) };
      }
    })(),
    target.ingestionDelayUrl === undefined
      ? Promise.resolve({ unknown: 'lag unknown: the target names no ingestion-delay endpoint' })
      : fetchIngestionDelay(
          target.ingestionDelayUrl,
          connection.profile === undefined ? {} : { profile: connection.profile },
        ).catch((error: unknown) => ({
          unknown: reasonOf(error),
        })),
  ]);
  const firstLoad = typesenseStatus.collection === undefined ? await runningFirstLoad(connection) : undefined;
  return {
    table,
    queue,
    dlq,
    streamFailures,
    typesense: firstLoad === undefined ? typesenseStatus : { ...typesenseStatus, firstLoad },
    lag,
    healthy:
      typesenseStatus.healthy &&
      // Before its first load swaps, the alias is missing by design.
      (typesenseStatus.collection !== undefined || firstLoad !== undefined) &&
      dlq.total === 0 &&
      (streamFailures ?? 0) === 0,
  };
}

/** The running first load, when the target names the re-sync state; undefined otherwise. */
async function runningFirstLoad(connection: Connection): Promise<PipelineStatus['typesense']['firstLoad']> {
  if (connection.target.resync === undefined) return undefined;
  const progress = await resyncStatus(connection).catch(() => undefined);
  if (progress === undefined || progress.job.firstLoad !== true || FINISHED_PHASES.has(progress.job.phase))
    return undefined;
  return { jobId: progress.job.jobId, collection: progress.job.collection, scanned: progress.scanned };
}
