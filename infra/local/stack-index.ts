import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { type IndexOnDelete, indexResourceProperties } from '../../functions/contract/index-resource.ts';
import type { CollectionDefinition } from '../../functions/core/typesense-port.ts';
import type { IndexResourceResponse } from '../../functions/index-resource/handler.ts';
import type { LocalFunctions } from './stack-functions.ts';
import type { LocalStackOptions } from './stack-options.ts';
import { REGION } from './stack-options.ts';
import { lambdaContext } from './stack-pollers.ts';
import { createCollections } from './stack-services.ts';

/**
 * The index custom resource driven as CloudFormation drives it (issue 19): a Create when the stack
 * starts, an Update for each deploy (with the previous properties as `OldResourceProperties`) and a
 * Delete, each an onEvent invocation of the real handler; its answer's physical id is kept for the
 * next request, and a thrown error is what would fail the deploy.
 */
export interface LocalIndexResource {
  create(schema: CollectionDefinition | undefined, checkNodes?: boolean): Promise<IndexResourceResponse>;
  /** A deploy: an Update with this schema (undefined: adopt the alias as it is). */
  deploy(schema: CollectionDefinition | undefined, checkNodes?: boolean): Promise<IndexResourceResponse>;
  delete(onDelete?: IndexOnDelete): Promise<IndexResourceResponse>;
}

const SERVICE_TOKEN = `arn:aws:lambda:${REGION}:000000000000:function:index-resource-provider`;
/** The Provider framework gives onEvent up to 15 minutes; the handler returns long before. */
const ON_EVENT_TIMEOUT_MS = 15 * 60_000;

export function localIndexResource(fn: LocalFunctions['indexResource'], alias: string): LocalIndexResource {
  let properties: Record<string, string> | undefined;
  let physicalId: string | undefined;
  let requests = 0;
  const invoke = async (event: Record<string, unknown>) => {
    const full = {
      ServiceToken: SERVICE_TOKEN,
      ResponseURL: 'http://127.0.0.1/unused',
      StackId: `arn:aws:cloudformation:${REGION}:000000000000:stack/local/1`,
      RequestId: `local-${++requests}`,
      LogicalResourceId: 'Index',
      ResourceType: 'Custom::TypesenseIndex',
      ...event,
    } as unknown as CloudFormationCustomResourceEvent;
    const response = await fn.handler(full, lambdaContext('index-resource', ON_EVENT_TIMEOUT_MS));
    physicalId = response.PhysicalResourceId;
    return response;
  };
  const propertiesOf = (
    schema: CollectionDefinition | undefined,
    checkNodes: boolean,
    onDelete?: IndexOnDelete,
  ) => ({
    ServiceToken: SERVICE_TOKEN,
    ...indexResourceProperties({
      alias,
      ...(schema === undefined ? {} : { schema }),
      checkNodes,
      ...(onDelete === undefined ? {} : { onDelete }),
    }),
  });
  return {
    async create(schema, checkNodes = true) {
      const next = propertiesOf(schema, checkNodes);
      const response = await invoke({ RequestType: 'Create', ResourceProperties: next });
      properties = next;
      return response;
    },
    async deploy(schema, checkNodes = true) {
      if (properties === undefined || physicalId === undefined)
        throw new Error('the index resource was never created: start the stack with index: custom-resource');
      const next = propertiesOf(schema, checkNodes);
      // CloudFormation keeps the old properties when an update fails: so does this.
      const response = await invoke({
        RequestType: 'Update',
        PhysicalResourceId: physicalId,
        ResourceProperties: next,
        OldResourceProperties: properties,
      });
      properties = next;
      return response;
    },
    async delete(onDelete = 'retain') {
      const current = { ...(properties ?? propertiesOf(undefined, true)), OnDelete: onDelete };
      return invoke({
        RequestType: 'Delete',
        PhysicalResourceId: physicalId ?? alias,
        ResourceProperties: current,
      });
    },
  };
}

/**
 * The index set up directly (`index: 'direct'`, the default): the collection and the alias on every
 * node. False when the custom resource will create it instead.
 */
export async function createIndexDirectly(
  options: LocalStackOptions,
  nodeUrls: readonly string[],
  alias: string,
  collection: string,
): Promise<boolean> {
  if (options.index !== 'custom-resource') {
    await createCollections(nodeUrls, options.schema, alias, collection);
    return true;
  }
  if (nodeUrls.length > 1)
    throw new Error("index: 'custom-resource' runs on one node (the emulated nodes do not replicate)");
  return false;
}
