import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, DynamoDBServiceException, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSServiceException } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, loadItems, productSchema } from '../../infra/local/workload.ts';
import { cliAt } from '../helpers/cli.ts';

/**
 * IAM on the embedded stack: the functions' calls are checked against their roles in the
 * synthesised template, so a grant the construct forgot fails here as it would on AWS.
 */

const ITEMS = 400;
let stack: LocalStack;
let targetFile: string;

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    logLevel: 'ERROR',
    visibilityTimeoutSeconds: 1,
    resync: { totalSegments: 2, pageSize: 50, pagesPerTask: 2, workers: 2, visibilityTimeoutSeconds: 2 },
  });
  targetFile = join(await mkdtemp(join(tmpdir(), 'iam-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const cli = (...args: string[]) => cliAt(targetFile, ...args);
const status = async () => (await cli('--json', 'resync', 'status')).json() as ResyncProgress;

async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('IAM enforced on the embedded stack', () => {
  it('finishes and swaps a re-sync during which keys were deleted (the finisher re-reads them with BatchGetItem)', async () => {
    await loadItems({
      dynamodb: stack.dynamodb,
      tableName: stack.tableName,
      keyAttributes: stack.keyAttributes,
      first: 0,
      count: ITEMS,
      concurrency: 8,
    });
    await stack.waitForIdle(60_000);

    // The adapters the stack's re-sync handler calls through: wrapping one injects into the real path.
    const ports = stack.functions.resync.adapters;
    const scanPage = ports.scanPage;
    const deleted = [1, 2, 3];
    let deletedDuringBackfill = false;
    // Before the backfill's first page: delete keys and wait until the writer has tombstoned them.
    ports.scanPage = async (...args) => {
      if (!deletedDuringBackfill) {
        deletedDuringBackfill = true;
        for (const n of deleted)
          await stack.dynamodb.send(
            new DeleteItemCommand({ TableName: stack.tableName, Key: itemKey(stack.keyAttributes, n) }),
          );
        const active = await ports.store.active();
        if (active === undefined) throw new Error('no active re-sync during its own backfill');
        await waitFor(
          () => ports.store.listDeletes(active.jobId),
          (keys) => keys.length >= deleted.length,
          20_000,
        );
      }
      return scanPage(...args);
    };
    try {
      const started = await cli('resync', 'start');
      expect(started.err).toBe('');
      const progress = await waitFor(status, (each) => each.job.phase === 'done', 90_000);
      expect({ phase: progress.job.phase, denials: stack.iam.denials }).toEqual({
        phase: 'done',
        denials: [],
      });
      expect(deletedDuringBackfill).toBe(true);
      expect((await ports.store.listDeletes(progress.job.jobId)).length).toBeGreaterThanOrEqual(
        deleted.length,
      );
      expect((await stack.typesense.getAlias(stack.alias))?.collection_name).toBe(progress.job.collection);
      await stack.waitForIdle(60_000);
      const report = await stack.verify();
      expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
        missing: [],
        extra: [],
        stale: [],
      });
      expect(report.tableItems).toBe(ITEMS - deleted.length);
    } finally {
      ports.scanPage = scanPage;
    }
  }, 180_000);

  it("refuses a DynamoDB call outside the function's role as DynamoDB does", async () => {
    // The writer re-reads keys; it may never scan the table.
    const refused = await stack.functions.writer.clients.dynamodb
      .send(new ScanCommand({ TableName: stack.tableName, Limit: 1 }))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DynamoDBServiceException);
    expect(refused).toMatchObject({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    expect((refused as Error).message).toMatch(
      new RegExp(
        '^User: arn:aws:sts::000000000000:assumed-role/SyncWriterServiceRole\\w+/writer is not authorized to perform: ' +
          `dynamodb:Scan on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${stack.tableName} ` +
          'because no identity-based policy allows the dynamodb:Scan action$',
      ),
    );
    expect(stack.iam.denials.at(-1)).toEqual({
      function: 'writer',
      action: 'dynamodb:Scan',
      resource: `arn:aws:dynamodb:us-east-1:000000000000:table/${stack.tableName}`,
      decision: 'implicit-deny',
    });
  });

  it("refuses an SQS call outside the function's role as SQS does", async () => {
    // The writer sends to the changes queue and the DLQ, never to the re-sync work queue.
    const refused = await stack.functions.writer.clients.sqs
      .send(new SendMessageCommand({ QueueUrl: stack.resyncQueueUrl, MessageBody: '{}' }))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SQSServiceException);
    expect(refused).toMatchObject({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
    });
    expect((refused as Error).message).toContain(
      `is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:000000000000:${stack.tableName}-resync`,
    );
  });

  it('lets the lag check write its canary partition only', async () => {
    const reading = await stack.checkLag();
    expect(reading.problems).toEqual([]);
    expect(reading.lagMs).toBeGreaterThanOrEqual(0);
    expect(stack.iam.denials.filter((denial) => denial.function === 'lagCheck')).toEqual([]);
  });
});
