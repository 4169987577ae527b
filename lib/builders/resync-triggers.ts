import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { SyncRule } from '../alarms.ts';
import type { TypesenseSyncSettings } from '../validate-props.ts';
import { queueRuleTarget } from './grants.ts';

/**
 * The re-sync's schedule and stream-gap trigger, each starting the re-sync of every index (one rule target
 * per index's work queue: a stream gap loses changes for all of them). Each only enqueues a start task, so
 * all of them take the same path as an operator's. Returns the stream-gap alarm, to be notified like the others.
 */
export function resyncTriggers(
  scope: Construct,
  sync: { resyncQueues: readonly sqs.IQueue[]; batcher: lambda.IFunction; settings: TypesenseSyncSettings },
  rules: SyncRule[],
): cloudwatch.Alarm | undefined {
  const { settings } = sync;
  const { resync } = settings;
  const start = (trigger: 'schedule' | 'stream-gap') =>
    // Only that rule may send to the work queues.
    sync.resyncQueues.map((queue) =>
      queueRuleTarget(queue, {
        message: events.RuleTargetInput.fromObject({ action: 'start', trigger }),
      }),
    );
  if (resync.schedule !== undefined) {
    const rule = new events.Rule(scope, 'ResyncSchedule', {
      description: 'Starts a full re-sync of the Typesense index on a schedule',
      schedule: resync.schedule,
      targets: start('schedule'),
    });
    rules.push({ role: 'resyncSchedule', rule });
  }
  if (!resync.onStreamGap) return undefined;
  // Records older than the stream's retention are gone from it, so changes the batcher has not
  // read by then are lost to the pipeline: only a full re-sync recovers them. Alarm before that.
  const alarm = new cloudwatch.Alarm(scope, 'StreamIteratorAgeAlarm', {
    alarmDescription: 'The batcher is falling behind the stream: unread records are about to expire',
    metric: sync.batcher.metric('IteratorAge', {
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(5),
    }),
    threshold: (settings.streamMaxRecordAge.toMilliseconds() * 4) / 5,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const rule = new events.Rule(scope, 'StreamGapRule', {
    description: 'Starts a full re-sync when the stream iterator age alarm fires',
    eventPattern: {
      source: ['aws.cloudwatch'],
      detailType: ['CloudWatch Alarm State Change'],
      resources: [alarm.alarmArn],
      detail: { state: { value: ['ALARM'] } },
    },
    targets: start('stream-gap'),
  });
  rules.push({ role: 'streamGap', rule });
  return alarm;
}
