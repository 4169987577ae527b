import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchIngestionDelay } from '../../bin/cli/operations/lag.ts';
import { CANARY_KEY_VALUE, canaryCollectionOf } from '../../functions/core/canary.ts';
import { waitFor } from '../../infra/local/processes.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({
    schema: productSchema,
    sourceTimestampAttribute: 'updatedAt',
    // The paused writer holds a received batch for seconds: it must not be redelivered meanwhile.
    visibilityTimeoutSeconds: 60,
    logLevel: 'ERROR',
  });
});

afterAll(async () => {
  await stack?.stop();
});

const putProduct = async (n: number) =>
  stack.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: productItem(seededRandom(n), stack.keyAttributes, n, 1, Date.now()),
    }),
  );

describe('the lag check on the embedded stack', () => {
  it('measures the canary end to end, sees the lag grow while the writer is held and fall after', async () => {
    await putProduct(1);
    const healthy = await stack.checkLag();
    expect(healthy.problems).toEqual([]);
    expect(healthy.canaryDelayMs).not.toBeNull();
    expect(healthy.lagMs).toBe(healthy.canaryDelayMs);
    expect(healthy).toMatchObject({ dlqDepth: 0, circuit: 'closed' });
    // The canary is indexed into its own collection, not the application's.
    expect(
      await stack.typesense.getDocument(
        canaryCollectionOf(stack.target.typesense.collection),
        CANARY_KEY_VALUE,
      ),
    ).toMatchObject({ sentAt: expect.any(Number) });
    expect(
      await stack.typesense.getDocument(stack.target.typesense.collection, CANARY_KEY_VALUE),
    ).toBeUndefined();

    stack.queuePoller.pause();
    try {
      await putProduct(2);
      const held = await stack.checkLag(2_000);
      expect(held.canaryDelayMs).toBeNull();
      expect(held.problems).toEqual(['canary not searchable after 2 s']);
      expect(held.lagMs).toBeGreaterThanOrEqual(2_000);
      // The endpoint the CLI reads shows the same growing lag.
      await waitFor(
        'the ingestion-delay endpoint to show the held changes',
        async () => (await fetchIngestionDelay(stack.ingestionDelayUrl)).lagMs >= 2_000,
        20_000,
      );
    } finally {
      stack.queuePoller.resume();
    }
    await waitFor(
      'the lag to fall after the writer resumed',
      async () => (await fetchIngestionDelay(stack.ingestionDelayUrl)).lagMs < 1_000,
      30_000,
    );
    const recovered = await stack.checkLag();
    expect(recovered.problems).toEqual([]);
    expect(recovered.canaryDelayMs).not.toBeNull();

    // verify compares the application's items only: the canary is neither missing nor extra.
    await stack.waitForIdle();
    const report = await stack.verify();
    expect({ missing: report.missing, extra: report.extra, stale: report.stale }).toEqual({
      missing: [],
      extra: [],
      stale: [],
    });
    expect(report.tableItems).toBe(2);
  });

  it('re-creates a canary collection someone dropped, so the next reading is whole again', async () => {
    const alias = stack.target.typesense.collection;
    await stack.typesense.deleteCollection(canaryCollectionOf(alias));
    const reading = await stack.checkLag();
    expect(reading.problems).toEqual([]);
    expect(reading.canaryDelayMs).not.toBeNull();
  });
});
