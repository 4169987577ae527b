import { isRetryableAnswer, isRetryableError, wasNotSent } from '../classify.ts';
import type { ActiveResync, Rejection } from '../resync/model.ts';
import { runWithinBudget } from '../time-budget.ts';
import type { ResyncWriterPorts, WriterOptions, WriterPorts } from '../write-batch.ts';
import { isOverloadAnswer, withinImportLimit } from './adaptive-import.ts';
import type { DocumentLine, PlannedWrites } from './documents.ts';
import { type BatchLedger, type Pending, type Placed, reasonOf } from './ledger.ts';
import {
  Leftovers,
  mayRetry,
  retriesAllowed,
  retryPauseMs,
  sleepOf,
  type WriteRound,
} from './retry-lines.ts';

/** How the live collection answered the batch: counts for the summary, signals for the circuit. */
export interface LiveTally {
  upserted: number;
  deleted: number;
  /** Typesense answered something that was no outage: the circuit may close. */
  answered: boolean;
  /** Typesense was unreachable or overloaded: the circuit counts an outage. */
  outage: boolean;
  /** A whole live request failed: another round only while the breaker sees a working server. */
  threw: boolean;
}

/**
 * Writes the planned documents: imports and deletes to the live collection, the same to a running
 * re-sync's collection, heartbeats to the lag check's; all at once. Every answer lands in the ledger.
 * Documents a working server failed for a passing reason get another round (retry-lines.ts).
 */
export async function writeDocuments(
  plan: PlannedWrites,
  resync: ActiveResync | undefined,
  ports: WriterPorts,
  options: WriterOptions,
  ledger: BatchLedger,
  batchStart: number,
): Promise<LiveTally> {
  const tally: LiveTally = { upserted: 0, deleted: 0, answered: false, outage: false, threw: false };
  const writeToResync = resync !== undefined && ports.resync !== undefined;
  // During a first load there is no alias yet: the job's collection is the only one to write to.
  const writeLive = !(writeToResync && resync.firstLoad === true);
  let round: WriteRound = {
    upserts: writeLive ? plan.upserts : [],
    deletes: writeLive ? plan.deletes : [],
    resyncUpserts: writeToResync ? plan.upserts : [],
    resyncDeletes: writeToResync ? plan.deletes : [],
  };
  let slowestRoundMs = 0;
  const retried = { line: 0, request: 0 };
  for (let retries = 0; ; retries++) {
    const began = ports.now();
    const left = new Leftovers();
    const roundTally: LiveTally = { ...tally, answered: false, threw: false };
    await Promise.all([
      writeRound(round, resync, ports, options, { ledger, left, tally: roundTally, batchStart }),
      retries === 0 ? importCanaries(plan.canaries, ports, options, ledger) : Promise.resolve(),
    ]);
    Object.assign(tally, roundTally, {
      answered: tally.answered || roundTally.answered,
      threw: tally.threw || roundTally.threw,
    });
    slowestRoundMs = Math.max(slowestRoundMs, ports.now() - began);
    left.pruneFailed(ledger);
    if (left.size === 0) return tally;
    // A server that took part of any round is working: a later round of its failed lines alone may fail whole.
    const budget = retriesAllowed({ answered: tally.answered, threw: roundTally.threw }, options);
    const pauseMs = retryPauseMs(options, retries);
    if (!mayRetry(retried[budget.kind], budget.allowed, slowestRoundMs, pauseMs, options)) {
      left.failAll(ledger);
      return tally;
    }
    retried[budget.kind]++;
    if (pauseMs > 0) await sleepOf(ports)(pauseMs);
    round = left.round;
  }
}

/** Where the writes of one round report: the ledger, what to retry, the counts and signals. */
interface RoundSink {
  ledger: BatchLedger;
  left: Leftovers;
  tally: LiveTally;
  batchStart: number;
}

/** One round of writes, all at once: live imports and deletes, and the re-sync's double writes. */
function writeRound(
  round: WriteRound,
  resync: ActiveResync | undefined,
  ports: WriterPorts,
  options: WriterOptions,
  sink: RoundSink,
): Promise<unknown> {
  return Promise.all([
    importLive(round.upserts, ports, options, sink),
    deleteLive(round.deletes, ports, options, sink),
    resync === undefined || ports.resync === undefined
      ? Promise.resolve()
      : applyToResync(ports.resync, resync, round, sink, {
          batchStart: sink.batchStart,
          now: ports.now,
          remainingMs: options.remainingMs,
        }),
  ]);
}

/** A failed live request: an outage (retryable, counted by the circuit), or a request Typesense refuses. */
const typesenseFailed =
  (ledger: BatchLedger, tally: LiveTally, entries: Pending[], what: string) => (error: unknown) => {
    // A write never sent (the batch's lease or the call's time ran out first): no sign of Typesense's health.
    tally.outage ||= isRetryableError(error) && !wasNotSent(error);
    tally.threw = true;
    ledger.fail(entries, `${what} failed: ${reasonOf(error)}`, isRetryableError(error));
  };

/** Imports the upserts; each line's answer decides: applied, retried (passing reason) or dead-lettered. */
function importLive(
  upserts: readonly DocumentLine[],
  ports: WriterPorts,
  options: WriterOptions,
  { ledger, left, tally }: RoundSink,
): Promise<void> {
  if (upserts.length === 0) return Promise.resolve();
  // Each attempt under the limit reads the time left itself (adaptive-import.ts).
  return withinImportLimit(ports, options)
    .importDocuments(upserts.map(({ line }) => line))
    .then(
      (outcomes) => {
        const answered = outcomes.some(
          (outcome) => outcome.success || !isRetryableAnswer(outcome.code, outcome.error),
        );
        tally.answered ||= answered;
        tally.outage ||= !answered && outcomes.length > 0;
        options.breaker?.recordRequest(answered);
        upserts.forEach((upsert, index) => {
          const outcome = outcomes[index];
          // A line without an answer was not confirmed: retry it rather than acknowledge it.
          if (outcome === undefined) left.upsert(upsert, 'import answered fewer lines than were sent');
          else if (outcome.success) {
            tally.upserted++;
            ledger.applied.push(upsert.entry);
          } else if (isRetryableAnswer(outcome.code, outcome.error))
            left.upsert(upsert, `import ${outcome.code}: ${outcome.error}`);
          else ledger.deadLetter(upsert.entry, outcome.code, outcome.error);
        });
      },
      (error: unknown) => {
        // A passing failure may get another round (retry-lines.ts); a refused request fails now, and
        // so does an overload the adaptive limit already retried (retries must not compound).
        const limitRetried = options.importLimit !== undefined && isOverloadAnswer(error);
        const notSent = wasNotSent(error);
        if (!notSent) options.breaker?.recordRequest(!isRetryableError(error));
        if (!isRetryableError(error) || limitRetried || notSent)
          return typesenseFailed(
            ledger,
            tally,
            upserts.map(({ entry }) => entry),
            'import',
          )(error);
        tally.outage = true;
        tally.threw = true;
        for (const upsert of upserts) left.upsert(upsert, `import failed: ${reasonOf(error)}`);
      },
    );
}

/**
 * Deletes the gone keys. Deletes of ids Typesense cannot match by filter go one request each: many
 * can outrun the invocation, so they run within its time budget; what is left over is deferred.
 * A delete has no lines: one failing for a passing reason is retried like an import line.
 */
function deleteLive(
  deletes: readonly Placed[],
  ports: WriterPorts,
  options: WriterOptions,
  { ledger, left, tally }: RoundSink,
): Promise<void> {
  if (deletes.length === 0) return Promise.resolve();
  const budget =
    options.remainingMs === undefined
      ? undefined
      : { remainingMs: options.remainingMs, reserveMs: options.timeReserveMs ?? 3_000 };
  return runWithinBudget(
    deletes,
    (chunk) => ports.deleteDocuments(chunk.map(({ documentId }) => documentId)),
    budget,
    ports.now,
  ).then((run) => {
    if (run.done.length > 0) options.breaker?.recordRequest(true);
    const notSent = wasNotSent(run.error);
    if (run.error !== undefined && !notSent) options.breaker?.recordRequest(!isRetryableError(run.error));
    tally.answered ||= run.done.length > 0;
    tally.deleted += run.done.length;
    ledger.applied.push(...run.done);
    if (run.error !== undefined && isRetryableError(run.error) && !notSent) {
      tally.outage = true;
      left.deletes(run.failed, `delete failed: ${reasonOf(run.error)}`);
    } else if (run.error !== undefined) typesenseFailed(ledger, tally, run.failed, 'delete')(run.error);
    ledger.defer(run.deferred);
  });
}

/** Heartbeats into the lag check's collection, when it is wired. */
function importCanaries(
  canaries: readonly DocumentLine[],
  ports: WriterPorts,
  options: WriterOptions,
  ledger: BatchLedger,
): Promise<unknown> {
  if (canaries.length === 0 || ports.importCanaries === undefined) return Promise.resolve();
  return ports
    .importCanaries(
      canaries.map(({ line }) => line),
      options.remainingMs?.(),
    )
    .then(
      () => ledger.applied.push(...canaries.map(({ entry }) => entry)),
      // A lost heartbeat shows as lag in the next check; retrying or dead-lettering it would only
      // block its message group.
      () => undefined,
    );
}

/**
 * Writes the batch's upserts and deletes to a running re-sync's collection too, whatever the live
 * collection answered: a re-sync may bring the schema that fixes a live rejection. A failure here
 * retries the change (both writes are idempotent); a rejection is recorded against the re-sync.
 * During a first load these are the batch's only writes: what they apply counts as applied, and a
 * document the collection refuses is also dead-lettered with the reason, as a live refusal is.
 */
async function applyToResync(
  ports: ResyncWriterPorts,
  active: ActiveResync,
  { resyncUpserts: upserts, resyncDeletes: deletes }: WriteRound,
  { ledger, left, tally }: RoundSink,
  clock: { batchStart: number; now: () => number; remainingMs?: (() => number) | undefined },
): Promise<void> {
  const live = active.firstLoad === true;
  const importing = async () => {
    if (upserts.length === 0) return;
    const outcomes = await ports.importDocuments(
      active.collection,
      upserts.map(({ line }) => line),
      clock.remainingMs?.(),
    );
    const rejections: Rejection[] = [];
    const written: string[] = [];
    // Recorded after the source was read: a backfill page scanned later than this reads a later state.
    const at = clock.now();
    upserts.forEach((upsert, index) => {
      const { entry } = upsert;
      const outcome = outcomes[index];
      if (outcome === undefined)
        left.resyncUpsert(upsert, 're-sync import answered fewer lines than were sent');
      else if (outcome.success) {
        written.push(entry.documentId);
        if (live) ledger.applied.push(entry);
      } else if (isRetryableAnswer(outcome.code, outcome.error))
        left.resyncUpsert(upsert, `re-sync import ${outcome.code}: ${outcome.error}`);
      else {
        rejections.push({ id: entry.documentId, reason: `${outcome.code}: ${outcome.error}`, at });
        if (live) ledger.deadLetter(entry, outcome.code, outcome.error);
      }
    });
    if (live) {
      tally.upserted += written.length;
      tally.answered ||= outcomes.length > 0;
    }
    if (rejections.length > 0) await ports.recordRejections(active.jobId, rejections);
    // A rejection recorded before this batch began was of an earlier state of the key (per-key
    // order), which this successful write replaced: it no longer fails the re-sync.
    if (written.length > 0)
      await ports.clearRejections(active.jobId, [{ ids: written, before: clock.batchStart }]);
  };
  const deleting = async () => {
    if (deletes.length === 0) return;
    // The tombstone first: a delete that lands before the backfill's older copy must be re-checked.
    await ports.recordDeletes(
      active.jobId,
      deletes.map(({ change, documentId }) => ({ id: documentId, key: change.key })),
    );
    const ids = deletes.map(({ documentId }) => documentId);
    await ports.deleteDocuments(active.collection, ids);
    // A rejected earlier state of a key now deleted has nothing left to fail the re-sync for.
    await ports.clearRejections(active.jobId, [{ ids, before: clock.batchStart }]);
    if (live) {
      ledger.applied.push(...deletes);
      tally.deleted += deletes.length;
      tally.answered = true;
    }
  };
  await Promise.all([
    importing().catch((error: unknown) =>
      ledger.fail(
        upserts.map(({ entry }) => entry),
        `re-sync import failed: ${reasonOf(error)}`,
      ),
    ),
    deleting().catch((error: unknown) => {
      // Tombstone, delete and clearing are idempotent: the whole sequence may run again.
      if (isRetryableError(error)) left.resyncDeletes(deletes, `re-sync delete failed: ${reasonOf(error)}`);
      else ledger.fail(deletes, `re-sync delete failed: ${reasonOf(error)}`);
    }),
  ]);
}
