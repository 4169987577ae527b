import type { SQSClient } from '@aws-sdk/client-sqs';
import type { BatcherPorts } from '../core/stream-batch.ts';
import { sendDeadLetters, sendPackedMessages } from './aws.ts';
import type { BatcherConfig } from './config.ts';

/**
 * The batcher's adapters: its packed messages to every index's changes queue, what one of them refuses to
 * that queue's DLQ, and records that are no change to DLQ_URL.
 */
export function batcherAdapters(clients: { sqs: SQSClient }, config: BatcherConfig): BatcherPorts {
  return {
    targets: config.QUEUES.map((queue) => ({
      keyAttributes: queue.keyAttributes,
      sendMessages: sendPackedMessages(clients.sqs, queue.queueUrl),
      sendDeadLetters: sendDeadLetters(clients.sqs, queue.deadLetterQueueUrl),
    })),
    sendDeadLetters: sendDeadLetters(clients.sqs, config.DLQ_URL),
    now: Date.now,
  };
}
