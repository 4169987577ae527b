import { OperatorError } from '../../functions/core/errors.ts';
import { TypesenseHttpError, TypesenseUnavailableError } from '../../functions/shared/typesense.ts';

/**
 * What the CLI prints after `error: ` for an error no command handled. An operator-facing error
 * says all there is to say in its message; anything else keeps its class name, which tells a
 * maintainer where it came from.
 */
export function explain(error: unknown): string {
  if (error instanceof OperatorError) return error.message;
  // Typesense's answers name the request and the status. Their classes extend TypesenseError, whose
  // `retryable` the retry rule reads, so they cannot also extend OperatorError.
  if (error instanceof TypesenseHttpError || error instanceof TypesenseUnavailableError) return error.message;
  if (!(error instanceof Error)) return String(error);
  return explainAwsError(error) ?? `${error.name}: ${error.message}`;
}

/** The AWS errors an operator fixes by pointing the CLI elsewhere: a table, queue or bucket that is not there. */
const AWS_NOT_FOUND: ReadonlySet<string> = new Set([
  'ResourceNotFoundException',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'NoSuchBucket',
]);

/**
 * The one place that matches AWS SDK errors by `name` rather than `instanceof`: the SDK builds a
 * service error from the error code the service answered with, one class per client (DynamoDB's and
 * Secrets Manager's `ResourceNotFoundException` are different classes), SQS's older query protocol
 * answers `AWS.SimpleQueueService.NonExistentQueue`, which has no class at all, and
 * `CredentialsProviderError` lives in a transitive package (`@smithy/core`, formerly
 * `@smithy/property-provider`) this project does not depend on. The name is what stays stable.
 */
export function explainAwsError(error: Error): string | undefined {
  if (error.name === 'CredentialsProviderError')
    return `no AWS credentials: use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (${error.message})`;
  return AWS_NOT_FOUND.has(error.name) ? error.message : undefined;
}
