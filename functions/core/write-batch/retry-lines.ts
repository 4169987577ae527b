import type { WriterOptions, WriterPorts } from '../write-batch.ts';
import type { DocumentLine } from './documents.ts';
import type { BatchLedger, Pending, Placed } from './ledger.ts';

/**
 * In-invocation retry of the documents a working Typesense failed for a passing reason (one import
 * line answering 503, a delete answering 503) while it took the rest of the batch, and of a whole
 * request that failed for a passing reason (503/429/5xx answers, a timeout, a lost answer) while the
 * circuit breaker sees a lossy but working server. Giving them back to SQS instead costs their
 * message, and by the FIFO rule every later message of its group in the batch, a backoff of seconds
 * (bench/CONVERGENCE.md); a short pause and one more request mostly does.
 *
 * Consistent by construction: a retry sends the very line (or delete) of the first attempt, the
 * state read once in this invocation, while the batch still holds its message group. An idempotent
 * upsert (or delete) of that state can write nothing staler than the first attempt would have.
 */

/**
 * In-invocation retries of a failed document, by default (0 turns them off). Each round re-sends only
 * what failed, so rounds cost less and less: at a 10 % line failure rate, 800 lines leave ~80, ~8,
 * then ~1; one round would leave a line (and its group blocked behind it) in almost every big import.
 */
export const LINE_RETRIES = 3;
/**
 * In-invocation retries of a whole request, by default (0 turns them off), only while the breaker sees
 * a lossy but working server. Typesense's own client retries a failed request once per node of a
 * one-node cluster (typesense-js src/Typesense/Configuration.ts: `numRetries` defaults to the node
 * count, 100 ms apart); more here, because a request failing for a passing reason gives its message
 * (and its group) back to SQS for a backoff of seconds, while a retry costs a short pause and, with the
 * adaptive timeout (core/adaptive-timeout.ts), ~10× a normal request at worst. At the chaos run's
 * ~31 % whole-request failures, one retry left 10 % of such requests to a backoff, three 1 %, five
 * 0.1 % (bench/CONVERGENCE.md). An outage is not retried into: 6 unanswered requests in a row, across
 * batches, make the breaker ask /health (`CircuitBreaker.recordRequest`), as does a run of failed
 * batches. Three, not five: with five the chaos test's 3 s outage was not seen opening the circuit in
 * 3 of 7 runs, and still in 2 of 14 once the breaker counted the requests (in 0 of 11 with three), while
 * the throughput runs could not tell five from three on this machine.
 */
export const REQUEST_RETRIES = 3;
// An import answered 503/429 under the adaptive limit is retried there (adaptive-import.ts), not again here.
/** The first pause before a retry, jittered within [½, 1] of this, ms; it doubles each round. */
export const RETRY_PAUSE_MS = 100;
/**
 * The pause before the second retry while the breaker sees a lossy but working server (`looksWorking`),
 * ms; the first retry goes at once. A failed line or request there is a random loss, which the very
 * next request mostly gets through, and a pause holds the batch's message group (bench/CONVERGENCE.md:
 * 100 ms pauses were a third of a faulty invocation's time; 5–10 ms ones, stretched by a busy event
 * loop's timers to ~16 ms, still a fifth). An overloaded server answers 503/429, which the adaptive
 * limit paces instead, and a run of failed batches ends `looksWorking`.
 */
export const LOSSY_RETRY_PAUSE_MS = 10;

/** The writes of one round: the batch's plan, then what a round left to retry. */
export interface WriteRound {
  upserts: DocumentLine[];
  deletes: Placed[];
  /** Writes into a running re-sync's collection (the double writes). */
  resyncUpserts: DocumentLine[];
  resyncDeletes: Placed[];
}

/** What a round left for a retry, each with the reason it failed (kept if no retry follows). */
export class Leftovers {
  readonly round: WriteRound = { upserts: [], deletes: [], resyncUpserts: [], resyncDeletes: [] };
  private readonly reasons = new Map<Pending, string>();

  upsert(line: DocumentLine, reason: string): void {
    this.round.upserts.push(line);
    this.reasons.set(line.entry, reason);
  }

  deletes(entries: readonly Placed[], reason: string): void {
    this.round.deletes.push(...entries);
    for (const entry of entries) this.reasons.set(entry, reason);
  }

  resyncUpsert(line: DocumentLine, reason: string): void {
    this.round.resyncUpserts.push(line);
    this.reasons.set(line.entry, reason);
  }

  resyncDeletes(entries: readonly Placed[], reason: string): void {
    this.round.resyncDeletes.push(...entries);
    for (const entry of entries) this.reasons.set(entry, reason);
  }

  get size(): number {
    const { upserts, deletes, resyncUpserts, resyncDeletes } = this.round;
    return upserts.length + deletes.length + resyncUpserts.length + resyncDeletes.length;
  }

  /**
   * Leaves out of the next round what its message cannot gain from: a change of a message that failed
   * already is redelivered anyway. Those fail now, with their reason.
   */
  pruneFailed(ledger: BatchLedger): void {
    const keep = (entry: Pending) => {
      const failedAlready = [...entry.messageIds].some((messageId) => ledger.failures.has(messageId));
      if (failedAlready) ledger.fail([entry], this.reasons.get(entry) ?? 'failed');
      return !failedAlready;
    };
    const round = this.round;
    round.upserts = round.upserts.filter(({ entry }) => keep(entry));
    round.deletes = round.deletes.filter(keep);
    round.resyncUpserts = round.resyncUpserts.filter(({ entry }) => keep(entry));
    round.resyncDeletes = round.resyncDeletes.filter(keep);
  }

  /** No retry follows: the messages fail as they did before retries existed (backoff, FIFO block). */
  failAll(ledger: BatchLedger): void {
    for (const [entry, reason] of this.reasons) ledger.fail([entry], reason);
  }
}

/** How a round went: whether Typesense took part of it, and whether a whole request failed. */
export interface RoundOutcome {
  answered: boolean;
  threw: boolean;
}

/** The budget a round's failures draw on, and the retries it allows in all (see `retriesAllowed`). */
export interface RetryBudget {
  kind: 'line' | 'request';
  allowed: number;
}

/**
 * The retries a round's failures allow. Documents a server failed while it took the rest of the round:
 * `lineRetries`. A whole request failing (or every line of it): `requestRetries`, and only while the
 * breaker sees a lossy but working server (`looksWorking`); otherwise an outage is possible, and the
 * circuit decides. Without a breaker, none. The two budgets are counted apart: under the chaos
 * defaults a retried line's round fails whole 31 % of the time, and one count let those whole failures
 * use up a failed line's rounds (most of the batches still given back, bench/CONVERGENCE.md).
 */
export function retriesAllowed(
  round: RoundOutcome,
  options: Pick<WriterOptions, 'breaker' | 'lineRetries' | 'requestRetries'>,
): RetryBudget {
  if (round.answered && !round.threw) return { kind: 'line', allowed: options.lineRetries ?? LINE_RETRIES };
  const allowed = options.breaker?.looksWorking === true ? (options.requestRetries ?? REQUEST_RETRIES) : 0;
  return { kind: 'request', allowed };
}

/**
 * Whether one more round fits: a retry left, and time for the pause and a round as slow as the
 * slowest so far (a timed-out request included), the writer's reserve kept. Without a time budget
 * there is no retry: it could outrun the invocation's timeout.
 */
export function mayRetry(
  retriesDone: number,
  retriesAllowed: number,
  slowestRoundMs: number,
  pauseMs: number,
  options: Pick<WriterOptions, 'remainingMs' | 'timeReserveMs'>,
): boolean {
  if (retriesDone >= retriesAllowed || options.remainingMs === undefined) return false;
  const spareMs = options.remainingMs() - (options.timeReserveMs ?? 3_000);
  return spareMs >= pauseMs + slowestRoundMs;
}

/**
 * The pause before retry round `round` (0-based): 100 ms doubling each round, jittered in [½, 1] so
 * that the retries of concurrent writers do not arrive together at a server shedding load. While the
 * breaker sees a lossy but working server: none before the first retry, then 10 ms doubling, jittered.
 */
export function retryPauseMs(options: Pick<WriterOptions, 'retry' | 'breaker'>, round: number): number {
  const random = options.retry?.random ?? Math.random;
  if (options.breaker?.looksWorking !== true)
    return Math.round((RETRY_PAUSE_MS / 2) * 2 ** round * (1 + random()));
  return round === 0 ? 0 : Math.round((LOSSY_RETRY_PAUSE_MS / 2) * 2 ** (round - 1) * (1 + random()));
}

export const sleepOf = (ports: Pick<WriterPorts, 'sleep'>) =>
  ports.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
