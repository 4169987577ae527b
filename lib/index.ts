export type {
  CollectionFieldType,
  CollectionSchema,
  CollectionSchemaField,
} from '../functions/contract/collection-schema.ts';
export type { IndexOnDelete } from '../functions/contract/index-resource.ts';
export type { Conversion, FilterValue, ItemFilter, NestedMode } from '../functions/contract/projection.ts';
export type { Transform, TransformContext } from '../functions/core/transform.ts';
export type { RuleDeliveryAlarms, SyncRule, SyncRuleRole } from './alarms.ts';
export type { AtlasSourceProps } from './atlas-source.ts';
export { AtlasSource } from './atlas-source.ts';
export type { IndexAlarms, WatchedIndex } from './index-observability.ts';
export { IndexPipeline } from './index-pipeline.ts';
export type { IndexResourceProps } from './index-resource.ts';
export { IndexResource } from './index-resource.ts';
export type {
  SyncFunctionRole,
  SyncObservabilityProps,
  TypesenseSyncAlarms,
  TypesenseSyncAlarmsProps,
} from './observability.ts';
export { SyncObservability } from './observability.ts';
export type { SyncFunctionProps } from './sync-function.ts';
export { SyncFunction } from './sync-function.ts';
export { TypesenseSync } from './typesense-sync.ts';
export type {
  TypesenseSyncBatcherProps,
  TypesenseSyncCircuitBreakerProps,
  TypesenseSyncCollectionSchema,
  TypesenseSyncDocumentId,
  TypesenseSyncIndex,
  TypesenseSyncIngestionDelayEndpointProps,
  TypesenseSyncLagCheckProps,
  TypesenseSyncMongoAtlasProps,
  TypesenseSyncProjection,
  TypesenseSyncProps,
  TypesenseSyncResyncProps,
  TypesenseSyncRetryProps,
  TypesenseSyncTransform,
  TypesenseSyncTypesenseProps,
  TypesenseSyncVpcProps,
  TypesenseSyncWriterProps,
} from './typesense-sync-props.ts';
export { CONTEXT_DEFAULTS, TypesenseSyncStack } from './typesense-sync-stack.ts';
