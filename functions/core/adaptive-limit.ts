/**
 * How many Typesense imports one writer may have in flight, adapted to how Typesense answers: additive
 * increase, multiplicative decrease (AIMD, as TCP's congestion window). Each import that comes back
 * in good time adds 1/limit (one slot per round of `limit` imports); an overload answer (503 "Not
 * Ready or Lagging", 429) or an import slower than the latency target halves the limit, once per
 * congestion event: imports that started before the last halving report the same congestion and do
 * not halve it again. The limit stays within [1, cap]; the cap follows Typesense's guidance of at
 * most N−2 concurrent imports on a node with N cores (docs/configuration.md).
 *
 * An overload answer halves the limit only while such answers are more than `overloadTolerance` of the
 * last `overloadWindow` answers. An overloaded server refuses a growing share of the writes as the
 * writer pushes more (a lagging Typesense refuses every write until it catches up; a rate limit refuses
 * what exceeds its rate), while random losses of a working server are a share that fewer imports do
 * not lower: halving on each of them held the limit at 1 for no gain (bench/CONVERGENCE.md, "Random
 * 503/429 apart from overload": at the chaos faults' 15 % and 64 message groups, imports waited for
 * a slot 10.7 s with 3 pollers and 104 s with 8, in drains of 46 and 41 s).
 */

export interface AdaptiveLimitOptions {
  /** The most imports in flight, ≥ 1. */
  cap: number;
  /** The limit to start from (default: the cap). */
  initial?: number;
  /** An import slower than this counts as congestion, ms (default: none). */
  latencyTargetMs?: number;
  /** Answers remembered to tell overload from random losses, an integer ≥ 1 (default 40). */
  overloadWindow?: number;
  /**
   * The share of overload (or slow) answers among the remembered ones up to which they are taken for
   * random losses and do not halve the limit, in [0, 1) (default 0.3; 0: every one halves it).
   */
  overloadTolerance?: number;
  now: () => number;
}

/** How one import went, as the limit reads it. */
export interface ImportSignal {
  /** When the import was sent (`now()` at `acquire`), ms. */
  startedAt: number;
  /** Typesense answered 503 or 429: it takes no more writes for now. */
  overloaded: boolean;
}

/** Defaults of `AdaptiveLimitOptions`, documented in docs/configuration.md ("Write concurrency"). */
export const OVERLOAD_WINDOW = 40;
export const OVERLOAD_TOLERANCE = 0.3;

export class AdaptiveLimit {
  private current: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  /** The last `overloadWindow` answers, oldest first: true for an overload (or slow) one. */
  private readonly recent: boolean[] = [];
  private recentOverloads = 0;
  private readonly overloadWindow: number;
  private readonly overloadTolerance: number;
  /** Halvings since this limit was made (for the log and the benchmarks). */
  decreases = 0;

  constructor(private readonly options: AdaptiveLimitOptions) {
    if (!(options.cap >= 1))
      throw new RangeError(`adaptive limit: cap must be at least 1, got ${options.cap}`);
    const { overloadWindow = OVERLOAD_WINDOW, overloadTolerance = OVERLOAD_TOLERANCE } = options;
    if (!(Number.isInteger(overloadWindow) && overloadWindow >= 1))
      throw new RangeError(`adaptive limit: overloadWindow must be an integer ≥ 1, got ${overloadWindow}`);
    if (!(overloadTolerance >= 0 && overloadTolerance < 1))
      throw new RangeError(`adaptive limit: overloadTolerance must be in [0, 1), got ${overloadTolerance}`);
    this.overloadWindow = overloadWindow;
    this.overloadTolerance = overloadTolerance;
    this.current = clamp(options.initial ?? options.cap, 1, options.cap);
  }

  /** The current limit: how many imports may be in flight, a real number in [1, cap]. */
  get limit(): number {
    return this.current;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Resolves, with the start time to report back, once an import may be sent. */
  async acquire(): Promise<number> {
    if (this.inFlight >= this.slots() || this.waiting.length > 0) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.inFlight++;
    return this.options.now();
  }

  /** Reports how an import acquired before went, and lets waiting imports go as the limit allows. */
  release(signal: ImportSignal): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    const { latencyTargetMs, cap, now } = this.options;
    const at = now();
    const slow = latencyTargetMs !== undefined && at - signal.startedAt > latencyTargetMs;
    const congested = signal.overloaded || slow;
    this.remember(congested);
    if (congested) {
      if (
        signal.startedAt >= this.lastDecreaseAt &&
        this.recentOverloads / this.recent.length > this.overloadTolerance
      ) {
        this.current = Math.max(1, this.current / 2);
        this.lastDecreaseAt = at;
        this.decreases++;
      }
    } else this.current = Math.min(cap, this.current + 1 / this.current);
    this.admitWaiting();
  }

  private remember(congested: boolean): void {
    this.recent.push(congested);
    if (congested) this.recentOverloads++;
    if (this.recent.length > this.overloadWindow && this.recent.shift()) this.recentOverloads--;
  }

  private slots(): number {
    return Math.floor(this.current);
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.inFlight < this.slots()) {
      this.inFlight++;
      this.waiting.shift()?.();
    }
  }
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
