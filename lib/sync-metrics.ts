import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC, SERVICE_DIMENSION } from '../functions/contract/metrics.ts';
import type { EmfRole, SyncFunctionRole, SyncObservabilityProps } from './observability.ts';

/** The EMF, Lambda and SQS metrics all have one-minute resolution. */
export const PERIOD = Duration.minutes(1);

/**
 * The metrics the alarms and the dashboard share, by the contract's names (functions/contract/metrics.ts).
 * Without labels: alarms need them so (a labelled metric turns into a metric math alarm); the dashboard
 * labels its copies.
 */
export interface SyncMetrics {
  /** An EMF metric of the function whose POWERTOOLS_SERVICE_NAME is `serviceName`. */
  readonly emfOf: (serviceName: string, metricName: string, statistic: string) => cloudwatch.Metric;
  readonly emf: (role: EmfRole, metricName: string, statistic: string) => cloudwatch.Metric;
  readonly lag: cloudwatch.Metric;
  readonly lagUnknown: cloudwatch.Metric;
  readonly iteratorAge: cloudwatch.Metric;
  readonly dlqVisible: cloudwatch.Metric;
  readonly errorsOf: (role: SyncFunctionRole) => cloudwatch.Metric;
  readonly roles: SyncFunctionRole[];
}

export function syncMetrics(props: SyncObservabilityProps): SyncMetrics {
  const { functions } = props;
  const emfOf = (serviceName: string, metricName: string, statistic: string) =>
    new cloudwatch.Metric({
      namespace: props.namespace,
      metricName,
      dimensionsMap: { [SERVICE_DIMENSION]: serviceName },
      statistic,
      period: PERIOD,
    });
  const emf = (role: EmfRole, metricName: string, statistic: string) =>
    emfOf(functions[role].serviceName, metricName, statistic);
  return {
    emfOf,
    emf,
    lag: emf('lagCheck', METRIC.syncLag, cloudwatch.Stats.MAXIMUM),
    lagUnknown: emf('lagCheck', METRIC.lagUnknown, cloudwatch.Stats.MAXIMUM),
    iteratorAge: functions.batcher.fn.metric('IteratorAge', {
      statistic: cloudwatch.Stats.MAXIMUM,
      period: PERIOD,
    }),
    dlqVisible: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: cloudwatch.Stats.MAXIMUM,
      period: PERIOD,
    }),
    errorsOf: (role) => functions[role].fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: PERIOD }),
    roles: Object.keys(functions) as SyncFunctionRole[],
  };
}
