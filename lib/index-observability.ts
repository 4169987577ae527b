import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { INDEX_DIMENSION, METRIC, SERVICE_DIMENSION } from '../functions/contract/metrics.ts';
import { anyDatapointAlarm, failedResyncAlarm, stalledResyncAlarm } from './alarms.ts';
import { graph, resyncProgressGraph } from './dashboard.ts';
import { PERIOD, type SyncMetrics } from './sync-metrics.ts';

/**
 * The alarms and dashboard row of each further index of a sync (the first index's are the sync's own): its
 * writer's throughput and errors, its dead letters, its re-sync's dead letters, stalls and failures, and its lag
 * (the lag check's `SyncLagMs`, `ResyncProgressAgeMs` and `ResyncFailed` with the `Index` dimension). The
 * sync's own lag alarm watches the slowest index.
 */

/** What is watched of one further index. */
export interface WatchedIndex {
  /** The index's alias, in alarm descriptions and widget titles. */
  readonly alias: string;
  /** The construct id of the index (`Index<Alias>`): the prefix of its alarms' ids. */
  readonly id: string;
  readonly writer: { readonly fn: lambda.IFunction; readonly serviceName: string };
  readonly changesQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly resyncDeadLetterQueue: sqs.IQueue;
}

/** The alarms of one further index. */
export interface IndexAlarms {
  /** Its changes DLQ holds dead-lettered changes. */
  readonly deadLetters: cloudwatch.Alarm;
  /** Its writer failed invocations. */
  readonly writerErrors: cloudwatch.Alarm;
  /** Its re-sync DLQ holds tasks: its re-sync is stuck. */
  readonly resyncDeadLetters: cloudwatch.Alarm;
  /** It is further behind the table than `lagThreshold`, or the lag check stopped reporting it (with a schedule). */
  readonly lag?: cloudwatch.Alarm;
  /** Its running re-sync made no progress for `stallAfter` (with a schedule: the lag check reports it). */
  readonly resyncStalled?: cloudwatch.Alarm;
  /** Its latest re-sync failed and did not swap (with a schedule). */
  readonly resyncFailed?: cloudwatch.Alarm;
}

/** The lag check that reports every index's lag and re-sync; absent without a schedule (then nothing reports). */
export interface IndexLagWatch {
  readonly namespace: string;
  readonly lagCheckServiceName: string;
  readonly lagCheckInterval: Duration;
  readonly lagThreshold: Duration;
  /** How long a running re-sync may make no progress (the sync's `stallAfter`). */
  readonly stallAfter: Duration;
}

/** A figure of the index's own (`SyncLagMs`, `ResyncActive`…), as the lag check publishes it with several indexes. */
const indexFigure = (index: WatchedIndex, watch: IndexLagWatch, metricName: string) =>
  new cloudwatch.Metric({
    namespace: watch.namespace,
    metricName,
    dimensionsMap: { [SERVICE_DIMENSION]: watch.lagCheckServiceName, [INDEX_DIMENSION]: index.alias },
    statistic: cloudwatch.Stats.MAXIMUM,
    period: watch.lagCheckInterval,
  });

const indexLag = (index: WatchedIndex, watch: IndexLagWatch) => indexFigure(index, watch, METRIC.syncLag);

/** Like the sync's lag alarm (lib/observability.ts), on this index's own figure. */
function indexLagAlarm(scope: Construct, index: WatchedIndex, watch: IndexLagWatch): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, `${index.id}LagAlarm`, {
    alarmDescription:
      `The index ${index.alias} is more than ${watch.lagThreshold.toHumanString()} behind the table, or the lag ` +
      `check stopped reporting it. Run \`typesense-sync --index ${index.alias} status\` and \`typesense-sync lag\`; ` +
      'no data at all: see the lag-check function logs.',
    metric: indexLag(index, watch),
    threshold: watch.lagThreshold.toMilliseconds(),
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    // A check that does not report this index leaves its lag unknown, which must not read as healthy.
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
}

const visible = (queue: sqs.IQueue) =>
  queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: PERIOD });

export function indexAlarms(
  scope: Construct,
  index: WatchedIndex,
  lagWatch: IndexLagWatch | undefined,
): IndexAlarms {
  const select = `--index ${index.alias}`;
  return {
    deadLetters: anyDatapointAlarm(
      scope,
      `${index.id}DeadLettersAlarm`,
      `Changes of the index ${index.alias} were dead-lettered: it misses them until they are redriven. Run ` +
        `\`typesense-sync ${select} dlq list\`, fix the cause, then \`typesense-sync ${select} dlq redrive\`.`,
      visible(index.deadLetterQueue),
    ),
    writerErrors: anyDatapointAlarm(
      scope,
      `${index.id}WriterErrorsAlarm`,
      `The ${index.writer.serviceName} function (index ${index.alias}) failed invocations. Changes are retried and ` +
        `then dead-lettered: see its logs, then \`typesense-sync ${select} dlq list\`.`,
      index.writer.fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: PERIOD }),
    ),
    resyncDeadLetters: anyDatapointAlarm(
      scope,
      `${index.id}ResyncDeadLettersAlarm`,
      `Re-sync tasks of the index ${index.alias} failed for good: see its re-sync logs and ` +
        `\`typesense-sync ${select} resync status\`.`,
      visible(index.resyncDeadLetterQueue),
    ),
    // The same alarms as the sync's own re-sync (lib/alarms.ts), on this index's figures (`Index` dimension).
    ...(lagWatch !== undefined && {
      lag: indexLagAlarm(scope, index, lagWatch),
      resyncStalled: stalledResyncAlarm(scope, lagWatch, index),
      resyncFailed: failedResyncAlarm(scope, lagWatch, index),
    }),
  };
}

/**
 * One dashboard row per further index: its writer's throughput and its queues; with a schedule a second row: its
 * lag and its re-sync's progress (the graph of the first index's, on this index's figures).
 */
export function indexWidgets(
  dashboard: cloudwatch.Dashboard,
  metrics: SyncMetrics,
  index: WatchedIndex,
  lagWatch: IndexLagWatch | undefined,
): void {
  const sum = (metricName: string, label: string) =>
    metrics.emfOf(index.writer.serviceName, metricName, cloudwatch.Stats.SUM).with({ label });
  dashboard.addWidgets(
    graph(`Index ${index.alias}: writer (changes / min)`, [
      sum(METRIC.changesApplied, 'changes applied'),
      sum(METRIC.retries, 'retries'),
      sum(METRIC.deadLetters, 'writer dead letters'),
    ]),
    graph(`Index ${index.alias}: queues`, [
      index.changesQueue.metricApproximateNumberOfMessagesVisible({
        statistic: cloudwatch.Stats.MAXIMUM,
        period: PERIOD,
        label: 'messages waiting',
      }),
      visible(index.deadLetterQueue).with({ label: 'DLQ messages' }),
    ]),
  );
  if (lagWatch !== undefined)
    dashboard.addWidgets(
      graph(`Index ${index.alias}: lag (ms)`, [indexLag(index, lagWatch).with({ label: 'lag' })]),
      resyncProgressGraph(`Index ${index.alias}: re-sync progress`, (metricName, label) =>
        indexFigure(index, lagWatch, metricName).with({ label }),
      ),
    );
}
