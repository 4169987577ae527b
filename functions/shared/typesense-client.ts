import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { cachedSecret } from './aws.ts';
import { TypesenseClient } from './typesense.ts';

/** A function's Typesense client: the API key from Secrets Manager when deployed, from the env locally. */
export function typesenseClientOf(config: {
  TYPESENSE_NODES: string[];
  TYPESENSE_NEAREST_NODE?: string | undefined;
  TYPESENSE_API_KEY_SECRET_ARN?: string | undefined;
  TYPESENSE_API_KEY?: string | undefined;
  TYPESENSE_TIMEOUT_MS: number;
}): TypesenseClient {
  return new TypesenseClient({
    nodes: config.TYPESENSE_NODES,
    nearestNode: config.TYPESENSE_NEAREST_NODE,
    apiKey:
      config.TYPESENSE_API_KEY_SECRET_ARN !== undefined
        ? cachedSecret(new SecretsManagerClient({}), config.TYPESENSE_API_KEY_SECRET_ARN)
        : (config.TYPESENSE_API_KEY as string),
    timeoutMs: config.TYPESENSE_TIMEOUT_MS,
  });
}

/** Kept back from an import's time so the writer can still report the batch (ack, dead letters, visibility). */
export const REPORTING_RESERVE_MS = 5_000;

/**
 * An import's timeout within an invocation: what remains of it, less the reporting reserve, but at
 * least a second, and at most `capMs` (TYPESENSE_IMPORT_TIMEOUT_MS). An import cut short by the request timeout (5 s) would fail batches that the
 * invocation had time for; one cut short by Lambda would lose the whole batch's answer.
 */
export function importTimeoutWithin(remainingMs: number, capMs = Number.POSITIVE_INFINITY): number {
  return Math.min(capMs, Math.max(1_000, Math.floor(remainingMs) - REPORTING_RESERVE_MS));
}
