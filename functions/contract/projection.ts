import { z } from 'zod';

/**
 * The projection: which items are indexed (`filter`) and which of their attributes become document
 * fields (`include`/`exclude`). One schema for the `PROJECTION` variable, the operator target and the
 * construct's synth-time check, so a projection the construct accepts is one every function reads alike.
 */

/** A value an item attribute is compared with: a string (S), a number (N, by value) or a boolean (BOOL). */
export type FilterValue = string | number | boolean;

/** The comparisons of one attribute; a node holds `attribute` and exactly one of them. */
export const FILTER_COMPARISONS = ['equals', 'in', 'beginsWith', 'exists', 'lt', 'lte', 'gt', 'gte'] as const;
export type FilterComparison = (typeof FILTER_COMPARISONS)[number];

export type AttributeFilter = { attribute: string } & (
  | { equals: FilterValue }
  | { in: FilterValue[] }
  | { beginsWith: string }
  | { exists: boolean }
  | { lt: number }
  | { lte: number }
  | { gt: number }
  | { gte: number }
);

/**
 * Which items are indexed: a predicate on an item's attributes (its key attributes included), as a
 * JSON tree, e.g. `{ and: [{ attribute: 'type', equals: 'order' }, { attribute: 'total', gte: 10 }] }`.
 * Its semantics are those of functions/core/filter.ts and docs/configuration.md.
 */
export type ItemFilter = AttributeFilter | { and: ItemFilter[] } | { or: ItemFilter[] } | { not: ItemFilter };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isFilterValue = (value: unknown) =>
  typeof value === 'string' ||
  typeof value === 'boolean' ||
  (typeof value === 'number' && Number.isFinite(value));

/** Why `operand` cannot be compared with `comparison`; undefined when it can. */
function operandProblem(comparison: FilterComparison, operand: unknown): string | undefined {
  switch (comparison) {
    case 'equals':
      return isFilterValue(operand) ? undefined : 'must be a string, a finite number or a boolean';
    case 'in':
      return Array.isArray(operand) && operand.length > 0 && operand.every(isFilterValue)
        ? undefined
        : 'must be a non-empty list of strings, finite numbers or booleans';
    case 'beginsWith':
      return typeof operand === 'string' && operand.length > 0 ? undefined : 'must be a non-empty string';
    case 'exists':
      return typeof operand === 'boolean' ? undefined : 'must be true or false';
    default:
      return typeof operand === 'number' && Number.isFinite(operand) ? undefined : 'must be a finite number';
  }
}

const COMBINATORS = ['and', 'or', 'not'] as const;
const NODE_KEYS = `attribute with one of ${FILTER_COMPARISONS.join(', ')}, or one of ${COMBINATORS.join(', ')}`;

/** The problems of one attribute node (`node.attribute` is set). */
function attributeNodeProblems(node: Record<string, unknown>, at: string): string[] {
  const problems: string[] = [];
  if (typeof node.attribute !== 'string' || node.attribute.length === 0)
    problems.push(`${at}.attribute must be a non-empty attribute name`);
  const others = Object.keys(node).filter((key) => key !== 'attribute');
  const comparisons = others.filter((key): key is FilterComparison =>
    (FILTER_COMPARISONS as readonly string[]).includes(key),
  );
  const unknown = others.filter((key) => !comparisons.includes(key as FilterComparison));
  if (unknown.length > 0) problems.push(`${at} has unknown operator ${unknown.join(', ')}: use ${NODE_KEYS}`);
  if (comparisons.length !== 1)
    problems.push(`${at} must have exactly one of ${FILTER_COMPARISONS.join(', ')} beside attribute`);
  for (const comparison of comparisons) {
    const problem = operandProblem(comparison, node[comparison]);
    if (problem !== undefined)
      problems.push(`${at}.${comparison} ${problem}, got ${JSON.stringify(node[comparison])}`);
  }
  return problems;
}

/**
 * Every reason `filter` is not an `ItemFilter`, each naming the path of the bad node (`filter.and[1].in`);
 * empty when it is one.
 */
export function itemFilterProblems(filter: unknown, at = 'filter'): string[] {
  if (!isRecord(filter)) return [`${at} must be an object: ${NODE_KEYS}`];
  if ('attribute' in filter) return attributeNodeProblems(filter, at);
  const keys = Object.keys(filter);
  const [combinator] = keys;
  if (keys.length !== 1 || !(COMBINATORS as readonly string[]).includes(combinator as string))
    return [`${at} must have ${NODE_KEYS}; got ${keys.length === 0 ? 'no key' : keys.join(', ')}`];
  const operand = filter[combinator as string];
  if (combinator === 'not') return itemFilterProblems(operand, `${at}.not`);
  if (!Array.isArray(operand) || operand.length === 0)
    return [`${at}.${combinator} must be a non-empty list of filters`];
  return operand.flatMap((member, position) =>
    itemFilterProblems(member, `${at}.${combinator}[${position}]`),
  );
}

/** Parses a filter, reporting every bad node at once (each with its path, see `itemFilterProblems`). */
export const itemFilterSchema = z.unknown().transform((value, context): ItemFilter => {
  for (const message of itemFilterProblems(value)) context.addIssue({ code: z.ZodIssueCode.custom, message });
  return value as ItemFilter;
});

export const projectionSchema = z
  .object({
    include: z.array(z.string().min(1)).optional(),
    exclude: z.array(z.string().min(1)).optional(),
    /** Only the items it matches are indexed; all when absent. */
    filter: itemFilterSchema.optional(),
  })
  .strict();
export type ProjectionConfig = z.infer<typeof projectionSchema>;
