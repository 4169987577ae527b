import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sleep } from './processes.ts';

export type QueueHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

export interface QueuePollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  handler: QueueHandler;
  /** Lambda's `BatchSize` (FIFO: at most 10). */
  batchSize?: number;
  /** Concurrent pollers, like the Lambda instances an event source mapping runs. */
  concurrency?: number;
  /** Called with each batch received, before the function runs. */
  onReceive?: (records: SQSRecord[]) => void;
  /** Called with each message the function finished (deleted from the queue). */
  onDone?: (records: SQSRecord[], doneAt: number) => void;
  faults?: PollerFaults;
}

/** Faults the pollers inject, decided by a seeded `random` so a run can be replayed. */
export interface PollerFaults {
  random: () => number;
  /** The function ran (its writes happened) but the instance died before answering: nothing is acknowledged. */
  crashAfterInvokeRate?: number;
  /** The same batch is handed to the function twice (at-least-once delivery). */
  duplicateDeliveryRate?: number;
}

type GiveBackCause = 'crash' | 'thrown' | 'itemFailure';

/** An SQS message as Lambda hands it to the function. */
export function toLambdaRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.MessageGroupId === undefined ? {} : { MessageGroupId: attributes.MessageGroupId }),
      ...(attributes.MessageDeduplicationId === undefined
        ? {}
        : { MessageDeduplicationId: attributes.MessageDeduplicationId }),
      ...(attributes.SequenceNumber === undefined ? {} : { SequenceNumber: attributes.SequenceNumber }),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Drives a queue handler the way Lambda's SQS event source mapping does: receive up to BatchSize,
 * invoke, then delete what succeeded. With ReportBatchItemFailures the listed messages stay and
 * reappear after their visibility timeout; an unknown identifier or a thrown error keeps the whole
 * batch. The queue's own redrive policy moves a message to the DLQ after maxReceiveCount.
 */
export class QueuePoller {
  readonly stats = {
    invocations: 0,
    messagesDone: 0,
    messagesFailed: 0,
    failedInvocations: 0,
    injectedCrashes: 0,
    injectedDuplicates: 0,
    recordsHit: 0,
  };
  /**
   * Where the pollers' time goes, ms summed over the concurrent pollers (counters, never documents):
   * receives that returned nothing (every group empty, locked or invisible), receives that returned
   * messages, the function, and deletes. `invisibleMs` is, per reason a batch was given back, the time
   * until each message group it held was received again, summed over groups: a FIFO group delivers
   * nothing while a message of it is invisible (on a standard queue each message counts as a group).
   */
  readonly timing = {
    emptyReceives: 0,
    emptyReceiveMs: 0,
    receives: 0,
    receiveMs: 0,
    messagesReceived: 0,
    /**
     * Messages received again while an invocation still held them: it outlived their visibility
     * timeout (on AWS the function's timeout, at most a sixth of the visibility, rules that out).
     */
    receivedWhileInFlight: 0,
    /** Sum over batches of the distinct message groups in the batch. */
    groupsReceived: 0,
    handlerMs: 0,
    /** The slowest invocation, ms: one longer than the queue's visibility timeout is received twice at once. */
    slowestHandlerMs: 0,
    deleteMs: 0,
    redeliveries: { crash: 0, thrown: 0, itemFailure: 0 },
    invisibleMs: { crash: 0, thrown: 0, itemFailure: 0 },
  };
  /** Message groups given back to the queue: when and why, until one of their messages is received again. */
  private readonly givenBack = new Map<string, { at: number; cause: GiveBackCause }>();
  /** Message ids some invocation holds right now. */
  private readonly inFlight = new Set<string>();
  private running = false;
  private loops: Promise<void>[] = [];
  private active = 0;
  /** Set while paused: received batches wait on it before the function runs. */
  private paused: { resumed: Promise<void>; resume: () => void } | undefined;

  constructor(private readonly options: QueuePollerOptions) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.options.concurrency ?? 2 }, () => this.run());
  }

  async stop(): Promise<void> {
    this.running = false;
    // A held batch would keep its loop waiting forever.
    this.resume();
    await Promise.all(this.loops);
  }

  /**
   * Batches received from now on wait before the function runs, as behind a hung writer: their
   * changes count as received but unfinished, so the lag grows. Messages stay in flight meanwhile;
   * pause for less than the queue's visibility timeout, or they are delivered again.
   */
  pause(): void {
    if (this.paused !== undefined) return;
    let resume = () => {};
    const resumed = new Promise<void>((resolve) => {
      resume = resolve;
    });
    this.paused = { resumed, resume };
  }

  resume(): void {
    this.paused?.resume();
    this.paused = undefined;
  }

  get busy(): boolean {
    return this.active > 0;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const receiveStart = Date.now();
      const received = await this.options.sqs
        .send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: this.options.batchSize ?? 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          }),
        )
        .catch(async () => {
          await sleep(200);
          return undefined;
        });
      const messages = received?.Messages ?? [];
      this.countReceive(messages, Date.now() - receiveStart);
      if (messages.length === 0) continue;
      this.active++;
      try {
        await this.invoke(
          messages.map((message) => toLambdaRecord(message, this.options.queueArn, this.options.region)),
        );
      } finally {
        this.active--;
      }
    }
  }

  private countReceive(messages: Message[], ms: number): void {
    const timing = this.timing;
    if (messages.length === 0) {
      timing.emptyReceives++;
      timing.emptyReceiveMs += ms;
      return;
    }
    timing.receives++;
    timing.receiveMs += ms;
    timing.messagesReceived += messages.length;
    const groups = new Set(
      messages.map((message) => message.Attributes?.MessageGroupId ?? message.MessageId),
    );
    timing.groupsReceived += groups.size;
    const now = Date.now();
    for (const group of groups) {
      const back = this.givenBack.get(group ?? '');
      if (back === undefined) continue;
      this.givenBack.delete(group ?? '');
      timing.redeliveries[back.cause]++;
      timing.invisibleMs[back.cause] += now - back.at;
    }
  }

  private giveBack(records: readonly SQSRecord[], cause: GiveBackCause): void {
    const at = Date.now();
    for (const record of records) {
      const group = record.attributes.MessageGroupId ?? record.messageId;
      if (!this.givenBack.has(group)) this.givenBack.set(group, { at, cause });
    }
  }

  private async invoke(records: SQSRecord[]): Promise<void> {
    const started = Date.now();
    const held = records.filter(({ messageId }) => !this.inFlight.has(messageId));
    this.timing.receivedWhileInFlight += records.length - held.length;
    for (const { messageId } of held) this.inFlight.add(messageId);
    try {
      await this.invokeOnce(records);
    } finally {
      for (const { messageId } of held) this.inFlight.delete(messageId);
      const ms = Date.now() - started;
      this.timing.handlerMs += ms;
      this.timing.slowestHandlerMs = Math.max(this.timing.slowestHandlerMs, ms);
    }
  }

  private async invokeOnce(records: SQSRecord[]): Promise<void> {
    this.stats.invocations++;
    this.options.onReceive?.(records);
    await this.paused?.resumed;
    const faults = this.options.faults;
    let response: SQSBatchResponse | undefined;
    try {
      if (faults !== undefined && faults.random() < (faults.duplicateDeliveryRate ?? 0)) {
        this.stats.injectedDuplicates++;
        this.stats.recordsHit += records.length;
        await this.options.handler({ Records: records });
      }
      response = await this.options.handler({ Records: records });
    } catch {
      this.stats.failedInvocations++;
      this.stats.messagesFailed += records.length;
      this.giveBack(records, 'thrown');
      return;
    }
    if (faults !== undefined && faults.random() < (faults.crashAfterInvokeRate ?? 0)) {
      this.stats.injectedCrashes++;
      this.stats.recordsHit += records.length;
      this.stats.messagesFailed += records.length;
      this.giveBack(records, 'crash');
      return;
    }
    const failed = new Set((response?.batchItemFailures ?? []).map(({ itemIdentifier }) => itemIdentifier));
    if ([...failed].some((id) => !records.some((record) => record.messageId === id))) {
      this.stats.failedInvocations++;
      this.stats.messagesFailed += records.length;
      this.giveBack(records, 'thrown');
      return;
    }
    const done = records.filter((record) => !failed.has(record.messageId));
    this.stats.messagesFailed += failed.size;
    this.giveBack(
      records.filter((record) => failed.has(record.messageId)),
      'itemFailure',
    );
    if (done.length > 0) {
      const deleteStart = Date.now();
      await this.options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
      this.timing.deleteMs += Date.now() - deleteStart;
      this.stats.messagesDone += done.length;
      this.options.onDone?.(done, Date.now());
    }
  }
}
