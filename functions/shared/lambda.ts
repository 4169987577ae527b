import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { parseConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { createMetrics, type MetricsSink } from './metrics.ts';

/**
 * The one handler shape: every function's handler is built by a factory from its parsed config and
 * its adapters, wrapped in the same middy chain with a logger and metrics made here. The
 * module-level `handler` Lambda calls builds that config from `process.env` on its first invocation,
 * so a module can be imported (by the embedded stack, by tests) without its environment.
 */

type Env = Record<string, string | undefined>;

/** How a handler observes itself. Deployed, all of it comes from the function's environment. */
export interface TelemetryOptions {
  /** Where POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE are read. Default `process.env`. */
  env?: Env;
  /** A log level for this handler; absent, Powertools reads it from the environment as usual. */
  logLevel?: LogLevel;
  /**
   * `false`: the figures are dropped instead of written as EMF lines (which are for CloudWatch). The
   * embedded stack shows the same figures on its status page.
   */
  metrics?: boolean;
}

export interface Telemetry {
  logger: Logger;
  /** Where the handler adds its figures. */
  metrics: MetricsSink;
  /** The Powertools instance the middleware flushes once per invocation; absent when metrics are off. */
  flushed: Metrics | undefined;
}

const DISCARDED: MetricsSink = { addMetric: () => undefined };

export function createTelemetry(role: string, options: TelemetryOptions = {}): Telemetry {
  const env = options.env ?? process.env;
  const logger = createLogger(role, env, options.logLevel);
  const flushed = options.metrics === false ? undefined : createMetrics(env);
  return { logger, metrics: flushed ?? DISCARDED, flushed };
}

/** The handler a factory returns: the middy chain over its body. */
export type LambdaHandler<E, R> = middy.MiddyfiedHandler<E, R, Error, Context>;

/** The middy chain every function uses: the Lambda context on each log line, then the metrics flush. */
export function lambdaHandler<E, R>(
  telemetry: Telemetry,
  body: (event: E, context: Context) => Promise<R>,
): LambdaHandler<E, R> {
  const handler = middy(body).use(injectLambdaContext(telemetry.logger));
  return telemetry.flushed === undefined ? handler : handler.use(logMetrics(telemetry.flushed));
}

/**
 * Lambda's entry point over a factory: built once, on the first invocation, from the config parsed
 * out of the function's environment by `schema` (a bad variable fails that invocation with a
 * `ConfigError` naming it), then reused for the life of the instance, as module-scope state is.
 */
export function handlerFromEnvironment<S extends z.ZodTypeAny, E, R>(
  schema: S,
  build: (config: z.infer<S>) => (event: E, context: Context) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  let built: ((event: E, context: Context) => Promise<R>) | undefined;
  return async (event, context) => {
    built ??= build(parseConfig(schema));
    return built(event, context);
  };
}
