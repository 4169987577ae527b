import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { ResyncPorts, ResyncTask } from '../../functions/core/resync.ts';
import { createResyncHandler } from '../../functions/resync/handler.ts';
import { createDynamoDbClient } from '../../functions/shared/aws.ts';
import { parseConfig, type ResyncConfig, resyncConfigSchema } from '../../functions/shared/config.ts';
import { resyncAdapters } from '../../functions/shared/resync-adapters.ts';
import { typesenseClientOf } from '../../functions/shared/typesense-client.ts';
import { sqsRecord } from '../helpers/factories.ts';
import { memoryResyncStore } from '../helpers/resync-fakes.ts';

/** The function's real adapters (over clients that are never called here) with some replaced. */
function adaptersWith(config: ResyncConfig, replaced: Partial<ResyncPorts>) {
  const clients = {
    dynamodb: createDynamoDbClient({ region: 'eu-west-1' }),
    sqs: new SQSClient({ region: 'eu-west-1' }),
    typesense: typesenseClientOf(config),
  };
  return { ...resyncAdapters(clients, config), ...replaced };
}

/** A Lambda context whose remaining time is fixed. */
const contextLeaving = (remainingMs: number) =>
  ({
    functionName: 'resync',
    awsRequestId: 'r-1',
    getRemainingTimeInMillis: () => remainingMs,
  }) as unknown as Context;

describe('the re-sync handler', () => {
  it("hands a segment on to a fresh task when the invocation's remaining time is below the reserve", async () => {
    const config = parseConfig(resyncConfigSchema, {
      TABLE_NAME: 'orders',
      KEY_ATTRIBUTES: 'pk',
      TYPESENSE_NODES: 'http://127.0.0.1:9',
      TYPESENSE_API_KEY: 'test-key',
      TYPESENSE_COLLECTION: 'orders',
      RESYNC_STATE_TABLE: 'state',
      RESYNC_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/resync',
      QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo',
    });
    const store = memoryResyncStore();
    await store.putJob({
      jobId: 'r1',
      alias: 'orders',
      collection: 'orders_r1',
      phase: 'backfilling',
      trigger: 'operator',
      totalSegments: 1,
      startedAt: 0,
      updatedAt: 0,
    });
    await store.putSegment('r1', { segment: 0, done: false, pages: 0, scanned: 0, indexed: 0, skipped: 0 });
    const sent: ResyncTask[] = [];
    let scans = 0;
    const handler = createResyncHandler(
      config,
      adaptersWith(config, {
        store,
        async scanPage() {
          scans++;
          return { items: [] };
        },
        async sendTasks(tasks: readonly ResyncTask[]) {
          sent.push(...tasks);
        },
      }),
    );
    const task: ResyncTask = { action: 'segment', jobId: 'r1', segment: 0 };
    const event = { Records: [sqsRecord({ messageId: 'm1', body: JSON.stringify(task) })] } as SQSEvent;

    expect(await handler(event, contextLeaving(5_000))).toEqual({ batchItemFailures: [] });
    expect(scans).toBe(0);
    expect(sent).toEqual([task]);

    // With time to spare the same task scans its segment to the end.
    sent.length = 0;
    expect(await handler(event, contextLeaving(300_000))).toEqual({ batchItemFailures: [] });
    expect(scans).toBe(1);
    expect(sent).toEqual([{ action: 'finish', jobId: 'r1' }]);
  });
});
