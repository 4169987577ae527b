/**
 * `npm run test:localstack [-- --keep]`: the shared scenarios against the real CDK app on LocalStack.
 *
 * Starts LocalStack and a Typesense server (docker-compose.yml), waits for Typesense's /health, stores
 * the API key in LocalStack's Secrets Manager, creates the collection and its alias, deploys the app
 * and the fully featured stack (infra/localstack/app.ts) with `cdklocal` by localhost, writes the
 * host's operator target to .local/localstack-target.json and runs vitest on test/localstack/ (and the
 * Typesense contract suite against the real server). `docker compose down -v` at the end unless --keep.
 *
 * Exit codes: vitest's (0 passed, 1 failed); 1 when setting up failed; 3 (`EXIT_NOT_RUN`) when Docker
 * is unavailable, so that a machine without Docker never reports the suite as passed.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { productSchema } from '../local/workload.ts';
import {
  ALIAS,
  cdklocalEnv,
  DEV_TYPESENSE_API_KEY,
  deployArgs,
  dockerProblem,
  EXIT_NOT_RUN,
  FULL_STACK_NAME,
  hostTarget,
  LOCALSTACK_ACCOUNT,
  LOCALSTACK_CONTEXT,
  LOCALSTACK_ENDPOINT,
  LOCALSTACK_REGION,
  LocalStackSetupError,
  operatorTargetOf,
  TYPESENSE_HOST_URL,
  waitForTypesense,
} from './deploy.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUTPUTS_FILE = join(ROOT, '.local', 'localstack-outputs.json');
const TARGET_FILE = join(ROOT, '.local', 'localstack-target.json');
const COMPOSE = ['compose', '--file', join(ROOT, 'infra', 'localstack', 'docker-compose.yml')];
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

const configSchema = z.object({
  /** The Typesense server's key; the compose file uses the same variable with the same default. */
  TYPESENSE_API_KEY: z.string().min(1).default(DEV_TYPESENSE_API_KEY),
});

/** Runs a command with inherited output; a non-zero exit is a setup failure naming the step. */
function step(what: string, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return exitCodeOf(command, args, env).then((code) => {
    if (code !== 0) throw new LocalStackSetupError(`${what} failed (exit code ${code})`);
  });
}

function exitCodeOf(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

/** The API key where the deployed writer reads it: Secrets Manager, by the name the app is given. */
async function storeApiKey(apiKey: string): Promise<void> {
  const secrets = new SecretsManagerClient({
    endpoint: LOCALSTACK_ENDPOINT,
    region: LOCALSTACK_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const name = LOCALSTACK_CONTEXT.typesenseApiKeySecretName;
  try {
    await secrets.send(new CreateSecretCommand({ Name: name, SecretString: apiKey }));
  } catch (error) {
    // Kept from an earlier run (--keep).
    if (!(error instanceof ResourceExistsException)) throw error;
    await secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString: apiKey }));
  } finally {
    secrets.destroy();
  }
}

/** The collection and the alias the writer writes to, as the README's deploy steps ask. */
async function createIndex(apiKey: string): Promise<void> {
  const typesense = new TypesenseClient({ nodes: [TYPESENSE_HOST_URL], apiKey });
  // A kept server may already have the alias, possibly moved by a re-sync: leave it.
  if ((await typesense.getAlias(ALIAS)) !== undefined) return;
  const collection = `${ALIAS}_v1`;
  if ((await typesense.getCollection(collection)) === undefined)
    await typesense.createCollection({ ...productSchema, name: collection });
  await typesense.upsertAlias(ALIAS, collection);
}

async function main(argv: readonly string[]): Promise<number> {
  const problem = dockerProblem();
  if (problem !== undefined) {
    console.error(
      `LocalStack suite NOT RUN: ${problem} (install or start Docker, or run the embedded suite with npm test)`,
    );
    return EXIT_NOT_RUN;
  }
  const keep = argv.includes('--keep');
  const { TYPESENSE_API_KEY: apiKey } = configSchema.parse(process.env);
  const env = { ...process.env, TYPESENSE_API_KEY: apiKey };
  try {
    // --wait: LocalStack healthy (its own health check), Typesense running; its /health is asked from here.
    await step('docker compose up', 'docker', [...COMPOSE, 'up', '--detach', '--wait'], env);
    await waitForTypesense(TYPESENSE_HOST_URL);
    await storeApiKey(apiKey);
    await createIndex(apiKey);
    // cdklocal points the CDK CLI at LocalStack, here by localhost (see cdklocalEnv).
    const cdk = cdklocalEnv(env);
    await step(
      'cdklocal bootstrap',
      bin('cdklocal'),
      ['bootstrap', `aws://${LOCALSTACK_ACCOUNT}/${LOCALSTACK_REGION}`],
      cdk,
    );
    await mkdir(join(ROOT, '.local'), { recursive: true });
    await step('cdklocal deploy', bin('cdklocal'), deployArgs(OUTPUTS_FILE), cdk);
    // The fully featured stack only has to deploy: its OperatorTarget output proves it completed.
    operatorTargetOf(JSON.parse(await readFile(OUTPUTS_FILE, 'utf8')) as unknown, FULL_STACK_NAME);
    const outputs = JSON.parse(await readFile(OUTPUTS_FILE, 'utf8')) as unknown;
    const target = hostTarget(operatorTargetOf(outputs), apiKey);
    await writeFile(TARGET_FILE, `${JSON.stringify(target, null, 2)}\n`);
    console.log(`deployed; the operator CLI works on it too: npm run cli -- --target ${TARGET_FILE} status`);
    return await exitCodeOf(bin('vitest'), ['run', '--config', 'infra/localstack/vitest.config.ts'], {
      ...env,
      LOCALSTACK_TARGET: TARGET_FILE,
      // The contract suite runs its assertions against this real server as well.
      TYPESENSE_URL: TYPESENSE_HOST_URL,
    });
  } catch (error) {
    const reason = error instanceof LocalStackSetupError ? error.message : String(error);
    console.error(`LocalStack suite FAILED during setup: ${reason}`);
    return 1;
  } finally {
    if (keep) console.log(`kept running (--keep); stop with: docker ${COMPOSE.join(' ')} down -v`);
    else await exitCodeOf('docker', [...COMPOSE, 'down', '--volumes'], env);
  }
}

process.exitCode = await main(process.argv.slice(2));
