import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { Context, SQSRecord } from 'aws-lambda';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import type { ChangeMessage } from '../../functions/core/change.ts';
import { parseChangeMessage } from '../../functions/core/pack.ts';
import { QueuePoller } from './queue-poller.ts';
import type { s3FailureDestination } from './s3-failure-destination.ts';
import type { FunctionClients, IndexFunctions, LocalFunctions } from './stack-functions.ts';
import { ACCOUNT_ID, type LocalStackOptions, REGION } from './stack-options.ts';
import { StreamPoller } from './stream-poller.ts';

/**
 * The event source mappings of the embedded stack: a stream poller driving the batcher, queue pollers
 * driving the writer, the re-sync and (with `atlas`) the Atlas ingest, and the live figures the
 * status page and the local ingestion-delay endpoint read from what they see.
 */

/** Like Lambda's: the time left counts down from the invocation's start to the function's timeout. */
export function lambdaContext(name: string, timeoutMs = 60_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    functionName: name,
    awsRequestId: `local-${Date.now()}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as unknown as Context;
}

/** What the pollers saw: the counts and delays behind the local status. */
export class LiveFigures {
  changesSeen = 0;
  changesApplied = 0;
  private readonly recentDelays: { at: number; delayMs: number }[] = [];
  /** Per received message not yet finished: the oldest precise source time of its changes. */
  private readonly unfinished = new Map<string, number>();

  readonly onReceive = (records: SQSRecord[]) => {
    for (const record of records) {
      const message = parseChangeMessage(record.body);
      const precise = (message?.changes ?? []).filter((change) => change.clock === 'item');
      const oldest = Math.min(...precise.map((change) => change.sourceTs));
      if (Number.isFinite(oldest)) this.unfinished.set(record.messageId, oldest);
    }
  };

  readonly onDone = (records: SQSRecord[], doneAt: number) => {
    for (const record of records) {
      this.unfinished.delete(record.messageId);
      const message: ChangeMessage | undefined = parseChangeMessage(record.body);
      for (const change of message?.changes ?? []) {
        this.changesApplied++;
        // Only item clocks are precise enough for a live figure (DynamoDB Local floors stream times to the minute).
        if (change.clock === 'item')
          this.recentDelays.push({ at: doneAt, delayMs: doneAt - change.sourceTs });
      }
    }
    while ((this.recentDelays[0]?.at ?? doneAt) < doneAt - 1_000) this.recentDelays.shift();
  };

  /** The largest ingestion delay over the last second of applies. */
  lagMs(now: number): number | undefined {
    const recent = this.recentDelays.filter(({ at }) => at >= now - 1_000);
    return recent.length === 0 ? undefined : Math.max(...recent.map(({ delayMs }) => delayMs));
  }

  oldestPendingAgeMs(now: number): number | undefined {
    return this.unfinished.size === 0 ? undefined : now - Math.min(...this.unfinished.values());
  }
}

export interface PollerSources {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  tableName: string;
  queueUrl: string;
  resyncQueueUrl: string;
  /** With `atlas`: the ingest queue. */
  ingestQueueUrl: string | undefined;
  failures: ReturnType<typeof s3FailureDestination>;
}

export interface LocalPollers {
  streamPoller: StreamPoller;
  queuePoller: QueuePoller;
  resyncPoller: QueuePoller;
  atlasPoller: QueuePoller | undefined;
  figures: LiveFigures;
  /** The first index's own figures. */
  indexFigures: LiveFigures;
}

/** The pollers over the functions, not yet started. They receive and delete with each function's role. */
export function createPollers(
  options: LocalStackOptions,
  sources: PollerSources,
  functions: LocalFunctions,
  roleClients: FunctionClients,
): LocalPollers {
  const figures = new LiveFigures();
  const faults = options.pollerFaults === undefined ? {} : { faults: options.pollerFaults };
  const streamPoller = new StreamPoller({
    streams: sources.streams,
    streamArn: sources.streamArn,
    region: REGION,
    // The construct's event source defaults, so the embedded stack batches as a deployed one does.
    batchSize: options.streamBatchSize ?? DEFAULTS.streamBatchSize,
    maxBatchingWindowMs:
      1_000 * (options.streamMaxBatchingWindowSeconds ?? DEFAULTS.streamBatchingWindowSeconds),
    onFailure: sources.failures.onFailure,
    ...faults,
    handler: async (event) => {
      const response = await functions.batcher.handler(event, lambdaContext('batcher'));
      const failedFrom = response?.batchItemFailures[0]?.itemIdentifier;
      const index = event.Records.findIndex((record) => record.dynamodb?.SequenceNumber === failedFrom);
      figures.changesSeen += index < 0 ? event.Records.length : index;
      return response;
    },
  });
  const { queuePoller, resyncPoller, indexFigures } = indexPollers(
    options,
    { queueUrl: sources.queueUrl, resyncQueueUrl: sources.resyncQueueUrl, prefix: sources.tableName },
    functions,
    roleClients,
    figures,
  );
  const { atlasIngest } = functions;
  const atlasPoller =
    atlasIngest === undefined || sources.ingestQueueUrl === undefined
      ? undefined
      : new QueuePoller({
          sqs: roleClients.sqs('atlasIngest'),
          queueUrl: sources.ingestQueueUrl,
          queueArn: queueArnOf(`${sources.tableName}-atlas-ingest`),
          region: REGION,
          handler: (event) => atlasIngest.handler(event, lambdaContext('atlas-ingest')),
          ...faults,
        });
  return { streamPoller, queuePoller, resyncPoller, atlasPoller, figures, indexFigures };
}

const queueArnOf = (queueName: string) => `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${queueName}`;

/**
 * One index's event source mappings: its changes queue driving its writer, its work queue its re-sync, each
 * receiving and deleting with that function's role (`writer:<alias>`… for a further index, named by `role`).
 * Their queues are named after `prefix` (stack-resources.ts). What the writer poller sees is counted both in
 * the stack's `figures` and in the index's own `indexFigures`.
 */
export function indexPollers(
  options: LocalStackOptions,
  sources: { queueUrl: string; resyncQueueUrl: string; prefix: string },
  functions: IndexFunctions,
  roleClients: FunctionClients,
  figures: LiveFigures,
  role?: string,
): { queuePoller: QueuePoller; resyncPoller: QueuePoller; indexFigures: LiveFigures } {
  const indexFigures = new LiveFigures();
  const faults = options.pollerFaults === undefined ? {} : { faults: options.pollerFaults };
  const nameOf = (kind: 'writer' | 'resync') => (role === undefined ? kind : (`${kind}:${role}` as const));
  const queuePoller = new QueuePoller({
    sqs: roleClients.sqs(nameOf('writer')),
    queueUrl: sources.queueUrl,
    queueArn: queueArnOf(`${sources.prefix}-changes.fifo`),
    region: REGION,
    handler: (event) => functions.writer.handler(event, lambdaContext(nameOf('writer'))),
    concurrency: options.writerConcurrency ?? 2,
    ...faults,
    onReceive: (records) => {
      figures.onReceive(records);
      indexFigures.onReceive(records);
    },
    onDone: (records, doneAt) => {
      figures.onDone(records, doneAt);
      indexFigures.onDone(records, doneAt);
    },
  });
  const resyncTimeoutMs = (options.resync?.timeoutSeconds ?? 60) * 1000;
  const resyncPoller = new QueuePoller({
    sqs: roleClients.sqs(nameOf('resync')),
    queueUrl: sources.resyncQueueUrl,
    queueArn: queueArnOf(`${sources.prefix}-resync`),
    region: REGION,
    // The deployed mapping's batch size: one task per invocation.
    batchSize: 1,
    handler: (event) => functions.resync.handler(event, lambdaContext(nameOf('resync'), resyncTimeoutMs)),
    concurrency: options.resync?.workers ?? 2,
  });
  return { queuePoller, resyncPoller, indexFigures };
}
