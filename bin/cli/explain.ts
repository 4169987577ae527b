/** Errors an operator can act on: shown as one line, without a stack. */
const OPERATOR_ERRORS = new Set([
  'TargetError',
  'FilterError',
  'LagUnknownError',
  'CredentialsProviderError',
  'ResourceNotFoundException',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'NoSuchBucket',
  'TypesenseHttpError',
  'TypesenseUnavailableError',
  'ResyncError',
  'ResyncBusyError',
]);

export function explain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'CredentialsProviderError')
    return `no AWS credentials: use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (${error.message})`;
  return OPERATOR_ERRORS.has(error.name) ? error.message : `${error.name}: ${error.message}`;
}
