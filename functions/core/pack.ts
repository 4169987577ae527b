import { createHash } from 'node:crypto';
import type { Change, ChangeMessage } from './change.ts';

/** SendMessageBatch limits: at most 10 entries and 1 MiB of payload per call. */
export const MAX_BATCH_ENTRIES = 10;
export const MAX_BATCH_BYTES = 1_048_576;

const ENVELOPE_CLOSE = ']}';

/** The message text before the changes; `since` restarts the retry budget of an operator's redrive. */
const envelopeOpen = (since: number | undefined) =>
  since === undefined ? '{"v":1,"changes":[' : `{"v":1,"since":${since},"changes":[`;

/** Thrown when a single change cannot fit in one message of the configured size. */
export class OversizeChangeError extends Error {
  override name = 'OversizeChangeError';
  constructor(
    readonly id: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`change for id '${id}' needs ${bytes} bytes, more than the message limit of ${maxBytes}`);
  }
}

/** FNV-1a 32-bit: cheap, stable across runtimes, spreads short keys well enough for bucketing. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The FIFO message group of a document id. Every change of one id lands in one group, so SQS
 * hands them to the writer one at a time and in order; different buckets proceed in parallel.
 */
export function messageGroupOf(id: string, buckets: number): string {
  return `b${fnv1a(id) % buckets}`;
}

export interface PackedMessage {
  groupId: string;
  /** Deterministic from the content, so a retried send is dropped by FIFO deduplication. */
  deduplicationId: string;
  body: string;
  bytes: number;
  changes: Change[];
}

function toMessage(open: string, groupId: string, changes: Change[], parts: string[]): PackedMessage {
  const body = `${open}${parts.join(',')}${ENVELOPE_CLOSE}`;
  const deduplicationId = createHash('sha256').update(groupId).update(body).digest('hex');
  return { groupId, deduplicationId, body, bytes: Buffer.byteLength(body), changes };
}

export interface PackResult {
  messages: PackedMessage[];
  /** Changes that cannot fit in any message of this size, with the reason. */
  oversize: OversizeChangeError[];
}

/**
 * Packs changes into as few messages as fit `maxBytes` each, one message group per message.
 * Order within a group is kept. `since` (ms) marks messages an operator re-enqueued: it differs per
 * redrive, so FIFO deduplication never drops a second redrive of the same changes, and it starts
 * their retry budget afresh.
 */
export function packChanges(
  changes: readonly Change[],
  buckets: number,
  maxBytes: number,
  since?: number,
): PackResult {
  const open = envelopeOpen(since);
  const envelopeBytes = Buffer.byteLength(open) + Buffer.byteLength(ENVELOPE_CLOSE);
  const byGroup = new Map<string, Change[]>();
  for (const change of changes) {
    const groupId = messageGroupOf(change.id, buckets);
    const group = byGroup.get(groupId);
    if (group === undefined) byGroup.set(groupId, [change]);
    else group.push(change);
  }
  const messages: PackedMessage[] = [];
  const oversize: OversizeChangeError[] = [];
  for (const [groupId, groupChanges] of byGroup) {
    let pending: Change[] = [];
    let parts: string[] = [];
    let bytes = envelopeBytes;
    for (const change of groupChanges) {
      const part = JSON.stringify(change satisfies Change);
      const partBytes = Buffer.byteLength(part);
      if (envelopeBytes + partBytes > maxBytes) {
        oversize.push(new OversizeChangeError(change.id, partBytes, maxBytes));
        continue;
      }
      if (bytes + (parts.length === 0 ? 0 : 1) + partBytes > maxBytes) {
        messages.push(toMessage(open, groupId, pending, parts));
        pending = [];
        parts = [];
        bytes = envelopeBytes;
      }
      bytes += (parts.length === 0 ? 0 : 1) + partBytes;
      pending.push(change);
      parts.push(part);
    }
    if (pending.length > 0) messages.push(toMessage(open, groupId, pending, parts));
  }
  return { messages, oversize };
}

/** Groups messages into SendMessageBatch calls: ≤ 10 entries and ≤ 1 MiB of bodies each. */
export function toSendBatches(messages: readonly PackedMessage[]): PackedMessage[][] {
  const batches: PackedMessage[][] = [];
  let current: PackedMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    if (
      current.length === MAX_BATCH_ENTRIES ||
      (current.length > 0 && bytes + message.bytes > MAX_BATCH_BYTES)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += message.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Parses a message body written by `packChanges`. Returns undefined for anything else. */
export function parseChangeMessage(body: string): ChangeMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const message = parsed as Partial<ChangeMessage>;
  if (message.v !== 1 || !Array.isArray(message.changes)) return undefined;
  if (message.since !== undefined && typeof message.since !== 'number') return undefined;
  if (message.requeues !== undefined && typeof message.requeues !== 'number') return undefined;
  const valid = message.changes.every(
    (change) =>
      typeof change === 'object' &&
      change !== null &&
      typeof change.id === 'string' &&
      typeof change.key === 'object' &&
      change.key !== null &&
      typeof change.version === 'string' &&
      typeof change.sourceTs === 'number' &&
      (change.clock === 'item' || change.clock === 'stream') &&
      (change.op === 'upsert' || change.op === 'delete'),
  );
  return valid ? (message as ChangeMessage) : undefined;
}
