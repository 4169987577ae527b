import type { SQSRecord } from 'aws-lambda';
import { SyncError } from '../errors.ts';
import type { WriterPorts } from '../write-batch.ts';

/*
 * The visibility lease: a batch holds its messages for a short lease instead of the queue's visibility
 * timeout (6 × the writer's timeout), so that an invocation that dies holds its FIFO message groups for
 * about a lease instead of minutes. What keeps a key's applies from overlapping is unchanged: no write of
 * this batch is sent after its lease ends, less a margin, and no visibility change of it lands after that
 * either (another invocation may hold the messages by then). While the batch runs, the lease is renewed
 * when three quarters of it are left (SQS's "heartbeat"), so waits between writes (retry pauses, a slot
 * of the import limit, a health probe) do not let it lapse; only an invocation that died, whose event
 * loop stalls, or whose SQS calls take half a lease, stops renewing.
 */

/** What a write asks of the lease: how long it may take, at most what it wants (ms). */
export interface WriteLease {
  /** Resolves with the time a write starting now may take; extends the lease first when it must. */
  window(wantedMs: number): Promise<number>;
}

/** The SQS side: ChangeMessageVisibility on receipt handles, failing when any entry is refused. */
export interface LeasePorts {
  changeVisibility(entries: { receiptHandle: string; seconds: number }[]): Promise<void>;
  now(): number;
}

/** How often a running batch renews its lease, as a share of the lease. */
const RENEW_EVERY = 1 / 4;

/**
 * A write that the lease cannot cover: it is not sent, and its messages return to the queue when the
 * lease ends. Retryable, and no sign of a Typesense outage.
 */
export class LeaseLostError extends SyncError {
  override name = 'LeaseLostError';
  readonly retryable = true;
  readonly notSent = true;
}

/** Thrown when the lease cannot be taken: nothing was written, the messages return when their visibility ends. */
export class LeaseNotTakenError extends SyncError {
  override name = 'LeaseNotTakenError';
}

export class VisibilityLease implements WriteLease {
  /** When the messages may become visible again, ms: counted from before each call was sent. */
  private endsAt: number;
  private extending: Promise<void> | undefined;
  /**
   * The messages the lease still holds: a message whose visibility the batch settled (a backoff) leaves
   * it, as a renewal would undo that; the rest stay held until the event source deletes them.
   */
  private readonly held: Set<string>;
  /**
   * Kept clear of the lease's end: what a write sent last may still need to reach Typesense, and a
   * visibility change to reach SQS. Half the lease.
   */
  private readonly marginMs: number;

  private constructor(
    private readonly receiptHandles: readonly string[],
    private readonly seconds: number,
    private readonly ports: LeasePorts,
    takenAt: number,
  ) {
    this.held = new Set(receiptHandles);
    this.marginMs = (seconds * 1000) / 2;
    this.endsAt = takenAt + seconds * 1000;
  }

  /** Sets the batch's messages invisible for `seconds` from now; throws `LeaseNotTakenError` when SQS refuses. */
  static async take(
    records: readonly SQSRecord[],
    seconds: number,
    ports: LeasePorts,
  ): Promise<VisibilityLease> {
    const receiptHandles = records.map(({ receiptHandle }) => receiptHandle);
    const takenAt = ports.now();
    try {
      await ports.changeVisibility(receiptHandles.map((receiptHandle) => ({ receiptHandle, seconds })));
    } catch (error) {
      throw new LeaseNotTakenError(`visibility lease of ${seconds} s not taken`, { cause: error });
    }
    return new VisibilityLease(receiptHandles, seconds, ports, takenAt);
  }

  /**
   * Renews the lease until the returned stop is called (when the batch is done), as long as it still
   * holds the messages: each renewal a quarter lease after the last one was sent, or as soon as a slow
   * one returns, so that one slow SQS call does not end it; a failed renewal leaves the lease to end.
   */
  keep(): () => void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const renewOnce = async () => {
      if (stopped || this.held.size === 0) return;
      if (this.extending !== undefined) await this.extending.catch(() => undefined);
      else if (this.leftMs() > 0) {
        try {
          await this.shareExtension(0);
        } catch {
          return; // Refused: the lease ends, and the messages come back.
        }
      }
      if (this.leftMs() > 0) schedule();
    };
    const schedule = () => {
      if (stopped) return;
      // Due when three quarters of the lease are left, counted from the last call that set its end.
      const dueAt = this.endsAt - this.seconds * 1000 * (1 - RENEW_EVERY);
      timer = setTimeout(renewOnce, Math.max(0, dueAt - this.ports.now()));
    };
    schedule();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  async window(wantedMs: number): Promise<number> {
    if (this.leftMs() >= wantedMs) return wantedMs;
    // Concurrent writes share an extension in flight; one that still wants more extends again, once.
    if (this.extending !== undefined) {
      await this.extending.catch(() => undefined);
      if (this.leftMs() >= wantedMs) return wantedMs;
    }
    if (this.leftMs() <= 0) throw this.lost('ended');
    await this.shareExtension(wantedMs);
    // A slow call leaves a little less than was asked for: the write gets that.
    const left = this.leftMs();
    if (left <= 0) throw this.lost('not extended in time');
    return Math.min(wantedMs, left);
  }

  /**
   * A visibility change of some of the batch's messages (a backoff, or 0 to retry at once), sent only
   * while the lease holds them; later, the messages come back when the lease ends anyway. They leave the
   * lease first, and a renewal in flight lands before the change.
   */
  async change(entries: { receiptHandle: string; seconds: number }[]): Promise<void> {
    for (const { receiptHandle } of entries) this.held.delete(receiptHandle);
    await this.extending?.catch(() => undefined);
    if (this.leftMs() <= 0) return;
    await this.ports.changeVisibility(entries);
  }

  /** Extends the lease, the extension visible to concurrent writes while it is in flight. */
  private async shareExtension(wantedMs: number): Promise<void> {
    const extending = this.extend(wantedMs);
    this.extending = extending;
    try {
      await extending;
    } finally {
      if (this.extending === extending) this.extending = undefined;
    }
  }

  /** Time left for writes: until the margin before the lease ends. */
  private leftMs(): number {
    return this.endsAt - this.marginMs - this.ports.now();
  }

  private async extend(wantedMs: number): Promise<void> {
    if (this.held.size === 0) return;
    const seconds = Math.max(this.seconds, Math.ceil((wantedMs + this.marginMs) / 1000));
    const sentAt = this.ports.now();
    try {
      await this.ports.changeVisibility([...this.held].map((receiptHandle) => ({ receiptHandle, seconds })));
    } catch (error) {
      throw this.lost('not extended', error);
    }
    this.endsAt = Math.max(this.endsAt, sentAt + seconds * 1000);
  }

  private lost(why: string, cause?: unknown): LeaseLostError {
    return new LeaseLostError(
      `visibility lease of ${this.receiptHandles.length} messages ${why}: write not sent`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * The writer's ports for one leased batch: every Typesense write asks `lease` for its time (the adapters
 * bound its requests by the answer), and visibility changes go through the lease.
 */
export function leasedPorts(ports: WriterPorts, lease: VisibilityLease): WriterPorts {
  const { resync, importCanaries } = ports;
  return {
    ...ports,
    importDocuments: (lines, remainingMs) => ports.importDocuments(lines, remainingMs, lease),
    deleteDocuments: (ids) => ports.deleteDocuments(ids, lease),
    ...(importCanaries === undefined
      ? {}
      : { importCanaries: (lines, remainingMs) => importCanaries(lines, remainingMs, lease) }),
    ...(resync === undefined
      ? {}
      : {
          resync: {
            ...resync,
            importDocuments: (collection, lines, remainingMs) =>
              resync.importDocuments(collection, lines, remainingMs, lease),
            deleteDocuments: (collection, ids) => resync.deleteDocuments(collection, ids, lease),
          },
        }),
    changeVisibility: (entries) => lease.change(entries),
  };
}
