import type { KeyRight } from '../core/index-lifecycle/checks.ts';
import type { IndexLifecyclePorts, NodeProbe } from '../core/index-lifecycle.ts';
import type { ResyncConfig } from './config.ts';
import { type ResyncResources, resyncAdapters } from './resync-adapters.ts';
import type { CollectionSchema, TypesenseClient } from './typesense.ts';
import { typesenseClientOf } from './typesense-client.ts';
import { TypesenseHttpError } from './typesense-errors.ts';

/** The collection a key's create right is probed with (never created: its `fields` is not a list). */
export const probeCollectionOf = (alias: string) => `${alias}_rights_probe`;

/**
 * One right, exercised without changing anything. Creating a collection whose `fields` is not a list
 * is refused for its body (400) by a key that may create collections, and with 401 by one that may
 * not: Typesense checks the key before it reads the body (test/contract: "the key is checked before
 * the body").
 */
async function exercise(client: TypesenseClient, right: KeyRight, alias: string): Promise<void> {
  switch (right) {
    case 'read the alias':
      await client.getAlias(alias);
      return;
    case 'list collections':
      await client.listCollections();
      return;
    case 'create collections': {
      const name = probeCollectionOf(alias);
      try {
        await client.createCollection({ name, fields: 'probe' } as unknown as CollectionSchema);
      } catch (error) {
        if (error instanceof TypesenseHttpError && error.status === 400) return;
        throw error;
      }
      // A server that took it anyway: leave nothing behind.
      await client.deleteCollection(name);
    }
  }
}

/** The pre-flight's view of one node, through a client of its own (no failover to the others). */
export function nodeProbe(client: TypesenseClient, node: string): NodeProbe {
  return {
    node,
    healthy: () => client.health(),
    async check(right, alias) {
      try {
        await exercise(client, right, alias);
        return undefined;
      } catch (error) {
        if (error instanceof TypesenseHttpError) return `HTTP ${error.status} ${error.serverMessage}`;
        return error instanceof Error ? error.message : String(error);
      }
    },
  };
}

/** The index custom resource's ports: the re-sync's, the alias delete, and one probe per node. */
export function indexResourceAdapters(
  clients: Pick<ResyncResources, 'dynamodb' | 'sqs' | 'typesense'>,
  config: ResyncConfig,
): IndexLifecyclePorts {
  return {
    resync: resyncAdapters(clients, config),
    deleteAlias: (alias) => clients.typesense.deleteAlias(alias),
    nodes: config.TYPESENSE_NODES.map((node) =>
      nodeProbe(
        typesenseClientOf({ ...config, TYPESENSE_NODES: [node], TYPESENSE_NEAREST_NODE: undefined }),
        node,
      ),
    ),
  };
}
