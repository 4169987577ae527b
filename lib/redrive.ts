import { createHash } from 'node:crypto';
import { Names, Stack, Token } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * A source queue's name, fixed at synth, and the DLQ settings that let only that queue redrive into it.
 *
 * A DLQ's `RedriveAllowPolicy` must name its source queue's ARN, while the source queue's redrive policy
 * names the DLQ's: with generated names that is a reference cycle CloudFormation refuses. A name derived
 * from the construct path (unique per stack and construct, stable across deploys) breaks the cycle: the
 * DLQ names an ARN built from it, with no reference to the source queue resource.
 * (SQS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html,
 * `RedriveAllowPolicy` with `redrivePermission: byQueue`.) The cost of a fixed name: a change that
 * replaces the queue fails the deploy until the name changes too; the construct never makes one.
 */
export function redriveSource(
  scope: Construct,
  role: string,
  options: { fifo: boolean; queueName?: string | undefined },
): { queueName: string; deadLetterQueueProps: Pick<sqs.QueueProps, 'redriveAllowPolicy'> } {
  const queueName = options.queueName ?? sourceQueueName(scope, role, options.fifo);
  const sourceArn = Stack.of(scope).formatArn({ service: 'sqs', resource: queueName });
  return {
    queueName,
    deadLetterQueueProps: {
      redriveAllowPolicy: {
        redrivePermission: sqs.RedrivePermission.BY_QUEUE,
        sourceQueues: [sqs.Queue.fromQueueArn(scope, `${role}RedriveSource`, sourceArn)],
      },
    },
  };
}

/**
 * `<stack>-<construct path>-<role>[.fifo]`: unique in the account and region (stack names are), at most
 * 80 characters of letters, digits, '-' and '_' as SQS requires; a longer one keeps its start and ends
 * in a hash of the whole.
 */
function sourceQueueName(scope: Construct, role: string, fifo: boolean): string {
  const suffix = `-${role}${fifo ? '.fifo' : ''}`;
  const stackName = Stack.of(scope).stackName;
  if (Token.isUnresolved(stackName))
    throw new Error(`TypesenseSync: the stack name must be known at synth to name the ${role} queue`);
  const path = Names.uniqueResourceName(scope, { maxLength: 200, separator: '-' });
  const full = `${stackName}-${path}`.replace(/[^A-Za-z0-9_-]/g, '-');
  const room = 80 - suffix.length;
  if (full.length <= room) return `${full}${suffix}`;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, room - hash.length - 1)}-${hash}${suffix}`;
}
