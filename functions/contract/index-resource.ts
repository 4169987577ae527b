import { z } from 'zod';

/**
 * The index custom resource's contract: the properties the construct (lib/) gives the CloudFormation
 * custom resource, and what its handler (functions/index-resource/) answers. CloudFormation hands every
 * property to the handler as a string, so flags travel as 'true' / 'false' and the schema as JSON.
 * The handler runs with the re-sync function's environment (`resyncEnvironment`): it starts re-syncs.
 */

/** What the handler does on stack deletion: leave the collections and alias (default), or drop them. */
export const INDEX_ON_DELETE = ['retain', 'drop'] as const;
export type IndexOnDelete = (typeof INDEX_ON_DELETE)[number];

const flag = z.enum(['true', 'false']).transform((value) => value === 'true');

export const indexResourcePropertiesSchema = z
  .object({
    /** The alias the sync serves: the index's stable name, and the resource's physical id. */
    Alias: z.string().min(1),
    /**
     * The collection schema without its name, as JSON. Absent: adopt the existing alias as it is
     * (the handler then only checks the nodes and the alias).
     */
    Schema: z.string().min(1).optional(),
    /** Check every node's reachability and the key's rights before anything is created. */
    CheckNodes: flag.default('true'),
    OnDelete: z.enum(INDEX_ON_DELETE).default('retain'),
  })
  // CloudFormation adds ServiceToken to the properties it passes on.
  .passthrough();
export type IndexResourceProperties = z.infer<typeof indexResourcePropertiesSchema>;

/** The properties as the construct writes them (every value a string, as CloudFormation passes them). */
export interface IndexResourcePropertiesInput {
  readonly alias: string;
  /** The collection schema without `name` (fields, default_sorting_field, …). */
  readonly schema?: object;
  readonly checkNodes?: boolean;
  readonly onDelete?: IndexOnDelete;
}

export function indexResourceProperties(input: IndexResourcePropertiesInput): Record<string, string> {
  return {
    Alias: input.alias,
    ...(input.schema === undefined ? {} : { Schema: JSON.stringify(input.schema) }),
    CheckNodes: String(input.checkNodes ?? true),
    OnDelete: input.onDelete ?? 'retain',
  };
}

/**
 * What the handler answers in the response's `Data` (readable with `getAtt`): what it did and the
 * collection the alias serves or will serve once the started load swaps.
 */
export const INDEX_ACTIONS = ['created', 'migrating', 'unchanged', 'adopted', 'retained', 'dropped'] as const;
export type IndexAction = (typeof INDEX_ACTIONS)[number];

export interface IndexResourceData {
  readonly Action: IndexAction;
  readonly Collection: string;
  /** The re-sync started by this deploy (first load or migration), if any. */
  readonly JobId?: string;
}
