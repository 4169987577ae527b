import { Logger } from '@aws-lambda-powertools/logger';

/**
 * A function's logger. The construct sets POWERTOOLS_SERVICE_NAME per deployment (unique per sync), and an
 * explicit `serviceName` would outrank it: two syncs in one account would log under one service. So the
 * role's name is only the fallback, where the variable is unset (local runs, tests).
 */
export function createLogger(role: string, env: Record<string, string | undefined> = process.env): Logger {
  return new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME || `typesense-sync-${role}` });
}
