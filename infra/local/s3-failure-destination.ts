import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBRecord } from 'aws-lambda';
import type { StreamFailureRecord } from '../../bin/cli/operations/replay.ts';

/** The stream poller's `onFailure`, writing each abandoned batch to a bucket as Lambda would. */
export function s3FailureDestination(s3: S3Client, bucket: string, functionArn: string) {
  const written: Promise<unknown>[] = [];
  const onFailure = (records: DynamoDBRecord[], reason: string, shardId: string) => {
    const now = new Date();
    const record: StreamFailureRecord = {
      version: '1.0',
      timestamp: now.toISOString(),
      requestContext: {
        requestId: randomUUID(),
        functionArn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 1,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: reason },
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: records[0]?.dynamodb?.SequenceNumber,
        endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber,
        batchSize: records.length,
        streamArn: records[0]?.eventSourceARN,
      },
      payload: JSON.stringify({ Records: records }),
    };
    const stamp = now.toISOString().replace(/:/g, '.').slice(0, 19);
    const key = `aws/lambda/local-batcher/${shardId}/${stamp.slice(0, 10).replace(/-/g, '/')}/${stamp}-${randomUUID()}`;
    written.push(
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: JSON.stringify(record),
          ContentType: 'application/json',
        }),
      ),
    );
  };
  /** Resolves when every record handed over so far is stored. */
  const flush = () => Promise.all(written);
  return { onFailure, flush };
}
