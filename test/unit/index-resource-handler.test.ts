import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { IndexLifecyclePorts } from '../../functions/core/index-lifecycle.ts';
import type { ResyncPorts } from '../../functions/core/resync.ts';
import { createIndexResourceHandler } from '../../functions/index-resource/handler.ts';
import { parseConfig, resyncConfigSchema } from '../../functions/shared/config.ts';
import { memoryResyncPorts } from '../helpers/resync-fakes.ts';

/* The Provider framework's onEvent handler: the CloudFormation event in, `{ PhysicalResourceId, Data }` out. */

const config = parseConfig(resyncConfigSchema, {
  TABLE_NAME: 'orders',
  KEY_ATTRIBUTES: 'pk',
  TYPESENSE_NODES: 'http://127.0.0.1:9',
  TYPESENSE_API_KEY: 'test-key',
  TYPESENSE_COLLECTION: 'orders',
  RESYNC_STATE_TABLE: 'state',
  RESYNC_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/resync',
  QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/changes.fifo',
});
const context = { functionName: 'index', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

/** Typesense as the handler sees it: an alias `orders` → `orders_v1`; nothing else is called here. */
const typesense = {
  getAlias: async (alias: string) => (alias === 'orders' ? { collection_name: 'orders_v1' } : undefined),
} as unknown as ResyncPorts['typesense'];

function handler() {
  const ports: IndexLifecyclePorts = {
    resync: memoryResyncPorts(typesense).ports,
    deleteAlias: async () => undefined,
    nodes: [],
  };
  return createIndexResourceHandler(config, ports, { logLevel: 'ERROR', metrics: false });
}

const event = (fields: Record<string, unknown>) =>
  ({
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
    ResponseURL: 'https://example.com',
    StackId: 'stack',
    RequestId: 'r-1',
    LogicalResourceId: 'Index',
    ResourceType: 'Custom::TypesenseIndex',
    ...fields,
  }) as unknown as CloudFormationCustomResourceEvent;

describe('the index resource handler', () => {
  it('answers the physical id (the alias) and the Data the construct reads', async () => {
    const answer = await handler()(
      event({
        RequestType: 'Create',
        ResourceProperties: { ServiceToken: 'x', Alias: 'orders', CheckNodes: 'false' },
      }),
      context,
    );
    expect(answer).toEqual({
      PhysicalResourceId: 'orders',
      Data: { Action: 'adopted', Collection: 'orders_v1' },
    });
  });

  it('fails the deploy naming each bad property', async () => {
    await expect(
      handler()(
        event({
          RequestType: 'Update',
          PhysicalResourceId: 'orders',
          ResourceProperties: { CheckNodes: 'maybe' },
        }),
        context,
      ),
    ).rejects.toThrow(/bad index resource properties: Alias: .*; CheckNodes: /);
  });

  it('a delete retains by default and answers the physical id it was given', async () => {
    const answer = await handler()(
      event({ RequestType: 'Delete', PhysicalResourceId: 'orders', ResourceProperties: { Alias: 'orders' } }),
      context,
    );
    expect(answer).toEqual({
      PhysicalResourceId: 'orders',
      Data: { Action: 'retained', Collection: 'orders_v1' },
    });
  });
});
