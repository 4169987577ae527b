import { z } from 'zod';
import { aggregateSchema } from './aggregate.ts';
import { DEFAULTS, LIMITS } from './limits.ts';
import { projectionSchema } from './projection.ts';

/** The CloudFormation output holding a deployed stack's target (see `TypesenseSync.operatorTarget`). */
export const TARGET_OUTPUT = 'OperatorTarget';

/**
 * Everything the operator commands need to reach one deployment: AWS resources, the Typesense
 * connection and the pipeline settings that shape messages (buckets, size, key attributes). The same
 * schema reads a deployed stack's `OperatorTarget` output and the embedded stack's target file.
 * It never holds a production secret: only the secret's ARN, or a local emulator's key.
 */
export const targetSchema = z
  .object({
    region: z.string().min(1).optional(),
    /** Local emulators only: one endpoint per service. */
    endpoints: z
      .object({ dynamodb: z.string().url(), sqs: z.string().url(), s3: z.string().url() })
      .partial()
      .strict()
      .optional(),
    /** Local emulators only: their dummy credentials. */
    credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }).strict().optional(),
    tableName: z.string().min(1),
    keyAttributes: z.array(z.string().min(1)).min(1).max(2),
    queueUrl: z.string().url(),
    dlqUrl: z.string().url(),
    failureBucket: z.string().min(1).optional(),
    messageGroupBuckets: z.number().int().positive().default(DEFAULTS.messageGroupBuckets),
    maxMessageBytes: z
      .number()
      .int()
      .min(LIMITS.maxMessageBytes.min)
      .max(LIMITS.maxMessageBytes.max)
      .default(DEFAULTS.maxMessageBytes),
    sourceTimestampAttribute: z.string().min(1).optional(),
    projection: projectionSchema.default({}),
    /** An aggregated index (docs/configuration.md "Aggregation"): `verify` builds aggregates as the writer does. */
    aggregate: aggregateSchema.optional(),
    /**
     * The app's transform module (docs/configuration.md "Transform"), which `verify` and `preview` import
     * to build documents as the functions do: a path (relative: to the working directory) and its export.
     */
    transform: z
      .object({ module: z.string().min(1), exportName: z.string().min(1).optional() })
      .strict()
      .optional(),
    typesense: z
      .object({
        nodes: z.array(z.string().url()).min(1),
        /** The alias (or collection) the writer writes to. */
        collection: z.string().min(1),
        apiKeySecretArn: z.string().min(1).optional(),
        /** Local emulators only. */
        apiKey: z.string().min(1).optional(),
        /**
         * The deployed collection schema (without its name), for `schema diff` and `init`: what the
         * index custom resource converges the alias to (issue 19).
         */
        schema: z
          .object({ fields: z.array(z.record(z.unknown())) })
          .passthrough()
          .optional(),
      })
      .strict()
      .refine((typesense) => typesense.apiKeySecretArn !== undefined || typesense.apiKey !== undefined, {
        message: 'needs apiKeySecretArn (or, for a local stack, apiKey)',
      }),
    /** The full re-sync: its state table and its work queue (start, segment and finish tasks). */
    resync: z
      .object({ stateTable: z.string().min(1), queueUrl: z.string().url() })
      .strict()
      .optional(),
    /** Where the current ingestion delay is served (`GET …/v1/ingestion-delay`). */
    ingestionDelayUrl: z.string().url().optional(),
  })
  .strict();
export type Target = z.infer<typeof targetSchema>;
export type TargetInput = z.input<typeof targetSchema>;
