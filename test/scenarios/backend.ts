import { type Connection, connect, loadTarget } from '../../bin/cli/operations/target.ts';
import { canaryCollectionOf } from '../../functions/core/canary.ts';
import { queueDepth } from '../../functions/shared/aws.ts';
import { canaryPorts } from '../../functions/shared/lag-check-adapters.ts';
import { waitFor } from '../../infra/local/processes.ts';

/**
 * One running pipeline the shared scenarios (`test/scenarios/`) drive: the embedded stack, or the
 * real CDK app deployed to LocalStack. Everything goes through what an operator has, the target:
 * the scenarios write items to the table, read the index, and run the operator CLI on the target file.
 */
export interface SyncBackend {
  /** Names the backend in test titles and failure messages. */
  readonly name: string;
  /**
   * The pipeline's clients and target as this process reaches it (`connection.target` holds the
   * table, key attributes, queues and the alias as `typesense.collection`).
   */
  readonly connection: Connection;
  /** The same target as a file, for the operator CLI's `--target`. */
  readonly targetFile: string;
  /** Resolves once every change made so far has been through the pipeline; throws after `timeoutMs`. */
  settle(): Promise<void>;
  /** How long a scenario waits for any one condition: seconds on the embedded stack, minutes on LocalStack. */
  readonly timeoutMs: number;
}

/** Opens a backend on a target file; `settle` defaults to `drainPipeline`. */
export async function openBackend(options: {
  name: string;
  targetFile: string;
  timeoutMs: number;
  settle?: () => Promise<void>;
}): Promise<SyncBackend & { close(): void }> {
  const connection = connect(await loadTarget({ targetFile: options.targetFile }));
  return {
    name: options.name,
    connection,
    targetFile: options.targetFile,
    timeoutMs: options.timeoutMs,
    settle: options.settle ?? (() => drainPipeline(connection, options.timeoutMs)),
    close: () => connection.close(),
  };
}

/**
 * Waits until a deployed pipeline has applied every change made before the call, seen from outside
 * as its own lag check sees it: a canary item written now must reach the index, so the batcher has
 * read the stream past every earlier record (a shard is read in order, and a test table's stream has
 * one shard); then the changes and re-sync queues must be empty, nothing in flight or delayed.
 */
export async function drainPipeline(connection: Connection, timeoutMs: number): Promise<void> {
  const { target, dynamodb, typesense, sqs } = connection;
  const alias = target.typesense.collection;
  const canary = canaryPorts({
    dynamodb,
    typesense,
    tableName: target.tableName,
    keyAttributes: target.keyAttributes,
    alias,
    ...(target.sourceTimestampAttribute === undefined
      ? {}
      : { sourceTimestampAttribute: target.sourceTimestampAttribute }),
  });
  // The deployed lag check creates the same collection once a minute: losing that race is fine.
  await canary.prepareCanary().catch(async (error: unknown) => {
    if ((await typesense.getCollection(canaryCollectionOf(alias))) === undefined) throw error;
  });
  const sentAt = Date.now();
  await canary.writeCanary(sentAt);
  await waitFor(
    'the canary to reach the index',
    async () => ((await canary.readCanary()) ?? 0) >= sentAt,
    timeoutMs,
    500,
  );
  const queues = [target.queueUrl, ...(target.resync === undefined ? [] : [target.resync.queueUrl])];
  await waitFor(
    'the changes and re-sync queues to drain',
    async () => {
      const depths = await Promise.all(queues.map((queueUrl) => queueDepth(sqs, queueUrl)));
      return depths.every(({ total }) => total === 0);
    },
    timeoutMs,
    500,
  );
}
