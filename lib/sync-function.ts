import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface SyncFunctionProps extends Omit<NodejsFunctionProps, 'entry'> {
  /** Absolute path of the handler module. */
  readonly entry: string;
  /** POWERTOOLS_SERVICE_NAME, so the two functions' logs can be told apart in one query. */
  readonly serviceName: string;
}

/**
 * NodejsFunction with the defaults both sync functions share: Node.js 22 on Graviton, an ESM bundle
 * with source maps, and a log group whose retention is managed by the stack.
 */
export class SyncFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: SyncFunctionProps) {
    const { serviceName, bundling, environment, ...rest } = props;
    // Created in the parent scope because `this` does not exist before super(); passing the log group
    // explicitly (instead of the deprecated logRetention) avoids the log-retention custom resource.
    const logGroup =
      props.logGroup ??
      new logs.LogGroup(scope, `${id}LogGroup`, { retention: logs.RetentionDays.ONE_MONTH });
    super(scope, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(30),
      ...rest,
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
  }
}
