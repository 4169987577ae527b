import { z } from 'zod';
import { isRecord } from './records.ts';

/**
 * The projection: which items are indexed (`filter`), which of their attributes become document fields
 * (`include`/`exclude`) and how (`rename`, `nested`, `convert`). One schema for the `PROJECTION` variable, the operator target and the
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

/** How nested maps become fields: kept as objects (the collection needs `enable_nested_fields`) or flattened to dotted names. */
export const NESTED_MODES = ['object', 'flatten'] as const;
export type NestedMode = (typeof NESTED_MODES)[number];

/**
 * Typed conversions of a document field (functions/core/conversions.ts, docs/configuration.md "Mapping"):
 * an ISO-8601 date/time to epoch seconds or milliseconds, a number or numeric string to an exact int64 or
 * to a float, a set or list to a sorted string array, a scalar to its text.
 */
export const CONVERSIONS = [
  'epochSeconds',
  'epochMillis',
  'int64',
  'float',
  'string',
  'stringArray',
] as const;
export type Conversion = (typeof CONVERSIONS)[number];

/**
 * How a key becomes its document's id in this index (docs/configuration.md "Document ids"). Key-derived
 * only: a delete reaches the writer as a key without an item, so the id must follow from the key alone.
 * Without it the id is the key's encoding (`functions/core/keys.ts` documentId).
 */
export interface DocumentIdConfig {
  /**
   * The key attributes whose values make the id, in this order (default: every key attribute of the
   * index's documents; an aggregated index's: the partition key). A key attribute left out must be
   * pinned by the filter (`{ attribute, equals }` at its top level or in a top-level `and`), so that
   * keys of other values are never in the index and their changes never touch its documents.
   */
  attributes?: string[] | undefined;
  /** Key attribute → a prefix taken off the start of its value; a value without it (or only it) is kept whole. */
  stripPrefix?: Record<string, string> | undefined;
}

export interface ProjectionConfig {
  /** Top-level attributes to keep (all when absent). */
  include?: string[] | undefined;
  /** Top-level attributes to drop. */
  exclude?: string[] | undefined;
  /** Only the items it matches are indexed; all when absent. */
  filter?: ItemFilter | undefined;
  /** Top-level attribute → the name of its document field. */
  rename?: Record<string, string> | undefined;
  /** Nested maps as objects (default) or as dotted field names. */
  nested?: NestedMode | undefined;
  /** Document field (its name after rename and flatten) → its conversion. */
  convert?: Record<string, Conversion> | undefined;
  /** The document id rule; the key's encoding when absent. */
  id?: DocumentIdConfig | undefined;
}

const PROJECTION_KEYS = ['include', 'exclude', 'filter', 'rename', 'nested', 'convert', 'id'];
const ID_KEYS = ['attributes', 'stripPrefix'];

/**
 * The `{ attribute, equals }` node of `filter` that every item it matches satisfies: the filter itself, or
 * a member of its (nested) top-level `and`. Undefined when the filter does not pin `attribute` that way.
 */
export function pinnedEquality(
  filter: ItemFilter | undefined,
  attribute: string,
): (AttributeFilter & { equals: FilterValue }) | undefined {
  if (filter === undefined || !isRecord(filter)) return undefined;
  if ('and' in filter && Array.isArray(filter.and)) {
    for (const member of filter.and) {
      const pinned = pinnedEquality(member, attribute);
      if (pinned !== undefined) return pinned;
    }
    return undefined;
  }
  return 'attribute' in filter && filter.attribute === attribute && 'equals' in filter ? filter : undefined;
}

/** The problems of `attributes`: a non-empty list of distinct attributes among `idKeys` (when known). */
function idAttributeProblems(
  attributes: unknown,
  at: string,
  idKeys: readonly string[],
  keys: readonly string[],
) {
  if (attributes === undefined) return [];
  if (!Array.isArray(attributes) || attributes.length === 0)
    return [`${at} must be a non-empty list of key attributes`];
  const problems: string[] = [];
  attributes.forEach((name, position) => {
    const here = `${at}[${position}]`;
    if (typeof name !== 'string' || name.length === 0)
      problems.push(`${here} must be a non-empty attribute name`);
    else if (attributes.indexOf(name) !== position) problems.push(`${here} names ${name} twice`);
    else if (idKeys.length > 0 && keys.includes(name) && !idKeys.includes(name))
      problems.push(
        `${here} names the sort key ${name}: an aggregated index holds one document per partition, its id may use the partition key ${idKeys.join(', ')} only`,
      );
    else if (idKeys.length > 0 && !idKeys.includes(name))
      problems.push(`${here} names ${name}, which is not a key attribute (${idKeys.join(', ')})`);
  });
  return problems;
}

/**
 * The problems of `projection.id`. `keyAttributes` are the table's; `idKeys` those of the index's documents
 * (the partition key alone for an aggregated index). Each key attribute the rule leaves out must be pinned
 * by the filter: else keys that differ only there would share an id, and a delete of one remove another's
 * document.
 */
function idRuleProblems(
  projection: Record<string, unknown>,
  at: string,
  keyAttributes: readonly string[],
  idKeys: readonly string[],
): string[] {
  const rule = projection.id;
  if (rule === undefined) return [];
  if (!isRecord(rule)) return [`${at}.id must be an object: { attributes?, stripPrefix? }`];
  const problems = Object.keys(rule)
    .filter((key) => !ID_KEYS.includes(key))
    .map((key) => `${at}.id has unknown key ${key}: use ${ID_KEYS.join(', ')}`);
  problems.push(...idAttributeProblems(rule.attributes, `${at}.id.attributes`, idKeys, keyAttributes));
  const used = Array.isArray(rule.attributes) ? (rule.attributes as unknown[]) : idKeys;
  const { stripPrefix } = rule;
  if (stripPrefix !== undefined && !isRecord(stripPrefix))
    problems.push(`${at}.id.stripPrefix must be an object: key attribute → prefix`);
  else if (stripPrefix !== undefined)
    for (const [name, prefix] of Object.entries(stripPrefix)) {
      const here = `${at}.id.stripPrefix.${name}`;
      if (typeof prefix !== 'string' || prefix.length === 0)
        problems.push(`${here} must be a non-empty prefix`);
      if (used.length > 0 && !used.includes(name))
        problems.push(`${here} strips a prefix of ${name}, which the id does not use (${used.join(', ')})`);
    }
  const filter = projection.filter as ItemFilter | undefined;
  if (Array.isArray(rule.attributes))
    for (const name of idKeys.filter((key) => !used.includes(key)))
      if (pinnedEquality(filter, name) === undefined)
        problems.push(
          `${at}.id.attributes leaves out the key attribute ${name}: ${at}.filter must pin it ({ attribute: '${name}', equals: … } at its top level or in a top-level and), or items differing only in ${name} would share one id`,
        );
  return problems;
}

/** The problems of `include` or `exclude`: a list of non-empty attribute names. */
function attributeListProblems(list: unknown, at: string): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return [`${at} must be a list of attribute names`];
  return list.flatMap((name, position) =>
    typeof name === 'string' && name.length > 0
      ? []
      : [`${at}[${position}] must be a non-empty attribute name`],
  );
}

/** A record of non-empty names to values, as `rename` and `convert` hold; the problem when it is not one. */
function nameRecordProblem(record: unknown, at: string): string | undefined {
  if (record === undefined) return undefined;
  if (!isRecord(record)) return `${at} must be an object of field names`;
  return Object.hasOwn(record, '') ? `${at} has an empty name` : undefined;
}

/** Which top-level attributes become fields, as include and exclude say, for the checks of rename and convert. */
function keptBy(projection: Record<string, unknown>) {
  const include = Array.isArray(projection.include) ? new Set(projection.include as unknown[]) : undefined;
  const exclude = new Set(Array.isArray(projection.exclude) ? (projection.exclude as unknown[]) : []);
  return (name: string) =>
    exclude.has(name)
      ? 'projection.exclude drops it'
      : include !== undefined && !include.has(name)
        ? 'it is not in projection.include'
        : undefined;
}

function renameProblems(
  projection: Record<string, unknown>,
  at: string,
  keyAttributes: readonly string[],
): string[] {
  const rename = projection.rename;
  const problem = nameRecordProblem(rename, `${at}.rename`);
  if (problem !== undefined || !isRecord(rename)) return problem === undefined ? [] : [problem];
  const problems: string[] = [];
  const dropped = keptBy(projection);
  const include = Array.isArray(projection.include) ? (projection.include as unknown[]) : [];
  const byTarget = new Map<string, string>();
  for (const [source, target] of Object.entries(rename)) {
    const here = `${at}.rename.${source}`;
    if (typeof target !== 'string' || target.length === 0) {
      problems.push(`${here} must be a non-empty field name`);
      continue;
    }
    if (source === 'id')
      problems.push(`${here}: the attribute id is replaced by the key-derived id, it cannot be renamed`);
    if (target === 'id') problems.push(`${here} must not be id: that field is the key-derived document id`);
    const why = dropped(source);
    if (why !== undefined) problems.push(`${here} renames an attribute no document has: ${why}`);
    const earlier = byTarget.get(target);
    if (earlier !== undefined) problems.push(`${here} renames to ${target}, as ${at}.rename.${earlier} does`);
    byTarget.set(target, source);
    // A target another attribute keeps under its own name collides with it; known here for the attributes
    // include lists and the key attributes (every item has them); for any other, per item.
    if (Object.hasOwn(rename, target) || dropped(target) !== undefined) continue;
    if (include.includes(target))
      problems.push(`${here} renames to ${target}, an attribute projection.include keeps under that name`);
    else if (keyAttributes.includes(target))
      problems.push(`${here} renames to ${target}, a key attribute every item keeps under that name`);
  }
  return problems;
}

function convertProblems(projection: Record<string, unknown>, at: string): string[] {
  const convert = projection.convert;
  const problem = nameRecordProblem(convert, `${at}.convert`);
  if (problem !== undefined || !isRecord(convert)) return problem === undefined ? [] : [problem];
  const rename = isRecord(projection.rename) ? projection.rename : {};
  const targets = new Set(Object.values(rename));
  const dropped = keptBy(projection);
  const problems: string[] = [];
  const renamedAway = (name: string) => Object.hasOwn(rename, name) && !targets.has(name);
  for (const [field, conversion] of Object.entries(convert)) {
    const here = `${at}.convert.${field}`;
    // Under `nested: 'flatten'` a dotted name reaches into a map: its first part is the top-level field.
    const root = field.split('.')[0] ?? field;
    if (!(CONVERSIONS as readonly unknown[]).includes(conversion))
      problems.push(`${here} must be one of ${CONVERSIONS.join(', ')}, got ${JSON.stringify(conversion)}`);
    if (field === 'id')
      problems.push(`${here}: the document id is the key-derived text, it cannot be converted`);
    else if (renamedAway(field) || renamedAway(root)) {
      const source = renamedAway(field) ? field : root;
      problems.push(
        `${here} names an attribute renamed to ${String(rename[source])}: convert applies after rename`,
      );
    } else if (!targets.has(field) && !targets.has(root)) {
      const why = dropped(root);
      if (why !== undefined && dropped(field) !== undefined)
        problems.push(`${here} converts a field no document has: ${why}`);
    }
  }
  return problems;
}

/**
 * Every reason `projection` is not a `ProjectionConfig`, each naming its path (`projection.convert.createdAt
 * must be one of …`); empty when it is one. What can be told before any item is seen is told here: a rename
 * to `id`, two attributes renamed to one field, a rename to a name include or the key (`keyAttributes`, when
 * known) keeps, a rename or conversion of an attribute include/exclude drop, an id rule naming an attribute
 * that is not a key attribute of the index's documents (`idKeyAttributes`: the partition key alone for an
 * aggregated index) or leaving out one its filter does not pin.
 */
export function projectionProblems(
  projection: unknown,
  at = 'projection',
  keyAttributes: readonly string[] = [],
  idKeyAttributes: readonly string[] = keyAttributes,
): string[] {
  if (!isRecord(projection)) return [`${at} must be an object`];
  const unknown = Object.keys(projection).filter((key) => !PROJECTION_KEYS.includes(key));
  const problems = unknown.map((key) => `${at} has unknown key ${key}: use ${PROJECTION_KEYS.join(', ')}`);
  problems.push(...attributeListProblems(projection.include, `${at}.include`));
  problems.push(...attributeListProblems(projection.exclude, `${at}.exclude`));
  if (projection.filter !== undefined)
    problems.push(...itemFilterProblems(projection.filter, `${at}.filter`));
  if (projection.nested !== undefined && !(NESTED_MODES as readonly unknown[]).includes(projection.nested))
    problems.push(
      `${at}.nested must be one of ${NESTED_MODES.join(', ')}, got ${JSON.stringify(projection.nested)}`,
    );
  problems.push(...renameProblems(projection, at, keyAttributes), ...convertProblems(projection, at));
  problems.push(...idRuleProblems(projection, at, keyAttributes, idKeyAttributes));
  return problems;
}

/**
 * Parses a projection, reporting every problem at once (see `projectionProblems`), each at the key it is
 * about: `PROJECTION.filter: filter.or[0].gt must be a finite number`.
 */
export const projectionSchema = z.unknown().transform((value, context): ProjectionConfig => {
  for (const problem of projectionProblems(value)) {
    const key = /^projection\.(\w+)/.exec(problem)?.[1];
    const message = key === undefined ? problem : problem.slice('projection.'.length);
    context.addIssue({ code: z.ZodIssueCode.custom, message, path: key === undefined ? [] : [key] });
  }
  return value as ProjectionConfig;
});
