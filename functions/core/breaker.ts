export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  /** Consecutive batches failing for outage reasons, at least, before the circuit may open. */
  failureThreshold: number;
  /** First wait before a health probe while open; doubles after each failed probe. */
  probeMs: number;
  maxProbeMs: number;
  now: () => number;
  /**
   * A run of failures opens the circuit only with evidence that the server is down rather than
   * lossy: no success for this long (default `probeMs`), or `failureRatio` of the recent window failed.
   */
  silenceMs?: number;
  /** Share of the last `window` batch outcomes that failed, from which the circuit opens (default 0.8). */
  failureRatio?: number;
  /** Batch outcomes the ratio is taken over (default 20). */
  window?: number;
  /** Outcomes the window must hold before the ratio counts (default 10). */
  minSamples?: number;
}

/**
 * A circuit breaker for Typesense, one per writer instance. Closed: batches call Typesense. It opens
 * on an outage, not on a lossy but working server: after at least `failureThreshold` consecutive
 * outage-type failures, and only if no batch has succeeded for `silenceMs` (a working server answers
 * some batches in that time, a dead one none), or most of the recent window failed, or no batch ever
 * succeeded. Random per-request faults make runs of 3–6 failures common (at 30 % per batch, a run of 3
 * starts once in ~37 batches) while successes keep arriving: the circuit stays closed and those
 * messages back off alone. Open: batches skip Typesense and their messages wait until the next probe
 * time. Then one batch probes (half-open): a healthy answer closes the circuit, a failure reopens it
 * with a doubled wait.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private waitMs: number;
  private probeAt = 0;
  private lastSuccessAt: number | undefined;
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

  /** How long a message should stay invisible while the circuit is open, ms. */
  retryAfterMs(): number {
    return Math.max(0, this.probeAt - this.options.now());
  }

  recordSuccess(): void {
    this.current = 'closed';
    this.consecutiveFailures = 0;
    this.waitMs = this.options.probeMs;
    this.lastSuccessAt = this.options.now();
    this.remember(false);
  }

  recordOutage(): void {
    this.consecutiveFailures++;
    this.remember(true);
    if (this.current === 'half-open') {
      this.waitMs = Math.min(this.options.maxProbeMs, this.waitMs * 2);
      this.open();
    } else if (this.current === 'closed' && this.looksDown()) {
      this.open();
    }
  }

  /** Evidence of an outage rather than random faults on a working server (see the class comment). */
  private looksDown(): boolean {
    if (this.consecutiveFailures < this.options.failureThreshold) return false;
    if (this.lastSuccessAt === undefined) return true;
    if (this.options.now() - this.lastSuccessAt >= (this.options.silenceMs ?? this.options.probeMs))
      return true;
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
