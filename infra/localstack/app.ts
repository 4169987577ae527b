/**
 * The CDK app `npm run test:localstack` deploys (`cdklocal deploy --app`): the ready stack the
 * scenarios run against, with the context the runner passes (`-c`, as bin/app.ts reads it), and the
 * sync with every option on from test/construct/stacks.ts (KMS key, VPC, concurrency, schedule, alarms
 * topic, Atlas source), on a source table of its own so its stream mapping has a real stream.
 */
import { App } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { TypesenseSyncStack } from '../../lib/typesense-sync-stack.ts';
import { fullyFeaturedStack } from '../../test/construct/stacks.ts';
import {
  FULL_STACK_NAME,
  LOCALSTACK_ACCOUNT,
  LOCALSTACK_CONTEXT,
  LOCALSTACK_REGION,
  STACK_NAME,
} from './deploy.ts';

const app = new App();
const env = { account: LOCALSTACK_ACCOUNT, region: LOCALSTACK_REGION };
new TypesenseSyncStack(app, STACK_NAME, { env });
fullyFeaturedStack({
  app,
  stackName: FULL_STACK_NAME,
  env,
  typesenseNodes: [LOCALSTACK_CONTEXT.typesenseNodes],
  apiKeySecretName: LOCALSTACK_CONTEXT.typesenseApiKeySecretName,
  allowInsecureHttp: true,
  sourceTable: (stack, key) =>
    new dynamodb.Table(stack, 'Source', {
      partitionKey: { name: '_id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    }),
});
