/**
 * An in-memory Typesense HTTP emulator for local stacks and tests, answering as Typesense v27, v28, v29 or v30
 * does (default v30). The code lives in ./typesense-emulator/: server.ts (HTTP, routes, auth, resource errors),
 * state.ts (collections, aliases, documents), schema.ts and validate.ts (schemas, dynamic fields, coercion),
 * documents.ts (the write path), filter.ts, search.ts, synonyms.ts, json.ts (nlohmann-like JSON) and
 * versions.ts (what differs per version, with the server source it comes from). The contract suite
 * (test/contract) runs the same assertions against every profile and, when TYPESENSE_URL is set, a real server.
 */
export { splitToValues } from './typesense-emulator/filter.ts';
export {
  startTypesenseEmulatorProcess,
  type TypesenseEmulatorProcess,
  TypesenseEmulatorProcessError,
} from './typesense-emulator/process.ts';
export {
  type ResourceError,
  startTypesenseEmulator,
  type TypesenseEmulator,
  type TypesenseEmulatorOptions,
  type TypesenseEmulatorStats,
} from './typesense-emulator/server.ts';
export {
  DEFAULT_TYPESENSE_VERSION,
  parseTypesenseVersion,
  TYPESENSE_VERSIONS,
  type TypesenseVersion,
} from './typesense-emulator/versions.ts';
export type { WriteLagOptions, WriteLagStats } from './typesense-emulator/write-lag.ts';
