import { z } from 'zod';
import { DEFAULTS, LIMITS } from './limits.ts';
import { isRecord } from './records.ts';

/**
 * Item-collection aggregation (docs/configuration.md "Aggregation"): the index holds one document per
 * partition key, built from the partition's items (an order and its lines). One contract for the
 * construct's prop, the `AGGREGATE` variable of the writer and the re-sync, and the operator target.
 * The sort key is the table's; it must be a string, whose prefixes tell the parent from the children.
 */
export interface AggregateConfig {
  /** The item whose sort key begins with this prefix is the base of the document; without it, no document. */
  readonly parent: { readonly prefix: string };
  /** Document field → the items whose sort key begins with `prefix`: their documents, by sort key. */
  readonly children: Readonly<Record<string, { readonly prefix: string }>>;
  /** A partition with more items is dead-lettered (`aggregate-too-large`). Default 1,000. */
  readonly maxItems?: number;
  /** A document whose JSON is longer is dead-lettered (`aggregate-too-large`). Default 1 MiB. */
  readonly maxDocumentBytes?: number;
}

const AGGREGATE_KEYS = ['parent', 'children', 'maxItems', 'maxDocumentBytes'];

/** The problem of a `{ prefix }` member; undefined when it is one. */
function prefixProblem(value: unknown, at: string): string | undefined {
  if (!isRecord(value) || Object.keys(value).join() !== 'prefix')
    return `${at} must be { prefix: '…' } and nothing else`;
  return typeof value.prefix === 'string' && value.prefix.length > 0
    ? undefined
    : `${at}.prefix must be a non-empty string`;
}

function countProblem(value: unknown, at: string, { min, max }: { min: number; max: number }) {
  if (
    value === undefined ||
    (Number.isInteger(value) && (value as number) >= min && (value as number) <= max)
  )
    return [];
  return [`${at} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`];
}

/** Every prefix named, by where it is named; two of which one begins the other would claim an item twice. */
function overlapProblems(prefixes: readonly [string, string][], at: string): string[] {
  const problems: string[] = [];
  prefixes.forEach(([where, prefix], index) => {
    for (const [other, otherPrefix] of prefixes.slice(index + 1))
      if (prefix.startsWith(otherPrefix) || otherPrefix.startsWith(prefix))
        problems.push(`${at}.${where} and ${at}.${other} overlap: an item could belong to both`);
  });
  return problems;
}

/**
 * Every reason `aggregate` is not an `AggregateConfig`, each naming its path; empty when it is one. With
 * `keyAttributes` (when known) it also checks that the table has a sort key to aggregate by.
 */
export function aggregateProblems(aggregate: unknown, at = 'aggregate', keyAttributes?: readonly string[]) {
  if (!isRecord(aggregate)) return [`${at} must be an object`];
  const problems = Object.keys(aggregate)
    .filter((key) => !AGGREGATE_KEYS.includes(key))
    .map((key) => `${at} has unknown key ${key}: use ${AGGREGATE_KEYS.join(', ')}`);
  if (keyAttributes !== undefined && keyAttributes.length !== 2)
    problems.push(`${at} needs a table with a sort key: items are told apart by its prefixes`);
  const prefixes: [string, string][] = [];
  const parent = prefixProblem(aggregate.parent, `${at}.parent`);
  if (parent === undefined) prefixes.push(['parent', (aggregate.parent as { prefix: string }).prefix]);
  else problems.push(parent);
  const { children } = aggregate;
  if (!isRecord(children)) problems.push(`${at}.children must be an object: field name → { prefix }`);
  else
    for (const [field, child] of Object.entries(children)) {
      if (field === '' || field === 'id') problems.push(`${at}.children may not name the field '${field}'`);
      const problem = prefixProblem(child, `${at}.children.${field}`);
      if (problem === undefined) prefixes.push([`children.${field}`, (child as { prefix: string }).prefix]);
      else problems.push(problem);
    }
  problems.push(...overlapProblems(prefixes, at));
  problems.push(...countProblem(aggregate.maxItems, `${at}.maxItems`, LIMITS.aggregateMaxItems));
  problems.push(
    ...countProblem(aggregate.maxDocumentBytes, `${at}.maxDocumentBytes`, LIMITS.aggregateMaxDocumentBytes),
  );
  return problems;
}

/** Parses an aggregation (or its absence), reporting every problem at once (see `aggregateProblems`). */
export const aggregateSchema = z.unknown().transform((value, context): AggregateConfig | undefined => {
  if (value === undefined) return undefined;
  for (const message of aggregateProblems(value)) context.addIssue({ code: z.ZodIssueCode.custom, message });
  return value as AggregateConfig;
});

/**
 * The key attributes of the pipeline's changes: the partition key alone for an aggregated index, so that
 * every change of a partition has the partition's id. Coalescing, the FIFO message group (a hash of the
 * id) and the writer's unit of work are then per partition: two writers never build one aggregate at once.
 */
export const changeKeyAttributes = (
  keyAttributes: readonly string[],
  aggregate: AggregateConfig | undefined,
): string[] => (aggregate === undefined ? [...keyAttributes] : keyAttributes.slice(0, 1));

/** The limits of an aggregation with their defaults applied. */
export const aggregateLimits = (aggregate: AggregateConfig) => ({
  maxItems: aggregate.maxItems ?? DEFAULTS.aggregateMaxItems,
  maxDocumentBytes: aggregate.maxDocumentBytes ?? DEFAULTS.aggregateMaxDocumentBytes,
});
