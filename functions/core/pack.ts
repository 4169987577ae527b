import { createHash } from 'node:crypto';
import type { Change, ChangeMessage } from './change.ts';
import { SyncError } from './errors.ts';
import { readWireKey } from './keys.ts';

/** SendMessageBatch limits: at most 10 entries and 1 MiB of payload per call. */
export const MAX_BATCH_ENTRIES = 10;
export const MAX_BATCH_BYTES = 1_048_576;

const ENVELOPE_CLOSE = ']}';

/**
 * The message text before the changes; `since` restarts the retry budget of an operator's redrive,
 * `requeues` counts the writer's re-sends at the receive limit.
 */
const envelopeOpen = (since: number | undefined, requeues?: number) =>
  `{"v":1,${since === undefined ? '' : `"since":${since},`}${requeues === undefined ? '' : `"requeues":${requeues},`}"changes":[`;

/**
 * Characters SQS refuses in a message body: it allows only `#x9 | #xA | #xD | #x20–#xD7FF |
 * #xE000–#xFFFD | #x10000–#x10FFFF` (InvalidMessageContents otherwise). With the `u` flag a lone
 * surrogate is one code point outside the class, a valid pair one inside it.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: SQS's character set is defined by these code points
const SQS_EXCLUDED = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * JSON text SQS accepts whatever the value's strings hold. JSON.stringify already escapes U+0000–U+001F
 * and lone surrogates, but not U+FFFE/U+FFFF (DynamoDB strings may hold them): those become `\uXXXX`
 * escapes, which JSON.parse turns back into the exact original string. Such characters occur in JSON
 * text only inside strings, so escaping them there is always valid. Binary values (Uint8Array) are
 * written as base64, the form DynamoDB's JSON uses for B.
 */
export function sqsJson(value: unknown): string {
  return JSON.stringify(value, binaryAsBase64).replace(SQS_EXCLUDED, (char) => {
    let escaped = '';
    for (let index = 0; index < char.length; index++)
      escaped += `\\u${char.charCodeAt(index).toString(16).padStart(4, '0')}`;
    return escaped;
  });
}

/** JSON.stringify calls Buffer#toJSON before a replacer; the holder still has the bytes. */
function binaryAsBase64(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Uint8Array ? Buffer.from(raw).toString('base64') : value;
}

/**
 * Room left in every first-sent message for the fields a re-send adds (`since` and `requeues`, at their
 * longest), so the writer can always re-send a message at the receive limit within the queue's size.
 */
export const RESEND_HEADROOM = Buffer.byteLength('"since":9999999999999,"requeues":9999999999,');

/** The size first-sent messages are packed to, for a queue of `maxMessageBytes`. */
export const packingLimit = (maxMessageBytes: number) => maxMessageBytes - RESEND_HEADROOM;

/** Thrown when a single change cannot fit in one message of the configured size. */
export class OversizeChangeError extends SyncError {
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

/** Why SQS refused one entry of a SendMessageBatch (its `Failed` entry). */
export interface SendRefusal {
  code: string;
  message: string;
  /** SQS blames the entry itself (e.g. InvalidMessageContents): sending the same body again cannot work. */
  senderFault: boolean;
}

/** An entry SQS refused; `refusal` is absent when the caller only knows that it was refused. */
export type RefusedMessage = PackedMessage & { refusal?: SendRefusal };

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
  const byGroup = new Map<string, Change[]>();
  for (const change of changes) {
    const groupId = messageGroupOf(change.id, buckets);
    const group = byGroup.get(groupId);
    if (group === undefined) byGroup.set(groupId, [change]);
    else group.push(change);
  }
  const result: PackResult = { messages: [], oversize: [] };
  for (const [groupId, groupChanges] of byGroup) {
    const packed = packGroup(groupChanges, groupId, maxBytes, { since });
    result.messages.push(...packed.messages);
    result.oversize.push(...packed.oversize);
  }
  return result;
}

/** The envelope fields a message carries besides its changes. */
export interface Envelope {
  since?: number | undefined;
  requeues?: number | undefined;
}

/**
 * Packs changes of one message group (kept in order) into as few messages as fit `maxBytes`. The
 * envelope is counted, so a re-sent message that gained `since` and `requeues` still fits.
 */
export function packGroup(
  changes: readonly Change[],
  groupId: string,
  maxBytes: number,
  envelope: Envelope = {},
): PackResult {
  const open = envelopeOpen(envelope.since, envelope.requeues);
  const envelopeBytes = Buffer.byteLength(open) + Buffer.byteLength(ENVELOPE_CLOSE);
  const messages: PackedMessage[] = [];
  const oversize: OversizeChangeError[] = [];
  let pending: Change[] = [];
  let parts: string[] = [];
  let bytes = envelopeBytes;
  for (const change of changes) {
    const part = sqsJson(change satisfies Change);
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

const isChangeShape = (change: Partial<Change> | null): boolean =>
  typeof change === 'object' &&
  change !== null &&
  typeof change.id === 'string' &&
  typeof change.version === 'string' &&
  typeof change.sourceTs === 'number' &&
  (change.clock === 'item' || change.clock === 'stream') &&
  (change.op === 'upsert' || change.op === 'delete');

/** A change message's envelope (`v`, `since`, `requeues`, an array of changes), its changes not yet checked. */
function parseEnvelope(body: string): (Omit<ChangeMessage, 'changes'> & { changes: unknown[] }) | undefined {
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
  return message as Omit<ChangeMessage, 'changes'> & { changes: unknown[] };
}

/** Parses a message body written by `packChanges`. Returns undefined for anything else. */
export function parseChangeMessage(body: string): ChangeMessage | undefined {
  const message = parseEnvelope(body);
  if (message === undefined) return undefined;
  const valid = message.changes.every((change) => {
    const candidate = change as Partial<Change> | null;
    return isChangeShape(candidate) && typeof candidate?.key === 'object' && candidate.key !== null;
  });
  return valid ? (message as ChangeMessage) : undefined;
}

/** A change of a message that cannot be applied as it is, with why. */
export interface MalformedChange {
  change: unknown;
  id: string | undefined;
  reason: string;
}

/**
 * Reads a message body change by change: the message keeps the changes it can apply (keys checked and
 * in wire form, see `readWireKey`), and `malformed` names the others, so each fails alone and never
 * its batch-mates. Undefined when the body is not a change message at all.
 */
export function readChangeMessage(
  body: string,
): { message: ChangeMessage; malformed: MalformedChange[] } | undefined {
  const message = parseEnvelope(body);
  if (message === undefined) return undefined;
  const changes: Change[] = [];
  const malformed: MalformedChange[] = [];
  for (const change of message.changes) {
    const candidate = change as Partial<Change> | null;
    const id = typeof candidate?.id === 'string' ? candidate.id : undefined;
    if (!isChangeShape(candidate)) {
      malformed.push({ change, id, reason: 'not a typesense-sync change (v1)' });
      continue;
    }
    const key = readWireKey(candidate?.key);
    if (key instanceof Error) malformed.push({ change, id, reason: key.message });
    else changes.push({ ...(candidate as Change), key });
  }
  return { message: { ...(message as ChangeMessage), changes }, malformed };
}
