import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { OperatorError } from '../../../functions/core/errors.ts';
import { type IngestionDelay, ingestionDelaySchema } from '../../../functions/core/ingestion-delay.ts';

export {
  type IngestionDelay,
  ingestionDelayOf,
  ingestionDelaySchema,
  type PipelineFigures,
} from '../../../functions/core/ingestion-delay.ts';

export class LagUnknownError extends OperatorError {
  override name = 'LagUnknownError';
}

/** A Lambda Function URL's host names its region; IAM-authenticated ones need a SigV4 signature. */
const FUNCTION_URL_HOST = /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

/**
 * SigV4 headers for a Function URL (service `lambda`), signed with the default credential chain;
 * none for any other URL (the embedded stack's endpoint). A URL with `authType: NONE` ignores them.
 */
export async function signedHeaders(
  url: URL,
  credentials: ConstructorParameters<typeof SignatureV4>[0]['credentials'] = defaultProvider(),
): Promise<Record<string, string>> {
  const region = FUNCTION_URL_HOST.exec(url.hostname)?.[1];
  if (region === undefined) return {};
  const signer = new SignatureV4({
    service: 'lambda',
    region,
    credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  try {
    const signed = await signer.sign({
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.hostname },
    });
    return signed.headers;
  } catch (error) {
    throw new LagUnknownError(
      `lag unknown: no AWS credentials to sign the request to ${url.origin} (${(error as Error).message})`,
    );
  }
}

/**
 * Asks an ingestion-delay endpoint; a failure says why the lag is unknown. With `profile` (the CLI's
 * `--profile`) the request is signed with that profile's credentials, as the CLI's AWS clients are; the
 * default chain would take the environment's or the default profile's instead.
 */
export async function fetchIngestionDelay(
  url: string,
  options: { profile?: string; timeoutMs?: number } = {},
): Promise<IngestionDelay> {
  const { profile, timeoutMs = 5_000 } = options;
  const headers = await signedHeaders(
    new URL(url),
    defaultProvider(profile === undefined ? {} : { profile }),
  );
  let response: Response;
  try {
    response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new LagUnknownError(`lag unknown: ${url} did not answer (${(error as Error).message})`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    // The endpoint's 503 says why it cannot give a figure ("lag unknown: ..."); pass that on.
    const message = (body as { message?: unknown } | undefined)?.message;
    throw new LagUnknownError(
      typeof message === 'string' && message.startsWith('lag unknown')
        ? message
        : `lag unknown: ${url} answered HTTP ${response.status}`,
    );
  }
  const parsed = ingestionDelaySchema.safeParse(body);
  if (!parsed.success)
    throw new LagUnknownError(`lag unknown: ${url} answered something that is not an ingestion delay`);
  return parsed.data;
}
