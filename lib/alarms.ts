import { Annotations, ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';
import { INDEX_DIMENSION, METRIC, SERVICE_DIMENSION } from '../functions/contract/metrics.ts';

/**
 * The alarms that keep a stall from going unnoticed (a dead-lettered re-sync task, a re-sync making no
 * progress, an EventBridge rule failing to deliver) and the alarm topic: where notifications go, and
 * what CloudWatch needs to be allowed to deliver them.
 */

/** The rules a sync creates, by what they do; each gets delivery alarms. */
export type SyncRuleRole = 'resyncSchedule' | 'streamGap' | 'lagCheckSchedule' | 'atlas';

/** An EventBridge rule's two delivery failure alarms. */
/** A rule the construct creates, for its delivery alarms. */
export interface SyncRule {
  readonly role: SyncRuleRole;
  readonly rule: events.IRule;
  /** The custom (or partner) bus it is on; the default bus when absent. */
  readonly eventBusName?: string;
  /** Whether its target has a dead-letter queue. */
  readonly hasDeadLetterQueue?: boolean;
}

export interface RuleDeliveryAlarms {
  /** Invocations that failed for good (after EventBridge's retries), not counting dead-lettered ones. */
  readonly failedInvocations: cloudwatch.Alarm;
  /**
   * Events that could not even be sent to the rule's dead-letter queue: lost. Only for a rule whose target
   * has a DLQ: EventBridge publishes the metric for no other, so the alarm could never fire.
   */
  readonly failedToDeadLetterQueue?: cloudwatch.Alarm;
}

export interface StallAlarmsProps {
  readonly resyncDeadLetterQueue: sqs.IQueue;
  /** The EMF namespace and service name of the lag check, which publishes `ResyncProgressAgeMs`. */
  readonly namespace: string;
  readonly lagCheckServiceName: string;
  /** How often the lag check runs; undefined when it is not scheduled (then nobody reports progress). */
  readonly lagCheckInterval: Duration | undefined;
  readonly stallAfter: Duration;
  /** The rules to watch, with the bus each one is on when it is not the default bus. */
  readonly rules: ReadonlyArray<SyncRule>;
}

export interface StallAlarms {
  readonly resyncDeadLetters: cloudwatch.Alarm;
  readonly resyncStalled?: cloudwatch.Alarm;
  readonly resyncFailed?: cloudwatch.Alarm;
  readonly ruleDelivery: Partial<Record<SyncRuleRole, RuleDeliveryAlarms>>;
}

const RULE_ADVICE: Record<SyncRuleRole, string> = {
  resyncSchedule: 'Scheduled re-syncs are not starting: check the re-sync queue policy and key policy.',
  streamGap:
    'A stream gap did not start its re-sync: start one (`typesense-sync resync start`), then check the re-sync ' +
    'queue policy and key policy.',
  lagCheckSchedule: 'The lag check is not running: check the lag-check function and its invoke permission.',
  atlas:
    'Atlas events are not reaching the ingest queue: check the ingest queue policy and key policy, then the ' +
    'ingest DLQ.',
};

/**
 * An alarm on any datapoint above zero in one period (a queue holding messages, a function failing), where
 * no data means nothing happened.
 */
export function anyDatapointAlarm(
  scope: Construct,
  id: string,
  alarmDescription: string,
  metric: cloudwatch.IMetric,
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    alarmDescription,
    metric,
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** The stall alarms, created in `scope`. */
export function createStallAlarms(scope: Construct, props: StallAlarmsProps): StallAlarms {
  const resyncDeadLetters = anyDatapointAlarm(
    scope,
    'ResyncDeadLettersAlarm',
    'Re-sync tasks were dead-lettered after 5 failed receives: the re-sync they belong to is stuck. See the ' +
      're-sync function logs and `typesense-sync resync status`; fix the cause, then redrive the re-sync DLQ ' +
      '(SQS "Start DLQ redrive") or start a new re-sync.',
    props.resyncDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
    }),
  );

  // The lag check publishes the age of the running job's last progress once per check, and nothing
  // while no job runs: missing data is the normal idle state, never a stall.
  const watch = props.lagCheckInterval && { ...props, lagCheckInterval: props.lagCheckInterval };
  const resyncStalled = watch === undefined ? undefined : stalledResyncAlarm(scope, watch);

  const ruleDelivery: Partial<Record<SyncRuleRole, RuleDeliveryAlarms>> = {};
  for (const { role, rule, eventBusName, hasDeadLetterQueue } of props.rules) {
    // Metrics of a rule on a custom (or partner) bus carry EventBusName too; those of the default bus only
    // RuleName: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
    const dimensionsMap = {
      ...(eventBusName === undefined ? {} : { EventBusName: eventBusName }),
      RuleName: rule.ruleName,
    };
    const alarm = (id: string, metricName: string, what: string) =>
      new cloudwatch.Alarm(scope, `${role}${id}Alarm`, {
        alarmDescription: `EventBridge ${what} for the ${role} rule. ${RULE_ADVICE[role]}`,
        metric: new cloudwatch.Metric({
          namespace: 'AWS/Events',
          metricName,
          dimensionsMap,
          statistic: cloudwatch.Stats.SUM,
          period: Duration.minutes(5),
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // EventBridge only publishes these metrics when they are not zero.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    ruleDelivery[role] = {
      failedInvocations: alarm('FailedInvocations', 'FailedInvocations', 'failed to deliver events'),
      ...(hasDeadLetterQueue === true && {
        failedToDeadLetterQueue: alarm(
          'FailedToDlq',
          'InvocationsFailedToBeSentToDlq',
          'could neither deliver events nor dead-letter them (they are lost)',
        ),
      }),
    };
  }
  const resyncFailed = watch === undefined ? {} : { resyncFailed: failedResyncAlarm(scope, watch) };
  return {
    resyncDeadLetters,
    ...(resyncStalled !== undefined && { resyncStalled }),
    ...resyncFailed,
    ruleDelivery,
  };
}

/** What the re-sync figure alarms need of the lag check that publishes the figures, once per check. */
export type ResyncFigureWatch = Pick<StallAlarmsProps, 'namespace' | 'lagCheckServiceName' | 'stallAfter'> & {
  readonly lagCheckInterval: Duration;
};

/**
 * The index whose re-sync an alarm watches when it is not the sync's own (the first index's): its figures
 * carry its `Index` dimension, its alarm ids start with its construct id, its texts name it.
 */
export interface ResyncIndex {
  readonly alias: string;
  /** The construct id of the index (`Index<Alias>`). */
  readonly id: string;
}

/** How an alarm text names the re-sync and the CLI command for it: the sync's own, or a further index's. */
const resyncWords = (index: ResyncIndex | undefined) => ({
  of: index === undefined ? '' : ` of the index ${index.alias}`,
  cli: (command: string) =>
    index === undefined ? `typesense-sync ${command}` : `typesense-sync --index ${index.alias} ${command}`,
});

/** A running re-sync made no progress for `stallAfter` (the lag check's `ResyncProgressAgeMs`). */
export function stalledResyncAlarm(
  scope: Construct,
  watch: ResyncFigureWatch,
  index?: ResyncIndex,
): cloudwatch.Alarm {
  const { of, cli } = resyncWords(index);
  return lagCheckFigureAlarm(scope, watch, index, 'ResyncStalledAlarm', {
    description:
      `A running re-sync${of} has made no progress for ${watch.stallAfter.toHumanString()}. Run ` +
      `\`${cli('resync status')}\`; see the re-sync function logs and errors, the re-sync DLQ, and ` +
      `Typesense health. A re-sync that cannot finish can be started again (\`${cli('resync start')}\`).`,
    metricName: METRIC.resyncProgressAge,
    threshold: watch.stallAfter.toMilliseconds(),
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  });
}

/**
 * The latest re-sync failed: it never swapped, so the live collection is the old one and a deployed
 * schema change (issue 19) is not live. The lag check reports it on every run until a later job starts.
 */
export function failedResyncAlarm(
  scope: Construct,
  watch: ResyncFigureWatch,
  index?: ResyncIndex,
): cloudwatch.Alarm {
  const { of, cli } = resyncWords(index);
  return lagCheckFigureAlarm(scope, watch, index, 'ResyncFailedAlarm', {
    description:
      `The latest re-sync${of} failed and did not swap: the alias${index === undefined ? '' : ` ${index.alias}`} ` +
      'still serves the previous collection (a schema change deployed with it is not live). ' +
      `\`${cli('resync status')}\` names the keys the new collection refused; fix the items or the schema, then ` +
      `deploy again or run \`${cli('resync start')}\`.`,
    metricName: METRIC.resyncFailed,
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  });
}

/** An alarm on a figure the lag check publishes once per check, under its service name (and the index's). */
function lagCheckFigureAlarm(
  scope: Construct,
  watch: ResyncFigureWatch,
  index: ResyncIndex | undefined,
  id: string,
  alarm: {
    description: string;
    metricName: string;
    threshold: number;
    comparisonOperator: cloudwatch.ComparisonOperator;
  },
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, `${index?.id ?? ''}${id}`, {
    alarmDescription: alarm.description,
    metric: new cloudwatch.Metric({
      namespace: watch.namespace,
      metricName: alarm.metricName,
      dimensionsMap: {
        [SERVICE_DIMENSION]: watch.lagCheckServiceName,
        ...(index !== undefined && { [INDEX_DIMENSION]: index.alias }),
      },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: watch.lagCheckInterval,
    }),
    threshold: alarm.threshold,
    comparisonOperator: alarm.comparisonOperator,
    // One figure per check: a late check leaves an empty period, which must not flip a breaching
    // figure back to OK, so any breaching figure of the last three periods keeps it in alarm; no job,
    // no figure, which is not a breach.
    evaluationPeriods: 3,
    datapointsToAlarm: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/**
 * The alarms topic the construct creates on request: TLS only, encrypted with `key` when there is one.
 * Without a customer managed key it stays unencrypted: CloudWatch cannot use the AWS managed SNS key,
 * whose policy cannot be changed, so alarms to a topic encrypted with it would never arrive.
 */
export function createAlarmTopic(scope: Construct, key: kms.IKey | undefined): sns.Topic {
  const topic = new sns.Topic(scope, 'AlarmTopic', {
    displayName: 'Typesense sync alarms',
    enforceSSL: true,
    ...(key !== undefined && { masterKey: key }),
  });
  if (key === undefined) {
    NagSuppressions.addResourceSuppressions(topic, [
      {
        id: 'AwsSolutions-SNS2',
        reason:
          'Alarm notifications carry alarm names and states only. CloudWatch cannot publish to a topic encrypted with ' +
          'the AWS managed SNS key (its key policy cannot grant CloudWatch), so without encryptionKey the topic stays ' +
          'unencrypted; pass encryptionKey to encrypt it with a customer managed key.',
      },
    ]);
  }
  return topic;
}

/**
 * Lets CloudWatch alarms of this account and region publish to `topic`: an explicit `sns:Publish` (a
 * topic policy, such as the one `enforceSSL` creates, replaces the default one), and the use of the
 * topic's customer managed key. See "Enable compatibility between event sources from AWS services and
 * encrypted topics": https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
 * An imported topic's policy and key policy cannot be changed here: a synth warning says what to add.
 */
export function allowCloudWatchAlarms(scope: Construct, topic: sns.ITopic): void {
  const stack = Stack.of(scope);
  const cloudwatchPrincipal = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
  const sourceConditions = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: {
      'aws:SourceArn': stack.formatArn({
        service: 'cloudwatch',
        resource: 'alarm',
        resourceName: '*',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    },
  };
  const published = topic.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [cloudwatchPrincipal],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: sourceConditions,
    }),
  ).statementAdded;
  // The documented key policy statement has no conditions; the topic policy above already limits which
  // alarms may publish, and the key use alone lets CloudWatch read nothing.
  const keyUsed =
    topic.masterKey === undefined ||
    topic.masterKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [cloudwatchPrincipal],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
      true,
    ).statementAdded;
  if (!published || !keyUsed) {
    Annotations.of(scope).addWarningV2(
      'typesense-sync:importedAlarmTopic',
      'The alarms topic (or its key) is imported, so its policies cannot be changed here. Allow the service principal ' +
        'cloudwatch.amazonaws.com sns:Publish on the topic (conditions aws:SourceAccount = this account, aws:SourceArn ' +
        'like arn:aws:cloudwatch:<region>:<account>:alarm:*) and, if the topic is encrypted with a customer managed ' +
        'key, kms:Decrypt and kms:GenerateDataKey* on that key; otherwise no alarm notification arrives.',
    );
  }
}
