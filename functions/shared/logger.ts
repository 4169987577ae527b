import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';

/**
 * A function's logger. The construct sets POWERTOOLS_SERVICE_NAME per deployment (unique per sync), and an
 * explicit `serviceName` would outrank it: two syncs in one account would log under one service. So the
 * role's name is only the fallback, where the variable is unset (local runs, tests). A `logLevel` is
 * passed only when given (the embedded stack's): otherwise Powertools reads it from the environment.
 */
export function createLogger(
  role: string,
  env: Record<string, string | undefined> = process.env,
  logLevel?: LogLevel,
): Logger {
  return new Logger({
    serviceName: env.POWERTOOLS_SERVICE_NAME || `typesense-sync-${role}`,
    ...(logLevel === undefined ? {} : { logLevel }),
  });
}
