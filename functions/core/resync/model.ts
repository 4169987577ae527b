import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import type { Aggregation } from '../aggregate.ts';
import type { MarshalledKey } from '../change.ts';
import { OperatorError } from '../errors.ts';
import type { Projection } from '../project.ts';
import type { Transform } from '../transform.ts';
import type {
  CollectionDefinition,
  NamedCollection,
  TypesenseCollectionsPort,
  TypesenseDocumentsPort,
} from '../typesense-port.ts';

/*
 * The re-sync's model: its job and segment state, the ports it runs on, its tasks, and the one
 * transition every path that ends a job without a swap goes through (`abandon`). How the steps keep
 * the new collection consistent with the stream is told in functions/core/resync.ts.
 */

/** Anything wrong with a re-sync request or its state: says what, and what to do. */
export class ResyncError extends OperatorError {
  override name = 'ResyncError';
}

export type ResyncPhase = 'backfilling' | 'finishing' | 'swapping' | 'done' | 'failed' | 'cancelled';
export type ResyncTrigger = 'schedule' | 'operator' | 'stream-gap' | 'drift' | 'deploy';

/** Phases a job never leaves. */
export const FINISHED_PHASES: ReadonlySet<ResyncPhase> = new Set(['done', 'failed', 'cancelled']);

/** What the writer needs to know while a re-sync runs. */
export interface ActiveResync {
  jobId: string;
  collection: string;
  /**
   * The alias does not exist yet: this job's swap creates it. Until then the writer writes into the
   * job's collection only (there is no live collection to write to).
   */
  firstLoad?: boolean;
}

export interface ResyncJob {
  jobId: string;
  alias: string;
  /** The new, versioned collection. */
  collection: string;
  phase: ResyncPhase;
  trigger: ResyncTrigger;
  totalSegments: number;
  /** DescribeTable's item count at the start (updated by DynamoDB about every 6 hours). */
  estimatedItems?: number;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** The collection the alias pointed at before the swap: the rollback target. */
  previous?: string;
  swappedAt?: number;
  rolledBackAt?: number;
  /** Times the finisher found deleted keys back in the new collection and waited for their fix. */
  finishChecks?: number;
  /** The finisher's re-check of deleted keys, saved after every chunk so a follow-up task resumes it. */
  recheck?: RecheckProgress;
  /** When a segment page, a re-check chunk or a finish step last completed: a stall shows as its age. */
  lastProgressAt?: number;
  /** Why the job failed or was cancelled. */
  message?: string;
  /** Set when this start lost the claim to that running job (a duplicate start): it never ran. */
  duplicateOf?: string;
  /** The alias did not exist when it started: the initial load, whose swap creates the alias. */
  firstLoad?: boolean;
}

export interface RecheckProgress {
  /** 1 for the first look at the tombstones; each look after re-applying found keys is a new pass. */
  pass: number;
  /** Counts saved chunks: the guard that keeps two finish tasks from both moving the re-check on. */
  step: number;
  /** The last tombstone id checked in this pass; absent at its start. */
  after?: string;
  checked: number;
  /** Tombstones when the pass began (the writer may add more; those came after the backfill). */
  total: number;
  /** Deleted keys found back in the new collection in this pass, and re-applied. */
  found: number;
}

export interface SegmentState {
  segment: number;
  /** Where the next page starts (the Scan's LastEvaluatedKey); absent before the first page. */
  lastKey?: MarshalledKey;
  done: boolean;
  pages: number;
  scanned: number;
  indexed: number;
  /** Scanned items the stream had already written to the new collection (a newer state). */
  skipped: number;
  /** Scanned items the projection's filter leaves out of the index; absent in checkpoints from before filters. */
  filtered?: number;
}

export interface Rejection {
  id: string;
  reason: string;
  /** When the rejected state was written (ms): only a later successful write of the id clears it. */
  at?: number;
}

/** Extra conditions of a `transition`, for writers that may race (finish tasks, cancel). */
export interface TransitionGuard {
  /** The job's `updatedAt` must still be this (a swap claim nobody renewed). */
  updatedAt?: number;
  /** The saved re-check must still be at this step; null: none saved yet. */
  recheckStep?: number | null;
}

export interface DeletedKey {
  id: string;
  key: MarshalledKey;
}

/** The re-sync's bookkeeping (a small DynamoDB table in production). */
export interface ResyncStore {
  active(): Promise<ActiveResync | undefined>;
  /** Makes `active` the one running re-sync; returns the holder instead when another one is. */
  claim(active: ActiveResync): Promise<ActiveResync | undefined>;
  release(jobId: string): Promise<void>;
  putJob(job: ResyncJob): Promise<void>;
  getJob(jobId: string): Promise<ResyncJob | undefined>;
  /** Newest first. */
  latestJobs(limit: number): Promise<ResyncJob[]>;
  /** Sets `fields` only when the job is in one of `from` (and `guard` holds); false when not. */
  transition(
    jobId: string,
    from: readonly ResyncPhase[],
    fields: Partial<ResyncJob>,
    guard?: TransitionGuard,
  ): Promise<boolean>;
  /**
   * Writes a segment's checkpoint. With `previousPages`, only if the stored checkpoint is still at
   * that page (false otherwise): a duplicate delivery of a segment task then stops instead of
   * running the segment twice.
   */
  putSegment(jobId: string, segment: SegmentState, previousPages?: number): Promise<boolean>;
  getSegment(jobId: string, segment: number): Promise<SegmentState | undefined>;
  listSegments(jobId: string): Promise<SegmentState[]>;
  recordDeletes(jobId: string, keys: readonly DeletedKey[]): Promise<void>;
  /** In id order; `after` and `limit` page through them. */
  listDeletes(jobId: string, page?: { after?: string; limit?: number }): Promise<DeletedKey[]>;
  countDeletes(jobId: string): Promise<number>;
  recordRejections(jobId: string, rejections: readonly Rejection[]): Promise<void>;
  listRejections(jobId: string, limit: number): Promise<Rejection[]>;
  /**
   * Drops the rejections of each write's ids recorded before its `before` (ms): a later successful
   * write of the id replaced the rejected state. Returns how many it dropped.
   */
  clearRejections(jobId: string, writes: readonly FixingWrite[]): Promise<number>;
}

/** Ids written successfully by a write that read their state at `before` (ms) or later. */
export interface FixingWrite {
  ids: readonly string[];
  before: number;
}

/** Each id's time before which its rejections are fixed: the latest of the writes that wrote it. */
export function fixedBeforeOf(writes: readonly FixingWrite[]): Map<string, number> {
  const fixedBefore = new Map<string, number>();
  for (const { ids, before } of writes)
    for (const id of ids) fixedBefore.set(id, Math.max(before, fixedBefore.get(id) ?? before));
  return fixedBefore;
}

export type { CollectionDefinition } from '../typesense-port.ts';

/** The Typesense calls a re-sync makes (`TypesenseClient` implements them). */
export type ResyncTypesense = TypesenseCollectionsPort &
  Pick<TypesenseDocumentsPort, 'importDocuments' | 'getDocument'>;

export interface ResyncPorts {
  store: ResyncStore;
  typesense: ResyncTypesense;
  /** One page of a parallel Scan with consistent reads. */
  scanPage(
    segment: number,
    totalSegments: number,
    limit: number,
    startKey: MarshalledKey | undefined,
  ): Promise<{ items: Record<string, AttributeValue>[]; lastKey?: MarshalledKey }>;
  /** Strongly consistent reads; absent keys are missing from the result. */
  readItems(keys: MarshalledKey[]): Promise<Record<string, AttributeValue>[]>;
  /** An aggregated index's read: a partition's items (strongly consistent, paged Query), up to `limit`. */
  readPartition?(key: MarshalledKey, limit: number): Promise<Record<string, AttributeValue>[]>;
  estimateItemCount(): Promise<number | undefined>;
  sendTasks(tasks: readonly ResyncTask[], delaySeconds?: number): Promise<void>;
  /** Puts keys on the changes queue, each in its message group, for the writer to re-apply. */
  enqueueKeys(keys: readonly MarshalledKey[]): Promise<void>;
  now(): number;
  /** What is left of this invocation (Lambda's `getRemainingTimeInMillis`); absent: no limit. */
  remainingTimeMs?: () => number;
  /** Waits between retries; real time when absent. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ResyncOptions {
  alias: string;
  /** The table's key attributes. */
  keyAttributes: readonly string[];
  /** Set for an aggregated index: documents are built per partition (functions/core/aggregate.ts). */
  aggregation?: Aggregation;
  projection?: Projection;
  /** The app's transform module, applied after the projection (functions/core/transform.ts). */
  transform?: Transform;
  /** The new collection's schema; default: the live collection's. */
  schema?: CollectionDefinition;
  totalSegments: number;
  pageSize: number;
  pagesPerTask: number;
  keepCollections: number;
}

const triggerSchema = z.enum(['schedule', 'operator', 'stream-gap', 'drift', 'deploy']);
const taskSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('start'), trigger: triggerSchema }).strict(),
  z
    .object({ action: z.literal('segment'), jobId: z.string().min(1), segment: z.number().int().min(0) })
    .strict(),
  z.object({ action: z.literal('finish'), jobId: z.string().min(1) }).strict(),
]);
export type ResyncTask = z.infer<typeof taskSchema>;

/** Parses a work-queue message; the error says what is wrong with it. */
export function parseResyncTask(body: string): ResyncTask {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ResyncError('re-sync task is not JSON');
  }
  const result = taskSchema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(task)'}: ${issue.message}`,
  );
  throw new ResyncError(`not a re-sync task: ${problems.join('; ')}`);
}

/** Sortable, readable and valid in a collection name: `r` + UTC yyyyMMddHHmmssSSS. */
export function jobIdAt(now: number): string {
  return `r${new Date(now).toISOString().replace(/\D/g, '').slice(0, 17)}`;
}

/** The names of the alias's re-sync collections: `<alias>_r<17 digits>`. */
export const versionedPattern = (alias: string) =>
  new RegExp(`^${alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_r\\d{17}$`);

/** How long the finisher waits for re-applied deletes before looking again, and how often. */
export const FINISH_RECHECK_SECONDS = 5;
export const MAX_FINISH_CHECKS = 60;
/** A finisher that claimed the swap and then went silent this long is presumed dead. */
export const SWAP_LEASE_MS = 60_000;

/** A live collection's schema as a new collection's: without its name and its statistics. */
export function schemaOf(info: NamedCollection): CollectionDefinition {
  const { name: _name, num_documents: _count, created_at: _created, ...schema } = info;
  return schema as CollectionDefinition;
}

/**
 * Ends a job that will not swap: its phase and why, the pointer released, its collection dropped.
 * False when the job was not in one of `from` (or `guard` failed): someone else moved it first.
 */
export async function abandon(
  ports: ResyncPorts,
  job: ResyncJob,
  phase: 'failed' | 'cancelled',
  message: string,
  from: readonly ResyncPhase[] = ['backfilling', 'finishing'],
  guard?: TransitionGuard,
): Promise<boolean> {
  const now = ports.now();
  const moved = await ports.store.transition(
    job.jobId,
    from,
    { phase, message, finishedAt: now, updatedAt: now, lastProgressAt: now },
    guard,
  );
  if (!moved) return false;
  await ports.store.release(job.jobId);
  await ports.typesense.deleteCollection(job.collection).catch(() => undefined); // Already gone is fine.
  return true;
}

/** A task hands on to a fresh one when less than this much of its invocation is left. */
export const TASK_RESERVE_MS = 20_000;

/** What is left of this invocation; unbounded without a clock. */
export const timeLeft = (ports: ResyncPorts): number => ports.remainingTimeMs?.() ?? Number.POSITIVE_INFINITY;

/** The ports' wait, else real time. */
export const sleepOf = (ports: ResyncPorts) =>
  ports.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
