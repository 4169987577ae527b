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
