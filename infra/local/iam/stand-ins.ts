import type { PhysicalResource, PhysicalResources } from './policies.ts';
import { ACCOUNT, queueArnOfUrl, REGION } from './requests.ts';

/** What `Ref` and `Fn::GetAtt` of the construct's resources answer on the embedded stack. */

const table = (name: string, streamArn?: string): PhysicalResource => ({
  ref: name,
  attributes: {
    Arn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`,
    ...(streamArn === undefined ? {} : { StreamArn: streamArn }),
  },
});

const queue = (url: string): PhysicalResource => ({
  ref: url,
  attributes: { Arn: queueArnOfUrl(url), QueueName: url.split('/').at(-1) as string, QueueUrl: url },
});

export interface LocalResourceNames {
  tableName: string;
  streamArn: string;
  stateTable: string;
  queueUrl: string;
  dlqUrl: string;
  resyncQueueUrl: string;
  failureBucket: string;
  atlas?: { versionsTable: string; ingestQueueUrl: string; ingestDeadLetterQueueUrl: string } | undefined;
  /** The resources of each further index, by its alias. */
  indexes?: readonly {
    alias: string;
    stateTable: string;
    queueUrl: string;
    dlqUrl: string;
    resyncQueueUrl: string;
  }[];
}

/** The local stack's resources in the construct's roles (the re-sync DLQ has no local twin). */
export function standIns(names: LocalResourceNames): PhysicalResources {
  return {
    table: table(names.tableName, names.streamArn),
    stateTable: table(names.stateTable),
    changesQueue: queue(names.queueUrl),
    deadLetterQueue: queue(names.dlqUrl),
    resyncQueue: queue(names.resyncQueueUrl),
    failureBucket: { ref: names.failureBucket, attributes: { Arn: `arn:aws:s3:::${names.failureBucket}` } },
    ...(names.atlas === undefined
      ? {}
      : {
          versionsTable: table(names.atlas.versionsTable),
          ingestQueue: queue(names.atlas.ingestQueueUrl),
          ingestDeadLetterQueue: queue(names.atlas.ingestDeadLetterQueueUrl),
        }),
    ...Object.fromEntries(
      (names.indexes ?? []).flatMap((index) => [
        [`stateTable:${index.alias}`, table(index.stateTable)],
        [`changesQueue:${index.alias}`, queue(index.queueUrl)],
        [`deadLetterQueue:${index.alias}`, queue(index.dlqUrl)],
        [`resyncQueue:${index.alias}`, queue(index.resyncQueueUrl)],
      ]),
    ),
  };
}
