import { startFauxqs } from 'fauxqs';
import { TypesenseClient } from '../../functions/shared/typesense.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import { type SyncTemplateOptions, syncTemplate } from './iam/template.ts';
import { API_KEY, type LocalStackOptions } from './stack-options.ts';
import {
  DEFAULT_TYPESENSE_VERSION,
  startTypesenseEmulator,
  startTypesenseEmulatorProcess,
  type TypesenseEmulator,
  type TypesenseEmulatorProcess,
} from './typesense-emulator.ts';

/** The emulated services under the embedded stack: DynamoDB Local, fauxqs (SQS, S3) and Typesense. */
export interface LocalServices {
  dynamoDbLocal: Awaited<ReturnType<typeof startDynamoDbLocal>>;
  fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
  /** The first Typesense node: in-process (with its fault controls) or a child process. */
  emulator: TypesenseEmulator | TypesenseEmulatorProcess;
  /** Every in-process emulator node; empty with `typesenseProcess: 'child'`. */
  typesenseNodes: TypesenseEmulator[];
  /** Every node's URL, the first node's first. */
  nodeUrls: string[];
  endpoints: { dynamodb: string; sqs: string; typesense: string };
  stop(): Promise<void>;
}

/**
 * Starts the services in parallel, with the construct's synthesis (seconds of CPU, cached for the
 * local IAM) running while DynamoDB Local's JVM boots.
 */
export async function startServices(
  options: LocalStackOptions,
  template: SyncTemplateOptions,
): Promise<LocalServices> {
  if (options.typesenseNodes === 3 && options.typesenseProcess === 'child')
    throw new Error('typesenseNodes: 3 runs in-process emulators only');
  const emulatorOptions = {
    apiKey: API_KEY,
    port: options.ports?.typesense ?? 0,
    version: options.typesenseVersion ?? DEFAULT_TYPESENSE_VERSION,
  };
  // Declared as either: inferred, the union would shrink to the common part and lose the controls.
  const startingEmulator: Promise<TypesenseEmulator | TypesenseEmulatorProcess> =
    options.typesenseProcess === 'child'
      ? startTypesenseEmulatorProcess(emulatorOptions)
      : startTypesenseEmulator(emulatorOptions);
  const synthesis = new Promise<void>((resolve, reject) =>
    setTimeout(() => {
      try {
        syncTemplate(template);
        resolve();
      } catch (error) {
        reject(error);
      }
    }, 50),
  );
  const [[dynamoDbLocal, fauxqs, emulator, ...moreNodes]] = await Promise.all([
    Promise.all([
      startDynamoDbLocal(options.ports?.dynamodb),
      startFauxqs({ port: options.ports?.sqs ?? 0, logger: false }),
      startingEmulator,
      ...(options.typesenseNodes === 3
        ? [0, 1].map(() => startTypesenseEmulator({ ...emulatorOptions, port: 0 }))
        : []),
    ]),
    synthesis,
  ]);
  return {
    dynamoDbLocal,
    fauxqs,
    emulator,
    typesenseNodes: 'failNext' in emulator ? [emulator, ...moreNodes] : [],
    nodeUrls: [emulator.url, ...moreNodes.map((node) => node.url)],
    endpoints: { dynamodb: dynamoDbLocal.endpoint, sqs: fauxqs.address, typesense: emulator.url },
    async stop() {
      await Promise.all([
        dynamoDbLocal.stop(),
        fauxqs.stop(),
        emulator.stop(),
        ...moreNodes.map((node) => node.stop()),
      ]);
    },
  };
}

/** The collection `<alias>_v1` behind the alias, on every node (they do not replicate). */
export async function createCollections(
  nodeUrls: readonly string[],
  schema: LocalStackOptions['schema'],
  alias: string,
  collection: string,
): Promise<void> {
  for (const node of nodeUrls) {
    const client = new TypesenseClient({ nodes: [node], apiKey: API_KEY });
    await client.createCollection({ ...schema, name: collection });
    await client.upsertAlias(alias, collection);
  }
}
