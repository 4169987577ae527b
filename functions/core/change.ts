import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** A DynamoDB primary key in marshalled form, exactly as a stream record's `Keys` carries it. */
export type MarshalledKey = Record<string, AttributeValue>;

/**
 * One normalised source change. It names the key that changed; it deliberately does not carry the
 * item image: the writer applies the source's *current* state, read with a strongly consistent read,
 * so a late, duplicated or redriven change can never write an old image (see README, consistency).
 */
export interface Change {
  /** Typesense document id derived from the key (see `documentId`). */
  id: string;
  /** Marshalled primary key, used by the writer to re-read the item. */
  key: MarshalledKey;
  /** What the source reported. Informational: the writer decides from the re-read. */
  op: 'upsert' | 'delete';
  /** Stream sequence number (decimal string): orders changes of one key within its shard. */
  version: string;
  /** Source change time, ms since epoch: lag is measured from it. */
  sourceTs: number;
  /**
   * Where `sourceTs` came from: `item` = the item's own precise timestamp attribute; `stream` = the
   * record's ApproximateCreationDateTime (whole seconds on AWS, whole minutes on DynamoDB Local).
   */
  clock: 'item' | 'stream';
}

/** The body of one SQS message: many changes of one message group, packed. */
export interface ChangeMessage {
  v: 1;
  changes: Change[];
  /** Set when the writer re-sent the message: when its changes were first enqueued, ms. */
  since?: number;
  /** How often the writer re-sent it (an outage kept it failing at the receive limit). */
  requeues?: number;
}

/** What the writer or batcher sends to the DLQ for a change it can never apply. */
export interface DeadLetter {
  v: 1;
  kind: 'dead-letter';
  /**
   * Which stage gave up: the batcher (could not normalise), the writer (could not index) or the Atlas
   * ingest (a MongoDB Atlas trigger event it could not mirror).
   */
  stage: 'batcher' | 'writer' | 'atlas';
  /** The change, or for an unparseable stream record, what could be read of it. */
  change?: Change;
  record?: unknown;
  id?: string;
  reason: { code: number | string; message: string };
  firstSeen: number;
  attempts: number;
}
