import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { MarshalledKey } from '../functions/core/change.ts';
import { documentId } from '../functions/core/keys.ts';
import { projectItem, type TypesenseDocument } from '../functions/core/project.ts';

/**
 * The naive anchor the benchmarks compare against: what a first version of this pipeline would do.
 * One SQS message per stream record carrying the full document, one Typesense request per message,
 * no coalescing and no re-read. It maps items to documents with the project's own `projectItem`, so
 * the comparison measures the architecture, not a different conversion.
 */

interface NaiveMessageBody {
  op: 'upsert' | 'delete';
  id: string;
  document?: TypesenseDocument;
  version: string;
  sourceTs: number;
}

export interface NaiveMessage {
  /** Per-key FIFO group, so one key's changes stay in order. */
  groupId: string;
  body: string;
  bytes: number;
}

export interface NaiveRequest {
  method: 'POST' | 'DELETE';
  path: string;
  body?: string;
}

/** Batcher: every stream record becomes its own message with the document of its new image. */
export function naiveBatcher(
  records: readonly DynamoDBRecord[],
  keyAttributes: readonly string[],
): NaiveMessage[] {
  return records.map((record) => {
    const stream = record.dynamodb ?? {};
    const id = documentId(stream.Keys as MarshalledKey, keyAttributes);
    const image = stream.NewImage as Record<string, AttributeValue> | undefined;
    const body: NaiveMessageBody = {
      op: image === undefined ? 'delete' : 'upsert',
      id,
      ...(image === undefined ? {} : { document: projectItem(image, keyAttributes) }),
      version: stream.SequenceNumber ?? '',
      sourceTs: (stream.ApproximateCreationDateTime ?? 0) * 1000,
    };
    const text = JSON.stringify(body);
    return { groupId: id, body: text, bytes: Buffer.byteLength(text) };
  });
}

/** Writer: one Typesense request per message, writing what the message says. */
export function naiveWriter(bodies: readonly string[], collection: string): NaiveRequest[] {
  return bodies.map((text) => {
    const message = JSON.parse(text) as NaiveMessageBody;
    const documents = `/collections/${collection}/documents`;
    return message.op === 'delete'
      ? { method: 'DELETE', path: `${documents}/${encodeURIComponent(message.id)}` }
      : { method: 'POST', path: `${documents}?action=upsert`, body: JSON.stringify(message.document) };
  });
}
