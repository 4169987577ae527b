import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { METRIC } from '../functions/contract/metrics.ts';
import type { AtlasObservabilityProps, EmfRole, SyncObservabilityProps } from './observability.ts';
import { PERIOD, type SyncMetrics } from './sync-metrics.ts';

const WIDGET_WIDTH = 12;

/** A graph of the dashboard's size: two to a row. */
export const graph = (
  title: string,
  left: cloudwatch.IMetric[],
  extra: Partial<cloudwatch.GraphWidgetProps> = {},
) => new cloudwatch.GraphWidget({ title, left, width: WIDGET_WIDTH, height: 6, ...extra });

/**
 * A re-sync's progress from the lag check's gauges: the sync's own (`figure` without an `Index` dimension) or
 * a further index's (lib/index-observability.ts, with it).
 */
export const resyncProgressGraph = (
  title: string,
  figure: (metricName: string, label: string) => cloudwatch.IMetric,
) =>
  graph(
    title,
    [
      figure(METRIC.resyncActive, 'active'),
      figure(METRIC.resyncSegmentsDone, 'segments done'),
      figure(METRIC.resyncSegmentsTotal, 'segments total'),
    ],
    { right: [figure(METRIC.resyncItemsIndexed, 'items indexed')] },
  );

/** Widget builders over the sync's metrics. */
function widgets(metrics: SyncMetrics) {
  const charted = (role: EmfRole, metricName: string, statistic: string, label: string) =>
    metrics.emf(role, metricName, statistic).with({ label });
  const sum = (role: EmfRole, metricName: string, label: string) =>
    charted(role, metricName, cloudwatch.Stats.SUM, label);
  // The lag check's figures are gauges: one value per check.
  const max = (metricName: string, label: string) =>
    charted('lagCheck', metricName, cloudwatch.Stats.MAXIMUM, label);
  return { charted, sum, max };
}

/** The sync's dashboard: alarm states first, then lag, throughput, errors, queues, circuit and re-sync. */
export function syncDashboard(
  scope: Construct,
  props: SyncObservabilityProps,
  metrics: SyncMetrics,
  alarms: cloudwatch.IAlarm[],
): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    ...(props.dashboardName !== undefined && { dashboardName: props.dashboardName }),
    defaultInterval: Duration.hours(3),
  });
  dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24, height: 6 }));
  lagWidgets(dashboard, props, metrics);
  pipelineWidgets(dashboard, props, metrics);
  if (props.atlas !== undefined) atlasWidgets(dashboard, props.atlas, metrics);
  return dashboard;
}

function lagWidgets(
  dashboard: cloudwatch.Dashboard,
  props: SyncObservabilityProps,
  metrics: SyncMetrics,
): void {
  const { charted, max } = widgets(metrics);
  dashboard.addWidgets(
    graph(
      'Lag (ms)',
      [
        metrics.lag.with({ label: 'sync lag (lag check)' }),
        charted('writer', METRIC.ingestionDelay, cloudwatch.Stats.p(50), 'ingestion delay p50'),
        charted('writer', METRIC.ingestionDelay, cloudwatch.Stats.p(99), 'ingestion delay p99'),
        charted('writer', METRIC.ingestionDelay, cloudwatch.Stats.MAXIMUM, 'ingestion delay max'),
      ],
      { leftAnnotations: [{ value: props.lagThreshold.toMilliseconds(), label: 'lag alarm' }] },
    ),
    graph(
      'Lag check (ms)',
      [
        max(METRIC.canaryDelay, 'canary delay'),
        max(METRIC.oldestPendingChangeAge, 'oldest pending change'),
        max(METRIC.streamIteratorAge, 'stream iterator age'),
      ],
      {
        right: [metrics.lagUnknown.with({ label: 'lag unknown' })],
        rightYAxis: { min: 0, max: 1, label: 'lag unknown' },
      },
    ),
  );
}

function pipelineWidgets(
  dashboard: cloudwatch.Dashboard,
  props: SyncObservabilityProps,
  metrics: SyncMetrics,
): void {
  const { charted, sum, max } = widgets(metrics);
  dashboard.addWidgets(
    graph('Throughput (changes / min)', [
      sum('batcher', METRIC.streamRecords, 'stream records'),
      sum('batcher', METRIC.changesQueued, 'changes queued'),
      sum('writer', METRIC.changesApplied, 'changes applied'),
    ]),
    graph(
      'Errors',
      metrics.roles.map((role) =>
        metrics.errorsOf(role).with({ label: `${props.functions[role].serviceName} errors` }),
      ),
      {
        right: [
          sum('batcher', METRIC.deadLetters, 'batcher dead letters'),
          sum('writer', METRIC.deadLetters, 'writer dead letters'),
        ],
      },
    ),
  );
  dashboard.addWidgets(
    graph('Writer retries', [
      sum('writer', METRIC.retries, 'retries'),
      sum('writer', METRIC.requeued, 'requeued'),
    ]),
    graph('Stream iterator age (ms)', [metrics.iteratorAge.with({ label: 'batcher iterator age' })], {
      leftAnnotations: [{ value: props.iteratorAgeThreshold.toMilliseconds(), label: 'iterator age alarm' }],
    }),
  );
  dashboard.addWidgets(
    graph(
      'Changes queue',
      [
        props.changesQueue.metricApproximateNumberOfMessagesVisible({
          statistic: cloudwatch.Stats.MAXIMUM,
          period: PERIOD,
          label: 'messages waiting',
        }),
      ],
      {
        right: [
          props.changesQueue.metricApproximateAgeOfOldestMessage({
            statistic: cloudwatch.Stats.MAXIMUM,
            period: PERIOD,
            label: 'age of oldest message (s)',
          }),
        ],
      },
    ),
    graph('Dead-letter queue', [
      metrics.dlqVisible.with({ label: 'DLQ messages' }),
      max(METRIC.dlqDepth, 'DLQ depth (lag check)'),
    ]),
  );
  dashboard.addWidgets(
    graph(
      'Circuit (1 = open)',
      [charted('writer', METRIC.circuitOpen, cloudwatch.Stats.MAXIMUM, 'circuit open')],
      {
        leftYAxis: { min: 0, max: 1 },
      },
    ),
    resyncProgressGraph('Re-sync progress', max),
  );
}

function atlasWidgets(
  dashboard: cloudwatch.Dashboard,
  atlas: AtlasObservabilityProps,
  metrics: SyncMetrics,
): void {
  const atlasSum = (metricName: string, label: string) =>
    metrics.emfOf(atlas.serviceName, metricName, cloudwatch.Stats.SUM).with({ label });
  const queueMaximum = { statistic: cloudwatch.Stats.MAXIMUM, period: PERIOD };
  dashboard.addWidgets(
    graph(
      'Atlas ingest (events / min)',
      [
        atlasSum(METRIC.atlasEventsApplied, 'applied'),
        atlasSum(METRIC.atlasEventsStale, 'stale (late or duplicate)'),
        atlasSum(METRIC.deadLetters, 'dead-lettered'),
      ],
      {
        right: [
          atlas.ingest.metricInvocations({
            statistic: cloudwatch.Stats.SUM,
            period: PERIOD,
            label: 'invocations',
          }),
          atlas.ingest.metricErrors({ statistic: cloudwatch.Stats.SUM, period: PERIOD, label: 'errors' }),
        ],
      },
    ),
    graph(
      'Atlas ingest queues',
      [
        atlas.ingestQueue.metricApproximateNumberOfMessagesVisible({
          ...queueMaximum,
          label: 'ingest queue messages',
        }),
        atlas.ingestDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          ...queueMaximum,
          label: 'ingest DLQ messages',
        }),
      ],
      {
        right: [
          atlas.ingestQueue.metricApproximateAgeOfOldestMessage({
            ...queueMaximum,
            label: 'age of oldest ingest message (s)',
          }),
        ],
      },
    ),
  );
}
