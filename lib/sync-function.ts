import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';

export interface SyncFunctionProps extends Omit<NodejsFunctionProps, 'entry'> {
  /** Absolute path of the handler module. */
  readonly entry: string;
  /** POWERTOOLS_SERVICE_NAME, so the functions' logs can be told apart in one query. */
  readonly serviceName: string;
  /**
   * Retention of the function's log group, which the stack creates (not the deprecated log-retention
   * custom resource). Ignored when `logGroup` is given. @default one month
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * A customer managed key for the created log group; its policy must let CloudWatch Logs use it
   * (`allowLogGroupEncryption` in lib/encryption.ts). Ignored when `logGroup` is given. @default CloudWatch
   * Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
}

/** The AWS managed policies CDK attaches to a function's role, and why each is acceptable. */
const MANAGED_POLICY_REASONS = {
  AWSLambdaBasicExecutionRole:
    'The standard Lambda logging policy: it only allows creating log streams and putting log events, which every ' +
    'function needs to write to its own log group.',
  AWSLambdaVPCAccessExecutionRole:
    'The standard policy for functions placed in a VPC: Lambda needs its ec2 network interface actions, which have ' +
    'no resource-level permissions, to attach the function to the chosen subnets.',
} as const;

/**
 * Where the packaged library keeps a function's prebuilt bundle: `bundle/index.mjs` next to its entry
 * (`npm run build` writes dist/functions/<name>/bundle/ and the compiled construct points its entries
 * into dist/functions/). A source checkout has no such directory, so the repo bundles from sources.
 */
export function prebuiltBundleOf(entry: string): string | undefined {
  const dir = join(dirname(entry), 'bundle');
  return existsSync(join(dir, 'index.mjs')) ? dir : undefined;
}

/**
 * NodejsFunction with the defaults every sync function shares: Node.js 22 on Graviton, an ESM bundle
 * with source maps, a log group whose retention is managed by the stack, and the cdk-nag suppressions
 * of what CDK itself gives every function (so a new function inherits them).
 */
export class SyncFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: SyncFunctionProps) {
    const { serviceName, bundling, environment, logRetention, logEncryptionKey, ...rest } = props;
    // Created in the parent scope because `this` does not exist before super(); passing the log group
    // explicitly (instead of the deprecated logRetention) avoids the log-retention custom resource.
    const logGroup =
      props.logGroup ??
      new logs.LogGroup(scope, `${id}LogGroup`, {
        retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
        ...(logEncryptionKey !== undefined && { encryptionKey: logEncryptionKey }),
      });
    // An installed package ships its functions prebuilt (same options as below, see scripts/build.mjs):
    // the app's `cdk synth` then needs neither esbuild nor Docker.
    const prebuilt = prebuiltBundleOf(props.entry);
    const code =
      prebuilt === undefined ? {} : { code: lambda.Code.fromAsset(prebuilt), handler: 'index.handler' };
    super(scope, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(30),
      ...rest,
      ...code,
      logGroup,
      bundling: {
        minify: true,
        sourceMap: true,
        // Stack traces only need file/line mappings; embedding the sources would just grow the bundle.
        sourcesContent: false,
        format: OutputFormat.ESM,
        target: 'node22',
        // Prefer ESM entry points so esbuild can tree-shake them.
        mainFields: ['module', 'main'],
        // CommonJS dependencies bundled into an ESM output still call require(); give them one.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        // Pin the SDK version the code was tested with instead of whatever the runtime ships.
        bundleAwsSDK: true,
        ...bundling,
      },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: serviceName,
        ...environment,
      },
    });
    if (this.role !== undefined) {
      const policies =
        props.vpc === undefined
          ? (['AWSLambdaBasicExecutionRole'] as const)
          : (['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole'] as const);
      NagSuppressions.addResourceSuppressions(this.role, [
        {
          id: 'AwsSolutions-IAM4',
          reason: policies.map((policy) => MANAGED_POLICY_REASONS[policy]).join(' '),
          appliesTo: policies.map(
            (policy) => `Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}`,
          ),
        },
      ]);
    }
  }
}

/** Every function of a sync, by role. */
export type SyncFunctionKind =
  | 'batcher'
  | 'writer'
  | 'resync'
  | 'lagCheck'
  | 'ingestionDelay'
  | 'atlasIngest'
  | 'indexResource';

/** What differs between the functions: construct id, handler directory (functions/<dir>/) and description. */
interface SyncFunctionSpec {
  readonly id: string;
  readonly dir: string;
  readonly description: string;
}

/**
 * The function table. The entries are resolved against this file, which is why it lives directly in lib/: the
 * packaged library bundles lib/ into dist/lib/, next to dist/functions/ (scripts/build.mjs).
 */
export const SYNC_FUNCTIONS: Readonly<Record<SyncFunctionKind, SyncFunctionSpec>> = {
  batcher: {
    id: 'Batcher',
    dir: 'batcher',
    description: 'DynamoDB stream -> packed key-only change messages on the SQS FIFO changes queue',
  },
  writer: {
    id: 'Writer',
    dir: 'writer',
    description: 'SQS FIFO changes -> consistent re-read of each key -> Typesense upsert/delete',
  },
  resync: {
    id: 'Resync',
    dir: 'resync',
    description: 'Full re-sync: parallel Scan -> new Typesense collection -> alias swap',
  },
  lagCheck: {
    id: 'LagCheck',
    dir: 'lag-check',
    description: 'Times a canary item from the table to Typesense; publishes the lag and pipeline figures',
  },
  ingestionDelay: {
    id: 'IngestionDelay',
    dir: 'ingestion-delay',
    description: 'Serves GET /v1/ingestion-delay: the latest lag figures of the lag check',
  },
  atlasIngest: {
    id: 'Ingest',
    dir: 'atlas-ingest',
    description: 'MongoDB Atlas trigger events -> ordered writes to the mirror table (Typesense sync source)',
  },
  indexResource: {
    id: 'IndexHandler',
    dir: 'index-resource',
    description:
      'Index custom resource: checks the nodes, then starts the first load or a schema migration re-sync',
  },
};

/** The handler module of a function. */
export const syncFunctionEntry = (kind: SyncFunctionKind): string =>
  fileURLToPath(new URL(`../functions/${SYNC_FUNCTIONS[kind].dir}/handler.ts`, import.meta.url));

/**
 * One function of the table: its id, entry and description, with `props` (service name, environment built
 * through the contract's env builders, timeout, network…, and another entry: lib/transform-entry.ts).
 */
export function syncFunction(
  scope: Construct,
  kind: SyncFunctionKind,
  props: Omit<SyncFunctionProps, 'entry' | 'description'> & { readonly entry?: string },
): SyncFunction {
  const spec = SYNC_FUNCTIONS[kind];
  return new SyncFunction(scope, spec.id, {
    entry: syncFunctionEntry(kind),
    description: spec.description,
    ...props,
  });
}
