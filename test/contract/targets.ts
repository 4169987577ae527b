/**
 * Where the contract suites run: the emulator in every version profile (27 to 30), each with its own
 * server, and, when TYPESENSE_URL is set, a real server whose version is read from its `/debug`.
 */
import { randomBytes } from 'node:crypto';
import {
  parseTypesenseVersion,
  startTypesenseEmulator,
  TYPESENSE_VERSIONS,
  type TypesenseEmulator,
  type TypesenseVersion,
} from '../../infra/local/typesense-emulator.ts';

export type Target = {
  name: string;
  start(): Promise<{ url: string; apiKey: string; version: TypesenseVersion; emulator?: TypesenseEmulator }>;
  stop(): Promise<void>;
};

function emulatorTarget(version: TypesenseVersion): Target {
  let emulator: TypesenseEmulator | undefined;
  const apiKey = `contract-${randomBytes(8).toString('hex')}`;
  return {
    name: `emulator v${version}`,
    async start() {
      emulator = await startTypesenseEmulator({ apiKey, version });
      return { url: emulator.url, apiKey, version, emulator };
    },
    async stop() {
      await emulator?.stop();
    },
  };
}

function realTarget(url: string, apiKey: string): Target {
  return {
    name: `real Typesense at ${url}`,
    async start() {
      const response = await fetch(`${url}/debug`, { headers: { 'X-TYPESENSE-API-KEY': apiKey } });
      const { version } = (await response.json()) as { version: string };
      return { url, apiKey, version: parseTypesenseVersion(version) };
    },
    stop: async () => {},
  };
}

export function contractTargets(): Target[] {
  const targets = TYPESENSE_VERSIONS.map(emulatorTarget);
  const realUrl = process.env.TYPESENSE_URL;
  if (realUrl !== undefined && realUrl !== '') {
    targets.push(realTarget(realUrl.replace(/\/+$/, ''), process.env.TYPESENSE_API_KEY ?? ''));
  }
  return targets;
}

/** src/core_api.cpp: `res->set_404()` up to v28, `set_404("Collection not found")` from v29. */
export const collectionNotFound = (version: TypesenseVersion) =>
  version >= 29 ? 'Collection not found' : 'Not Found';

/** src/collection_manager.cpp CollectionManager::do_search: "Not found." up to v28. */
export const searchCollectionNotFound = (version: TypesenseVersion) =>
  version >= 29 ? 'Collection not found' : 'Not found.';

/**
 * src/collection.cpp Collection::batch_index: a failed import line echoes the input as `document` always in
 * v27, and from v28 only with return_doc=true (the client does not ask for it).
 */
export function failedLine(version: TypesenseVersion, result: Record<string, unknown>, line: string) {
  return version === 27 ? { ...result, document: line } : result;
}
