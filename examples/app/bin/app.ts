#!/usr/bin/env node
import * as cdk from 'aws-cdk-lib';
import { SearchStack } from '../lib/search-stack';

const app = new cdk.App();
new SearchStack(app, 'SearchStack', {
  typesenseNodes: app.node.tryGetContext('typesenseNodes') ?? 'https://xyz.a1.typesense.net:443',
  apiKeySecretName: app.node.tryGetContext('typesenseApiKeySecretName') ?? 'typesense-sync/api-key',
});
