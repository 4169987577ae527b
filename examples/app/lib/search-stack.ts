import * as cdk from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { TypesenseSync } from 'typesense-sync';

export interface SearchStackProps extends cdk.StackProps {
  /** The Typesense nodes' URLs, comma-separated (e.g. `https://xyz.a1.typesense.net:443`). */
  readonly typesenseNodes: string;
  /** The Secrets Manager secret holding the Typesense API key (created beforehand, see the README). */
  readonly apiKeySecretName: string;
}

/** A products table kept in step with a Typesense collection of the same name. */
export class SearchStack extends cdk.Stack {
  constructor(scope: Construct, id: string, props: SearchStackProps) {
    super(scope, id, props);

    const table = new dynamodb.Table(this, 'Products', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // The sync reads the stream: it needs both images to tell updates, deletes and re-creates apart.
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    });
    const apiKey = secretsmanager.Secret.fromSecretNameV2(this, 'TypesenseApiKey', props.apiKeySecretName);

    const sync = new TypesenseSync(this, 'Search', {
      existingTableObj: table,
      keyAttributes: ['pk'],
      typesense: {
        nodes: props.typesenseNodes.split(','),
        apiKeySecret: apiKey,
        collection: 'products',
        // The index as code: `cdk deploy` creates the collection and loads the table; a changed schema
        // migrates with a zero-downtime re-sync.
        schema: {
          fields: [
            { name: 'name', type: 'string' },
            { name: 'category', type: 'string', facet: true },
            { name: 'price', type: 'float' },
            { name: '.*', type: 'auto' },
          ],
          default_sorting_field: 'price',
        },
      },
    });

    new cdk.CfnOutput(this, 'TableName', { value: table.tableName });
    new cdk.CfnOutput(this, 'DeadLetterQueueUrl', { value: sync.deadLetterQueue.queueUrl });
    new cdk.CfnOutput(this, 'IngestionDelayUrl', { value: sync.ingestionDelayUrl });
    new cdk.CfnOutput(this, 'IndexCollection', { value: sync.index.collection });
  }
}
