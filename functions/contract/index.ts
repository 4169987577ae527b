/**
 * The contract deploy time and run time agree on: the functions' env schemas, limits and defaults, typed env
 * builders, metric names and the operator target. It imports nothing but zod, so the construct (lib/) loads
 * it without any runtime SDK client or Powertools.
 */
export * from './aggregate.ts';
export * from './collection-schema.ts';
export * from './env.ts';
export * from './env-builders.ts';
export * from './index-resource.ts';
export * from './limits.ts';
export * from './metrics.ts';
export * from './projection.ts';
export * from './target.ts';
