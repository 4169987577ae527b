import type { IndexResourceData } from '../../../functions/contract/index-resource.ts';
import { DEFAULTS } from '../../../functions/contract/limits.ts';
import { diffSchemas, type SchemaDifference } from '../../../functions/core/collection-schema-diff.ts';
import { applyIndexRequest } from '../../../functions/core/index-lifecycle.ts';
import { type CollectionDefinition, schemaOf } from '../../../functions/core/resync.ts';
import { nodeProbe } from '../../../functions/shared/index-resource-adapters.ts';
import { portsOf } from './resync.ts';
import { type Connection, TargetError } from './target.ts';

/** The deployed schema: a `--schema` file's, else the target's (`typesense.schema`). */
function deployedSchema(
  connection: Connection,
  given: CollectionDefinition | undefined,
): CollectionDefinition {
  const schema = given ?? connection.target.typesense.schema;
  if (schema === undefined)
    throw new TargetError(
      'no deployed schema: the target names none (typesense.schema); give --schema <file>',
    );
  const { name: _name, ...definition } = schema as CollectionDefinition;
  return definition as CollectionDefinition;
}

export interface SchemaDiffReport {
  alias: string;
  /** The collection the alias serves; undefined when the alias does not exist. */
  collection: string | undefined;
  differences: SchemaDifference[];
}

/** `schema diff`: the live collection's schema against the deployed one, after normalising both. */
export async function schemaDiff(
  connection: Connection,
  given?: CollectionDefinition,
): Promise<SchemaDiffReport> {
  const deployed = deployedSchema(connection, given);
  const alias = connection.target.typesense.collection;
  const live = await connection.typesense.getAlias(alias);
  const info =
    live === undefined ? undefined : await connection.typesense.getCollection(live.collection_name);
  if (info === undefined) return { alias, collection: undefined, differences: [] };
  return { alias, collection: info.name, differences: diffSchemas(deployed, schemaOf(info)) };
}

/**
 * `init`: what the index custom resource does on a deploy, for teams that manage Typesense outside
 * CloudFormation: the node check, then a first load (or a migration, or nothing) towards the schema.
 * The load runs in the re-sync function, as any re-sync.
 */
export async function initIndex(
  connection: Connection,
  given: CollectionDefinition | undefined,
  checkNodes: boolean,
): Promise<IndexResourceData> {
  const schema = deployedSchema(connection, given);
  const { target } = connection;
  const alias = target.typesense.collection;
  const outcome = await applyIndexRequest(
    {
      requestType: 'Create',
      properties: {
        Alias: alias,
        Schema: JSON.stringify(schema),
        CheckNodes: checkNodes,
        OnDelete: 'retain',
      },
    },
    {
      resync: portsOf(connection),
      deleteAlias: (name) => connection.typesense.deleteAlias(name),
      // The CLI's client fails over between the nodes: they are checked as one.
      nodes: [nodeProbe(connection.typesense, target.typesense.nodes.join(', '))],
    },
    {
      keyAttributes: target.keyAttributes,
      projection: target.projection,
      totalSegments: DEFAULTS.resyncTotalSegments,
      pageSize: DEFAULTS.resyncPageSize,
      pagesPerTask: DEFAULTS.resyncPagesPerTask,
      keepCollections: DEFAULTS.resyncKeepCollections,
    },
  );
  return outcome.data;
}
