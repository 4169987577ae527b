import { spawnSync } from 'node:child_process';
import { parseTarget, TARGET_OUTPUT, type Target } from '../../bin/cli/operations/target.ts';
import { SyncError } from '../../functions/core/errors.ts';
import type { CONTEXT_DEFAULTS } from '../../lib/typesense-sync-stack.ts';

/** What `npm run test:localstack` deploys and how the host reaches it (see docker-compose.yml). */
export const STACK_NAME = 'TypesenseSync';
/** The sync with every option on (test/construct/stacks.ts), deployed next to it to prove it deploys. */
export const FULL_STACK_NAME = 'TypesenseSyncFullyFeatured';
/** The app with both stacks (infra/localstack/app.ts), run as cdk.json runs bin/app.ts. */
export const LOCALSTACK_APP = 'npx tsx infra/localstack/app.ts';
/** By `localhost`: cdklocal's default `localhost.localstack.cloud` needs public DNS to resolve. */
export const LOCALSTACK_ENDPOINT = 'http://localhost:4566';
export const LOCALSTACK_REGION = 'us-east-1';
export const LOCALSTACK_ACCOUNT = '000000000000';
/** Typesense as the host sees it (the published port). */
export const TYPESENSE_HOST_URL = 'http://localhost:8108';
/** Typesense as the Lambda containers see it, on the compose network. */
export const TYPESENSE_NETWORK_URL = 'http://typesense:8108';
/** The compose file's default: a development key for a throwaway local server. */
export const DEV_TYPESENSE_API_KEY = 'typesense-sync-localstack-dev';
export const ALIAS = 'products';

/** The runner's exit code when the suite could not run at all: never 0, never vitest's 1. */
export const EXIT_NOT_RUN = 3;

/**
 * The real app's context for LocalStack: the writer reaches Typesense by its compose service name,
 * and composite keys make every path carry escaped document ids.
 */
export const LOCALSTACK_CONTEXT = {
  typesenseNodes: TYPESENSE_NETWORK_URL,
  typesenseApiKeySecretName: 'typesense-sync/api-key',
  collection: ALIAS,
  keyAttributes: 'pk,sk',
  // Typesense on the compose network speaks plain HTTP; the construct refuses that unless told.
  allowInsecureHttp: 'true',
} as const satisfies Record<keyof typeof CONTEXT_DEFAULTS, string>;

/**
 * The environment for `cdklocal`: every endpoint (S3 included, path-style, since bucket subdomains of
 * `localhost` do not resolve) at LOCALSTACK_ENDPOINT. cdklocal drops AWS_* variables that are not
 * allow-listed before the CLI reads them, hence AWS_ENVAR_ALLOWLIST.
 */
export function cdklocalEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...base,
    AWS_ENDPOINT_URL: LOCALSTACK_ENDPOINT,
    AWS_ENDPOINT_URL_S3: LOCALSTACK_ENDPOINT,
    AWS_S3_FORCE_PATH_STYLE: '1',
    AWS_REGION: LOCALSTACK_REGION,
    AWS_ENVAR_ALLOWLIST: 'AWS_REGION,AWS_S3_FORCE_PATH_STYLE',
  };
}

/** `cdklocal` arguments that deploy both stacks unattended and write their outputs to `outputsFile`. */
export function deployArgs(outputsFile: string): string[] {
  return [
    'deploy',
    STACK_NAME,
    FULL_STACK_NAME,
    '--app',
    LOCALSTACK_APP,
    '--require-approval',
    'never',
    '--outputs-file',
    outputsFile,
    ...Object.entries(LOCALSTACK_CONTEXT).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
  ];
}

/** A deployment that did not give what the suite needs. */
export class LocalStackSetupError extends SyncError {
  override name = 'LocalStackSetupError';
}

/**
 * Waits until Typesense answers `{"ok":true}` on /health, asked from the host: the image has neither
 * curl nor wget for a compose health check, and a check must not assume a shell in it either.
 */
export async function waitForTypesense(
  url: string,
  { timeoutMs = 120_000, intervalMs = 1_000, fetchImpl = fetch } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const response = await fetchImpl(new URL('/health', url), { signal: AbortSignal.timeout(5_000) });
      const body = (await response.json().catch(() => undefined)) as { ok?: unknown } | undefined;
      if (response.ok && body?.ok === true) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new LocalStackSetupError(`Typesense at ${url} not healthy after ${timeoutMs} ms (${last})`);
}

/** The stack's `OperatorTarget` output from a `cdk deploy --outputs-file` file (`{ stack: { key: value } }`). */
export function operatorTargetOf(outputs: unknown, stackName = STACK_NAME): unknown {
  const value = (outputs as Record<string, Record<string, unknown> | undefined> | null)?.[stackName]?.[
    TARGET_OUTPUT
  ];
  if (typeof value !== 'string')
    throw new LocalStackSetupError(`the deploy outputs have no ${stackName}.${TARGET_OUTPUT}`);
  return JSON.parse(value) as unknown;
}

/**
 * The deployed target as the host reaches it. The deployed one names AWS resources, the Typesense
 * node inside the compose network and the API key's secret ARN; the host reaches LocalStack and
 * Typesense on their published ports and knows the development key, so no Secrets Manager client
 * (which would not know LocalStack's endpoint) is needed.
 */
export function hostTarget(deployed: unknown, apiKey: string): Target {
  const target = parseTarget(deployed, `stack ${STACK_NAME} output ${TARGET_OUTPUT}`);
  return parseTarget(
    {
      ...target,
      region: target.region ?? LOCALSTACK_REGION,
      endpoints: { dynamodb: LOCALSTACK_ENDPOINT, sqs: LOCALSTACK_ENDPOINT, s3: LOCALSTACK_ENDPOINT },
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      typesense: { nodes: [TYPESENSE_HOST_URL], collection: target.typesense.collection, apiKey },
    },
    'the LocalStack host target',
  );
}

/**
 * Why Docker cannot run the suite here, or undefined when it can: the `docker` CLI is on PATH, the
 * daemon answers, and Compose v2 is installed.
 */
export function dockerProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const docker = (args: string[]) => spawnSync('docker', args, { env, encoding: 'utf8', timeout: 30_000 });
  const info = docker(['info', '--format', '{{.ServerVersion}}']);
  if ((info.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 'docker not found on PATH';
  if (info.error !== undefined) return `docker info failed: ${info.error.message}`;
  if (info.status !== 0) return `docker info failed: ${firstLine(info.stderr) ?? `exit code ${info.status}`}`;
  const compose = docker(['compose', 'version']);
  if (compose.error !== undefined || compose.status !== 0)
    return `docker compose (v2) not available: ${firstLine(compose.stderr) ?? compose.error?.message ?? `exit code ${compose.status}`}`;
  return undefined;
}

const firstLine = (text: string | null | undefined) =>
  text
    ?.split('\n')
    .map((line) => line.trim())
    .find((line) => line !== '');
