import { DEFAULTS } from './limits.ts';

/** The names the functions emit under: the CDK dashboard and alarms are built against them. */
export const METRIC = {
  ingestionDelay: 'IngestionDelay',
  changesApplied: 'ChangesApplied',
  retries: 'Retries',
  deadLetters: 'DeadLetters',
  requeued: 'Requeued',
  circuitOpen: 'CircuitOpen',
  streamRecords: 'StreamRecords',
  changesQueued: 'ChangesQueued',
  syncLag: 'SyncLagMs',
  canaryDelay: 'CanaryDelayMs',
  oldestPendingChangeAge: 'OldestPendingChangeAgeMs',
  dlqDepth: 'DlqDepth',
  streamIteratorAge: 'StreamIteratorAgeMs',
  lagUnknown: 'LagUnknown',
  resyncActive: 'ResyncActive',
  resyncSegmentsDone: 'ResyncSegmentsDone',
  resyncSegmentsTotal: 'ResyncSegmentsTotal',
  resyncItemsIndexed: 'ResyncItemsIndexed',
  /** Ms since the running re-sync last made progress (a segment page, a finish step); absent when none runs. */
  resyncProgressAge: 'ResyncProgressAgeMs',
  /** 1 while the latest re-sync failed (it never swapped: the old collection still serves), else 0. */
  resyncFailed: 'ResyncFailed',
  atlasEventsApplied: 'AtlasEventsApplied',
  atlasEventsStale: 'AtlasEventsStale',
} as const;

/**
 * The dimension Powertools adds to every metric: the function's POWERTOOLS_SERVICE_NAME, which the construct
 * makes unique per function of each sync, so the dashboard and alarms select one sync's metrics by it.
 */
export const SERVICE_DIMENSION = 'service';

/**
 * The dimension of the lag check's per-index `SyncLagMs` (with `service`), published when a table has several
 * indexes: the index's alias. The headline `SyncLagMs` (service only) is the slowest index's.
 */
export const INDEX_DIMENSION = 'Index';

/** The namespace when POWERTOOLS_METRICS_NAMESPACE is unset. */
export const DEFAULT_METRICS_NAMESPACE = DEFAULTS.metricsNamespace;
