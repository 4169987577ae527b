export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  /** Consecutive batches failing for outage reasons before the circuit opens or asks for a health probe. */
  failureThreshold: number;
  /** First wait before a health probe while open; doubles after each failed probe. */
  probeMs: number;
  maxProbeMs: number;
  now: () => number;
  /** Share of the last `window` batch outcomes that failed, from which a run opens at once (default 0.8). */
  failureRatio?: number;
  /** Batch outcomes the ratio is taken over (default 20). */
  window?: number;
  /** Outcomes the window must hold before the ratio counts (default 10). */
  minSamples?: number;
  /**
   * Whole requests in a row that went unanswered, across batches, after which the next batch asks
   * /health, as after `failureThreshold` failed batches (default 6, see `recordRequest`).
   */
  requestFailureRun?: number;
}

/** The default `requestFailureRun`: at the chaos run's ~31 % whole-request failures, 6 in a row come ~once in 1,100 requests. */
export const REQUEST_FAILURE_RUN = 6;

/**
 * A circuit breaker for Typesense, one per writer instance. Closed: batches call Typesense. It opens
 * on an outage, not on a lossy but working server. After `failureThreshold` consecutive outage-type
 * failures it opens at once only on strong evidence: no batch ever succeeded, or `failureRatio` of
 * the recent window failed. Otherwise (successes keep arriving between runs: random faults at 30 %
 * per batch start a run of 3 once in ~37 batches) it asks the server: the state reads half-open, so
 * the next batch checks Typesense's health first. Unhealthy opens the circuit; healthy
 * (`recordHealthy`) closes it again and the failed messages just back off. Open: batches skip
 * Typesense and their messages wait until the next probe time. Then one batch probes (half-open): a
 * healthy answer closes the circuit, a failure reopens it with a doubled wait.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  /** Half-open because a run of failures asks for a health check, not because a probe time came. */
  private suspect = false;
  private consecutiveFailures = 0;
  private waitMs: number;
  private probeAt = 0;
  private succeeded = false;
  /** Whole requests in a row that went unanswered, whichever batch sent them. */
  private unansweredRequests = 0;
  /** The last batch outcomes, oldest first: true for an outage-type failure. */
  private readonly outcomes: boolean[] = [];
  /** Times the circuit opened since this instance started (for metrics and status). */
  opened = 0;

  constructor(private readonly options: CircuitOptions) {
    this.waitMs = options.probeMs;
  }

  get state(): CircuitState {
    return this.current;
  }

  /** Whether a batch may call Typesense now. Moves open → half-open once the probe time has come. */
  allowRequest(): boolean {
    if (this.current === 'open' && this.options.now() >= this.probeAt) this.current = 'half-open';
    return this.current !== 'open';
  }

  /**
   * Whether the server looks lossy but working: the circuit is closed, a batch succeeded since this
   * instance started, the recent window is not mostly failures, and the last requests were not a run
   * of unanswered ones (`recordRequest`). Then a whole request that failed
   * is worth one more try inside the invocation (write-batch/retry-lines.ts); otherwise an outage is
   * possible, and the circuit decides.
   */
  get looksWorking(): boolean {
    return (
      this.current === 'closed' &&
      !this.clearlyDown() &&
      this.unansweredRequests < (this.options.requestFailureRun ?? REQUEST_FAILURE_RUN)
    );
  }

  /**
   * One live request's outcome, as it comes (the batch outcomes come at each batch's end): `answered`
   * when Typesense answered it with something other than an outage's answer. Tells an outage from loss
   * while batches are still retrying: a lossy server answers some request between the failures, from
   * this batch or a concurrent one, a server that is down answers none. A run of `requestFailureRun`
   * unanswered requests does what a run of failed batches does (`recordOutage`): the state reads
   * half-open, the in-invocation retries stop (`looksWorking`), and the next batch asks /health, whose
   * answer decides. So an outage is found after that many requests, however many retries a batch is
   * allowed, and a lossy server costs a health check once in a long while.
   */
  recordRequest(answered: boolean): void {
    if (answered) {
      this.unansweredRequests = 0;
      // An answer after a run is what a healthy /health would have said: a working server.
      if (this.suspect) this.recordHealth(true);
      return;
    }
    this.unansweredRequests++;
    if (this.unansweredRequests === (this.options.requestFailureRun ?? REQUEST_FAILURE_RUN)) {
      if (this.current !== 'closed') return;
      if (this.clearlyDown()) this.open();
      else {
        this.suspect = true;
        this.current = 'half-open';
      }
    }
  }

  /** How long a message should stay invisible while the circuit is open, ms. */
  retryAfterMs(): number {
    return Math.max(0, this.probeAt - this.options.now());
  }

  /**
   * A batch Typesense answered. Its answers came before its end (each ended any run of unanswered
   * requests as it came): a run counted since is newer, and keeps the state for /health to decide.
   */
  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.waitMs = this.options.probeMs;
    this.succeeded = true;
    this.remember(false);
    if (this.unansweredRequests >= (this.options.requestFailureRun ?? REQUEST_FAILURE_RUN)) return;
    this.current = 'closed';
    this.suspect = false;
  }

  /**
   * The answer of Typesense's health check, asked for by a half-open state. After a run of failures
   * (see the class comment), healthy shows a lossy but working server: the circuit closes; unhealthy
   * opens it. On a probe after an open circuit, unhealthy reopens it with a doubled wait and healthy
   * leaves the decision to the probing batch's own outcome.
   */
  recordHealth(healthy: boolean): void {
    if (!this.suspect) {
      if (!healthy) this.recordOutage();
      return;
    }
    this.suspect = false;
    if (healthy) {
      this.current = 'closed';
      this.consecutiveFailures = 0;
      this.unansweredRequests = 0;
    } else {
      this.remember(true);
      this.open();
    }
  }

  recordOutage(): void {
    this.consecutiveFailures++;
    this.remember(true);
    if (this.suspect) {
      // A batch that started before the health check was asked for: only the ratio opens now.
      if (this.clearlyDown()) {
        this.suspect = false;
        this.open();
      }
    } else if (this.current === 'half-open') {
      this.waitMs = Math.min(this.options.maxProbeMs, this.waitMs * 2);
      this.open();
    } else if (this.current === 'closed' && this.consecutiveFailures >= this.options.failureThreshold) {
      if (this.clearlyDown()) this.open();
      else {
        this.suspect = true;
        this.current = 'half-open';
      }
    }
  }

  /** Failures no working server explains: it never answered, or most recent batches failed. */
  private clearlyDown(): boolean {
    if (!this.succeeded) return true;
    const samples = this.outcomes.length;
    const failures = this.outcomes.filter(Boolean).length;
    return (
      samples >= (this.options.minSamples ?? 10) && failures >= samples * (this.options.failureRatio ?? 0.8)
    );
  }

  private remember(failed: boolean): void {
    this.outcomes.push(failed);
    if (this.outcomes.length > (this.options.window ?? 20)) this.outcomes.shift();
  }

  private open(): void {
    if (this.current !== 'open') this.opened++;
    this.current = 'open';
    this.probeAt = this.options.now() + this.waitMs;
  }
}
