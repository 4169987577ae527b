import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { DEFAULTS, STREAM_INVOCATION_PAYLOAD_BYTES } from '../functions/contract/limits.ts';
import type { MarshalledKey } from '../functions/core/change.ts';
import {
  changeBatches,
  itemOf,
  itemPool,
  KEY_ATTRIBUTES,
  keyOf,
  TIMESTAMP_ATTRIBUTE,
  TRAFFIC_SHAPE,
} from './stream.ts';

/**
 * What P2 and P6 run the real cores on: the benchmarks' stream (P1's traffic shape) and the table it
 * leaves behind, which answers the writer's strongly consistent re-reads.
 */

/** The batcher's options as the default stack deploys them. */
export const BATCHER_OPTIONS = {
  keyAttributes: KEY_ATTRIBUTES,
  sourceTimestampAttribute: TIMESTAMP_ATTRIBUTE,
  buckets: DEFAULTS.messageGroupBuckets,
  maxMessageBytes: DEFAULTS.maxMessageBytes,
};

/** How the stream event source hands records to the batcher: invocations of `batchSize`, or fewer past `maxPayloadBytes`. */
export interface Batching {
  batchSize: number;
  maxPayloadBytes?: number;
}

/**
 * A backlog under the default stack: full batches of the default `BatchSize`, ended early by Lambda's
 * 6 MB invocation payload (as P1's `ours` row).
 */
export const DEFAULT_BATCHING: Batching = {
  batchSize: DEFAULTS.streamBatchSize,
  maxPayloadBytes: STREAM_INVOCATION_PAYLOAD_BYTES,
};

export type Item = Record<string, AttributeValue>;

/** `changes` stream changes on `keys` keys in invocations of 100 (or as `batching` says), and the table after them. */
export function streamWithTable(changes: number, keys: number, seed: number, batching?: Batching) {
  const streamOptions = { ...TRAFFIC_SHAPE, ...batching, changes, keys, seed };
  const pool = itemPool(400, seed);
  const exists = new Uint8Array(streamOptions.keys);
  const batches: DynamoDBRecord[][] = [...changeBatches(pool, streamOptions, exists)];
  const table = new Map<string, Item>();
  exists.forEach((flag, n) => {
    if (flag === 1) table.set(keyOf(n), itemOf(pool, n, Date.now()));
  });
  return { streamOptions, pool, batches, table };
}

/** The items the table holds for these keys (a deleted key has none), as a BatchGetItem returns them. */
export function readFrom(table: ReadonlyMap<string, Item>, keys: readonly MarshalledKey[]): Item[] {
  return keys.flatMap((key) => {
    const item = table.get(key.pk?.S ?? '');
    return item === undefined ? [] : [item];
  });
}

/** Splits into the 10-message batches the FIFO event source hands the writer. */
export function tens<T>(values: readonly T[]): T[][] {
  return Array.from({ length: Math.ceil(values.length / 10) }, (_, index) =>
    values.slice(index * 10, index * 10 + 10),
  );
}
