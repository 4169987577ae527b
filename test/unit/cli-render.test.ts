import { describe, expect, it } from 'vitest';
import type { DeadLetterEntry } from '../../bin/cli/operations/dead-letters.ts';
import { groupByReason } from '../../bin/cli/operations/dead-letters.ts';
import type { PipelineStatus } from '../../bin/cli/operations/status.ts';
import type { VerifyReport } from '../../bin/cli/operations/verify.ts';
import {
  ago,
  printable,
  renderDeadLetterList,
  renderDeadLetters,
  renderRedrive,
} from '../../bin/cli/render/dlq.ts';
import { renderLag } from '../../bin/cli/render/lag.ts';
import { renderReplay } from '../../bin/cli/render/replay.ts';
import {
  renderCancel,
  renderResync,
  renderResyncStarted,
  renderRollback,
  STALL_WARNING_MS,
} from '../../bin/cli/render/resync.ts';
import { renderStatus } from '../../bin/cli/render/status.ts';
import { renderVerify, unresolvedCount } from '../../bin/cli/render/verify.ts';
import type { ResyncJob, ResyncProgress } from '../../functions/core/resync.ts';
import { change } from '../helpers/factories.ts';

const NOW = 1_700_000_100_000;

const lag = {
  lagMs: 120,
  oldestPendingChangeAgeMs: null,
  dlqDepth: 0,
  circuit: 'closed' as const,
  measuredAt: '2023-11-14T22:15:00.000Z',
};

const healthyStatus: PipelineStatus = {
  table: { name: 'products', status: 'ACTIVE', approximateItems: 42, stream: 'NEW_IMAGE' },
  queue: { visible: 3, inFlight: 1, delayed: 0, total: 4 },
  dlq: { visible: 0, inFlight: 0, delayed: 0, total: 0 },
  streamFailures: 0,
  typesense: { healthy: true, alias: 'products', collection: 'products_v1', documents: 40 },
  lag,
  healthy: true,
};

describe('renderLag', () => {
  it('prints the lag, what is pending, the DLQ depth and the circuit on one line', () => {
    expect(renderLag(lag)).toBe(
      'lag 120 ms (nothing pending) | DLQ 0 | circuit closed | at 2023-11-14T22:15:00.000Z',
    );
    expect(renderLag({ ...lag, oldestPendingChangeAgeMs: 900, circuit: 'open', dlqDepth: 2 })).toBe(
      'lag 120 ms (oldest pending change 900 ms) | DLQ 2 | circuit open | at 2023-11-14T22:15:00.000Z',
    );
  });

  it('with several indexes, follows the headline (the slowest index) with one line per index', () => {
    const indexes = [
      { alias: 'customers', lagMs: 80, oldestPendingChangeAgeMs: null, dlqDepth: 0 },
      { alias: 'orders', lagMs: null, oldestPendingChangeAgeMs: null, dlqDepth: null },
    ];
    expect(renderLag({ ...lag, indexes }).split('\n')).toEqual([
      'lag 120 ms (nothing pending) | DLQ 0 | circuit closed | at 2023-11-14T22:15:00.000Z',
      '  index customers: lag 80 ms | DLQ 0',
      '  index orders: lag unknown | DLQ unknown',
    ]);
  });

  it("names each index's re-sync on its line: none, unknown, or its phase, segments and how long it stalled", () => {
    const job = { jobId: 'j', segmentsDone: 3, totalSegments: 8, indexed: 10 };
    const indexes = [
      { alias: 'products', lagMs: 80, oldestPendingChangeAgeMs: null, dlqDepth: 0, resync: 'none' as const },
      {
        alias: 'orders',
        lagMs: 90,
        oldestPendingChangeAgeMs: null,
        dlqDepth: 0,
        resync: { ...job, phase: 'backfilling' as const, progressAgeMs: 1_860_000 },
      },
      {
        alias: 'customers',
        lagMs: 70,
        oldestPendingChangeAgeMs: null,
        dlqDepth: 0,
        resync: { ...job, phase: 'failed' as const },
      },
      { alias: 'lines', lagMs: 60, oldestPendingChangeAgeMs: null, dlqDepth: 0, resync: 'unknown' as const },
    ];
    expect(
      renderLag({ ...lag, indexes })
        .split('\n')
        .slice(1),
    ).toEqual([
      '  index products: lag 80 ms | DLQ 0 | re-sync none',
      '  index orders: lag 90 ms | DLQ 0 | re-sync backfilling (3/8 segments, no progress for 1860 s)',
      '  index customers: lag 70 ms | DLQ 0 | re-sync failed (3/8 segments)',
      '  index lines: lag 60 ms | DLQ 0 | re-sync unknown',
    ]);
  });
});

describe('renderStatus', () => {
  it('prints one line per part of a healthy pipeline', () => {
    expect(renderStatus(healthyStatus).split('\n')).toEqual([
      'pipeline  healthy',
      'table     products (ACTIVE, ~42 items, stream NEW_IMAGE)',
      'queue     4 messages (3 waiting, 1 in flight, 0 delayed)',
      'DLQ       0 messages',
      'failures  0 stream batches to replay',
      "typesense healthy, alias 'products' → products_v1, 40 documents",
      'lag 120 ms (nothing pending) | DLQ 0 | circuit closed | at 2023-11-14T22:15:00.000Z',
    ]);
  });

  it('a first load instead of a missing alias', () => {
    const typesense = {
      healthy: true,
      alias: 'products',
      collection: undefined,
      documents: undefined,
      firstLoad: { jobId: 'r1', collection: 'products_r1', scanned: 5000 },
    };
    expect(renderStatus({ ...healthyStatus, typesense })).toContain(
      "typesense healthy, alias 'products' → first load into products_r1 (re-sync r1, 5000 scanned; the alias appears at its swap)",
    );
  });

  it('names the command to run for each part that needs attention, and says why what is unknown is', () => {
    const text = renderStatus({
      ...healthyStatus,
      table: { name: 'products', status: undefined, approximateItems: undefined, stream: undefined },
      dlq: { visible: 2, inFlight: 0, delayed: 0, total: 2 },
      streamFailures: 3,
      typesense: {
        healthy: false,
        alias: 'products',
        collection: undefined,
        documents: undefined,
        error: 'connection refused',
      },
      lag: { unknown: 'lag unknown: the target names no ingestion-delay endpoint' },
      healthy: false,
    });
    expect(text.split('\n')).toEqual([
      'pipeline  NEEDS ATTENTION',
      'table     products (?, ~? items, stream OFF)',
      'queue     4 messages (3 waiting, 1 in flight, 0 delayed)',
      'DLQ       2 messages — see `dlq list`',
      'failures  3 stream batches to replay — see `replay-stream-failures`',
      "typesense UNHEALTHY, alias 'products' → missing (connection refused)",
      'lag unknown: the target names no ingestion-delay endpoint',
    ]);
    expect(renderStatus({ ...healthyStatus, streamFailures: undefined })).toContain(
      'failures  no failure bucket in the target',
    );
  });
});

const entry = (overrides: Partial<DeadLetterEntry> = {}): DeadLetterEntry => ({
  messageId: 'm-1',
  receiptHandle: 'rh-1',
  kind: 'letter',
  stage: 'writer',
  ids: ['p-1'],
  reason: { code: 400, message: 'Field `price` must be a float.' },
  firstSeen: NOW - 65_000,
  attempts: 3,
  changes: [change('p-1')],
  ...overrides,
});

describe('dead-letter renderers', () => {
  it('ago: whole seconds, never negative, ? when unknown', () => {
    expect(ago(NOW - 1_400, NOW)).toBe('1 s ago');
    expect(ago(NOW + 5_000, NOW)).toBe('0 s ago');
    expect(ago(undefined, NOW)).toBe('?');
  });

  it('dlq list: the count, the groups by reason, then one line per letter', () => {
    const entries = [
      entry(),
      entry({ messageId: 'm-2', ids: ['p-2'], firstSeen: undefined }),
      entry({
        messageId: 'm-3',
        kind: 'moved',
        stage: 'queue',
        ids: [],
        reason: { code: 'receive-limit', message: 'moved' },
      }),
    ];
    const text = renderDeadLetterList({ entries, groups: groupByReason(entries), unread: 0 }, NOW);
    expect(text.split('\n')).toEqual([
      '3 dead letters',
      '      2  writer/400  Field `price` must be a float.',
      '      1  queue/receive-limit  moved',
      '',
      'message id  stage/code  document ids  first failed  reason',
      'm-1  writer/400  p-1  65 s ago  Field `price` must be a float.',
      'm-2  writer/400  p-2  ?  Field `price` must be a float.',
      'm-3  queue/receive-limit  -  65 s ago  moved',
    ]);
  });

  it('dlq list: says how many letters FIFO kept out of reach, and prints no header for none', () => {
    expect(renderDeadLetterList({ entries: [], groups: [], unread: 4 }, NOW)).toBe(
      "0 dead letters (4 more not readable now: FIFO holds a group's later messages)",
    );
  });

  it('dlq show: one block per letter, with whether and how it can be redriven', () => {
    const text = renderDeadLetters(
      [
        entry(),
        entry({
          messageId: 'm-9',
          stage: 'atlas',
          ids: [],
          changes: [],
          attempts: undefined,
          notRedrivable: 'fix it upstream',
        }),
      ],
      NOW,
    );
    expect(text.split('\n\n')).toEqual([
      [
        'message id   m-1',
        'kind         letter (stage writer)',
        'document ids p-1',
        'reason       400: Field `price` must be a float.',
        `first failed ${new Date(NOW - 65_000).toISOString()} (65 s ago)`,
        'attempts     3',
        "redrive      re-applies 1 key(s) from the table's current state",
      ].join('\n'),
      [
        'message id   m-9',
        'kind         letter (stage atlas)',
        'document ids -',
        'reason       400: Field `price` must be a float.',
        `first failed ${new Date(NOW - 65_000).toISOString()} (65 s ago)`,
        'attempts     ?',
        'redrive      not possible: fix it upstream',
      ].join('\n'),
    ]);
  });

  it('--json drops the receipt handle, which is good only for this run', () => {
    const shown = printable(entry());
    expect(shown).not.toHaveProperty('receiptHandle');
    expect(shown).toMatchObject({ messageId: 'm-1', ids: ['p-1'] });
  });

  it('dlq redrive: a dry run says what would happen; a run lists what it kept and what still fails', () => {
    const report = {
      selected: 3,
      redrivable: 2,
      redriven: 0,
      kept: [{ messageId: 'm-3', ids: [], reason: 'not a typesense-sync dead letter' }],
      unread: 0,
      settlement: undefined,
      dryRun: true,
    };
    expect(renderRedrive(report)).toBe(
      'dry run: 3 selected, 2 would be redriven, 1 cannot be\n  kept m-3 (-): not a typesense-sync dead letter',
    );
    expect(
      renderRedrive({
        ...report,
        dryRun: false,
        redriven: 2,
        unread: 5,
        settlement: { settled: ['p-1'], stillFailing: [{ id: 'p-2', reason: 'HTTP 400' }] },
      }).split('\n'),
    ).toEqual([
      'redriven 2 of 3 selected dead letters',
      '  kept m-3 (-): not a typesense-sync dead letter',
      '  5 dead letters were not readable now; run again after this one applies',
      'applied 1, still failing 1',
      '  p-2: HTTP 400',
    ]);
  });
});

describe('renderReplay', () => {
  it('a dry run counts; a run says what went where and which batches stayed', () => {
    const report = { objects: 2, records: 7, replayed: 1, changes: 5, deadLettered: 1, failed: [] };
    expect(renderReplay({ ...report, dryRun: true })).toBe(
      'dry run: 2 failed batches, 7 stream records to replay',
    );
    expect(
      renderReplay({ ...report, dryRun: false, failed: [{ key: 'b/2.json', reason: 'not JSON' }] }),
    ).toBe(
      'replayed 1 of 2 failed batches: 7 records → 5 changes enqueued, 1 dead-lettered\n  kept b/2.json: not JSON',
    );
  });
});

const job = (overrides: Partial<ResyncJob> = {}): ResyncJob => ({
  jobId: 'j-1',
  alias: 'products',
  collection: 'products_v2',
  phase: 'backfilling',
  trigger: 'operator',
  totalSegments: 8,
  startedAt: NOW - 60_000,
  updatedAt: NOW,
  ...overrides,
});
const progress = (overrides: Partial<ResyncProgress> = {}): ResyncProgress => ({
  job: job(),
  segmentsDone: 3,
  scanned: 1_000,
  indexed: 990,
  skipped: 10,
  filtered: 0,
  itemsPerSecond: 16.6,
  etaSeconds: 12.2,
  rejections: [],
  waitingFor: 'segments 3/8 backfilling',
  progressAgeMs: 4_000,
  ...overrides,
});

describe('re-sync renderers', () => {
  it('a running re-sync: counts, rate, ETA and what it waits for', () => {
    expect(renderResync(progress()).split('\n')).toEqual([
      're-sync j-1 (operator) backfilling: 3/8 segments, 1000 scanned, 990 indexed, 10 already newer from the stream, 17 items/s, ETA 13 s',
      '  segments 3/8 backfilling; last progress 4 s ago',
      '  collection products_v2',
    ]);
  });

  it("counts the items the projection's filter leaves out", () => {
    expect(renderResync(progress({ filtered: 250 })).split('\n')[0]).toBe(
      're-sync j-1 (operator) backfilling: 3/8 segments, 1000 scanned, 990 indexed, 10 already newer from the stream, 250 left out by the filter or transform, 17 items/s, ETA 13 s',
    );
  });

  it('a first load says that the alias appears at its swap', () => {
    expect(renderResync(progress({ job: job({ trigger: 'deploy', firstLoad: true }) })).split('\n')).toEqual([
      're-sync j-1 (deploy) backfilling: 3/8 segments, 1000 scanned, 990 indexed, 10 already newer from the stream, 17 items/s, ETA 13 s',
      '  segments 3/8 backfilling; last progress 4 s ago',
      '  collection products_v2; first load: the alias products appears at the swap',
    ]);
  });

  it('flags a re-sync silent for longer than the stall warning', () => {
    expect(renderResync(progress({ progressAgeMs: STALL_WARNING_MS + 1_000 }))).toContain(
      `last progress ${Math.round((STALL_WARNING_MS + 1_000) / 1000)} s ago (stalled? see the re-sync function logs and its DLQ)`,
    );
    expect(renderResync(progress({ progressAgeMs: STALL_WARNING_MS }))).not.toContain('stalled?');
  });

  it('a finished one: what it replaced, whether it was rolled back, its message and rejections', () => {
    const text = renderResync(
      progress({
        job: job({ phase: 'failed', previous: 'products_v1', rolledBackAt: NOW, message: 'alias vanished' }),
        itemsPerSecond: undefined,
        etaSeconds: undefined,
        progressAgeMs: undefined,
        rejections: [{ id: 'p-7', reason: 'Field `price` must be a float.' }],
      }),
    );
    expect(text.split('\n')).toEqual([
      're-sync j-1 (operator) failed: 3/8 segments, 1000 scanned, 990 indexed, 10 already newer from the stream',
      '  collection products_v2, replaced products_v1 (rolled back)',
      '  alias vanished',
      '  rejected p-7: Field `price` must be a float.',
    ]);
  });

  it('start, cancel and rollback each say what happened', () => {
    expect(renderResyncStarted(job())).toBe(
      'started re-sync j-1 into products_v2; follow it with: resync status',
    );
    expect(renderCancel(undefined)).toBe('no re-sync is running');
    expect(renderCancel({ action: 'cancelled', job: job() })).toBe(
      'cancelled re-sync j-1; products_v2 dropped',
    );
    expect(renderCancel({ action: 'completed', job: job({ phase: 'done' }) })).toBe(
      're-sync j-1 had already swapped the alias to products_v2: marked done, pointer released',
    );
    expect(renderCancel({ action: 'released', job: job({ phase: 'failed' }) })).toBe(
      're-sync j-1 had already ended (failed): released the active pointer it left behind',
    );
    const rolledBack = job({ phase: 'done', previous: 'products_v1' });
    expect(renderRollback({ job: rolledBack, drift: 0, repair: undefined }, 'products')).toBe(
      'alias products points at products_v1 again (re-sync j-1 rolled back)\nit matches the table',
    );
    expect(
      renderRollback(
        {
          job: rolledBack,
          drift: 3,
          repair: {
            enqueued: 3,
            deletedById: [],
            failed: [],
            settlement: { settled: ['a', 'b'], stillFailing: [{ id: 'c', reason: 'x' }] },
          },
        },
        'products',
      ).split('\n')[1],
    ).toBe('repaired 3 documents it missed since the swap: 3 re-enqueued, 1 still failing');
  });
});

const verifyReport = (overrides: Partial<VerifyReport> = {}): VerifyReport => ({
  missing: [],
  extra: [],
  stale: [],
  tableItems: 10,
  indexDocuments: 10,
  unprojectable: [],
  ...overrides,
});

describe('renderVerify', () => {
  it('a clean index', () => {
    expect(
      renderVerify({ report: verifyReport(), sample: undefined, repair: undefined, resync: undefined }),
    ).toBe(
      [
        'full: 10 items, 10 documents checked',
        'missing 0',
        'extra   0',
        'stale   0',
        'index matches the table',
      ].join('\n'),
    );
  });

  it('drift: the first 20 ids of each kind, the re-sync it started and the repair', () => {
    const missing = Array.from({ length: 21 }, (_, index) => `m-${index}`);
    const text = renderVerify({
      report: verifyReport({
        missing,
        extra: ['x-1'],
        stale: [{ id: 's-1', fields: ['price', 'name'] }],
        unprojectable: [{ id: 'u-1', code: 'projection', reason: 'bad key' }],
      }),
      sample: 50,
      repair: {
        enqueued: 23,
        deletedById: [],
        failed: [{ id: 'x-1', reason: 'queue refused' }],
        settlement: { settled: ['m-0'], stillFailing: [{ id: 's-1', reason: 'HTTP 400' }] },
      },
      resync: { job: job(), driftPercent: 230, abovePercent: 5 },
    });
    expect(text.split('\n')).toEqual([
      'sample of 50: 10 items, 10 documents checked',
      `missing 21: ${missing.slice(0, 20).join(', ')}, …`,
      'extra   1: x-1',
      'stale   1: s-1 (price,name)',
      'items the projection rejects: 1: u-1',
      'drift: 23 documents',
      'drift 230.00 % is above 5 %: started re-sync j-1',
      'repair: 23 keys re-enqueued, 1 applied, 1 still failing',
      '  s-1: HTTP 400',
      '  x-1: queue refused',
    ]);
  });

  it('unresolved: every drifting key without a repair; with one, what failed or did not settle', () => {
    const report = verifyReport({ missing: ['a', 'b'], extra: ['c'] });
    expect(unresolvedCount({ report, repair: undefined })).toBe(3);
    expect(
      unresolvedCount({
        report,
        repair: { enqueued: 3, deletedById: [], failed: [], settlement: undefined },
      }),
    ).toBe(3);
    expect(
      unresolvedCount({
        report,
        repair: {
          enqueued: 2,
          deletedById: [],
          failed: [{ id: 'c', reason: 'x' }],
          settlement: { settled: ['a', 'b'], stillFailing: [] },
        },
      }),
    ).toBe(1);
  });
});
