import type { IndexAction, IndexResourceData, IndexResourceProperties } from '../contract/index-resource.ts';
import { canaryCollectionOf } from './canary.ts';
import { describeDifference, diffSchemas } from './collection-schema-diff.ts';
import { checkNodes, IndexResourceError, type NodeProbe } from './index-lifecycle/checks.ts';
import { versionedPattern } from './resync/model.ts';
import {
  type CollectionDefinition,
  cancelResync,
  type ResyncJob,
  type ResyncOptions,
  type ResyncPorts,
  schemaOf,
  startResync,
} from './resync.ts';

export { IndexResourceError, type NodeProbe } from './index-lifecycle/checks.ts';

/*
 * The index as code: what the CloudFormation custom resource does on each deploy, so that Typesense
 * converges to the schema in the construct's props. Create and Update are the same convergence:
 * - no alias yet → start the first load (a re-sync whose swap creates the alias);
 * - an alias whose live schema differs from the deployed one → start a re-sync with the new schema
 *   (zero downtime: the alias serves the old collection until the swap, which is kept for rollback);
 * - the same schema → nothing; no schema → adopt the alias as it is.
 * It returns as soon as a job is started, never waiting for the load. A re-sync already running is
 * adopted when it builds the deployed schema, else the deploy fails naming it (two loads at once
 * cannot run, and queuing one behind the other would hide which schema is live).
 * Delete leaves everything by default, or drops the alias and the sync's collections.
 */

export type IndexRequestType = 'Create' | 'Update' | 'Delete';

export interface IndexRequest {
  requestType: IndexRequestType;
  properties: IndexResourceProperties;
  /** Absent on Create. */
  physicalResourceId?: string | undefined;
}

export interface IndexOutcome {
  /** The alias: the resource's physical id. */
  physicalResourceId: string;
  data: IndexResourceData;
}

export interface IndexLifecyclePorts {
  /** The re-sync's ports (store, Typesense, table, queues): loads and migrations are re-syncs. */
  resync: ResyncPorts;
  deleteAlias(alias: string): Promise<unknown>;
  /** One per Typesense node, for the pre-flight. */
  nodes: readonly NodeProbe[];
}

/** The re-sync's tuning; the alias and the schema come with each request. */
export type IndexLifecycleOptions = Omit<ResyncOptions, 'alias' | 'schema'>;

/** Runs one custom resource request. A thrown error fails the deploy with its message. */
export async function applyIndexRequest(
  request: IndexRequest,
  ports: IndexLifecyclePorts,
  options: IndexLifecycleOptions,
): Promise<IndexOutcome> {
  const alias = request.properties.Alias;
  if (request.requestType === 'Delete') return deleteIndex(request, ports);
  const schema = parseSchema(request.properties.Schema);
  if (request.properties.CheckNodes) await checkNodes(ports.nodes, alias, schema !== undefined);
  const answer = (Action: IndexAction, Collection: string, JobId?: string): IndexOutcome => ({
    physicalResourceId: alias,
    data: { Action, Collection, ...(JobId === undefined ? {} : { JobId }) },
  });
  const { typesense } = ports.resync;
  const live = await typesense.getAlias(alias);
  if (schema === undefined) {
    if (live === undefined)
      throw new IndexResourceError(
        `alias ${alias} does not exist: give the index a schema (typesense.schema) so that the deploy creates it`,
      );
    return answer('adopted', live.collection_name);
  }
  if (live !== undefined) {
    const current = await typesense.getCollection(live.collection_name);
    if (current !== undefined && diffSchemas(schema, schemaOf(current)).length === 0) {
      await cancelOtherSchema(ports.resync, schema);
      return answer('unchanged', live.collection_name);
    }
  }
  const job = await startLoad(ports.resync, { ...options, alias, schema });
  return answer(job.firstLoad === true ? 'created' : 'migrating', job.collection, job.jobId);
}

/** The Schema property: JSON of a collection schema without its name. */
function parseSchema(json: string | undefined): CollectionDefinition | undefined {
  if (json === undefined) return undefined;
  let schema: unknown;
  try {
    schema = JSON.parse(json);
  } catch {
    throw new IndexResourceError('the Schema property is not JSON');
  }
  if (
    typeof schema !== 'object' ||
    schema === null ||
    !Array.isArray((schema as { fields?: unknown }).fields)
  )
    throw new IndexResourceError('the Schema property must be a collection schema with a `fields` array');
  const { name: _name, ...definition } = schema as CollectionDefinition;
  return definition as CollectionDefinition;
}

/**
 * Starts the re-sync that builds `options.schema`, or adopts the running one when it builds the same
 * schema (a retried deploy). A schema Typesense refuses fails before anything is created.
 */
async function startLoad(ports: ResyncPorts, options: ResyncOptions): Promise<ResyncJob> {
  let result: Awaited<ReturnType<typeof startResync>>;
  try {
    result = await startResync('deploy', ports, options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new IndexResourceError(`the re-sync for the deployed schema did not start: ${reason}`);
  }
  if ('started' in result) return result.started;
  const job = await ports.store.getJob(result.running.jobId);
  const building = await ports.typesense.getCollection(result.running.collection);
  const differences =
    building === undefined ? [] : diffSchemas(options.schema ?? { fields: [] }, schemaOf(building));
  if (job !== undefined && building !== undefined && differences.length === 0) return job;
  throw new IndexResourceError(
    `re-sync ${result.running.jobId} is running (building ${result.running.collection}${
      differences.length > 0
        ? `, whose schema differs: ${differences.map(describeDifference).join(', ')}`
        : ''
    }): wait for it to finish or cancel it (typesense-sync resync cancel), then deploy again`,
  );
}

/**
 * A deploy back to the live schema (a rolled-back update) cancels the migration still building another
 * one: left running, its swap would undo the rollback.
 */
async function cancelOtherSchema(ports: ResyncPorts, schema: CollectionDefinition): Promise<void> {
  const running = await ports.store.active();
  if (running === undefined) return;
  const building = await ports.typesense.getCollection(running.collection);
  if (building !== undefined && diffSchemas(schema, schemaOf(building)).length > 0) await cancelResync(ports);
}

/**
 * Retain: nothing is touched. Drop: a running re-sync is cancelled (its swap would bring the alias
 * back), then the alias, the collection it served, the sync's versioned collections and the lag
 * check's canary collection are deleted. Never fails for what is already gone, so the delete after a
 * failed create succeeds.
 */
async function deleteIndex(request: IndexRequest, ports: IndexLifecyclePorts): Promise<IndexOutcome> {
  const alias = request.properties.Alias;
  // A physical id that is not the alias is one the framework made up for a create that failed.
  const ours = request.physicalResourceId === undefined || request.physicalResourceId === alias;
  const { typesense } = ports.resync;
  const live = ours ? await typesense.getAlias(alias).catch(() => undefined) : undefined;
  const outcome = (Action: IndexAction): IndexOutcome => ({
    physicalResourceId: request.physicalResourceId ?? alias,
    data: { Action, Collection: live?.collection_name ?? '' },
  });
  if (!ours || request.properties.OnDelete === 'retain') return outcome('retained');
  await cancelResync(ports.resync).catch(() => undefined);
  await Promise.resolve(ports.deleteAlias(alias)).catch(() => undefined);
  const pattern = versionedPattern(alias);
  const names = (await typesense.listCollections())
    .map(({ name }) => name)
    .filter(
      (name) => pattern.test(name) || name === live?.collection_name || name === canaryCollectionOf(alias),
    );
  for (const name of names) await typesense.deleteCollection(name).catch(() => undefined);
  return outcome('dropped');
}
