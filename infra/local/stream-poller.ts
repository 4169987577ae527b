import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { sleep } from './processes.ts';
import type { PollerFaults } from './queue-poller.ts';

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;

export interface StreamPollerOptions {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  region: string;
  handler: StreamHandler;
  /** Lambda's `BatchSize` for the DynamoDB event source (default 100). */
  batchSize?: number;
  /** Lambda's `MaximumRetryAttempts` (default 10). */
  retryAttempts?: number;
  /** Lambda's `BisectBatchOnFunctionError` (default true). */
  bisectOnError?: boolean;
  pollIntervalMs?: number;
  /** Records given up on after the retries, as Lambda's on-failure destination would receive them. */
  onFailure?: (records: DynamoDBRecord[], reason: string, shardId: string) => void;
  /** `crashAfterInvokeRate`: the batch was handled but the answer lost, so Lambda retries it. */
  faults?: Pick<PollerFaults, 'random' | 'crashAfterInvokeRate'>;
  /** Where the poller reports what it recovered from (default: stderr). */
  log?: (line: string) => void;
}

/**
 * A stream record as Lambda delivers it: JSON, so binary is base64 and the creation time is epoch
 * seconds, with the event source fields Lambda adds.
 */
export function toLambdaRecord(record: StreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const json = JSON.stringify(record, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
    return value;
  });
  const parsed = JSON.parse(json) as DynamoDBRecord & { dynamodb: { ApproximateCreationDateTime?: unknown } };
  const created = record.dynamodb?.ApproximateCreationDateTime;
  if (parsed.dynamodb !== undefined && created instanceof Date) {
    parsed.dynamodb.ApproximateCreationDateTime = Math.floor(created.getTime() / 1000);
  }
  return {
    ...parsed,
    eventSource: 'aws:dynamodb',
    eventVersion: '1.1',
    awsRegion: region,
    eventSourceARN: streamArn,
  };
}

interface ShardState {
  iterator: string | undefined;
  parentId: string | undefined;
  closed: boolean;
  /** The last record handed to the handler (or given up on): where a renewed iterator resumes. */
  lastSequenceNumber?: string;
}

/** GetRecords errors after which the iterator can never be used again. */
const LOST_ITERATOR_ERRORS: ReadonlySet<string> = new Set([
  'TrimmedDataAccessException',
  'ExpiredIteratorException',
]);

/**
 * Drives a stream handler the way Lambda's DynamoDB event source mapping does: each shard in order,
 * parents before children, batches of up to BatchSize, retries with bisection on error, resumption
 * from the first failed record on a partial batch response, then the on-failure destination.
 */
export class StreamPoller {
  readonly stats = {
    invocations: 0,
    records: 0,
    failedInvocations: 0,
    recordsGivenUp: 0,
    injectedCrashes: 0,
    recordsHit: 0,
    iteratorsRenewed: 0,
  };
  private readonly shards = new Map<string, ShardState>();
  private running = false;
  private loop: Promise<void> | undefined;
  private busy = false;
  private lastPollEmpty = false;

  constructor(private readonly options: StreamPollerOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** True when the last poll of every open shard found nothing and no batch is being handled. */
  get caughtUp(): boolean {
    return this.lastPollEmpty && !this.busy;
  }

  private async discoverShards(): Promise<void> {
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.options.streams.send(
        new DescribeStreamCommand({
          StreamArn: this.options.streamArn,
          ExclusiveStartShardId: exclusiveStartShardId,
        }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        if (shard.ShardId === undefined || this.shards.has(shard.ShardId)) continue;
        const { ShardIterator } = await this.options.streams.send(
          new GetShardIteratorCommand({
            StreamArn: this.options.streamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        this.shards.set(shard.ShardId, {
          iterator: ShardIterator,
          parentId: shard.ParentShardId,
          closed: false,
        });
      }
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId !== undefined);
  }

  private async run(): Promise<void> {
    let lastDiscovery = 0;
    while (this.running) {
      if (Date.now() - lastDiscovery > 1_000) {
        await this.discoverShards().catch(() => undefined);
        lastDiscovery = Date.now();
      }
      let sawRecords = false;
      for (const [shardId, shard] of this.shards) {
        if (shard.closed || shard.iterator === undefined) continue;
        const parent = shard.parentId === undefined ? undefined : this.shards.get(shard.parentId);
        if (parent !== undefined && !parent.closed) continue;
        sawRecords = (await this.pollShard(shardId, shard)) || sawRecords;
      }
      this.lastPollEmpty = !sawRecords;
      if (!sawRecords) await sleep(this.options.pollIntervalMs ?? 100);
    }
  }

  private async pollShard(shardId: string, shard: ShardState): Promise<boolean> {
    const result = await this.options.streams
      .send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: this.options.batchSize ?? 100 }))
      .catch(async (error: unknown) => {
        // Any other error (the emulator restarting, a timeout) keeps the iterator for the next poll.
        const name = (error as Error).name;
        if (LOST_ITERATOR_ERRORS.has(name)) await this.renewIterator(shardId, shard, name);
        return undefined;
      });
    if (result === undefined) return false;
    shard.iterator = result.NextShardIterator;
    if (shard.iterator === undefined) shard.closed = true;
    const records = (result.Records ?? []).map((record) =>
      toLambdaRecord(record, this.options.streamArn, this.options.region),
    );
    if (records.length === 0) return false;
    this.busy = true;
    try {
      await this.deliver(records, this.options.retryAttempts ?? 10, shardId);
      shard.lastSequenceNumber = records.at(-1)?.dynamodb?.SequenceNumber;
    } finally {
      this.busy = false;
    }
    return true;
  }

  /**
   * Replaces an iterator GetRecords refuses for good: expired (unused for 15 minutes), or pointing at
   * trimmed records. DynamoDB Local also calls a TRIM_HORIZON iterator taken on an empty shard trimmed
   * once the shard's first record arrives numbered past it (one counter numbers the records of all its
   * tables). Resuming after the last record handled loses nothing and repeats nothing; without one, or
   * when that record is itself trimmed, TRIM_HORIZON repeats at most what the stream still holds, which
   * the batcher makes harmless (it is idempotent per key), whereas LATEST could skip changes.
   */
  private async renewIterator(shardId: string, shard: ShardState, reason: string): Promise<void> {
    const iterator = (type: 'AFTER_SEQUENCE_NUMBER' | 'TRIM_HORIZON', sequenceNumber?: string) =>
      this.options.streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.options.streamArn,
          ShardId: shardId,
          ShardIteratorType: type,
          SequenceNumber: sequenceNumber,
        }),
      );
    const log = this.options.log ?? ((line: string) => console.warn(line));
    try {
      const after = shard.lastSequenceNumber;
      const resumed =
        after === undefined
          ? undefined
          : await iterator('AFTER_SEQUENCE_NUMBER', after).catch((error: unknown) => {
              if ((error as Error).name === 'TrimmedDataAccessException') return undefined;
              throw error;
            });
      const renewed = resumed ?? (await iterator('TRIM_HORIZON'));
      shard.iterator = renewed.ShardIterator;
      this.stats.iteratorsRenewed++;
      log(
        `stream poller: shard ${shardId}: ${reason}; resuming ` +
          (resumed === undefined ? 'at TRIM_HORIZON' : `after sequence number ${after}`),
      );
    } catch (error) {
      // The old iterator stays: the next poll fails the same way and tries again.
      log(`stream poller: shard ${shardId}: ${reason}; no new iterator yet: ${(error as Error).message}`);
    }
  }

  private async deliver(records: DynamoDBRecord[], attemptsLeft: number, shardId: string): Promise<void> {
    this.stats.invocations++;
    let response: DynamoDBBatchResponse | undefined;
    try {
      response = await this.options.handler({ Records: records });
      const faults = this.options.faults;
      if (faults !== undefined && faults.random() < (faults.crashAfterInvokeRate ?? 0)) {
        this.stats.injectedCrashes++;
        this.stats.recordsHit += records.length;
        throw new Error('injected crash after the handler ran');
      }
    } catch (error) {
      this.stats.failedInvocations++;
      if (attemptsLeft <= 0)
        return this.giveUp(records, `function error: ${(error as Error).message}`, shardId);
      await sleep(20);
      if ((this.options.bisectOnError ?? true) && records.length > 1) {
        // As in Lambda, splitting a batch does not consume the retry quota.
        const middle = Math.ceil(records.length / 2);
        await this.deliver(records.slice(0, middle), attemptsLeft, shardId);
        return this.deliver(records.slice(middle), attemptsLeft, shardId);
      }
      return this.deliver(records, attemptsLeft - 1, shardId);
    }
    this.stats.records += records.length;
    const failures = response?.batchItemFailures ?? [];
    if (failures.length === 0) return;
    this.stats.failedInvocations++;
    // Lambda checkpoints at the lowest reported sequence number and retries from there; an
    // identifier it cannot find fails the whole batch.
    const indexes = failures.map(({ itemIdentifier }) =>
      records.findIndex((record) => record.dynamodb?.SequenceNumber === itemIdentifier),
    );
    const from = indexes.some((index) => index < 0) ? 0 : Math.min(...indexes);
    const remaining = records.slice(from);
    if (attemptsLeft <= 0) return this.giveUp(remaining, 'partial batch failure after all retries', shardId);
    await sleep(20);
    return this.deliver(remaining, attemptsLeft - 1, shardId);
  }

  private giveUp(records: DynamoDBRecord[], reason: string, shardId: string): void {
    this.stats.recordsGivenUp += records.length;
    this.options.onFailure?.(records, reason, shardId);
  }
}
