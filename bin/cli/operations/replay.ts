import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { compareVersions } from '../../../functions/core/coalesce.ts';
import { processStreamRecords } from '../../../functions/core/stream-batch.ts';
import { sendDeadLetters, sendPackedMessages } from '../../../functions/shared/aws.ts';
import { type Connection, changeKeysOf } from './target.ts';

/**
 * What Lambda writes to an S3 on-failure destination for a DynamoDB stream batch it gave up on:
 * the invocation metadata plus, unlike SQS/SNS destinations, the whole batch (`payload`), so the
 * records can be replayed later.
 */
export interface StreamFailureRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: string;
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: string; functionError: string };
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string | undefined;
    endSequenceNumber: string | undefined;
    batchSize: number;
    streamArn: string | undefined;
  };
  /** The invocation event, as JSON text: `{"Records":[…]}`. */
  payload: string;
}

export interface ReplayOptions {
  dryRun: boolean;
  /** Keep replayed objects in the bucket (default: delete them; a versioned bucket keeps a version). */
  keep: boolean;
  onProgress?(done: number, total: number): void;
}

export interface ReplayReport {
  objects: number;
  records: number;
  /** Objects whose every record is back on the changes queue (or dead-lettered with a reason). */
  replayed: number;
  changes: number;
  deadLettered: number;
  /** Objects left in the bucket because some of their changes could not be enqueued, or unreadable. */
  failed: { key: string; reason: string }[];
  dryRun: boolean;
}

/**
 * Replays stream batches the batcher gave up on (the S3 on-failure destination), through the
 * batcher's own core: normalised, coalesced, packed onto the changes queue in each key's group.
 * Records are replayed oldest first; the writer re-reads every key, so a replayed record that is
 * older than the item's current state writes that current state, never the old image.
 */
export async function replayStreamFailures(
  connection: Connection,
  options: ReplayOptions,
): Promise<ReplayReport> {
  const { s3, sqs, target } = connection;
  if (target.failureBucket === undefined) throw new Error('the target names no stream failure bucket');
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: target.failureBucket, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).flatMap(({ Key }) => (Key === undefined ? [] : [Key])));
    token = page.NextContinuationToken;
  } while (token !== undefined);

  const report: ReplayReport = {
    objects: keys.length,
    records: 0,
    replayed: 0,
    changes: 0,
    deadLettered: 0,
    failed: [],
    dryRun: options.dryRun,
  };
  const batches: { key: string; event: DynamoDBStreamEvent; start: string }[] = [];
  for (const key of keys) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: target.failureBucket, Key: key }));
      const record = JSON.parse((await object.Body?.transformToString()) ?? '') as StreamFailureRecord;
      const event = JSON.parse(record.payload) as DynamoDBStreamEvent;
      if (!Array.isArray(event.Records)) throw new Error('its payload has no Records');
      batches.push({ key, event, start: event.Records[0]?.dynamodb?.SequenceNumber ?? '0' });
      report.records += event.Records.length;
    } catch (error) {
      report.failed.push({ key, reason: `not a stream failure record: ${(error as Error).message}` });
    }
  }
  if (options.dryRun) return report;

  batches.sort((a, b) => compareVersions(a.start, b.start));
  const ports = {
    sendMessages: sendPackedMessages(sqs, target.queueUrl),
    sendDeadLetters: sendDeadLetters(sqs, target.dlqUrl),
    now: Date.now,
  };
  const batcherOptions = {
    keyAttributes: changeKeysOf(target),
    sourceTimestampAttribute: target.sourceTimestampAttribute,
    buckets: target.messageGroupBuckets,
    maxMessageBytes: target.maxMessageBytes,
  };
  for (const [index, { key, event }] of batches.entries()) {
    const result = await processStreamRecords(event.Records, ports, batcherOptions);
    report.changes += result.summary.changes;
    report.deadLettered += result.summary.deadLettered;
    if (result.batchItemFailures.length > 0) {
      report.failed.push({
        key,
        reason: `${result.summary.failedChanges} changes could not be enqueued; kept for the next replay`,
      });
    } else {
      report.replayed++;
      if (!options.keep) await s3.send(new DeleteObjectCommand({ Bucket: target.failureBucket, Key: key }));
    }
    options.onProgress?.(index + 1, batches.length);
  }
  return report;
}
