import type { SQSClient } from '@aws-sdk/client-sqs';
import type { BatcherPorts } from '../core/stream-batch.ts';
import { sendDeadLetters, sendPackedMessages } from './aws.ts';
import type { BatcherConfig } from './config.ts';

/** The batcher's adapters: its packed messages to the changes queue, its dead letters to the DLQ. */
export function batcherAdapters(clients: { sqs: SQSClient }, config: BatcherConfig): BatcherPorts {
  return {
    sendMessages: sendPackedMessages(clients.sqs, config.QUEUE_URL),
    sendDeadLetters: sendDeadLetters(clients.sqs, config.DLQ_URL),
    now: Date.now,
  };
}
