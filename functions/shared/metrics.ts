import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
// The metric names and the default namespace are part of the contract the dashboard and alarms share.
import { DEFAULT_METRICS_NAMESPACE, INDEX_DIMENSION, METRIC } from '../contract/metrics.ts';
import type { AtlasIngestSummary } from '../core/atlas-change.ts';
import type { IndexLagReading, LagReading } from '../core/lag-check.ts';
import { FINISHED_PHASES } from '../core/resync.ts';
import type { BatcherSummary } from '../core/stream-batch.ts';
import type { WriterSummary } from '../core/write-batch.ts';

export { DEFAULT_METRICS_NAMESPACE, METRIC } from '../contract/metrics.ts';

/** What the `add…Metrics` functions need: powertools' `Metrics`, or a sink that drops the figures. */
export type MetricsSink = Pick<Metrics, 'addMetric'>;

/**
 * A function's metrics, created once per handler and flushed once per invocation by the `logMetrics`
 * middleware. The namespace and the `service` dimension come from POWERTOOLS_METRICS_NAMESPACE and
 * POWERTOOLS_SERVICE_NAME in `env` (the function's environment when deployed), the namespace falling
 * back to the default; the service is passed only when set, so Powertools' own fallback is unchanged.
 */
export function createMetrics(env: Record<string, string | undefined> = process.env): Metrics {
  return new Metrics({
    namespace: env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE,
    ...(env.POWERTOOLS_SERVICE_NAME ? { serviceName: env.POWERTOOLS_SERVICE_NAME } : {}),
  });
}

/**
 * One `IngestionDelay` value per applied change, so CloudWatch computes its percentiles over
 * changes rather than batches. EMF allows 100 values per metric in one record; powertools writes
 * the record out whenever a metric reaches 100 values, so a larger batch spans several records.
 * The counts come last so that the middleware's final flush is never empty.
 */
export function addWriterMetrics(metrics: MetricsSink, summary: WriterSummary): void {
  for (const delay of summary.ingestionDelaysMs)
    metrics.addMetric(METRIC.ingestionDelay, MetricUnit.Milliseconds, delay);
  metrics.addMetric(METRIC.changesApplied, MetricUnit.Count, summary.upserted + summary.deleted);
  metrics.addMetric(METRIC.retries, MetricUnit.Count, summary.retrying);
  metrics.addMetric(METRIC.deadLetters, MetricUnit.Count, summary.deadLettered);
  metrics.addMetric(METRIC.requeued, MetricUnit.Count, summary.requeued);
  metrics.addMetric(METRIC.circuitOpen, MetricUnit.Count, summary.circuit === 'open' ? 1 : 0);
}

/**
 * Changes whose message SQS refused are not counted as queued: Lambda replays their records, which
 * count them when they do reach the queue.
 */
export function addBatcherMetrics(metrics: MetricsSink, summary: BatcherSummary): void {
  metrics.addMetric(METRIC.streamRecords, MetricUnit.Count, summary.records);
  metrics.addMetric(METRIC.changesQueued, MetricUnit.Count, summary.changes - summary.failedChanges);
  metrics.addMetric(METRIC.deadLetters, MetricUnit.Count, summary.deadLettered);
}

/**
 * The lag check's figures. A figure it could not read is left out rather than sent as 0, so a graph
 * shows a gap; `LagUnknown` is 1 whenever anything is missing, which is what the alarm watches. The
 * re-sync figures are the first index's (each index's, with several, are in `addIndexLagMetrics`).
 */
export function addLagMetrics(metrics: MetricsSink, reading: LagReading): void {
  const addKnown = (
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number | null,
  ) => {
    if (value !== null) metrics.addMetric(name, unit, value);
  };
  addKnown(METRIC.syncLag, MetricUnit.Milliseconds, reading.lagMs);
  addKnown(METRIC.canaryDelay, MetricUnit.Milliseconds, reading.canaryDelayMs);
  addKnown(METRIC.oldestPendingChangeAge, MetricUnit.Milliseconds, reading.oldestPendingChangeAgeMs);
  addKnown(METRIC.streamIteratorAge, MetricUnit.Milliseconds, reading.streamIteratorAgeMs);
  addKnown(METRIC.dlqDepth, MetricUnit.Count, reading.dlqDepth);
  metrics.addMetric(METRIC.lagUnknown, MetricUnit.Count, reading.problems.length > 0 ? 1 : 0);
  addResyncMetrics(metrics, reading.indexes?.[0]?.resync);
}

/** One index's re-sync figures; no job and an unreadable state table both read as no running job. */
function addResyncMetrics(metrics: MetricsSink, reading: IndexLagReading['resync']): void {
  const resync = typeof reading === 'object' ? reading : undefined;
  const running = resync !== undefined && !FINISHED_PHASES.has(resync.phase);
  metrics.addMetric(METRIC.resyncActive, MetricUnit.Count, running ? 1 : 0);
  if (running) {
    metrics.addMetric(METRIC.resyncSegmentsDone, MetricUnit.Count, resync.segmentsDone);
    metrics.addMetric(METRIC.resyncSegmentsTotal, MetricUnit.Count, resync.totalSegments);
    metrics.addMetric(METRIC.resyncItemsIndexed, MetricUnit.Count, resync.indexed);
  }
  // The latest job failed (say, a migration whose documents the new schema refuses): the deployed
  // schema is not live, and `resync status` names the keys. Stays 1 until a later job starts.
  if (resync !== undefined)
    metrics.addMetric(METRIC.resyncFailed, MetricUnit.Count, resync.phase === 'failed' ? 1 : 0);
  // Absent when nothing runs. Present for a finished job that still holds the active pointer: every
  // later re-sync is refused, which is a stall the alarm must see.
  if (resync?.progressAgeMs !== undefined)
    metrics.addMetric(METRIC.resyncProgressAge, MetricUnit.Milliseconds, resync.progressAgeMs);
}

/**
 * Each index's lag and re-sync figures when the table has several, as `SyncLagMs`, `ResyncProgressAgeMs`,
 * `ResyncFailed`… with an `Index` dimension: one lag, stall and failed alarm per further index
 * (lib/index-observability.ts). Each figure is flushed as a record of its own (a single metric clears its
 * dimensions when it flushes), since its dimensions differ from the invocation's. With one index the
 * headline figures are that index's: nothing more is published.
 */
export function addIndexLagMetrics(metrics: Pick<Metrics, 'singleMetric'>, reading: LagReading): void {
  const indexes = reading.indexes ?? [];
  if (indexes.length < 2) return;
  for (const index of indexes) {
    const ofIndex: MetricsSink = {
      addMetric(name, unit, value) {
        const single = metrics.singleMetric();
        single.addDimension(INDEX_DIMENSION, index.alias);
        single.addMetric(name, unit, value);
      },
    };
    if (index.lagMs !== null) ofIndex.addMetric(METRIC.syncLag, MetricUnit.Milliseconds, index.lagMs);
    // A reading saved by a version before re-syncs were read per index has none: nothing to publish.
    if (index.resync !== undefined) addResyncMetrics(ofIndex, index.resync);
  }
}

export function addAtlasIngestMetrics(metrics: MetricsSink, summary: AtlasIngestSummary): void {
  metrics.addMetric(METRIC.atlasEventsApplied, MetricUnit.Count, summary.applied);
  metrics.addMetric(METRIC.atlasEventsStale, MetricUnit.Count, summary.stale);
  metrics.addMetric(METRIC.deadLetters, MetricUnit.Count, summary.deadLettered);
}
