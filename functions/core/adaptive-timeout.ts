/**
 * A write request's client timeout, adapted to how fast Typesense has been answering: 10× the median
 * latency of recent successful requests, or 2× their p99 if longer, within [floor, ceiling], the
 * ceiling being the configured timeout (TYPESENSE_TIMEOUT_MS, or an import's own). A request that
 * hangs is abandoned after ~10× the normal latency instead of the whole configured timeout: a hung
 * request holds its invocation, and its FIFO group, for as long as its timeout (bench/CONVERGENCE.md:
 * ~60 injected hangs cost a writer under the chaos faults ~60 s, nearly all its Typesense time).
 *
 * It must not cause false timeouts on a slow or loaded machine, so it errs long:
 * - until `minSamples` successes are seen, and whenever the rule asks for more, the ceiling;
 * - 2× the p99 when longer than 10× the median: a machine whose answers vary keeps its tail (on a
 *   loaded 2-core machine whose answers took ~4 ms, 3× held hung requests 150–275 ms with no false
 *   timeout in four chaos runs, 2× holds them 120–140 ms with 0–2 false timeouts in ~1,100
 *   requests: bench/CONVERGENCE.md);
 * - a request larger than every remembered one gets proportionally more time (latency grows with lines);
 * - every timeout doubles the next requests' time (up to the ceiling), every success halves that back:
 *   a machine that slowed down all at once gets its full timeout after a timeout or two, and its slow
 *   successes then raise the median.
 * A timed-out write is retryable and idempotent (the same state, see write-batch/retry-lines.ts), so a
 * false timeout costs a retry, never a change.
 */

export interface AdaptiveTimeoutOptions {
  /**
   * The least a request is given, ms (default 100: 20× a write answered in 5 ms; a loaded machine's
   * hiccups raise the p99, and with it the timeout, above the floor).
   */
  floorMs?: number;
  /** The timeout as a multiple of the recent median (default 10). */
  factor?: number;
  /** The timeout as a multiple of the recent p99, where that is longer (default 2). */
  tailFactor?: number;
  /** Successful requests remembered (default 100). */
  window?: number;
  /** Successes needed before the timeout adapts (default 20). */
  minSamples?: number;
}

/** Defaults, documented in docs/configuration.md (`TYPESENSE_TIMEOUT_MS`). */
export const ADAPTIVE_TIMEOUT_FLOOR_MS = 100;
export const ADAPTIVE_TIMEOUT_FACTOR = 10;
export const ADAPTIVE_TIMEOUT_TAIL_FACTOR = 2;

/** One per writer instance and kind of request (imports, deletes): their latencies differ. */
export class AdaptiveTimeout {
  /** Recent successes, oldest first: latency and request size (lines or ids). */
  private readonly samples: { ms: number; size: number }[] = [];
  /** Doubles on a timeout, halves back on a success: ≥ 1. */
  private stretch = 1;

  constructor(private readonly options: AdaptiveTimeoutOptions = {}) {}

  /** The timeout for a request of `size` lines or ids, at most `ceilingMs` (the configured one), ms. */
  timeoutMs(size: number, ceilingMs: number): number {
    const { floorMs = ADAPTIVE_TIMEOUT_FLOOR_MS, factor = ADAPTIVE_TIMEOUT_FACTOR } = this.options;
    if (this.samples.length < (this.options.minSamples ?? 20)) return ceilingMs;
    const largest = Math.max(...this.samples.map((sample) => sample.size));
    const sizeFactor = Math.max(1, size / Math.max(1, largest));
    const tailFactor = this.options.tailFactor ?? ADAPTIVE_TIMEOUT_TAIL_FACTOR;
    const normalMs = Math.max(factor * this.quantile(0.5), tailFactor * this.quantile(0.99));
    const adapted = Math.max(floorMs, normalMs * sizeFactor) * this.stretch;
    return Math.round(Math.min(ceilingMs, adapted));
  }

  /** A request of `size` answered successfully after `ms`. */
  succeeded(ms: number, size = 1): void {
    this.samples.push({ ms, size });
    if (this.samples.length > (this.options.window ?? 100)) this.samples.shift();
    this.stretch = Math.max(1, this.stretch / 2);
  }

  /** A request timed out: the next ones get twice the time, up to the ceiling. */
  timedOut(): void {
    this.stretch = Math.min(this.stretch * 2, 1_024);
  }

  private quantile(q: number): number {
    const sorted = this.samples.map(({ ms }) => ms).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * q) - 1))] ?? 0;
  }
}
