import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import type { AdaptiveLimit } from './adaptive-limit.ts';
import type { Aggregation } from './aggregate.ts';
import type { CircuitBreaker, CircuitState } from './breaker.ts';
import type { DeadLetter, MarshalledKey } from './change.ts';
import { SyncError } from './errors.ts';
import type { Projection } from './project.ts';
import type { ActiveResync, DeletedKey, FixingWrite, Rejection } from './resync/model.ts';
import type { RetryPolicy } from './retry.ts';
import type { SendPorts } from './send.ts';
import type { Transform } from './transform.ts';
import type { ImportLineResult } from './typesense-port.ts';
import { circuitAllows, planWrites, readCurrent } from './write-batch/documents.ts';
import { leasedPorts, VisibilityLease, type WriteLease } from './write-batch/lease.ts';
import { BatchLedger } from './write-batch/ledger.ts';
import { readBatch } from './write-batch/messages.ts';
import { blockBehindFailures, settleFailures, storeDeadLetters, summarise } from './write-batch/settle.ts';
import { type LiveTally, writeDocuments } from './write-batch/writes.ts';

/** One line of a Typesense import answer: the port's type (typesense-port.ts), under the writer's name. */
export type ImportOutcome = ImportLineResult;

export interface WriterPorts {
  /** Strongly consistent read of the current items; absent keys are simply missing from the result. */
  readItems(keys: MarshalledKey[]): Promise<Record<string, AttributeValue>[]>;
  /**
   * An aggregated index's re-read: the items of the partition `key` names, by a strongly consistent, paged
   * Query in sort-key order, stopping once `limit` items are read.
   */
  readPartition?(key: MarshalledKey, limit: number): Promise<Record<string, AttributeValue>[]>;
  /**
   * JSONL import with action=upsert: one outcome per line, in order. `remainingMs`: what is left of the
   * invocation, which bounds the import (undefined: no bound); `lease`: the batch's visibility lease,
   * which bounds it too (every Typesense write below takes one).
   */
  importDocuments(jsonLines: string[], remainingMs?: number, lease?: WriteLease): Promise<ImportOutcome[]>;
  deleteDocuments(ids: string[], lease?: WriteLease): Promise<number>;
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  /** Typesense `/health`; used to probe a half-open circuit. Never throws. */
  health?(): Promise<boolean>;
  /**
   * Keeps messages invisible for their backoff (ChangeMessageVisibility); rejects when SQS refuses an
   * entry. Best effort for a backoff; the visibility lease needs every entry.
   */
  changeVisibility?(entries: { receiptHandle: string; seconds: number }[]): Promise<void>;
  /**
   * One SendMessageBatch of re-sent messages to the changes queue (each in its group); resolves with
   * the entries SQS refused. Re-sends go through the batcher's splitter (`sendSplitting`).
   */
  requeue?: SendPorts['sendMessages'];
  /** Present when re-syncs are configured: the writer also writes to a running re-sync's collection. */
  resync?: ResyncWriterPorts;
  /** JSONL upsert into the lag check's canary collection (see functions/core/canary.ts). */
  importCanaries?(jsonLines: string[], remainingMs?: number, lease?: WriteLease): Promise<unknown>;
  now(): number;
  /** Waits before an in-invocation retry (default: a timer); injectable for tests. */
  sleep?(ms: number): Promise<void>;
}

/** What the writer does for a running re-sync (see functions/core/resync.ts for why it is safe). */
export interface ResyncWriterPorts {
  /** The running re-sync, read strongly consistently once per batch. */
  active(): Promise<ActiveResync | undefined>;
  /** JSONL import with action=upsert into the re-sync's collection. */
  importDocuments(
    collection: string,
    jsonLines: string[],
    remainingMs?: number,
    lease?: WriteLease,
  ): Promise<ImportOutcome[]>;
  deleteDocuments(collection: string, ids: string[], lease?: WriteLease): Promise<number>;
  /** Tombstones: the re-sync re-checks these keys before it swaps the alias. */
  recordDeletes(jobId: string, keys: DeletedKey[]): Promise<void>;
  /** Documents the new collection refused: they fail the re-sync before its swap. */
  recordRejections(jobId: string, rejections: Rejection[]): Promise<void>;
  /** Each write's successful ids fixed their rejections recorded before its `before` (ms). */
  clearRejections(jobId: string, writes: readonly FixingWrite[]): Promise<number>;
}

export interface WriterOptions {
  /** The key attributes of the changes: the table's, or its partition key alone for an aggregated index. */
  keyAttributes: readonly string[];
  /** Set for an aggregated index: each changed partition is re-read whole and built into one document. */
  aggregation?: Aggregation;
  projection?: Projection;
  /** The app's transform module, applied after the projection (functions/core/transform.ts). */
  transform?: Transform;
  /** Backoff, receive limit and retry budget; without it failed messages simply return to SQS. */
  retry?: RetryPolicy;
  /** Shared across the batches of one writer instance. */
  breaker?: CircuitBreaker;
  /**
   * Live imports in flight, adapted to Typesense's answers; shared across the batches of one writer
   * instance. With it, an import answered 503/429 is sent again after a pause while time allows
   * (write-batch/adaptive-import.ts); without it, imports go at once and such a batch fails.
   */
  importLimit?: AdaptiveLimit;
  /** The changes queue's maximum message size: re-sends are packed to fit it (default 262144). */
  maxMessageBytes?: number;
  /**
   * Time the invocation has left (Lambda's `context.getRemainingTimeInMillis`). With it, deletes run in
   * chunks and stop while `timeReserveMs` (default 3000) is left; the messages not done go back to SQS
   * at once (visibility 0), neither backed off nor dead-lettered.
   */
  remainingMs?: () => number;
  timeReserveMs?: number;
  /**
   * The visibility lease, s (write-batch/lease.ts; needs `changeVisibility`): the batch's messages are
   * set invisible for this long when it starts, instead of the queue's visibility timeout, and kept so
   * while its writes need it. An invocation that dies then holds its message groups about this long.
   * Every Typesense write ends half a lease before the lease does. Absent: no lease.
   */
  visibilityLeaseSeconds?: number;
  /**
   * In-invocation retry rounds of the documents a working Typesense failed for a passing reason, each
   * after a pause (50–100 ms doubling each round; while `breaker` sees a lossy but working server none before the first round, then 5–10 ms doubling), only with `remainingMs` and while the time left
   * covers it (default 3, counted apart from `requestRetries`; 0: off).
   */
  lineRetries?: number;
  /**
   * In-invocation retries of a whole request that failed for a passing reason, after the same pause,
   * only while `breaker` sees a working server and the time left covers a round as slow as the
   * failed one (default 3; 0: off; a run of unanswered requests ends them, see `CircuitBreaker.recordRequest`).
   */
  requestRetries?: number;
}

export interface WriterSummary {
  messages: number;
  changes: number;
  upserted: number;
  deleted: number;
  deadLettered: number;
  retrying: number;
  requeued: number;
  circuit: CircuitState | undefined;
  /** Largest `now − sourceTs` over the changes applied by this batch, ms. */
  maxIngestionDelayMs: number | undefined;
  /** `now − sourceTs` of each change applied by this batch, ms: one metric value per change. */
  ingestionDelaysMs: number[];
  /** The reason of the first failure, for the log. */
  retryReason?: string;
  /** Messages left for redelivery because the invocation had no time left for them. */
  deferred?: number;
}

export interface WriterResult extends SQSBatchResponse {
  summary: WriterSummary;
}

/**
 * Applies a batch of change messages to Typesense. For every changed key it writes the item's
 * current state, read with a strongly consistent read: present → upsert, absent → delete. So an
 * old, duplicated or redriven change can only ever (re)write the newest state (see README).
 * Changes Typesense will never accept are dead-lettered with their reason; messages whose changes
 * failed for a passing reason are first retried inside the invocation when the server took the
 * rest of the batch, or a whole request failed while the breaker sees a working server, and time
 * allows (write-batch/retry-lines.ts), then back off and are retried, and
 * never reach the DLQ through the receive limit (see `planRetries`). An open circuit skips Typesense
 * altogether.
 *
 * The phases (functions/core/write-batch/): read and classify the messages, pass the circuit,
 * re-read the items, plan the documents, write them, then settle every message: dead letters stored,
 * FIFO groups blocked behind a failure, failures re-sent, dead-lettered or backed off.
 */
export async function processChangeMessages(
  records: readonly SQSRecord[],
  ports: WriterPorts,
  options: WriterOptions,
): Promise<WriterResult> {
  const lease =
    options.visibilityLeaseSeconds === undefined || ports.changeVisibility === undefined
      ? undefined
      : await VisibilityLease.take(records, options.visibilityLeaseSeconds, {
          changeVisibility: ports.changeVisibility,
          now: ports.now,
        });
  if (lease === undefined) return processLeased(records, ports, options);
  const stopRenewing = lease.keep();
  try {
    return await processLeased(records, leasedPorts(ports, lease), options);
  } finally {
    stopRenewing();
  }
}

async function processLeased(
  records: readonly SQSRecord[],
  ports: WriterPorts,
  options: WriterOptions,
): Promise<WriterResult> {
  const now = ports.now();
  const { breaker } = options;
  const ledger = new BatchLedger(records, now);
  const { messages, pending } = readBatch(records, options.keyAttributes, ledger);

  let tally: LiveTally = { upserted: 0, deleted: 0, answered: false, outage: false, threw: false };
  const mayWrite = await circuitAllows(pending, ports, breaker, ledger);
  if (options.aggregation !== undefined && ports.readPartition === undefined)
    throw new SyncError('an aggregated index needs the writer port readPartition');
  const state = mayWrite ? await readCurrent(pending, ports, options, ledger) : undefined;
  if (state !== undefined) {
    const plan = planWrites(pending, state, options, ledger);
    tally = await writeDocuments(plan, state.resync, ports, options, ledger, now);
  }
  if (breaker !== undefined && mayWrite) {
    if (tally.answered) breaker.recordSuccess();
    else if (tally.outage) breaker.recordOutage();
  }

  await storeDeadLetters(ledger.deadLetters, ports, ledger);
  blockBehindFailures(records, ledger.failures);
  const settled = await settleFailures(records, messages, ports, options, ledger, now);
  return summarise(records, pending.length, tally, settled, ledger, breaker, () => ports.now());
}
