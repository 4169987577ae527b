import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../../bin/cli/operations/target.ts';
import {
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
  LocalStackSetupError,
  operatorTargetOf,
  STACK_NAME,
  TYPESENSE_HOST_URL,
  TYPESENSE_NETWORK_URL,
  waitForTypesense,
} from '../../infra/localstack/deploy.ts';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';
import { fullyFeaturedStack } from '../construct/stacks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A directory holding only a `docker` shell script with this body, to stand in for the CLI on PATH. */
async function pathWithDocker(script: string | undefined): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-docker-'));
  if (script !== undefined) {
    await writeFile(join(dir, 'docker'), `#!/bin/sh\n${script}\n`);
    await chmod(join(dir, 'docker'), 0o755);
  }
  return dir;
}

/** Runs `npm run test:localstack` as package.json does, with PATH replaced. */
async function runRunner(path: string) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'infra/localstack/run.ts'],
      { cwd: ROOT, env: { ...process.env, PATH: path }, timeout: 60_000 },
    );
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const DAEMON_DOWN =
  'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1';

describe('npm run test:localstack without Docker', () => {
  it('says it did not run, and why, and exits 3: never a pass', async () => {
    const run = await runRunner(await pathWithDocker(undefined));
    expect(run.output).toContain(
      'LocalStack suite NOT RUN: docker not found on PATH (install or start Docker, or run the embedded suite with npm test)',
    );
    expect(run.code).toBe(EXIT_NOT_RUN);
    expect(EXIT_NOT_RUN).not.toBe(0);
  });

  it('says so when the docker CLI is there but its daemon is not', async () => {
    const run = await runRunner(await pathWithDocker(DAEMON_DOWN));
    expect(run.output).toContain(
      'LocalStack suite NOT RUN: docker info failed: Cannot connect to the Docker daemon at unix:///var/run/docker.sock',
    );
    expect(run.code).toBe(EXIT_NOT_RUN);
  });

  it('needs Compose v2 as well, and finds nothing wrong when all answer', async () => {
    const noCompose = await pathWithDocker(
      `[ "$1" = info ] && exit 0; echo "docker: 'compose' is not a docker command." >&2; exit 1`,
    );
    expect(dockerProblem({ PATH: noCompose })).toBe(
      "docker compose (v2) not available: docker: 'compose' is not a docker command.",
    );
    expect(dockerProblem({ PATH: await pathWithDocker('exit 0') })).toBeUndefined();
  });
});

describe('deploying the real app to LocalStack', () => {
  it('deploys the ready stack and the fully featured one unattended, with the LocalStack context and an outputs file', () => {
    expect(deployArgs('/tmp/outputs.json')).toEqual([
      'deploy',
      'TypesenseSync',
      'TypesenseSyncFullyFeatured',
      '--app',
      'npx tsx infra/localstack/app.ts',
      '--require-approval',
      'never',
      '--outputs-file',
      '/tmp/outputs.json',
      '-c',
      'typesenseNodes=http://typesense:8108',
      '-c',
      'typesenseApiKeySecretName=typesense-sync/api-key',
      '-c',
      'collection=products',
      '-c',
      'keyAttributes=pk,sk',
      '-c',
      'allowInsecureHttp=true',
    ]);
  });

  it('points cdklocal at localhost:4566 for every service, S3 path-style: no public DNS name', () => {
    const env = cdklocalEnv({ PATH: '/bin', AWS_PROFILE: 'someone' });
    expect(env).toMatchObject({
      PATH: '/bin',
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_S3: 'http://localhost:4566',
      AWS_S3_FORCE_PATH_STYLE: '1',
      AWS_REGION: 'us-east-1',
    });
    // cdklocal deletes AWS_* variables that are not allow-listed before the CDK CLI reads them.
    expect(env.AWS_ENVAR_ALLOWLIST?.split(',')).toEqual(
      expect.arrayContaining(['AWS_S3_FORCE_PATH_STYLE', 'AWS_REGION']),
    );
    expect(JSON.stringify(env)).not.toContain('localstack.cloud');
  });

  it('waits for Typesense /health from the host, and names the last answer when it never comes', async () => {
    const answers = [new Error('ECONNREFUSED'), new Response('{"ok":false}', { status: 503 })];
    const asked: string[] = [];
    const fetchImpl = async (url: string | URL | Request) => {
      asked.push(String(url));
      const next = answers.shift() ?? new Response('{"ok":true}');
      if (next instanceof Error) throw next;
      return next;
    };
    await waitForTypesense('http://localhost:8108', { intervalMs: 1, fetchImpl: fetchImpl as typeof fetch });
    expect(asked).toEqual(Array(3).fill('http://localhost:8108/health'));
    const never = (async () => new Response('{"ok":false}', { status: 503 })) as typeof fetch;
    await expect(
      waitForTypesense('http://localhost:8108', { timeoutMs: 20, intervalMs: 1, fetchImpl: never }),
    ).rejects.toThrow(
      new LocalStackSetupError('Typesense at http://localhost:8108 not healthy after 20 ms (HTTP 503)'),
    );
  });

  const deployed = {
    region: 'us-east-1',
    tableName: 'TypesenseSync-SyncTable-1',
    keyAttributes: ['pk', 'sk'],
    queueUrl: 'http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/changes.fifo',
    dlqUrl: 'http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/dlq.fifo',
    failureBucket: 'typesensesync-failures',
    messageGroupBuckets: 16,
    maxMessageBytes: 262_144,
    projection: {},
    typesense: {
      nodes: [TYPESENSE_NETWORK_URL],
      collection: 'products',
      apiKeySecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:typesense-sync/api-key',
    },
    resync: {
      stateTable: 'TypesenseSync-State-1',
      queueUrl: 'http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/resync',
    },
    ingestionDelayUrl: 'http://abc.lambda-url.us-east-1.localhost.localstack.cloud:4566/',
  };

  it('reads the OperatorTarget output from the outputs file', () => {
    const outputs = { [STACK_NAME]: { TableName: 't', OperatorTarget: JSON.stringify(deployed) } };
    expect(operatorTargetOf(outputs)).toEqual(deployed);
    expect(() => operatorTargetOf({ [STACK_NAME]: { TableName: 't' } })).toThrow(LocalStackSetupError);
    expect(() => operatorTargetOf({})).toThrow(/no TypesenseSync.OperatorTarget/);
  });

  it('turns the deployed target into the host’s: published ports, the development key, no secret ARN', () => {
    const target = hostTarget(deployed, DEV_TYPESENSE_API_KEY);
    expect(target).toEqual({
      ...deployed,
      endpoints: { dynamodb: LOCALSTACK_ENDPOINT, sqs: LOCALSTACK_ENDPOINT, s3: LOCALSTACK_ENDPOINT },
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      typesense: { nodes: [TYPESENSE_HOST_URL], collection: 'products', apiKey: DEV_TYPESENSE_API_KEY },
    });
    expect(() => hostTarget({ ...deployed, queueUrl: undefined }, 'key')).toThrow(TargetError);
  });
});

/** Lines of the block under `key` (at `indent` spaces), up to the next line indented as little. */
function yamlBlock(text: string[], key: string, indent: number): string[] {
  const start = text.indexOf(`${' '.repeat(indent)}${key}:`);
  if (start < 0) throw new Error(`no '${key}:' at indent ${indent}`);
  const end = text.findIndex(
    (line, index) => index > start && line.trim() !== '' && line.search(/\S/) <= indent,
  );
  return text.slice(start + 1, end < 0 ? undefined : end);
}

describe('infra/localstack/docker-compose.yml', () => {
  let lines: string[];
  const childKeys = (block: string[], indent: number) =>
    block.filter((line) => new RegExp(`^ {${indent}}[\\w-]+:`).test(line)).map((line) => line.trim());

  beforeAll(async () => {
    lines = (await readFile(join(ROOT, 'infra/localstack/docker-compose.yml'), 'utf8')).split('\n');
    expect(lines.some((line) => line.includes('\t'))).toBe(false);
  });

  it('runs LocalStack (health-checked) and a real Typesense server, both pinned; no shell assumed in Typesense', () => {
    const services = yamlBlock(lines, 'services', 0);
    expect(childKeys(services, 2)).toEqual(['localstack:', 'typesense:']);
    const localstack = yamlBlock(services, 'localstack', 2).join('\n');
    const typesense = yamlBlock(services, 'typesense', 2).join('\n');
    expect(localstack).toMatch(/image: \$\{LOCALSTACK_IMAGE:-localstack\/localstack:\d+\.\d+\.\d+\}/);
    expect(typesense).toMatch(/image: \$\{TYPESENSE_IMAGE:-typesense\/typesense:30\.\d+\}\n/);
    expect(localstack).toContain('healthcheck:');
    // The typesense image has no curl or wget; its health is asked from the host (waitForTypesense).
    expect(typesense).not.toMatch(/^\s+healthcheck:/m);
    const settings = typesense
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    expect(settings).not.toMatch(/\bbash\b|\/dev\/tcp|\bsh -c\b/);
    expect(localstack).toContain('CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES: "1"');
    // The ports the runner and the host target use.
    expect(localstack).toContain(`"127.0.0.1:${new URL(LOCALSTACK_ENDPOINT).port}:4566"`);
    expect(typesense).toContain(`"127.0.0.1:${new URL(TYPESENSE_HOST_URL).port}:8108"`);
    expect(typesense).toContain(`--api-key=\${TYPESENSE_API_KEY:-${DEV_TYPESENSE_API_KEY}}`);
  });

  it('lets the Lambda containers reach Typesense by name: docker socket, LAMBDA_DOCKER_NETWORK = the network', () => {
    const services = yamlBlock(lines, 'services', 0);
    const localstack = yamlBlock(services, 'localstack', 2).join('\n');
    expect(localstack).toContain('- /var/run/docker.sock:/var/run/docker.sock');
    const network = yamlBlock(lines, 'networks', 0)
      .find((line) => line.trim().startsWith('name:'))
      ?.split(':')[1]
      ?.trim();
    expect(network).toBe('typesense-sync-localstack');
    expect(localstack).toContain(`LAMBDA_DOCKER_NETWORK: ${network}`);
    // The writer's node (the deploy context) is the Typesense service on that network.
    expect(childKeys(services, 2)).toContain(`${new URL(LOCALSTACK_CONTEXT.typesenseNodes).hostname}:`);
    expect(new URL(TYPESENSE_NETWORK_URL).port).toBe('8108');
  });
});

describe('the fully featured stack as the LocalStack suite deploys it', () => {
  it('uses its own source table (a real stream), the LocalStack account and the compose Typesense', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = fullyFeaturedStack({
      app,
      stackName: FULL_STACK_NAME,
      env: { account: LOCALSTACK_ACCOUNT, region: 'us-east-1' },
      typesenseNodes: [TYPESENSE_NETWORK_URL],
      apiKeySecretName: LOCALSTACK_CONTEXT.typesenseApiKeySecretName,
      allowInsecureHttp: true,
      sourceTable: (scope) =>
        new dynamodb.Table(scope, 'Source', {
          partitionKey: { name: '_id', type: dynamodb.AttributeType.STRING },
          stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        }),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Source'), 'StreamArn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TYPESENSE_NODES: TYPESENSE_NETWORK_URL }) },
    });
    expect(stack.account).toBe(LOCALSTACK_ACCOUNT);
  });
});

describe('the CDK app with the LocalStack context', () => {
  let template: Template;

  beforeAll(() => {
    // The context the runner passes with -c; bundling is left to `cdklocal deploy`.
    const app = new App({ context: { ...LOCALSTACK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    template = Template.fromStack(new TypesenseSyncStack(app, STACK_NAME));
  });

  it('synthesizes a writer that reaches Typesense on the compose network, by the API key secret', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TYPESENSE_NODES: 'http://typesense:8108',
          TYPESENSE_COLLECTION: 'products',
          KEY_ATTRIBUTES: 'pk,sk',
          TYPESENSE_API_KEY_SECRET_ARN: {
            'Fn::Join': ['', Match.arrayWith([':secret:typesense-sync/api-key'])],
          },
        }),
      },
    });
  });

  it('creates the composite-key table and the event source mappings the scenarios go through', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    // Stream → batcher, changes queue → writer, re-sync queue → re-sync.
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    expect(Object.keys(template.toJSON().Outputs)).toContain('OperatorTarget');
  });
});
