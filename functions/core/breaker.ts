export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  /** Consecutive batches failing for outage reasons that open the circuit. */
  failureThreshold: number;
  /** First wait before a health probe while open; doubles after each failed probe. */
  probeMs: number;
  maxProbeMs: number;
  now: () => number;
}

/**
 * A circuit breaker for Typesense, one per writer instance. Closed: batches call Typesense. After
 * `failureThreshold` consecutive outage-type failures it opens: batches skip Typesense entirely and
 * their messages wait until the next probe time. Then one batch probes (half-open): a healthy answer
 * closes the circuit, a failure reopens it with a doubled wait.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private waitMs: number;
  private probeAt = 0;
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
  }

  recordOutage(): void {
    this.consecutiveFailures++;
    if (this.current === 'half-open') {
      this.waitMs = Math.min(this.options.maxProbeMs, this.waitMs * 2);
      this.open();
    } else if (this.current === 'closed' && this.consecutiveFailures >= this.options.failureThreshold) {
      this.open();
    }
  }

  private open(): void {
    if (this.current !== 'open') this.opened++;
    this.current = 'open';
    this.probeAt = this.options.now() + this.waitMs;
  }
}
