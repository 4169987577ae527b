/**
 * A node that can apply only so many documents a second, and says so the way Typesense does. A real
 * node queues writes (raft log entries, then its batched indexer) and applies them one after another;
 * while more writes are queued than `--healthy-write-lag` (default 500), every write request is
 * answered 503 `{ "message": "Not Ready or Lagging"}` without being applied (src/raft_server.cpp
 * ReplicationState::refresh_catchup_status sets `write_caught_up`; src/http_server.cpp
 * HttpServer::catch_all_handler answers the 503). Reads and `/health` go on: health follows the read
 * lag, whose default (1000) is above the write lag's.
 *
 * The emulator counts one queued write per request (an import whose body is one raft entry), checks the
 * lag at each request (a real node refreshes `write_caught_up` on a timer, so it answers a little
 * later), and answers each admitted request once its documents are applied, at `documentsPerSecond`,
 * as a real import answers after indexing.
 */

export interface WriteLagOptions {
  /** Documents (import lines; 1 for any other write) applied per second. */
  documentsPerSecond: number;
  /** Queued write requests above which writes get the 503 (Typesense's `--healthy-write-lag`). */
  healthyWriteLag: number;
}

/** What the write queue did: counters, never documents. */
export interface WriteLagStats {
  /** Documents applied through the queue. */
  appliedDocuments: number;
  /** Write requests answered 503 "Not Ready or Lagging". */
  lagRejections: number;
  /**
   * Wall time the node had writes queued, ms: applied documents ÷ busy time is the rate it reached in
   * this run (below `documentsPerSecond` when the machine is loaded), busy ÷ elapsed its utilisation.
   */
  busyMs: number;
}

export const NOT_READY_OR_LAGGING = 'Not Ready or Lagging';

export class WriteLagQueue {
  private readonly counts = { appliedDocuments: 0, lagRejections: 0, busyMs: 0 };
  private queued = 0;
  /** When the queue last went from empty to busy. */
  private busySince = 0;
  /** When the last admitted write will have been applied. */
  private freeAt = 0;

  constructor(private readonly options: WriteLagOptions) {
    if (!(options.documentsPerSecond > 0) || !(options.healthyWriteLag >= 0))
      throw new RangeError('write lag: documentsPerSecond must be > 0 and healthyWriteLag ≥ 0');
  }

  /** The counters as of now. */
  get stats(): WriteLagStats {
    const busyNow = this.queued > 0 ? Date.now() - this.busySince : 0;
    return { ...this.counts, busyMs: this.counts.busyMs + busyNow };
  }

  /** Whether the node takes writes now (Typesense's `is_write_caught_up`); counts a refusal. */
  admits(): boolean {
    if (this.queued > this.options.healthyWriteLag) {
      this.counts.lagRejections++;
      return false;
    }
    return true;
  }

  /** Queues a write of `documents` and resolves once they are applied. */
  async apply(documents: number): Promise<void> {
    const now = Date.now();
    const start = Math.max(now, this.freeAt);
    const durationMs = (Math.max(1, documents) * 1000) / this.options.documentsPerSecond;
    this.freeAt = start + durationMs;
    if (this.queued === 0) this.busySince = now;
    this.queued++;
    try {
      await new Promise((resolve) => setTimeout(resolve, this.freeAt - now));
    } finally {
      this.queued--;
      this.counts.appliedDocuments += documents;
      if (this.queued === 0) this.counts.busyMs += Date.now() - this.busySince;
    }
  }
}

/** The write requests Typesense's write lag check applies to: document writes, here. */
export function isDocumentWrite(method: string, segments: readonly string[]): boolean {
  return segments[0] === 'collections' && segments[2] === 'documents' && method !== 'GET';
}

/** Documents in a write: the lines of an import body, 1 for any other write. */
export function documentsIn(segments: readonly string[], body: string): number {
  if (segments[3] !== 'import') return 1;
  return body.split('\n').filter((line) => line.trim() !== '').length;
}
