import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  anyDatapointAlarm,
  createStallAlarms,
  type RuleDeliveryAlarms,
  type StallAlarmsProps,
  type SyncRuleRole,
} from './alarms.ts';
import type { AtlasSource } from './atlas-source.ts';
import { syncDashboard } from './dashboard.ts';
import { type IndexAlarms, indexAlarms, indexWidgets, type WatchedIndex } from './index-observability.ts';
import { PERIOD, type SyncMetrics, syncMetrics } from './sync-metrics.ts';

/** Where the sync alarms notify, and when the lag and iterator age alarms fire. */
export interface TypesenseSyncAlarmsProps {
  /**
   * Notified when any of the alarms goes to ALARM and back to OK. CloudWatch is allowed to publish to it
   * (and to use its customer managed key); an imported topic gets a synth warning saying what to add.
   * Mutually exclusive with `createTopic`. @default no notifications
   */
  readonly topic?: sns.ITopic;
  /**
   * Create a TLS-only alarms topic (encrypted with `encryptionKey` when given) and notify it: a fresh
   * deploy then has somewhere to send; subscribe to it (`alarmTopic`). @default false
   */
  readonly createTopic?: boolean;
  /** End-to-end lag (`SyncLagMs`) above which, for 3 checks in a row, the lag alarm fires. @default 60 s */
  readonly lagThreshold?: Duration;
  /** How far the batcher may fall behind the stream before its alarm fires. @default 5 min */
  readonly iteratorAgeThreshold?: Duration;
}

/** The functions of one TypesenseSync. */
export type SyncFunctionRole = 'batcher' | 'writer' | 'resync' | 'lagCheck' | 'ingestionDelay';

/** The functions publishing EMF metrics. */
export type EmfRole = 'batcher' | 'writer' | 'lagCheck';

/** The alarms an operator acts on; each description says what to do. */
export interface TypesenseSyncAlarms {
  /** The index is further behind the table than `lagThreshold`, or the lag check stopped reporting. */
  readonly lag?: cloudwatch.Alarm;
  /** The lag check ran but could not measure the lag. */
  readonly lagUnknown?: cloudwatch.Alarm;
  /** The changes DLQ holds dead-lettered changes. */
  readonly deadLetters: cloudwatch.Alarm;
  /** The batcher is falling behind the DynamoDB stream. */
  readonly iteratorAge: cloudwatch.Alarm;
  /** The re-sync DLQ holds tasks: a re-sync is stuck. */
  readonly resyncDeadLetters: cloudwatch.Alarm;
  /** A running re-sync made no progress for `resync.stallAlarmAfter` (with a lag check schedule). */
  readonly resyncStalled?: cloudwatch.Alarm;
  /** The latest re-sync failed and never swapped (with a lag check schedule). */
  readonly resyncFailed?: cloudwatch.Alarm;
  /** The stream iterator age nears the stream retention (`resync.onStreamGap`); it also starts a re-sync. */
  readonly streamGap?: cloudwatch.Alarm;
  /** Per EventBridge rule the sync creates: delivery failures, and events lost with no DLQ to go to. */
  readonly ruleDelivery: Readonly<Partial<Record<SyncRuleRole, RuleDeliveryAlarms>>>;
  /** One per function: its invocations fail. */
  readonly functionErrors: Readonly<Record<SyncFunctionRole, cloudwatch.Alarm>>;
  /** The alarms of each index after the first, by alias. */
  readonly indexes?: Readonly<Record<string, IndexAlarms>>;
  /** With a MongoDB Atlas source. */
  readonly atlas?: {
    /** The Atlas ingest function fails invocations. */
    readonly ingestErrors: cloudwatch.Alarm;
    /** The Atlas ingest DLQ holds events (the alarm the AtlasSource creates). */
    readonly ingestDeadLetters: cloudwatch.Alarm;
  };
}

/** What the dashboard and alarms watch of an Atlas source. */
export type AtlasObservabilityProps = Pick<
  AtlasSource,
  'ingest' | 'serviceName' | 'ingestQueue' | 'ingestDeadLetterQueue' | 'deadLetterAlarm'
>;

export interface SyncObservabilityProps {
  /** The EMF namespace every function publishes its metrics in. */
  readonly namespace: string;
  /** Each function with its POWERTOOLS_SERVICE_NAME, the `service` dimension of its metrics. */
  readonly functions: Readonly<Record<SyncFunctionRole, { fn: lambda.IFunction; serviceName: string }>>;
  readonly changesQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** How often the lag check runs; undefined when it is not scheduled (then no lag alarms). */
  readonly lagCheckInterval: Duration | undefined;
  readonly lagThreshold: Duration;
  readonly iteratorAgeThreshold: Duration;
  readonly topic?: sns.ITopic;
  readonly dashboardName?: string;
  /** The re-sync DLQ, the stall time and the rules to watch (see lib/alarms.ts). */
  readonly stall: Omit<StallAlarmsProps, 'namespace' | 'lagCheckServiceName' | 'lagCheckInterval'>;
  /** The stream-gap alarm the sync creates beside its re-sync trigger, to be notified like the others. */
  readonly streamGapAlarm?: cloudwatch.Alarm;
  /** The MongoDB Atlas source, when there is one: charted, and alarmed on like the functions. */
  readonly atlas?: AtlasObservabilityProps;
  /** The indexes after the first, each alarmed on and charted on a row of its own (lib/index-observability.ts). */
  readonly furtherIndexes?: readonly WatchedIndex[];
}

/** What a failing function means for the index, and where to look: the function errors alarms. */
const FUNCTION_ERROR_ADVICE: Record<SyncFunctionRole, string> = {
  batcher:
    'Stream batches are retried, then land in the failure bucket: see the batcher logs, then `typesense-sync status` ' +
    'and `typesense-sync replay-stream-failures`.',
  writer:
    'Changes are retried and then dead-lettered: see the writer logs, then `typesense-sync status` and ' +
    '`typesense-sync dlq list`.',
  resync:
    'Re-sync tasks are retried, then land in the re-sync DLQ: see the re-sync logs and `typesense-sync resync status`.',
  lagCheck:
    'The lag is not measured: see the lag-check logs; `typesense-sync status` shows the pipeline meanwhile.',
  ingestionDelay: 'The ingestion-delay endpoint fails (`typesense-sync lag`): see its logs.',
};

const ATLAS_INGEST_ERROR_ADVICE =
  'Atlas events are retried from the ingest queue, then land in the Atlas ingest DLQ: see the ingest logs, fix ' +
  'the cause (DynamoDB throttling or permissions, a bad deploy), then redrive the ingest DLQ to the ingest queue ' +
  '(SQS "Start DLQ redrive"). Events it rejects for good are in `typesense-sync dlq list --filter stage=atlas`.';

/**
 * The sync's CloudWatch dashboard and alarms, built from the functions' EMF metrics (dimension
 * `service`), their Lambda metrics and the queues' SQS metrics: metrics, alarms and dashboard apart
 * (lib/sync-metrics.ts, here and lib/alarms.ts, lib/dashboard.ts).
 */
export class SyncObservability extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: TypesenseSyncAlarms;

  constructor(scope: Construct, id: string, props: SyncObservabilityProps) {
    super(scope, id);
    const metrics = syncMetrics(props);
    const notify = (alarm: cloudwatch.Alarm) => {
      if (props.topic !== undefined) {
        alarm.addAlarmAction(new actions.SnsAction(props.topic));
        alarm.addOkAction(new actions.SnsAction(props.topic));
      }
      return alarm;
    };
    const lagAlarms = this.lagAlarms(props, metrics, notify);
    const pipeline = this.pipelineAlarms(props, metrics, notify);
    const stall = createStallAlarms(this, {
      ...props.stall,
      namespace: props.namespace,
      lagCheckServiceName: props.functions.lagCheck.serviceName,
      lagCheckInterval: props.lagCheckInterval,
    });
    const stallAlarms = [
      stall.resyncDeadLetters,
      ...(stall.resyncStalled === undefined ? [] : [stall.resyncStalled]),
      ...(stall.resyncFailed === undefined ? [] : [stall.resyncFailed]),
      ...Object.values(stall.ruleDelivery).flatMap((rule) => [
        rule.failedInvocations,
        ...(rule.failedToDeadLetterQueue === undefined ? [] : [rule.failedToDeadLetterQueue]),
      ]),
      ...(props.streamGapAlarm === undefined ? [] : [props.streamGapAlarm]),
    ].map(notify);

    const furtherIndexes = props.furtherIndexes ?? [];
    const lagWatch = props.lagCheckInterval && {
      namespace: props.namespace,
      lagCheckServiceName: props.functions.lagCheck.serviceName,
      lagCheckInterval: props.lagCheckInterval,
      lagThreshold: props.lagThreshold,
      stallAfter: props.stall.stallAfter,
    };
    const perIndex = furtherIndexes.map((index) => {
      const alarms = indexAlarms(this, index, lagWatch);
      for (const alarm of Object.values(alarms)) notify(alarm);
      return [index.alias, alarms] as const;
    });

    this.alarms = {
      ...lagAlarms,
      deadLetters: pipeline.deadLetters,
      iteratorAge: pipeline.iteratorAge,
      ...stall,
      ...(props.streamGapAlarm !== undefined && { streamGap: props.streamGapAlarm }),
      functionErrors: pipeline.functionErrors,
      ...(pipeline.atlas !== undefined && { atlas: pipeline.atlas }),
      ...(perIndex.length > 0 && { indexes: Object.fromEntries(perIndex) }),
    };
    const allAlarms = [
      ...Object.values(lagAlarms),
      pipeline.deadLetters,
      pipeline.iteratorAge,
      ...Object.values(pipeline.functionErrors),
      ...Object.values(pipeline.atlas ?? {}),
      ...stallAlarms,
      ...perIndex.flatMap(([, alarms]) => Object.values(alarms)),
    ];
    this.dashboard = syncDashboard(this, props, metrics, allAlarms);
    for (const index of furtherIndexes) indexWidgets(this.dashboard, metrics, index, lagWatch);
  }

  /**
   * The lag check reports once per interval, so one datapoint per period; without a schedule nothing
   * reports, and alarms on figures nobody produces would only ever say "missing".
   */
  private lagAlarms(
    props: SyncObservabilityProps,
    metrics: SyncMetrics,
    notify: (alarm: cloudwatch.Alarm) => cloudwatch.Alarm,
  ): Pick<TypesenseSyncAlarms, 'lag' | 'lagUnknown'> {
    if (props.lagCheckInterval === undefined) return {};
    const lagThreshold = props.lagThreshold.toHumanString();
    return {
      lag: notify(
        new cloudwatch.Alarm(this, 'LagAlarm', {
          alarmDescription:
            `The index is more than ${lagThreshold} behind the table, or the lag check stopped reporting. ` +
            'Run `typesense-sync status`: a growing queue means the writer cannot keep up, an open circuit ' +
            'that Typesense is unreachable, DLQ messages that changes failed (`typesense-sync dlq list`). ' +
            'No data at all: see the lag-check function logs.',
          metric: metrics.lag.with({ period: props.lagCheckInterval }),
          threshold: props.lagThreshold.toMilliseconds(),
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          // A check that does not report leaves the lag unknown, which must not read as healthy.
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        }),
      ),
      lagUnknown: notify(
        new cloudwatch.Alarm(this, 'LagUnknownAlarm', {
          alarmDescription:
            'The lag check could not measure the lag 3 times in a row (the canary was not indexed in time, ' +
            'or Typesense or AWS did not answer). See the lag-check function logs and `typesense-sync status` ' +
            '(Typesense health, circuit, queue and DLQ depth).',
          metric: metrics.lagUnknown.with({ period: props.lagCheckInterval }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          // Missing reports are the lag alarm's concern.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ),
    };
  }

  /** Dead letters, the batcher's iterator age, every function's errors, and the Atlas ingest's. */
  private pipelineAlarms(
    props: SyncObservabilityProps,
    metrics: SyncMetrics,
    notify: (alarm: cloudwatch.Alarm) => cloudwatch.Alarm,
  ) {
    const { functions, atlas } = props;
    const deadLetters = notify(
      anyDatapointAlarm(
        this,
        'DeadLettersAlarm',
        'Changes were dead-lettered: the index misses them until they are redriven. Run `typesense-sync dlq list` ' +
          'for their keys and reasons, fix the cause (schema, mapping, Typesense), then `typesense-sync dlq redrive`.',
        metrics.dlqVisible,
      ),
    );
    const iteratorAge = notify(
      new cloudwatch.Alarm(this, 'IteratorAgeAlarm', {
        alarmDescription:
          `The batcher is more than ${props.iteratorAgeThreshold.toHumanString()} behind the DynamoDB stream. ` +
          'See the batcher errors and throttles on the dashboard and its logs; `typesense-sync status` shows ' +
          'failed stream batches (replay them with `typesense-sync replay-stream-failures`).',
        metric: metrics.iteratorAge,
        threshold: props.iteratorAgeThreshold.toMilliseconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        // No stream records, no metric: nothing to be behind on.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    const functionErrors = Object.fromEntries(
      metrics.roles.map((role) => [
        role,
        notify(
          anyDatapointAlarm(
            this,
            `${role}ErrorsAlarm`,
            `The ${functions[role].serviceName} function failed invocations. ${FUNCTION_ERROR_ADVICE[role]}`,
            metrics.errorsOf(role),
          ),
        ),
      ]),
    ) as Record<SyncFunctionRole, cloudwatch.Alarm>;
    const atlasAlarms =
      atlas === undefined
        ? undefined
        : {
            ingestErrors: notify(
              anyDatapointAlarm(
                this,
                'atlasIngestErrorsAlarm',
                `The ${atlas.serviceName} function failed invocations. ${ATLAS_INGEST_ERROR_ADVICE}`,
                atlas.ingest.metricErrors({ statistic: cloudwatch.Stats.SUM, period: PERIOD }),
              ),
            ),
            ingestDeadLetters: notify(atlas.deadLetterAlarm),
          };
    return { deadLetters, iteratorAge, functionErrors, atlas: atlasAlarms };
  }
}
