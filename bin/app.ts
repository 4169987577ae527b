import { App } from 'aws-cdk-lib';
import { TypesenseSyncStack } from '../lib/typesense-sync-stack.ts';

const app = new App();
new TypesenseSyncStack(app, 'TypesenseSync', {
  // Unset (environment-agnostic) unless the CLI has a profile/region, so synth also works offline.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
