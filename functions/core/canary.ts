import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { MarshalledKey } from './change.ts';
import { documentId } from './keys.ts';

/**
 * The lag check's heartbeat: one item in the source table whose every key attribute holds this
 * value. It travels the whole pipeline (stream, batcher, queue, writer) like any change, but the
 * writer indexes it into a collection of its own, so it never shows up in the application's search
 * results, re-syncs or verify reports. Its key attributes must therefore be strings.
 */
export const CANARY_KEY_VALUE = '__typesense_sync_canary__';

/** The item attribute holding when the lag check wrote the canary (ms epoch). */
export const CANARY_SENT_AT = 'sentAt';

export const canaryCollectionOf = (alias: string) => `${alias}_canary`;

export const canaryCollectionSchema = (alias: string) => ({
  name: canaryCollectionOf(alias),
  fields: [{ name: CANARY_SENT_AT, type: 'int64' }],
});

export const canaryKey = (keyAttributes: readonly string[]): MarshalledKey =>
  Object.fromEntries(keyAttributes.map((name) => [name, { S: CANARY_KEY_VALUE }]));

/** Document ids of canaries start with the key value whatever the key's arity (see `documentId`). */
export const isCanaryId = (id: string) => id.startsWith(CANARY_KEY_VALUE);

export const isCanaryItem = (item: MarshalledKey, keyAttributes: readonly string[]) =>
  keyAttributes.every((name) => item[name]?.S === CANARY_KEY_VALUE);

/**
 * The canary item for `sentAt`. It also carries the precise source timestamp attribute when one is
 * configured, so the writer's ingestion-delay figure for it is as precise as for real items.
 */
export function canaryItem(
  keyAttributes: readonly string[],
  sentAt: number,
  sourceTimestampAttribute?: string,
): Record<string, AttributeValue> {
  return {
    ...canaryKey(keyAttributes),
    [CANARY_SENT_AT]: { N: String(sentAt) },
    ...(sourceTimestampAttribute === undefined ? {} : { [sourceTimestampAttribute]: { N: String(sentAt) } }),
  };
}

/** What the writer indexes for a canary item: its id and when it was sent; nothing else. */
export function canaryDocument(
  item: Record<string, AttributeValue>,
  keyAttributes: readonly string[],
): { id: string; sentAt: number } | undefined {
  const sentAt = Number(item[CANARY_SENT_AT]?.N);
  if (!Number.isFinite(sentAt)) return undefined;
  return { id: documentId(item, keyAttributes), sentAt };
}
