import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { queueEncryptionOf } from '../encryption.ts';
import { redriveSource } from '../redrive.ts';

/**
 * A queue encrypted at rest (with `encryptionKey`, else SQS-managed SSE) that denies requests without TLS,
 * whatever `props` say: every queue of the sync is built through it.
 */
export function secureQueue(
  scope: Construct,
  id: string,
  props: sqs.QueueProps,
  encryptionKey: kms.IKey | undefined,
): sqs.Queue {
  return new sqs.Queue(scope, id, { ...props, ...queueEncryptionOf(encryptionKey), enforceSSL: true });
}

export interface QueueWithDeadLetterQueueProps {
  /** Names the source queue (`redriveSource`) and its construct ids' redrive source. */
  readonly role: string;
  readonly queueId: string;
  readonly deadLetterQueueId: string;
  readonly fifo: boolean;
  /** A name chosen by the caller (a queue prop override). @default derived from the construct path */
  readonly queueName?: string | undefined;
  readonly queueProps: sqs.QueueProps;
  readonly deadLetterQueueProps: sqs.QueueProps;
  readonly maxReceiveCount: number;
  readonly encryptionKey: kms.IKey | undefined;
}

/**
 * A secure queue and its secure DLQ, which only that queue may redrive into (lib/redrive.ts): the queue's
 * name is fixed at synth so the DLQ's redrive allow policy can name it without a reference cycle.
 */
export function secureQueueWithDeadLetterQueue(
  scope: Construct,
  props: QueueWithDeadLetterQueueProps,
): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  const source = redriveSource(scope, props.role, { fifo: props.fifo, queueName: props.queueName });
  const deadLetterQueue = secureQueue(
    scope,
    props.deadLetterQueueId,
    { ...source.deadLetterQueueProps, ...props.deadLetterQueueProps },
    props.encryptionKey,
  );
  const queue = secureQueue(
    scope,
    props.queueId,
    {
      ...props.queueProps,
      queueName: source.queueName,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    },
    props.encryptionKey,
  );
  return { queue, deadLetterQueue };
}
