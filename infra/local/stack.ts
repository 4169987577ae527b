import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ingestionDelayOf } from '../../bin/cli/operations/lag.ts';
import { loadTransform } from '../../bin/cli/operations/transform.ts';
import { DEFAULTS } from '../../functions/contract/limits.ts';
import type { Transform } from '../../functions/core/transform.ts';
import type { IndexResourceResponse } from '../../functions/index-resource/handler.ts';
import { sendEventBridgeEvents } from '../../functions/shared/atlas-ingest-adapters.ts';
import { createDynamoDbClient, queueDepth } from '../../functions/shared/aws.ts';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';
import { localIam } from './iam/enforce.ts';
import { standIns } from './iam/stand-ins.ts';
import type { SyncTemplateOptions } from './iam/template.ts';
import { indexStatusOf } from './index-status.ts';
import { sleep } from './processes.ts';
import { s3FailureDestination } from './s3-failure-destination.ts';
import { buildFunctions, type FunctionClients, functionClients } from './stack-functions.ts';
import { createIndexDirectly, type LocalIndexResource } from './stack-index.ts';
import {
  createFurtherIndexResources,
  drainDeadLetters,
  type FurtherIndexResources,
  functionResourcesOf,
  queueDepths,
  schemaWithoutName,
  setUpIndexes,
  withFirstIndex,
} from './stack-indexes.ts';
import { checkLocalLag } from './stack-lag.ts';
import {
  ACCOUNT_ID,
  API_KEY,
  CREDENTIALS,
  type LocalAtlasSource,
  type LocalIndex,
  type LocalIndexStatus,
  type LocalStack,
  type LocalStackOptions,
  type LocalStatus,
  REGION,
} from './stack-options.ts';
import { createPollers, type LocalPollers } from './stack-pollers.ts';
import { createStackResources, type StackResources } from './stack-resources.ts';
import { type LocalServices, startServices } from './stack-services.ts';
import { StatusHistory, serveStatusPage } from './status-page.ts';

export type * from './stack-options.ts';

/** The stack's names and the construct options its IAM template is synthesised with. */
function resolveNames(options: LocalStackOptions) {
  const keyAttributes = options.keyAttributes ?? (options.atlas === true ? ['_id'] : ['pk']);
  if (options.keyTypes !== undefined && options.keyTypes.length !== keyAttributes.length)
    throw new Error(
      `keyTypes names ${options.keyTypes.length} types for ${keyAttributes.length} key attributes`,
    );
  if (options.atlas === true && keyAttributes.join(',') !== '_id')
    throw new Error("the Atlas source's mirror table is keyed by '_id' alone");
  const tableName = options.tableName ?? 'items';
  const alias = options.alias ?? 'products';
  const template: SyncTemplateOptions = {
    keyAttributes,
    atlas: options.atlas === true,
    alias,
    sourceTimestampAttribute: options.sourceTimestampAttribute,
    projection: options.projection,
    aggregate: options.aggregate,
    indexes: options.indexes?.map(({ alias, projection, aggregate }) => ({ alias, projection, aggregate })),
  };
  return { keyAttributes, tableName, alias, collection: `${alias}_v1`, template };
}

/** The stack's own clients (a test's, the CLI's view): not a function's, so not checked by IAM. */
function stackClients(endpoints: LocalServices['endpoints']) {
  const common = { region: REGION, credentials: CREDENTIALS };
  return {
    dynamodb: createDynamoDbClient({ ...common, endpoint: endpoints.dynamodb }),
    streams: new DynamoDBStreamsClient({ ...common, endpoint: endpoints.dynamodb }),
    sqs: new SQSClient({ ...common, endpoint: endpoints.sqs, useQueueUrlAsEndpoint: false }),
    typesense: new TypesenseClient({ nodes: [endpoints.typesense], apiKey: API_KEY }),
    s3: new S3Client({ ...common, endpoint: endpoints.sqs, forcePathStyle: true }),
  };
}

/** Each function's calls are checked against its role in the construct's synthesised template. */
function enforceIam(
  options: LocalStackOptions,
  template: SyncTemplateOptions,
  resources: StackResources,
  failureBucket: string,
  further: readonly FurtherIndexResources[],
) {
  const { tableName, keyAttributes, resyncStateTable, atlas } = resources;
  return localIam({
    template,
    physical: standIns({
      tableName,
      streamArn: resources.streamArn,
      stateTable: resyncStateTable,
      queueUrl: resources.queueUrl,
      dlqUrl: resources.dlqUrl,
      resyncQueueUrl: resources.resyncQueueUrl,
      failureBucket,
      atlas,
      indexes: further.map((index) => ({ ...index, stateTable: index.resyncStateTable })),
    }),
    partitionKeys: new Map([
      [tableName, keyAttributes[0] as string],
      [resyncStateTable, 'pk'],
      ...further.map((index) => [index.resyncStateTable, 'pk'] as [string, string]),
      ...(atlas === undefined ? [] : [[atlas.versionsTable, 'id'] as [string, string]]),
    ]),
    revoke: options.iam?.revoke,
  });
}

/**
 * The embedded stack: DynamoDB Local, the fauxqs SQS emulator, the Typesense emulator, and the
 * event-source pollers driving the real handlers. The handlers are built by their factories from
 * config objects (stack-functions.ts), so the process environment is left alone.
 */
export async function startLocalStack(given: LocalStackOptions): Promise<LocalStack> {
  const options = withFirstIndex(given);
  const names = resolveNames(options);
  const services = await startServices(options, names.template);
  const faults = options.faultInjection === true ? await startFaultProxy(services.emulator.url) : undefined;
  try {
    return await startOnServices(options, names, services, faults);
  } catch (error) {
    // A setup that fails (say, the index resource's Create refused) leaves no process or server behind.
    await Promise.all([services.stop(), faults?.stop()]).catch(() => undefined);
    throw error;
  }
}

async function startOnServices(
  options: LocalStackOptions,
  { keyAttributes, tableName, alias, collection, template }: ReturnType<typeof resolveNames>,
  services: LocalServices,
  faults: FaultProxy | undefined,
): Promise<LocalStack> {
  const { endpoints } = services;
  const transform =
    typeof options.transform === 'object' ? await loadTransform(options.transform) : options.transform;
  const clients = stackClients(endpoints);
  const failureBucket = `${tableName}-stream-failures`;
  services.fauxqs.createBucket(failureBucket);
  const resources = await createStackResources(
    clients.dynamodb,
    clients.sqs,
    options,
    tableName,
    keyAttributes,
  );
  const further = await createFurtherIndexResources(clients.dynamodb, clients.sqs, options, tableName);
  await options.prefill?.(clients.dynamodb, tableName);
  const direct = await createIndexDirectly(options, services.nodeUrls, alias, collection);
  const iam = enforceIam(options, template, resources, failureBucket, further);
  const roleClients = functionClients(iam, endpoints);
  // Lambda writes the on-failure records with the batcher's execution role.
  const failures = s3FailureDestination(
    roleClients.s3('batcher'),
    failureBucket,
    `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:batcher`,
  );
  const nodes = faults === undefined ? services.nodeUrls : [faults.url];
  const functionResources = functionResourcesOf(resources, further, options, alias, nodes);
  const functions = buildFunctions(options, functionResources, roleClients, transform);
  const pollers = createPollers(
    options,
    { ...resources, streams: clients.streams, ingestQueueUrl: resources.atlas?.ingestQueueUrl, failures },
    functions,
    roleClients,
  );
  const atlas = localAtlasSource(resources, pollers, clients.sqs);
  const { indexes, index, indexCreated } = await setUpIndexes(
    {
      options,
      functionResources,
      roleClients,
      nodeUrls: services.nodeUrls,
      ...clients,
      figures: pollers.figures,
    },
    { functions, transform, direct, collection, ...pollers },
    further,
  );
  const indexPollers = indexes.flatMap((each) => [each.queuePoller, each.resyncPoller]);
  for (const poller of [pollers.streamPoller, atlas?.poller, ...indexPollers]) poller?.start();

  const parts: StackParts = {
    options,
    services,
    clients,
    resources,
    pollers,
    atlas,
    faults,
    roleClients,
    failures,
    functions,
    transform,
    iam,
    indexes,
    // The canary is written as the deployed lag check writes it: with its role.
    lagCheckClients: { dynamodb: roleClients.dynamodb('lagCheck'), sqs: roleClients.sqs('lagCheck') },
  };
  return assembleStack(parts, {
    alias,
    collection: indexCreated?.Data.Collection ?? collection,
    failureBucket,
    index,
    indexCreated,
  });
}

/** The Atlas source's local parts, when the stack has one. */
function localAtlasSource(
  resources: StackResources,
  pollers: LocalPollers,
  sqs: SQSClient,
): LocalAtlasSource | undefined {
  if (resources.atlas === undefined || pollers.atlasPoller === undefined) return undefined;
  return {
    ...resources.atlas,
    poller: pollers.atlasPoller,
    sendEvents: sendEventBridgeEvents(sqs, resources.atlas.ingestQueueUrl),
  };
}

interface StackParts {
  options: LocalStackOptions;
  services: LocalServices;
  clients: ReturnType<typeof stackClients>;
  resources: StackResources;
  pollers: LocalPollers;
  atlas: LocalAtlasSource | undefined;
  faults: FaultProxy | undefined;
  roleClients: FunctionClients;
  failures: ReturnType<typeof s3FailureDestination>;
  functions: ReturnType<typeof buildFunctions>;
  transform: Transform | undefined;
  iam: ReturnType<typeof localIam>;
  /** Every index, the first first. */
  indexes: readonly LocalIndex[];
  /** The lag check's role: it writes the canary and reads every further index's DLQ depth. */
  lagCheckClients: { dynamodb: DynamoDBClient; sqs: SQSClient };
}

/** The local twin of the deployed ingestion-delay endpoint, and the status page with its history. */
async function serveStatus(port: number, status: () => Promise<LocalStatus>) {
  const history = new StatusHistory(status);
  const server = createServer((request, response) => {
    if (serveStatusPage(request, response, history)) return;
    if (request.method !== 'GET' || request.url !== '/v1/ingestion-delay') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
      return;
    }
    status().then(
      (figures) =>
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(ingestionDelayOf(figures, Date.now()))),
      (error: unknown) =>
        response
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ message: `status unavailable: ${(error as Error).message}` })),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const statusPageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { history, server, statusPageUrl, ingestionDelayUrl: `${statusPageUrl}v1/ingestion-delay` };
}

async function assembleStack(
  parts: StackParts,
  names: {
    alias: string;
    collection: string;
    failureBucket: string;
    index: LocalIndexResource;
    indexCreated: IndexResourceResponse | undefined;
  },
): Promise<LocalStack> {
  const { options, services, clients, resources, pollers, functions } = parts;
  const { endpoints } = services;
  const { tableName, keyAttributes, queueUrl, dlqUrl, resyncStateTable, resyncQueueUrl } = resources;
  const served = await serveStatus(options.ports?.status ?? 0, () => stack.status());
  const stack: LocalStack = {
    endpoints,
    ingestionDelayUrl: served.ingestionDelayUrl,
    statusPageUrl: served.statusPageUrl,
    target: targetOf(parts, names, served.ingestionDelayUrl),
    apiKey: API_KEY,
    tableName,
    keyAttributes,
    alias: names.alias,
    collection: names.collection,
    queueUrl,
    dlqUrl,
    failureBucket: names.failureBucket,
    s3: clients.s3,
    dynamodb: clients.dynamodb,
    sqs: clients.sqs,
    typesense: clients.typesense,
    emulator: 'failNext' in services.emulator ? services.emulator : undefined,
    typesenseNodes: services.typesenseNodes,
    streamPoller: pollers.streamPoller,
    queuePoller: pollers.queuePoller,
    resyncPoller: pollers.resyncPoller,
    functions,
    index: names.index,
    indexCreated: names.indexCreated,
    resyncStateTable,
    resyncQueueUrl,
    atlas: parts.atlas,
    indexes: Object.fromEntries(parts.indexes.map((each) => [each.alias, each])),
    faults: parts.faults,
    iam: parts.iam,
    status: () => statusOf(parts),
    checkLag: (canaryTimeoutMs = 10_000) =>
      checkLocalLag(
        { ...parts, breaker: parts.functions.writer.handler.breaker, status: () => statusOf(parts) },
        canaryTimeoutMs,
      ),
    verify: () => (parts.indexes[0] as LocalIndex).verify(),
    drainDeadLetters: () => drainDeadLetters(clients.sqs, dlqUrl),
    waitForIdle: (timeoutMs = 60_000) => waitForIdle(parts, timeoutMs),
    stop: () => stopStack(parts, served),
  };
  served.history.start();
  return stack;
}

/** What the operator CLI needs to reach this stack (`--target`). */
function targetOf(
  parts: StackParts,
  names: { alias: string; failureBucket: string },
  ingestionDelayUrl: string,
): LocalStack['target'] {
  const { options, resources } = parts;
  const { endpoints } = parts.services;
  return {
    region: REGION,
    endpoints: { dynamodb: endpoints.dynamodb, sqs: endpoints.sqs, s3: endpoints.sqs },
    // Copied: the SDK marks the credential objects it was given.
    credentials: { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey },
    tableName: resources.tableName,
    keyAttributes: resources.keyAttributes,
    queueUrl: resources.queueUrl,
    dlqUrl: resources.dlqUrl,
    failureBucket: names.failureBucket,
    messageGroupBuckets: options.buckets ?? DEFAULTS.messageGroupBuckets,
    maxMessageBytes: resources.maxMessageBytes,
    ...(options.sourceTimestampAttribute === undefined
      ? {}
      : { sourceTimestampAttribute: options.sourceTimestampAttribute }),
    projection: options.projection ?? {},
    ...(options.aggregate === undefined ? {} : { aggregate: options.aggregate }),
    // A module the CLI can import; a function given in code has no path to name.
    ...(typeof options.transform === 'object' && { transform: options.transform }),
    typesense: {
      nodes: [endpoints.typesense],
      collection: names.alias,
      apiKey: API_KEY,
      // The deployed schema, for `schema diff` and `init`.
      schema: schemaWithoutName(options.schema),
    },
    resync: { stateTable: resources.resyncStateTable, queueUrl: resources.resyncQueueUrl },
    ingestionDelayUrl,
    ...(parts.indexes.length > 1 && {
      indexes: Object.fromEntries(parts.indexes.map((index) => [index.alias, index.targetEntry])),
    }),
  };
}

async function statusOf(parts: StackParts): Promise<LocalStatus> {
  const { clients, pollers } = parts;
  const now = Date.now();
  const indexes = await Promise.all(parts.indexes.map((index) => indexStatusOf(clients, index, now)));
  // The top-level queue figures and load are the first index's, as before there were several.
  const { pendingMessages, dlqDepth, load } = indexes[0] as LocalIndexStatus;
  return {
    ...(load === undefined ? {} : { load }),
    changesSeen: pollers.figures.changesSeen,
    changesApplied: pollers.figures.changesApplied,
    pendingMessages,
    dlqDepth,
    lagMs: pollers.figures.lagMs(now),
    oldestPendingAgeMs: pollers.figures.oldestPendingAgeMs(now),
    streamRecordsGivenUp: pollers.streamPoller.stats.recordsGivenUp,
    circuit: parts.functions.writer.handler.breaker.state,
    indexes,
  };
}

/** Resolves when the stream is drained and every queue is empty (throws after timeoutMs). */
async function waitForIdle(parts: StackParts, timeoutMs: number): Promise<void> {
  const { pollers, atlas } = parts;
  const { sqs } = parts.clients;
  const deadline = Date.now() + timeoutMs;
  let quietChecks = 0;
  // Two quiet checks in a row: the stream drained, nothing queued or in flight.
  while (quietChecks < 2) {
    if (Date.now() > deadline)
      throw new Error(`local stack not idle after ${timeoutMs} ms: ${JSON.stringify(await statusOf(parts))}`);
    // The stream must be found empty by a round begun after this check began: a read in flight
    // before it could still return the last change written.
    const checkBegan = Date.now();
    await sleep(150);
    const quiet =
      pollers.streamPoller.caughtUpSince(checkBegan) &&
      parts.indexes.every((index) => !index.queuePoller.busy && !index.resyncPoller.busy) &&
      !(atlas?.poller.busy ?? false) &&
      (await queueDepths(sqs, parts.indexes)) === 0 &&
      (atlas === undefined || (await queueDepth(sqs, atlas.ingestQueueUrl)).total === 0);
    quietChecks = quiet ? quietChecks + 1 : 0;
  }
}

async function stopStack(parts: StackParts, served: { history: StatusHistory; server: Server }) {
  const { pollers } = parts;
  await served.history.stop();
  await Promise.all([
    pollers.streamPoller.stop(),
    ...parts.indexes.flatMap((index) => [index.queuePoller.stop(), index.resyncPoller.stop()]),
    parts.atlas?.poller.stop(),
    new Promise((resolve) => served.server.close(resolve)),
  ]);
  await parts.failures.flush();
  await Promise.all([parts.services.stop(), parts.faults?.stop()]);
  const { dynamodb, streams, sqs, s3 } = parts.clients;
  for (const client of [dynamodb, streams, sqs, s3]) client.destroy();
  parts.roleClients.destroy();
  // A call IAM could not judge (no mapping, unsupported policy) fails the test that made it.
  parts.iam.assertNoProblems();
}
