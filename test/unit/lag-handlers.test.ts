import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IndexLagPorts, LagCheckPorts, LagReading } from '../../functions/core/lag-check.ts';
import type { ResyncProgress } from '../../functions/core/resync.ts';
import {
  ingestionDelayConfigSchema,
  lagCheckConfigSchema,
  parseConfig,
} from '../../functions/shared/config.ts';
import type { IngestionDelayAdapters, LagCheckAdapters } from '../../functions/shared/lag-check-adapters.ts';
import { METRIC } from '../../functions/shared/metrics.ts';
import { captureEmf, valuesOf } from '../helpers/emf.ts';

const NOW = 1_700_000_000_000;
const context = { functionName: 'test', awsRequestId: 'r-1' } as Context;

function stubEnv(vars: Record<string, string>) {
  for (const [name, value] of Object.entries({ AWS_REGION: 'eu-west-1', ...vars })) vi.stubEnv(name, value);
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('the ingestion-delay endpoint (Function URL handler)', () => {
  const request = (rawPath: string, method = 'GET') =>
    ({ rawPath, requestContext: { http: { method } } }) as unknown as LambdaFunctionURLEvent;
  const reading: LagReading = {
    lagMs: 850,
    canaryDelayMs: 850,
    oldestPendingChangeAgeMs: null,
    streamIteratorAgeMs: 0,
    dlqDepth: 0,
    circuit: 'closed',
    problems: [],
    measuredAt: new Date(NOW - 20_000).toISOString(),
  };

  const endpointVars = {
    RESYNC_STATE_TABLE: 'state',
    DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo',
    LAG_CHECK_INTERVAL_SECONDS: '60',
  };

  /** The endpoint from its factory, over adapters the test replaces (`deps`). */
  async function endpoint() {
    const { createIngestionDelayHandler } = await import('../../functions/ingestion-delay/handler.ts');
    const deps: IngestionDelayAdapters = {
      latestReading: async () => undefined,
      dlqDepth: async () => 0,
      now: Date.now,
    };
    const config = parseConfig(ingestionDelayConfigSchema, endpointVars);
    return { handler: createIngestionDelayHandler(config, deps), deps };
  }

  it('answers the latest reading as the ingestion-delay JSON the CLI reads', async () => {
    const { handler, deps } = await endpoint();
    Object.assign(deps, { latestReading: async () => reading, dlqDepth: async () => 2, now: () => NOW });
    const response = await handler(request('/v1/ingestion-delay'), context);
    expect(response).toMatchObject({ statusCode: 200 });
    expect(JSON.parse((response as { body: string }).body)).toEqual({
      lagMs: 850,
      oldestPendingChangeAgeMs: null,
      dlqDepth: 2,
      circuit: 'closed',
      measuredAt: reading.measuredAt,
    });
  });

  it('says the lag is unknown, with why, when the reading is stale or unreadable', async () => {
    const { handler, deps } = await endpoint();
    Object.assign(deps, {
      latestReading: async () => reading,
      dlqDepth: async () => 0,
      now: () => NOW + 600_000,
    });
    const stale = (await handler(request('/v1/ingestion-delay'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(stale.statusCode).toBe(503);
    expect(JSON.parse(stale.body).message).toMatch(/^lag unknown: the lag check last reported 620 s ago/);

    Object.assign(deps, {
      latestReading: async () => {
        throw new Error('AccessDeniedException: not authorized to perform dynamodb:GetItem');
      },
    });
    const denied = (await handler(request('/v1/ingestion-delay'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(denied.statusCode).toBe(503);
    expect(JSON.parse(denied.body).message).toContain('lag unknown: cannot read the latest lag reading');
  });

  it("logs under the deployment's POWERTOOLS_SERVICE_NAME, not a fixed name (two syncs in one account log apart)", async () => {
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'Stack-SyncA-ingestion-delay');
    vi.resetModules();
    const printed: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(String(args[0])));
    const { handler, deps } = await endpoint();
    Object.assign(deps, {
      latestReading: async () => {
        throw new Error('no reading');
      },
      dlqDepth: async () => 0,
      now: () => NOW,
    });
    await handler(request('/v1/ingestion-delay'), context);
    expect(printed.length).toBeGreaterThan(0);
    for (const line of printed)
      expect(JSON.parse(line)).toMatchObject({ service: 'Stack-SyncA-ingestion-delay' });
  });

  it('answers a generic 503, never internal error text (role ARNs), and logs the details instead', async () => {
    // Powertools' test mode logs through the global console; a fresh module builds its logger in it.
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.resetModules();
    const printed: unknown[][] = [];
    for (const level of ['error', 'warn'] as const)
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void printed.push(args));
    const { handler, deps } = await endpoint();
    const secret = 'arn:aws:sts::123456789012:assumed-role/Sync-IngestionDelayRole-ABC/fn';
    Object.assign(deps, {
      latestReading: async () => {
        throw new Error(
          `AccessDeniedException: User: ${secret} is not authorized to perform dynamodb:GetItem`,
        );
      },
      dlqDepth: async () => 0,
      now: () => NOW,
    });
    const denied = (await handler(request('/v1/ingestion-delay'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(denied.statusCode).toBe(503);
    expect(denied.body).not.toContain('arn:aws');
    expect(denied.body).not.toContain('AccessDenied');

    Object.assign(deps, {
      latestReading: async () => ({
        ...reading,
        lagMs: null,
        problems: [
          `lag unknown: cannot write the canary: AccessDeniedException: User: ${secret} is not authorized`,
        ],
      }),
    });
    const unmeasured = (await handler(request('/v1/ingestion-delay'), context)) as {
      statusCode: number;
      body: string;
    };
    expect(unmeasured.statusCode).toBe(503);
    expect(JSON.parse(unmeasured.body).message).toBe(
      'lag unknown: cannot write the canary (details in the lag-check function logs)',
    );
    const logs = JSON.stringify(printed);
    expect(logs).toContain(`cannot write the canary: AccessDeniedException: User: ${secret}`);
    expect(logs).toContain(`User: ${secret} is not authorized to perform dynamodb:GetItem`);
  });

  it('refuses other paths and methods by name', async () => {
    const { handler } = await endpoint();
    expect(await handler(request('/v1/other'), context)).toMatchObject({ statusCode: 404 });
    expect(await handler(request('/v1/ingestion-delay', 'POST'), context)).toMatchObject({ statusCode: 405 });
  });

  it("Lambda's module-level handler builds itself from the function's environment on its first call", async () => {
    vi.resetModules();
    const fromEnv = await import('../../functions/ingestion-delay/handler.ts');
    // Importing reads nothing; the first invocation does, and names every missing variable.
    await expect(fromEnv.handler(request('/v1/other'), context)).rejects.toThrow(
      /invalid configuration: RESYNC_STATE_TABLE: Required; DLQ_URL: Required/,
    );
    vi.resetModules();
    stubEnv(endpointVars);
    const { handler } = await import('../../functions/ingestion-delay/handler.ts');
    expect(await handler(request('/v1/other'), context)).toMatchObject({ statusCode: 404 });
  });
});

describe('the lag-check handler', () => {
  it('publishes the reading as metrics, saves it, and does not fail when it could not measure', async () => {
    const emf = captureEmf();
    const config = parseConfig(lagCheckConfigSchema, {
      TABLE_NAME: 'orders',
      KEY_ATTRIBUTES: 'pk',
      TYPESENSE_NODES: 'http://127.0.0.1:9',
      TYPESENSE_API_KEY: 'test-key',
      TYPESENSE_COLLECTION: 'orders',
      RESYNC_STATE_TABLE: 'state',
      QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo',
      DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo',
      BATCHER_FUNCTION_NAME: 'shop-batcher',
      WRITER_SERVICE_NAME: 'shop-writer',
      CANARY_TIMEOUT_SECONDS: '5',
    });
    const { createLagCheckHandler } = await import('../../functions/lag-check/handler.ts');
    const deps: LagCheckAdapters = {
      ports: () => {
        throw new Error('replaced below');
      },
      saveReading: async () => undefined,
    };
    // The deployment's service name reaches the metrics through the telemetry's environment.
    const handler = createLagCheckHandler(config, deps, {
      env: { POWERTOOLS_SERVICE_NAME: 'shop-lag-check' },
    });
    let now = NOW;
    const saved: LagReading[] = [];
    const ports = (
      writeCanary: LagCheckPorts['writeCanary'],
      resyncProgress: IndexLagPorts['resyncProgress'] = async () => undefined,
    ): LagCheckPorts => ({
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
      writeCanary,
      streamIteratorAgeMs: async () => 2_000,
      circuit: async () => 'closed',
      indexes: [
        {
          alias: 'products',
          prepareCanary: async () => undefined,
          readCanary: async () => (now >= NOW + 400 ? NOW : undefined),
          oldestMessageAgeMs: async () => 100,
          dlqDepth: async () => 3,
          resyncProgress,
        },
      ],
    });
    Object.assign(deps, {
      // The first index's re-sync, read by the lag check from its state table.
      ports: () =>
        ports(
          async () => undefined,
          async () =>
            ({
              job: { jobId: 'job', phase: 'backfilling', totalSegments: 8 },
              segmentsDone: 3,
              indexed: 12_000,
              progressAgeMs: 42_000,
            }) as ResyncProgress,
        ),
      saveReading: async (reading: LagReading) => {
        saved.push(reading);
      },
    });

    const reading = await handler(undefined, context);
    expect(reading).toMatchObject({ lagMs: 2_000, canaryDelayMs: 400, dlqDepth: 3, problems: [] });
    expect(saved).toEqual([reading]);
    const published = emf.records();
    expect(valuesOf(published, METRIC.syncLag)).toEqual([2_000]);
    expect(valuesOf(published, METRIC.canaryDelay)).toEqual([400]);
    expect(valuesOf(published, METRIC.dlqDepth)).toEqual([3]);
    expect(valuesOf(published, METRIC.lagUnknown)).toEqual([0]);
    expect(valuesOf(published, METRIC.resyncActive)).toEqual([1]);
    expect(valuesOf(published, METRIC.resyncSegmentsDone)).toEqual([3]);
    expect(valuesOf(published, METRIC.resyncSegmentsTotal)).toEqual([8]);
    expect(valuesOf(published, METRIC.resyncProgressAge)).toEqual([42_000]);
    expect(published.every((record) => record.service === 'shop-lag-check')).toBe(true);

    // Missing permissions: a clear status and LagUnknown = 1, no SyncLagMs, and no thrown error.
    now = NOW;
    Object.assign(deps, {
      ports: () =>
        ports(async () => {
          throw new Error('User is not authorized to perform: dynamodb:PutItem');
        }),
      saveReading: async () => {
        throw new Error('ResourceNotFoundException: state');
      },
    });
    const unknown = await handler(undefined, context);
    expect(unknown.lagMs).toBeNull();
    expect(unknown.problems).toEqual([
      'lag unknown: cannot write the canary: User is not authorized to perform: dynamodb:PutItem',
      'reading not saved: Error: ResourceNotFoundException: state',
    ]);
    const after = emf.records().slice(published.length);
    expect(valuesOf(after, METRIC.lagUnknown)).toEqual([1]);
    expect(valuesOf(after, METRIC.syncLag)).toEqual([]);

    // Two indexes: the headline is the slower one's, and each index's SyncLagMs carries its Index dimension.
    now = NOW;
    const single = ports(async () => undefined);
    const orders = { ...(single.indexes[0] as (typeof single.indexes)[0]), alias: 'orders' };
    Object.assign(deps, {
      ports: () => ({
        ...single,
        indexes: [
          ...single.indexes,
          {
            ...orders,
            readCanary: async () => (now >= NOW + 2_600 ? NOW : undefined),
            // The further index's re-sync failed: its own ResyncFailed, never the first index's headline one.
            resyncProgress: async () =>
              ({
                job: { jobId: 'job', phase: 'failed', totalSegments: 8 },
                segmentsDone: 8,
                indexed: 5,
              }) as ResyncProgress,
          },
        ],
      }),
      saveReading: async () => undefined,
    });
    const before = emf.records().length;
    const two = await handler(undefined, context);
    expect(two).toMatchObject({ lagMs: 2_600, canaryDelayMs: 2_600, problems: [] });
    const perIndex = emf
      .records()
      .slice(before)
      .filter((record) => record.Index !== undefined && record[METRIC.syncLag] !== undefined)
      .map((record) => [record.Index, record.service, record[METRIC.syncLag]]);
    expect(perIndex).toEqual([
      ['products', 'shop-lag-check', 2_000],
      ['orders', 'shop-lag-check', 2_600],
    ]);
    const failed = emf
      .records()
      .slice(before)
      .filter((record) => record[METRIC.resyncFailed] !== undefined)
      .map((record) => [record.Index, record[METRIC.resyncFailed]]);
    expect(failed).toEqual([['orders', 1]]);
    expect(two.indexes?.map(({ alias, resync }) => [alias, resync])).toEqual([
      ['products', 'none'],
      ['orders', { jobId: 'job', phase: 'failed', segmentsDone: 8, totalSegments: 8, indexed: 5 }],
    ]);
  });
});
