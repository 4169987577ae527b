import type { z } from 'zod';
import { SyncError } from '../core/errors.ts';

// The schemas, limits and defaults are the env contract shared with deploy time (functions/contract/env.ts):
// this module is where the functions parse them.
export {
  type AtlasIngestConfig,
  atlasIngestConfigSchema,
  type BatcherConfig,
  batcherConfigSchema,
  ingestionDelayConfigSchema,
  type LagCheckConfig,
  lagCheckConfigSchema,
  type ResyncConfig,
  resyncConfigSchema,
  type WriterConfig,
  writerConfigSchema,
} from '../contract/env.ts';
export { DEFAULTS, LIMITS } from '../contract/limits.ts';

/** A configuration problem: names the variable and what is wrong with it. */
export class ConfigError extends SyncError {
  override name = 'ConfigError';
}

/** Parses `env` with `schema` once; the error names every bad variable and what is wrong with it. */
export function parseConfig<T extends z.ZodTypeAny>(
  schema: T,
  env: Record<string, string | undefined> = process.env,
): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`,
  );
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}
