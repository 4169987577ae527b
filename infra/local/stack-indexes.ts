import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { loadTransform } from '../../bin/cli/operations/transform.ts';
import { verifyIndex } from '../../bin/cli/operations/verify.ts';
import { changeKeyAttributes } from '../../functions/contract/aggregate.ts';
import { aggregationOf } from '../../functions/core/aggregate.ts';
import type { DeadLetter } from '../../functions/core/change.ts';
import type { Transform } from '../../functions/core/transform.ts';
import { queueDepth } from '../../functions/shared/aws.ts';
import type { TypesenseClient } from '../../functions/shared/typesense.ts';
import { buildIndexFunctions, type FunctionClients, type FunctionResources } from './stack-functions.ts';
import { createIndexDirectly, localIndexResource } from './stack-index.ts';
import type { LocalIndex, LocalIndexOptions, LocalStackOptions } from './stack-options.ts';
import type { LiveFigures } from './stack-pollers.ts';
import { indexPollers } from './stack-pollers.ts';
import { createChangeQueues, createResyncResources, type StackResources } from './stack-resources.ts';

/**
 * Several indexes of the embedded stack's table (issue 20), as the construct's `indexes` builds them: one
 * stream poller and batcher feeding every index's changes queue, and per index its writer poller, re-sync
 * (state table, work queue, poller) and index resource handler, each function under its own role from the
 * synthesized template (`writer:<alias>`…). The first index is the stack's own (its top-level fields).
 */

/** The indexes the options describe, the first first: `indexes`, or the one of `alias`, `projection`, `transform`. */
export function indexesOf(options: LocalStackOptions): LocalIndexOptions[] {
  return (
    options.indexes ?? [
      {
        alias: options.alias ?? 'products',
        ...(options.projection === undefined ? {} : { projection: options.projection }),
        ...(options.transform === undefined ? {} : { transform: options.transform }),
        ...(options.aggregate === undefined ? {} : { aggregate: options.aggregate }),
      },
    ]
  );
}

/** The options with the first index's alias, projection, transform and schema at the top level. */
export function withFirstIndex(options: LocalStackOptions): LocalStackOptions {
  const [first] = indexesOf(options);
  if (first === undefined) throw new Error('indexes must list at least one index');
  const { projection: _projection, transform: _transform, aggregate: _aggregate, ...rest } = options;
  return {
    ...rest,
    alias: first.alias,
    schema: first.schema ?? options.schema,
    ...(first.projection === undefined ? {} : { projection: first.projection }),
    ...(first.transform === undefined ? {} : { transform: first.transform }),
    ...(first.aggregate === undefined ? {} : { aggregate: first.aggregate }),
  };
}

/** What the first index's functions are configured with; the batcher's targets are every index's queues. */
export function functionResourcesOf(
  resources: StackResources,
  further: readonly FurtherIndexResources[],
  options: LocalStackOptions,
  alias: string,
  typesenseNodes: readonly string[],
): FunctionResources {
  const indexes = indexesOf(options);
  return {
    ...resources,
    alias,
    typesenseNodes,
    atlasVersionsTable: resources.atlas?.versionsTable,
    changesQueues: [resources, ...further].map(({ queueUrl, dlqUrl }, position) => ({
      queueUrl,
      deadLetterQueueUrl: dlqUrl,
      // As the construct sets it: an aggregated index's changes name partitions.
      ...(indexes[position]?.aggregate !== undefined && {
        keyAttributes: changeKeyAttributes(resources.keyAttributes, indexes[position]?.aggregate),
      }),
    })),
  };
}

/** A further index's tables and queues, named `<table>-<alias>-…`. */
export interface FurtherIndexResources {
  alias: string;
  queueUrl: string;
  dlqUrl: string;
  resyncStateTable: string;
  resyncQueueUrl: string;
  /** What its queues are named after. */
  prefix: string;
}

export async function createFurtherIndexResources(
  dynamodb: DynamoDBClient,
  sqs: SQSClient,
  options: LocalStackOptions,
  tableName: string,
): Promise<FurtherIndexResources[]> {
  return Promise.all(
    indexesOf(options)
      .slice(1)
      .map(async ({ alias }) => {
        const prefix = `${tableName}-${alias}`;
        const queues = await createChangeQueues(sqs, options, prefix);
        const resync = await createResyncResources(dynamodb, sqs, options, prefix);
        return { alias, prefix, queueUrl: queues.queueUrl, dlqUrl: queues.dlqUrl, ...resync };
      }),
  );
}

/** What a further index is started with: the stack's parts it shares. */
export interface FurtherIndexContext {
  options: LocalStackOptions;
  /** The first index's function resources; each further index replaces its own. */
  functionResources: FunctionResources;
  roleClients: FunctionClients;
  figures: LiveFigures;
  nodeUrls: readonly string[];
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  typesense: TypesenseClient;
}

/**
 * Builds each further index's functions and pollers (not started) and sets its index up as the first's is
 * (directly, or through its index resource's Create).
 */
export async function startFurtherIndexes(
  context: FurtherIndexContext,
  resources: readonly FurtherIndexResources[],
): Promise<LocalIndex[]> {
  const listed = indexesOf(context.options).slice(1);
  return Promise.all(
    resources.map(async (own, position) => {
      const index = listed[position] as LocalIndexOptions;
      const options: LocalStackOptions = {
        ...withFirstIndex({ ...context.options, indexes: [index] }),
      };
      const transform =
        typeof index.transform === 'object' ? await loadTransform(index.transform) : index.transform;
      const functions = buildIndexFunctions(
        options,
        { ...context.functionResources, ...own },
        context.roleClients,
        transform,
        own.alias,
      );
      const pollers = indexPollers(options, own, functions, context.roleClients, context.figures, own.alias);
      const collection = `${own.alias}_v1`;
      const direct = await createIndexDirectly(options, context.nodeUrls, own.alias, collection);
      const resource = localIndexResource(functions.indexResource, own.alias);
      const created = direct ? undefined : await resource.create(schemaWithoutName(options.schema));
      return localIndex(context, options, transform, {
        ...own,
        collection: created?.Data.Collection ?? collection,
        functions,
        ...pollers,
        index: resource,
      });
    }),
  );
}

/**
 * Sets every index up: the first's index resource (its Create, as CloudFormation would, once the functions
 * exist: it queues the load, unless the index was created directly), then each further index. The pollers
 * are not started.
 */
export async function setUpIndexes(
  context: FurtherIndexContext,
  first: Pick<LocalIndex, 'functions' | 'queuePoller' | 'resyncPoller' | 'indexFigures'> & {
    transform: Transform | undefined;
    direct: boolean;
    collection: string;
  },
  further: readonly FurtherIndexResources[],
) {
  const { options, functionResources } = context;
  const index = localIndexResource(first.functions.indexResource, functionResources.alias);
  const indexCreated = first.direct ? undefined : await index.create(schemaWithoutName(options.schema));
  const furtherIndexes = await startFurtherIndexes(context, further);
  const own = localIndex(context, options, first.transform, {
    ...functionResources,
    collection: indexCreated?.Data.Collection ?? first.collection,
    queuePoller: first.queuePoller,
    resyncPoller: first.resyncPoller,
    indexFigures: first.indexFigures,
    functions: first.functions,
    index,
  });
  return { indexes: [own, ...furtherIndexes], index, indexCreated };
}

/** One index's public face, with its verify and its dead letters. */
export function localIndex(
  context: Pick<FurtherIndexContext, 'dynamodb' | 'sqs' | 'typesense' | 'functionResources'>,
  options: LocalStackOptions,
  transform: Transform | undefined,
  parts: Omit<LocalIndex, 'verify' | 'drainDeadLetters' | 'targetEntry'>,
): LocalIndex {
  const { tableName, keyAttributes } = context.functionResources;
  return {
    ...parts,
    targetEntry: {
      queueUrl: parts.queueUrl,
      dlqUrl: parts.dlqUrl,
      projection: options.projection ?? {},
      ...(options.aggregate === undefined ? {} : { aggregate: options.aggregate }),
      // A module the CLI can import; a function given in code has no path to name.
      ...(typeof options.transform === 'object' && { transform: options.transform }),
      schema: schemaWithoutName(options.schema),
      resync: { stateTable: parts.resyncStateTable, queueUrl: parts.resyncQueueUrl },
    },
    verify: () =>
      verifyIndex({
        dynamodb: context.dynamodb,
        tableName,
        keyAttributes,
        ...(options.aggregate && { aggregation: aggregationOf(keyAttributes, options.aggregate) }),
        ...(options.projection === undefined ? {} : { projection: options.projection }),
        ...(transform === undefined ? {} : { transform }),
        typesense: context.typesense,
        collection: parts.alias,
      }),
    drainDeadLetters: () => drainDeadLetters(context.sqs, parts.dlqUrl),
  };
}

export function schemaWithoutName({ name: _name, ...definition }: LocalStackOptions['schema']) {
  return definition;
}

/** Receives every message on the DLQ (each is gone from the queue afterwards). */
export async function drainDeadLetters(sqs: SQSClient, dlqUrl: string): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages === undefined || Messages.length === 0) return letters;
    for (const message of Messages) letters.push(JSON.parse(message.Body ?? '{}') as DeadLetter);
  }
}

/** Messages waiting or in flight on every index's changes and work queues. */
export async function queueDepths(
  sqs: SQSClient,
  indexes: readonly Pick<LocalIndex, 'queueUrl' | 'resyncQueueUrl'>[],
): Promise<number> {
  const depths = await Promise.all(
    indexes.flatMap((index) => [queueDepth(sqs, index.queueUrl), queueDepth(sqs, index.resyncQueueUrl)]),
  );
  return depths.reduce((sum, depth) => sum + depth.total, 0);
}
