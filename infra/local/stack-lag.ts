import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { CircuitState } from '../../functions/core/breaker.ts';
import { checkLag } from '../../functions/core/lag-check.ts';
import { resyncProgress } from '../../functions/core/resync.ts';
import { queueDepth } from '../../functions/shared/aws.ts';
import { canaryPorts } from '../../functions/shared/lag-check-adapters.ts';
import { dynamoResyncStore } from '../../functions/shared/resync-store.ts';
import type { TypesenseClient } from '../../functions/shared/typesense.ts';
import { sleep } from './processes.ts';
import type { LocalIndex, LocalStackOptions, LocalStatus } from './stack-options.ts';

/** What the embedded stack's lag check reads of the stack. */
export interface LocalLagParts {
  options: Pick<LocalStackOptions, 'sourceTimestampAttribute'>;
  resources: { tableName: string; keyAttributes: readonly string[] };
  clients: { typesense: TypesenseClient };
  /**
   * Clients with the lag check's role: the canary is written, and a further index's DLQ depth read, as the
   * deployed function does.
   */
  lagCheckClients: { dynamodb: DynamoDBClient; sqs: SQSClient };
  /** Every index, the first first. */
  indexes: readonly LocalIndex[];
  /** The first index's writer's breaker. */
  breaker: { readonly state: CircuitState };
  /** The stack's status: the first index's backlog figures. */
  status(): Promise<LocalStatus>;
}

/**
 * One lag check as the deployed scheduled function runs it: a canary through the whole pipeline
 * (written with the lag check's role), each index's re-sync progress and the backlog figures from the
 * local status.
 */
export function checkLocalLag(parts: LocalLagParts, canaryTimeoutMs: number) {
  const { options, resources, breaker } = parts;
  // One status read serves both of the first index's backlog figures (it includes the DLQ depth).
  let figures: Promise<LocalStatus> | undefined;
  const local = () => {
    figures ??= parts.status();
    return figures;
  };
  const { tableName, keyAttributes } = resources;
  const { lagCheckClients, clients } = parts;
  const { dynamodb } = lagCheckClients;
  const timestamp = options.sourceTimestampAttribute;
  const canaryOf = (alias: string) =>
    canaryPorts({
      dynamodb,
      typesense: clients.typesense,
      tableName,
      keyAttributes,
      alias,
      ...(timestamp && { sourceTimestampAttribute: timestamp }),
    });
  const [first, ...further] = parts.indexes as [LocalIndex, ...LocalIndex[]];
  const firstCanary = canaryOf(first.alias);
  // Each index's re-sync progress is read with the lag check's role, as the deployed function reads it: a
  // missing grant on a state table shows as that index's `re-sync progress unknown` problem.
  const resyncOf = (index: LocalIndex) => () =>
    resyncProgress(dynamoResyncStore(dynamodb, index.resyncStateTable), Date.now());
  return checkLag(
    {
      now: Date.now,
      sleep,
      writeCanary: firstCanary.writeCanary,
      streamIteratorAgeMs: async () => undefined,
      circuit: async () => breaker.state,
      indexes: [
        {
          alias: first.alias,
          ...firstCanary,
          oldestMessageAgeMs: async () => (await local()).oldestPendingAgeMs,
          dlqDepth: async () => (await local()).dlqDepth,
          resyncProgress: resyncOf(first),
        },
        // A further index's writer keeps no local figures: its queue age is unknown here; its DLQ is read with
        // the lag check's role, so a missing sqs:GetQueueAttributes grant shows as a problem.
        ...further.map((index) => ({
          alias: index.alias,
          ...canaryOf(index.alias),
          oldestMessageAgeMs: async () => undefined,
          dlqDepth: async () => (await queueDepth(lagCheckClients.sqs, index.dlqUrl)).total,
          resyncProgress: resyncOf(index),
        })),
      ],
    },
    { canaryTimeoutMs, pollIntervalMs: 50 },
  );
}
