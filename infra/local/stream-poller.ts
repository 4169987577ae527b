import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { STREAM_INVOCATION_PAYLOAD_BYTES } from '../../functions/contract/limits.ts';
import { sleep } from './processes.ts';
import type { PollerFaults } from './queue-poller.ts';

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;

export interface StreamPollerOptions {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  region: string;
  handler: StreamHandler;
  /** Lambda's `BatchSize` for the DynamoDB event source, up to 10,000 (default 100, the API's). */
  batchSize?: number;
  /**
   * Lambda's `MaximumBatchingWindowInSeconds`, in ms: records are gathered until the batch is full
   * (`batchSize`, or the 6 MB invocation payload) or this long after the first of them was read
   * (default 0, the API's: every read is delivered at once).
   */
  maxBatchingWindowMs?: number;
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
  /** The clock the batching window is measured on (default: Date.now); tests drive it. */
  now?: () => number;
}

/** DynamoDB Streams' GetRecords returns at most 1,000 records per call. */
const GET_RECORDS_LIMIT = 1_000;
/** `{"Records":[` and `]}` around the records of an invocation payload. */
const EVENT_ENVELOPE_BYTES = Buffer.byteLength('{"Records":[]}');

/** Bytes a record adds to the invocation payload (JSON, as Lambda sends it). */
const payloadBytes = (record: DynamoDBRecord) => Buffer.byteLength(JSON.stringify(record));

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
  /**
   * The last record read: where a renewed iterator resumes. Records read are always delivered (or given
   * up on), the gathered ones too, so resuming after it loses and repeats nothing.
   */
  lastSequenceNumber?: string;
  /** Records read but not yet delivered: the batch being gathered, with their payload bytes. */
  gathered: { record: DynamoDBRecord; bytes: number }[];
  /** When the batching window of the gathered records opened (the first of them was read). */
  gatheringSince?: number;
}

/** GetRecords errors after which the iterator can never be used again. */
const LOST_ITERATOR_ERRORS: ReadonlySet<string> = new Set([
  'TrimmedDataAccessException',
  'ExpiredIteratorException',
]);

/**
 * Drives a stream handler the way Lambda's DynamoDB event source mapping does: each shard in order,
 * parents before children, batches gathered until BatchSize records, the 6 MB invocation payload or
 * the batching window, retries with bisection on error, resumption from the first failed record on a
 * partial batch response, then the on-failure destination. It never delivers sooner or fuller than
 * Lambda would: the window is checked between polls, so a batch waits for it at least as long.
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
  /** When the last round began, if it read every shard and found nothing to deliver. */
  private lastEmptyRoundBegan: number | undefined;
  /** Whether the stream was ever described: before that the poller has no iterator and read nothing. */
  private described = false;

  constructor(private readonly options: StreamPollerOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** True once the stream was described and the last poll of every open shard found nothing, nothing is gathered and none handled. */
  get caughtUp(): boolean {
    return this.caughtUpSince(Number.NEGATIVE_INFINITY);
  }

  /**
   * Caught up, by a round that began at `time` or later: a read already in flight at `time` could
   * still return a record written just before it.
   */
  caughtUpSince(time: number): boolean {
    return (
      this.described &&
      this.lastEmptyRoundBegan !== undefined &&
      this.lastEmptyRoundBegan >= time &&
      !this.busy &&
      [...this.shards.values()].every(({ gathered }) => gathered.length === 0)
    );
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
          gathered: [],
        });
      }
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId !== undefined);
  }

  private async run(): Promise<void> {
    let lastDiscovery = 0;
    while (this.running) {
      if (Date.now() - lastDiscovery > 1_000) {
        await this.discoverShards().then(
          () => {
            this.described = true;
          },
          () => undefined,
        );
        lastDiscovery = Date.now();
      }
      const began = Date.now();
      let sawRecords = false;
      let readFailed = false;
      for (const [shardId, shard] of this.shards) {
        if (this.finished(shard)) continue;
        const parent = shard.parentId === undefined ? undefined : this.shards.get(shard.parentId);
        if (parent !== undefined && !this.finished(parent)) continue;
        const polled = await this.pollShard(shardId, shard);
        sawRecords = polled === 'delivered' || sawRecords;
        readFailed = polled === 'read-failed' || readFailed;
      }
      // A failed read says nothing about what the shard holds: that round is not an empty one.
      this.lastEmptyRoundBegan = !sawRecords && !readFailed ? began : undefined;
      if (!sawRecords) await sleep(this.options.pollIntervalMs ?? 100);
    }
  }

  /** A shard with nothing left to read or deliver: its children may start. */
  private finished(shard: ShardState): boolean {
    return (shard.closed || shard.iterator === undefined) && shard.gathered.length === 0;
  }

  /** Reads more records into the shard's batch, then delivers it if due. */
  private async pollShard(shardId: string, shard: ShardState): Promise<'delivered' | 'idle' | 'read-failed'> {
    const batchSize = this.options.batchSize ?? 100;
    const canRead = !shard.closed && shard.iterator !== undefined;
    let readOk = true;
    if (
      canRead &&
      shard.gathered.length < batchSize &&
      this.gatheredBytes(shard) < STREAM_INVOCATION_PAYLOAD_BYTES
    ) {
      readOk = await this.read(
        shardId,
        shard,
        Math.min(GET_RECORDS_LIMIT, batchSize - shard.gathered.length),
      );
    }
    const batch = this.takeDueBatch(shard, batchSize);
    if (batch === undefined) return readOk ? 'idle' : 'read-failed';
    this.busy = true;
    try {
      await this.deliver(batch, this.options.retryAttempts ?? 10, shardId);
    } finally {
      this.busy = false;
      // What stays gathered (beyond a full batch) starts a new window, as a new batch would.
      shard.gatheringSince = shard.gathered.length === 0 ? undefined : this.now();
    }
    return 'delivered';
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private gatheredBytes(shard: ShardState): number {
    // Each entry counts its record and one comma: n records need n − 1 commas.
    return shard.gathered.reduce((sum, { bytes }) => sum + bytes, EVENT_ENVELOPE_BYTES - 1);
  }

  /** Reads the next records into the shard's batch. False when GetRecords failed (nothing was learnt). */
  private async read(shardId: string, shard: ShardState, limit: number): Promise<boolean> {
    const result = await this.options.streams
      .send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: limit }))
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
    if (records.length === 0) return true;
    if (shard.gathered.length === 0) shard.gatheringSince = this.now();
    for (const record of records) shard.gathered.push({ record, bytes: payloadBytes(record) + 1 });
    shard.lastSequenceNumber = records.at(-1)?.dynamodb?.SequenceNumber;
    return true;
  }

  /**
   * The batch Lambda would invoke with now: once `batchSize` records or the payload limit are gathered,
   * or the window has passed since the first of them was read. Takes it out of the gathered records.
   */
  private takeDueBatch(shard: ShardState, batchSize: number): DynamoDBRecord[] | undefined {
    if (shard.gathered.length === 0) return undefined;
    const full =
      shard.gathered.length >= batchSize || this.gatheredBytes(shard) >= STREAM_INVOCATION_PAYLOAD_BYTES;
    const windowMs = this.options.maxBatchingWindowMs ?? 0;
    if (!full && this.now() - (shard.gatheringSince ?? 0) < windowMs) return undefined;
    let count = 0;
    let bytes = EVENT_ENVELOPE_BYTES - 1;
    for (const entry of shard.gathered) {
      if (count === batchSize || (count > 0 && bytes + entry.bytes > STREAM_INVOCATION_PAYLOAD_BYTES)) break;
      bytes += entry.bytes;
      count++;
    }
    return shard.gathered.splice(0, count).map(({ record }) => record);
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
