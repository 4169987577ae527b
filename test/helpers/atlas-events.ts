import type { AtlasOperation } from '../../functions/core/atlas-change.ts';
import { loadJson } from './fixtures.ts';

/**
 * The Atlas trigger event fixtures: EventBridge envelopes around MongoDB change events, in the shape
 * of the Atlas docs ("Send Trigger Events to AWS EventBridge", Example Event; change events from the
 * MongoDB manual's "Change Events" pages). `-insert`/`-update`/`-replace`/`-delete` use the trigger's
 * "Enable Extended JSON" (clusterTime `{ $timestamp: { t, i } }`, `_id` `{ $oid }`); `-plain-json` the
 * trigger's default plain JSON, as captured from real triggers (clusterTime `{ T, I }`, `_id` a hex
 * string).
 */
export type AtlasFixture =
  | 'atlas-eventbridge-insert.json'
  | 'atlas-eventbridge-update.json'
  | 'atlas-eventbridge-replace.json'
  | 'atlas-eventbridge-delete.json'
  | 'atlas-eventbridge-plain-json.json';

export type AtlasEvent = {
  id: string;
  source: string;
  detail: Record<string, unknown>;
} & Record<string, unknown>;

export const atlasFixture = (name: AtlasFixture): AtlasEvent => loadJson<AtlasEvent>(name);

/** The malformed events, by what is wrong with them; `not-json` is a raw body, not an event. */
export function malformedAtlasEvents(): Record<string, unknown> & { 'not-json': string } {
  return loadJson('atlas-eventbridge-malformed.json');
}

export interface AtlasEventSpec {
  /** 24 hex digits. */
  oid: string;
  operation: AtlasOperation;
  /** Cluster time seconds and increment. */
  t: number;
  i?: number;
  /** The document, without `_id` (insert, update, replace). */
  document?: Record<string, unknown>;
  /** The resume token `_data`; default: derived from the cluster time, as MongoDB's sorts with it. */
  token?: string;
  ns?: { db: string; coll: string };
}

const hex = (value: number, digits: number) => value.toString(16).toUpperCase().padStart(digits, '0');

/** An Extended JSON trigger event for one document, built on the insert fixture's envelope. */
export function atlasEvent(spec: AtlasEventSpec): AtlasEvent {
  const envelope = atlasFixture('atlas-eventbridge-insert.json');
  const i = spec.i ?? 1;
  const token =
    spec.token ?? `82${hex(spec.t, 8)}${hex(i, 8)}2B022C0100296E5A1004${spec.oid.toUpperCase()}0004`;
  const ns = spec.ns ?? { db: 'shop', coll: 'products' };
  const detail: Record<string, unknown> = {
    _id: { _data: token },
    operationType: spec.operation,
    clusterTime: { $timestamp: { t: spec.t, i } },
    ns,
    documentKey: { _id: { $oid: spec.oid } },
  };
  if (spec.operation !== 'delete') detail.fullDocument = { _id: { $oid: spec.oid }, ...spec.document };
  return {
    ...envelope,
    id: `${spec.oid}-${spec.t}-${i}-${spec.operation}`,
    'detail-type': `MongoDB Database Trigger for ${ns.db}.${ns.coll}`,
    detail,
  };
}
