import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { isRecord } from '../contract/records.ts';
import type { DeadLetter } from './change.ts';
import { SyncError } from './errors.ts';

/**
 * MongoDB Atlas Database Trigger events (delivered by EventBridge, then SQS) → writes to the mirror
 * table. The mirror is an ordinary source table: its stream feeds the batcher and writer unchanged, so
 * the consistency contract (the writer re-reads the current item) holds for this source too. What the
 * mirror must get right itself is order: EventBridge delivers at least once and in no particular
 * order, so an event is applied only when it is newer than the last one applied to its document.
 */

export const ATLAS_EVENT_SOURCE_PREFIX = 'aws.partner/mongodb.com';
/** The mirror table's key attribute: the MongoDB `_id` as a document id string. */
export const ATLAS_KEY_ATTRIBUTE = '_id';

export type AtlasOperation = 'insert' | 'update' | 'replace' | 'delete';
const OPERATIONS: ReadonlySet<string> = new Set<AtlasOperation>(['insert', 'update', 'replace', 'delete']);

/**
 * Where an event stands among its document's events. The cluster time orders events; events of one
 * transaction share it, and their resume tokens (`_id._data`, hex of a byte-comparable key, which is
 * how mongos merges shard streams) order them within it.
 */
export interface AtlasVersion {
  /** `t · 2^32 + i`: beyond 2^53, hence a bigint (a DynamoDB number holds it exactly). */
  clusterTime: bigint;
  /** The resume token's `_data`, or '' when the event has none (e.g. a synthetic backfill event). */
  token: string;
}

/** True when `event` is strictly newer than the version last applied (a duplicate is not newer). */
export function isNewer(event: AtlasVersion, applied: AtlasVersion | undefined): boolean {
  if (applied === undefined) return true;
  if (event.clusterTime !== applied.clusterTime) return event.clusterTime > applied.clusterTime;
  return event.token > applied.token;
}

/** What identifies an event in logs and dead letters; never any document content. */
export interface AtlasEventReference {
  messageId: string;
  eventId?: string;
  operationType?: string;
  ns?: { db?: string; coll?: string };
  clusterTime?: string;
}

/** One event, ready to be applied to the mirror table. */
export interface AtlasChange {
  id: string;
  operation: AtlasOperation;
  version: AtlasVersion;
  /** The mirror item (the converted full document, keyed by `_id`); absent for a delete. */
  item?: Record<string, AttributeValue>;
  reference: AtlasEventReference;
  /**
   * Set on an update whose `fullDocument` is null: the document was deleted before the trigger looked
   * it up, and its delete event follows. Nothing to write; it is counted as stale.
   */
  stale?: 'deleted-before-lookup';
}

export type AtlasRejectionCode =
  | 'bad-event'
  | 'unsupported-operation'
  | 'no-id'
  | 'bad-cluster-time'
  | 'no-full-document'
  | 'unrepresentable'
  | 'too-large';

/** An event that can never be applied; it is dead-lettered with `code` and the message. */
export class AtlasEventError extends SyncError {
  override name = 'AtlasEventError';
  constructor(
    readonly code: AtlasRejectionCode | 'rejected-by-dynamodb',
    message: string,
    readonly reference: AtlasEventReference,
    readonly id?: string,
  ) {
    super(message);
  }
}

/** A value that has no faithful DynamoDB form (MinKey, nesting beyond DynamoDB's 32 levels, …). */
class UnrepresentableError extends SyncError {}

/** DynamoDB's item size limit. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** DynamoDB's partition key limit. */
const MAX_KEY_BYTES = 2_048;
const MAX_DEPTH = 32;
/** DynamoDB numbers hold magnitudes from 1e-130 up to (not including) 1e126; others are kept as text. */
const DYNAMO_NUMBER_RANGE = { min: 1e-130, belowMax: 1e126 } as const;

const text = (value: string): AttributeValue => ({ S: value });

/**
 * A double as a DynamoDB number. 15 significant digits: the writer turns exactly those back into JSON
 * numbers (see project.ts), and Typesense floats hold fewer. Non-finite values and magnitudes DynamoDB
 * cannot store keep their text.
 */
function doubleValue(value: number): AttributeValue {
  if (!Number.isFinite(value)) return text(String(value));
  if (Number.isSafeInteger(value)) return { N: String(value) };
  const rounded = Number(value.toPrecision(15));
  const magnitude = Math.abs(rounded);
  if (magnitude !== 0 && (magnitude < DYNAMO_NUMBER_RANGE.min || magnitude >= DYNAMO_NUMBER_RANGE.belowMax))
    return text(String(value));
  return { N: String(rounded) };
}

function integerText(value: string, path: string): AttributeValue {
  if (!/^-?\d+$/.test(value)) throw new UnrepresentableError(`${path}: '${value}' is not an integer`);
  return { N: BigInt(value).toString() };
}

const HEX_OBJECT_ID = /^[0-9a-fA-F]{24}$/;

function uuidText(base64: string): string {
  const hex = Buffer.from(base64, 'base64').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** ms since epoch of an EJSON date: canonical `{ $numberLong }`, relaxed ISO text, or a number. */
function dateMs(value: unknown, path: string): number {
  const ms =
    typeof value === 'string'
      ? Date.parse(value)
      : typeof value === 'number'
        ? value
        : isRecord(value) && typeof value.$numberLong === 'string'
          ? Number(value.$numberLong)
          : Number.NaN;
  if (!Number.isFinite(ms)) throw new UnrepresentableError(`${path}: not a valid $date`);
  return ms;
}

/** BSON types that have no plain value a search index could use. */
const UNSUPPORTED_WRAPPERS = ['$minKey', '$maxKey', '$dbPointer', '$codeWithScope', '$scope'];

/**
 * An Extended JSON wrapper (canonical or relaxed) → its DynamoDB value; undefined when `value` is an
 * ordinary document. The mapping table is in the README ("MongoDB Atlas source").
 */
function wrapperValue(value: Record<string, unknown>, path: string): AttributeValue | undefined {
  const keys = Object.keys(value);
  const only = (name: string) => keys.length === 1 && keys[0] === name;
  if (only('$oid')) {
    if (typeof value.$oid !== 'string' || !HEX_OBJECT_ID.test(value.$oid))
      throw new UnrepresentableError(`${path}: $oid must be 24 hex digits`);
    return text(value.$oid.toLowerCase());
  }
  if (only('$date')) return { N: String(dateMs(value.$date, path)) };
  if (only('$numberInt') || only('$numberLong')) return integerText(String(Object.values(value)[0]), path);
  if (only('$numberDouble')) {
    const raw = String(value.$numberDouble);
    const parsed = Number(raw);
    // "Infinity", "-Infinity" and "NaN" are valid here; anything else unparseable is not.
    if (Number.isNaN(parsed) && raw !== 'NaN') throw new UnrepresentableError(`${path}: bad $numberDouble`);
    return doubleValue(parsed);
  }
  if (only('$numberDecimal')) return text(String(value.$numberDecimal));
  if (keys[0] === '$binary') {
    // Canonical: { $binary: { base64, subType } }; legacy: { $binary: base64, $type: hex }.
    const binary = value.$binary;
    const base64 = isRecord(binary) ? binary.base64 : binary;
    const subType = isRecord(binary) ? binary.subType : value.$type;
    if (typeof base64 !== 'string') throw new UnrepresentableError(`${path}: $binary has no base64 text`);
    return text(
      String(subType) === '04' && Buffer.from(base64, 'base64').length === 16 ? uuidText(base64) : base64,
    );
  }
  if (only('$uuid') && typeof value.$uuid === 'string') return text(value.$uuid.toLowerCase());
  if (only('$timestamp')) {
    const t = isRecord(value.$timestamp) ? value.$timestamp.t : undefined;
    if (typeof t !== 'number') throw new UnrepresentableError(`${path}: $timestamp has no t`);
    return { N: String(t * 1000) };
  }
  if (only('$regularExpression') && isRecord(value.$regularExpression)) {
    const { pattern, options } = value.$regularExpression;
    return text(`/${String(pattern)}/${String(options ?? '')}`);
  }
  if (only('$symbol') || only('$code')) return text(String(Object.values(value)[0]));
  if (only('$undefined')) return { NULL: true };
  const unsupported = keys.find((key) => UNSUPPORTED_WRAPPERS.includes(key));
  if (unsupported !== undefined)
    throw new UnrepresentableError(`${path}: BSON type ${unsupported} has no searchable value`);
  return undefined;
}

/** Any Extended JSON value (canonical or relaxed, or the trigger's plain JSON) → a DynamoDB value. */
export function attributeValueOf(value: unknown, path = '$', depth = 0): AttributeValue {
  if (depth > MAX_DEPTH)
    throw new UnrepresentableError(`${path}: nested deeper than DynamoDB's ${MAX_DEPTH} levels`);
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'boolean') return { BOOL: value };
  if (typeof value === 'string') return text(value);
  if (typeof value === 'number') return doubleValue(value);
  if (Array.isArray(value))
    return { L: value.map((member, index) => attributeValueOf(member, `${path}[${index}]`, depth + 1)) };
  if (isRecord(value)) {
    const wrapped = wrapperValue(value, path);
    if (wrapped !== undefined) return wrapped;
    return {
      M: Object.fromEntries(
        Object.entries(value).map(([name, member]) => [
          name,
          attributeValueOf(member, `${path}.${name}`, depth + 1),
        ]),
      ),
    };
  }
  throw new UnrepresentableError(`${path}: unsupported JSON value`);
}

/**
 * The document id of a MongoDB `_id`: ObjectId → its 24 lowercase hex digits; string → itself;
 * number (int, long, double) → its decimal text (1, NumberLong(1) and 1.0 are one `_id` in MongoDB,
 * and one id here); UUID → its canonical text; other binary → base64; date → ms since epoch; any
 * other value (a document, an array, a boolean) → the compact JSON text of the value as the event
 * carries it.
 */
export function documentIdOf(idValue: unknown): string {
  const value = attributeValueOf(idValue, '_id');
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return value.N;
  if (value.NULL) throw new UnrepresentableError('_id: null is not usable as a document id');
  return JSON.stringify(idValue);
}

/**
 * DynamoDB's size of an item: attribute names and values in UTF-8, numbers about one byte per two
 * digits, and 3 bytes per map or list plus 1 per member (the rules AWS documents).
 */
export function itemSizeBytes(item: Record<string, AttributeValue>): number {
  const sizeOf = (value: AttributeValue): number => {
    if (value.S !== undefined) return Buffer.byteLength(value.S);
    if (value.N !== undefined) return Math.ceil(value.N.replace(/[^0-9]/g, '').length / 2) + 1;
    if (value.B !== undefined) return value.B.length;
    if (value.L !== undefined) return 3 + value.L.reduce((sum, member) => sum + 1 + sizeOf(member), 0);
    if (value.M !== undefined) return 3 + mapSize(value.M, 1);
    return 1;
  };
  const mapSize = (map: Record<string, AttributeValue>, perMember: number) =>
    Object.entries(map).reduce(
      (sum, [name, member]) => sum + perMember + Buffer.byteLength(name) + sizeOf(member),
      0,
    );
  return mapSize(item, 0);
}

const clusterTimeSchema = z.union([
  // Extended JSON (the trigger's "Enable Extended JSON").
  z.object({ $timestamp: z.object({ t: z.number().int(), i: z.number().int() }) }),
  // The trigger's default plain JSON renders a BSON Timestamp as { T, I }.
  z.object({ T: z.number().int(), I: z.number().int() }),
]);

const eventSchema = z.object({
  id: z.string().optional(),
  source: z.string().startsWith(ATLAS_EVENT_SOURCE_PREFIX, {
    message: `must start with ${ATLAS_EVENT_SOURCE_PREFIX}`,
  }),
  detail: z
    .object({
      _id: z.object({ _data: z.string() }).partial().passthrough().optional(),
      operationType: z.string(),
      clusterTime: z.unknown(),
      documentKey: z.object({ _id: z.unknown() }).partial().passthrough().optional(),
      fullDocument: z.unknown(),
      ns: z.object({ db: z.string(), coll: z.string() }).partial().optional(),
    })
    .passthrough(),
});

const UINT32_MAX = 0xffff_ffff;

function clusterTimeOf(value: unknown): bigint | undefined {
  const parsed = clusterTimeSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const [t, i] =
    '$timestamp' in parsed.data
      ? [parsed.data.$timestamp.t, parsed.data.$timestamp.i]
      : [parsed.data.T, parsed.data.I];
  if (t < 0 || t > UINT32_MAX || i < 0 || i > UINT32_MAX) return undefined;
  return (BigInt(t) << 32n) | BigInt(i);
}

/**
 * One SQS message body (the whole EventBridge event, as an SQS rule target delivers it) → the change
 * to apply. Throws `AtlasEventError` naming what is wrong.
 */
export function parseAtlasEvent(body: string, messageId: string): AtlasChange {
  const reference: AtlasEventReference = { messageId };
  const reject = (code: AtlasRejectionCode, message: string, id?: string): never => {
    throw new AtlasEventError(code, message, reference, id);
  };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return reject('bad-event', 'message body is not JSON');
  }
  const parsed = eventSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`,
    );
    return reject('bad-event', `not an Atlas trigger event from EventBridge: ${problems.join('; ')}`);
  }
  const { id: eventId, detail } = parsed.data;
  reference.eventId = eventId;
  reference.operationType = detail.operationType;
  if (detail.ns !== undefined) reference.ns = detail.ns;
  const clusterTime = clusterTimeOf(detail.clusterTime);
  if (clusterTime !== undefined) reference.clusterTime = clusterTime.toString();

  if (!OPERATIONS.has(detail.operationType))
    return reject(
      'unsupported-operation',
      `operationType '${detail.operationType}' is not a document change (insert, update, replace, delete); ` +
        'limit the trigger to those operation types',
    );
  const operation = detail.operationType as AtlasOperation;
  const idValue = detail.documentKey?._id;
  if (idValue === undefined) return reject('no-id', 'the event has no documentKey._id');
  let id: string;
  try {
    id = documentIdOf(idValue);
  } catch (error) {
    if (!(error instanceof UnrepresentableError)) throw error;
    return reject('no-id', error.message);
  }
  if (id === '' || Buffer.byteLength(id) > MAX_KEY_BYTES)
    return reject('unrepresentable', `document id must be 1 to ${MAX_KEY_BYTES} bytes`, id);
  if (clusterTime === undefined)
    return reject('bad-cluster-time', 'clusterTime is missing or not a BSON timestamp { t, i }', id);
  const version = { clusterTime, token: detail._id?._data ?? '' };

  if (operation === 'delete') return { id, operation, version, reference };
  // Atlas sends `fullDocument: null` when the update lookup found the document already deleted; a
  // missing field means the trigger does not look documents up at all (a configuration error).
  if (operation === 'update' && detail.fullDocument === null)
    return { id, operation, version, reference, stale: 'deleted-before-lookup' };
  if (detail.fullDocument === undefined || detail.fullDocument === null) {
    return reject(
      'no-full-document',
      operation === 'update'
        ? 'update event without fullDocument: turn on "Full Document" in the Atlas trigger'
        : `${operation} event without fullDocument`,
      id,
    );
  }
  if (!isRecord(detail.fullDocument)) return reject('bad-event', 'fullDocument is not a document', id);
  let item: Record<string, AttributeValue>;
  try {
    const converted = attributeValueOf(detail.fullDocument, 'fullDocument').M ?? {};
    item = { ...converted, [ATLAS_KEY_ATTRIBUTE]: text(id) };
  } catch (error) {
    if (!(error instanceof UnrepresentableError)) throw error;
    return reject('unrepresentable', error.message, id);
  }
  const size = itemSizeBytes(item);
  if (size > MAX_ITEM_BYTES)
    return reject(
      'too-large',
      `the converted document is about ${size} bytes; a DynamoDB item holds at most ${MAX_ITEM_BYTES}`,
      id,
    );
  return { id, operation, version, item, reference };
}

export type ApplyOutcome = 'applied' | 'stale';

export interface AtlasIngestPorts {
  /**
   * Applies the change if it is newer than the version last applied to its document (one
   * transaction: the version and the mirror item). Throws `AtlasEventError` when DynamoDB refuses the
   * item itself (a dead letter); any other error is retried.
   */
  apply(change: AtlasChange): Promise<ApplyOutcome>;
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  now(): number;
}

export interface AtlasIngestSummary {
  messages: number;
  applied: number;
  /** Older than or equal to what the mirror already holds: duplicates and late events. */
  stale: number;
  deadLettered: number;
  failed: number;
}

export interface AtlasIngestResult extends SQSBatchResponse {
  summary: AtlasIngestSummary;
}

interface Pending {
  change: AtlasChange;
  /** The messages whose events this change stands for (the newest event of its document wins). */
  records: SQSRecord[];
}

function deadLetterOf(error: AtlasEventError, record: SQSRecord, now: number): DeadLetter {
  return {
    v: 1,
    kind: 'dead-letter',
    stage: 'atlas',
    ...(error.id === undefined ? {} : { id: error.id }),
    record: error.reference,
    reason: { code: error.code, message: error.message },
    firstSeen: Number(record.attributes.ApproximateFirstReceiveTimestamp) || now,
    attempts: Number(record.attributes.ApproximateReceiveCount) || 1,
  };
}

/**
 * A batch of ingest queue messages → mirror writes. Per document, only the newest event of the batch
 * is applied (the others would lose to it anyway); documents are applied in parallel. Bad events are
 * dead-lettered and acknowledged; a write that fails for any other reason fails its messages, which
 * SQS delivers again.
 */
export async function processAtlasMessages(
  records: readonly SQSRecord[],
  ports: AtlasIngestPorts,
): Promise<AtlasIngestResult> {
  const now = ports.now();
  const rejected: { error: AtlasEventError; record: SQSRecord }[] = [];
  const byId = new Map<string, Pending>();
  for (const record of records) {
    try {
      const change = parseAtlasEvent(record.body, record.messageId);
      const pending = byId.get(change.id);
      if (pending === undefined) byId.set(change.id, { change, records: [record] });
      else {
        pending.records.push(record);
        if (isNewer(change.version, pending.change.version)) pending.change = change;
      }
    } catch (error) {
      if (!(error instanceof AtlasEventError)) throw error;
      rejected.push({ error, record });
    }
  }

  const summary: AtlasIngestSummary = {
    messages: records.length,
    applied: 0,
    stale: 0,
    deadLettered: 0,
    failed: 0,
  };
  const failedIds = new Set<string>();
  await Promise.all(
    [...byId.values()].map(async ({ change, records: sources }) => {
      try {
        // Its delete event follows; writing anything for it could only be undone by that delete.
        const outcome = change.stale === undefined ? await ports.apply(change) : 'stale';
        summary[outcome]++;
        // The batch's older events of this document lost to the one applied.
        summary.stale += sources.length - 1;
      } catch (error) {
        if (!(error instanceof AtlasEventError)) {
          for (const record of sources) failedIds.add(record.messageId);
          return;
        }
        rejected.push({ error, record: sources[0] as SQSRecord });
        summary.stale += sources.length - 1;
      }
    }),
  );

  if (rejected.length > 0) {
    try {
      await ports.sendDeadLetters(rejected.map(({ error, record }) => deadLetterOf(error, record, now)));
      summary.deadLettered = rejected.length;
    } catch {
      for (const { record } of rejected) failedIds.add(record.messageId);
    }
  }
  summary.failed = failedIds.size;
  return {
    batchItemFailures: [...failedIds].map((itemIdentifier) => ({ itemIdentifier })),
    summary,
  };
}
