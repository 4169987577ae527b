export type {
  SyncFunctionRole,
  SyncObservabilityProps,
  TypesenseSyncAlarms,
  TypesenseSyncAlarmsProps,
} from './observability.ts';
export { SyncObservability } from './observability.ts';
export type { SyncFunctionProps } from './sync-function.ts';
export { SyncFunction } from './sync-function.ts';
export type {
  TypesenseSyncCircuitBreakerProps,
  TypesenseSyncCollectionSchema,
  TypesenseSyncIngestionDelayEndpointProps,
  TypesenseSyncLagCheckProps,
  TypesenseSyncProjection,
  TypesenseSyncProps,
  TypesenseSyncResyncProps,
  TypesenseSyncRetryProps,
  TypesenseSyncTypesenseProps,
} from './typesense-sync.ts';
export { TypesenseSync } from './typesense-sync.ts';
export { CONTEXT_DEFAULTS, TypesenseSyncStack } from './typesense-sync-stack.ts';
