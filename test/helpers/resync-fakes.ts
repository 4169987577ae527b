import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { MarshalledKey } from '../../functions/core/change.ts';
import {
  type ActiveResync,
  type DeletedKey,
  fixedBeforeOf,
  type Rejection,
  type ResyncJob,
  type ResyncPorts,
  type ResyncStore,
  type ResyncTask,
  type SegmentState,
} from '../../functions/core/resync.ts';

/** The re-sync state table in memory, with the same conditional semantics as the DynamoDB store. */
export function memoryResyncStore(): ResyncStore & { deletes: Map<string, DeletedKey[]> } {
  let active: ActiveResync | undefined;
  const jobs = new Map<string, ResyncJob>();
  const segments = new Map<string, SegmentState>();
  const deletes = new Map<string, DeletedKey[]>();
  const rejections = new Map<string, Rejection[]>();
  const copy = <T>(value: T): T => structuredClone(value);
  return {
    deletes,
    active: async () => copy(active),
    async claim(candidate) {
      if (active !== undefined) return copy(active);
      active = copy(candidate);
      return undefined;
    },
    async release(jobId) {
      if (active?.jobId === jobId) active = undefined;
    },
    async putJob(job) {
      jobs.set(job.jobId, copy(job));
    },
    getJob: async (jobId) => copy(jobs.get(jobId)),
    latestJobs: async (limit) =>
      [...jobs.values()]
        .sort((a, b) => b.jobId.localeCompare(a.jobId))
        .slice(0, limit)
        .map(copy),
    async transition(jobId, from, fields, guard) {
      const job = jobs.get(jobId);
      if (job === undefined || !from.includes(job.phase)) return false;
      if (guard?.updatedAt !== undefined && job.updatedAt !== guard.updatedAt) return false;
      if (guard?.recheckStep !== undefined && (job.recheck?.step ?? null) !== guard.recheckStep) return false;
      jobs.set(jobId, { ...job, ...copy(fields) });
      return true;
    },
    async putSegment(jobId, segment, previousPages) {
      const key = `${jobId}/${segment.segment}`;
      if (previousPages !== undefined && segments.get(key)?.pages !== previousPages) return false;
      segments.set(key, copy(segment));
      return true;
    },
    getSegment: async (jobId, segment) => copy(segments.get(`${jobId}/${segment}`)),
    listSegments: async (jobId) =>
      [...segments.entries()].filter(([key]) => key.startsWith(`${jobId}/`)).map(([, value]) => copy(value)),
    async recordDeletes(jobId, keys) {
      // One item per id, in id order, as the state table keeps them.
      const byId = new Map((deletes.get(jobId) ?? []).map((entry) => [entry.id, entry]));
      for (const entry of copy(keys)) byId.set(entry.id, entry);
      deletes.set(
        jobId,
        [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      );
    },
    listDeletes: async (jobId, page = {}) => {
      const all = (deletes.get(jobId) ?? []).filter(({ id }) => page.after === undefined || id > page.after);
      return copy(all.slice(0, page.limit ?? all.length));
    },
    countDeletes: async (jobId) => (deletes.get(jobId) ?? []).length,
    async recordRejections(jobId, list) {
      const kept = (rejections.get(jobId) ?? []).filter(({ id }) => !list.some((entry) => entry.id === id));
      rejections.set(jobId, [...kept, ...copy(list)]);
    },
    listRejections: async (jobId, limit) =>
      (rejections.get(jobId) ?? []).slice(0, limit).map(({ id, reason }) => ({ id, reason })),
    async clearRejections(jobId, writes) {
      const list = rejections.get(jobId) ?? [];
      const fixedBefore = fixedBeforeOf(writes);
      const kept = list.filter(
        ({ id, at }) => !((at ?? 0) < (fixedBefore.get(id) ?? Number.NEGATIVE_INFINITY)),
      );
      rejections.set(jobId, kept);
      return list.length - kept.length;
    },
  };
}

type Item = Record<string, AttributeValue>;

/**
 * Re-sync ports over an in-memory table (keyed by `pk`, scanned in key order, one segment per
 * `pk` hash) and a given Typesense client; tasks and re-applied keys are collected, not run.
 */
export function memoryResyncPorts(typesense: ResyncPorts['typesense'], now = () => 1_795_000_000_000) {
  const table = new Map<string, Item>();
  const tasks: { task: ResyncTask; delaySeconds: number | undefined }[] = [];
  const enqueued: MarshalledKey[] = [];
  const idOf = (key: MarshalledKey) => key.pk?.S as string;
  const segmentOf = (id: string, total: number) =>
    [...id].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) >>> 0, 7) % total;
  const store = memoryResyncStore();
  const ports: ResyncPorts = {
    store,
    typesense,
    async scanPage(segment, totalSegments, limit, startKey) {
      const ids = [...table.keys()].filter((id) => segmentOf(id, totalSegments) === segment).sort();
      const from = startKey === undefined ? 0 : ids.indexOf(idOf(startKey)) + 1;
      const page = ids.slice(from, from + limit);
      const items = page.map((id) => structuredClone(table.get(id) as Item));
      const last = page.at(-1);
      return from + limit < ids.length && last !== undefined
        ? { items, lastKey: { pk: { S: last } } }
        : { items };
    },
    readItems: async (keys) =>
      keys.flatMap((key) => {
        const item = table.get(idOf(key));
        return item === undefined ? [] : [structuredClone(item)];
      }),
    estimateItemCount: async () => table.size,
    async sendTasks(list, delaySeconds) {
      tasks.push(...list.map((task) => ({ task, delaySeconds })));
    },
    async enqueueKeys(keys) {
      enqueued.push(...keys);
    },
    now,
  };
  return { ports, store, table, tasks, enqueued };
}
