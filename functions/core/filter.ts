import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeFilter, FilterComparison, FilterValue, ItemFilter } from '../contract/projection.ts';

export type { ItemFilter } from '../contract/projection.ts';

/*
 * Whether an item is indexed: the projection's filter evaluated on the item as DynamoDB holds it
 * (marshalled), the same way by the writer, the re-sync and `verify`, so each of them agrees on which
 * items the index holds. A pure function of the item's current state: the writer re-reads that state
 * for every change, so an item that stops matching is deleted from the index and one that starts
 * matching is upserted, whatever order its changes arrived in.
 *
 * Semantics (docs/configuration.md "Filter"):
 * - an attribute holding NULL is absent, as the projection leaves it out of the document;
 * - `equals`/`in` compare a string with S, a number with N (by value) and a boolean with BOOL; any other
 *   type (sets, lists, maps, binary) never equals anything;
 * - `beginsWith` matches S only; `lt`/`lte`/`gt`/`gte` match N only, compared as doubles (a number
 *   beyond 15-17 significant digits is compared by its nearest double);
 * - `exists` matches any type that is present;
 * - an attribute no item has is no error: a comparison with it is simply false.
 */

/** The value of a present attribute as the comparisons see it; undefined for NULL or absent. */
function present(item: Record<string, AttributeValue>, attribute: string): AttributeValue | undefined {
  const value = Object.hasOwn(item, attribute) ? item[attribute] : undefined;
  return value === undefined || value.NULL !== undefined ? undefined : value;
}

function equalsValue(value: AttributeValue, operand: FilterValue): boolean {
  if (typeof operand === 'string') return value.S === operand;
  if (typeof operand === 'boolean') return value.BOOL === operand;
  return value.N !== undefined && Number(value.N) === operand;
}

/** The attribute's N as a number, for the ordered comparisons; undefined for any other type. */
const numberOf = (value: AttributeValue | undefined) =>
  value?.N === undefined ? undefined : Number(value.N);

/** The comparison of one attribute node (`filter` has `attribute` and exactly one comparison). */
function compareAttribute(filter: AttributeFilter, item: Record<string, AttributeValue>) {
  const value = present(item, filter.attribute);
  if ('exists' in filter) return filter.exists === (value !== undefined);
  if (value === undefined) return false;
  if ('equals' in filter) return equalsValue(value, filter.equals);
  if ('in' in filter) return filter.in.some((operand) => equalsValue(value, operand));
  if ('beginsWith' in filter) return value.S?.startsWith(filter.beginsWith) === true;
  const number = numberOf(value);
  if (number === undefined) return false;
  if ('lt' in filter) return number < filter.lt;
  if ('lte' in filter) return number <= filter.lte;
  if ('gt' in filter) return number > filter.gt;
  return number >= filter.gte;
}

/** One node of a filter as `explainFilter` saw it, in evaluation order (a combinator before its members). */
export interface FilterStep {
  /** Where the node sits in the filter, as `itemFilterProblems` names it: `filter.and[1].not`. */
  path: string;
  /** How deep the node is (0 for the root), for indenting. */
  depth: number;
  /** `and`, `or`, `not`, or the comparison of an attribute node (`equals`, `in`, …). */
  node: 'and' | 'or' | 'not' | FilterComparison;
  /** Attribute nodes only: the attribute, the operand compared with, and the item's value, described. */
  attribute?: string;
  operand?: FilterValue | FilterValue[];
  value?: string;
  matched: boolean;
}

export interface FilterExplanation {
  matches: boolean;
  steps: FilterStep[];
}

/** Where the evaluation collects its steps: absent on the hot path (`matchesFilter`). */
interface Trace {
  steps: FilterStep[];
  path: string;
  depth: number;
}

/** The trace of a member: `.not`, or `.and[position]` / `.or[position]`; no path is built without a trace. */
const child = (trace: Trace | undefined, member: string, position?: number): Trace | undefined =>
  trace === undefined
    ? undefined
    : {
        steps: trace.steps,
        path: `${trace.path}.${member}${position === undefined ? '' : `[${position}]`}`,
        depth: trace.depth + 1,
      };

const VALUE_CHARACTERS = 60;

/** An attribute value in a few words, never longer than VALUE_CHARACTERS: what a trace shows of the item. */
export function describeValue(value: AttributeValue | undefined): string {
  if (value === undefined) return 'absent';
  const [type, content] = Object.entries(value)[0] ?? ['?', undefined];
  let text: string;
  if (type === 'NULL') text = 'NULL (absent)';
  else if (type === 'S') text = JSON.stringify(content);
  else if (type === 'N' || type === 'BOOL') text = String(content);
  else if (type === 'M') text = `a map of ${Object.keys(content as object).length} attributes`;
  else if (Array.isArray(content)) text = `${type} of ${content.length}`;
  else text = type === 'B' ? 'binary' : type;
  return text.length <= VALUE_CHARACTERS ? text : `${text.slice(0, VALUE_CHARACTERS - 1)}…`;
}

function traceAttribute(filter: AttributeFilter, item: Record<string, AttributeValue>, trace: Trace) {
  const matched = compareAttribute(filter, item);
  // A valid attribute node holds `attribute` and exactly one comparison (itemFilterProblems).
  const node = Object.keys(filter).find((name) => name !== 'attribute') as FilterComparison;
  const { path, depth } = trace;
  const operand = (filter as unknown as Record<FilterComparison, FilterValue | FilterValue[]>)[node];
  const value = describeValue(Object.hasOwn(item, filter.attribute) ? item[filter.attribute] : undefined);
  trace.steps.push({ path, depth, node, attribute: filter.attribute, operand, value, matched });
  return matched;
}

/**
 * and/or: `and` is false once a member is false, `or` true once one is true. Without a trace it stops
 * there (the re-sync evaluates the filter per item); with one it evaluates every member, so the
 * explanation shows each, and the result is the same.
 */
function combine(
  kind: 'and' | 'or',
  members: readonly ItemFilter[],
  item: Record<string, AttributeValue>,
  trace: Trace | undefined,
): boolean {
  const decisive = kind === 'or';
  let result = !decisive;
  for (let position = 0; position < members.length; position++) {
    if (evaluate(members[position] as ItemFilter, item, child(trace, kind, position)) === decisive) {
      result = decisive;
      if (trace === undefined) break;
    }
  }
  return result;
}

/** The outcome of an and/or/not node. */
const combinatorMatches = (
  filter: Exclude<ItemFilter, AttributeFilter>,
  item: Record<string, AttributeValue>,
  trace: Trace | undefined,
): boolean =>
  'and' in filter
    ? combine('and', filter.and, item, trace)
    : 'or' in filter
      ? combine('or', filter.or, item, trace)
      : !evaluate(filter.not, item, child(trace, 'not'));

/** The one evaluator of a filter: `matchesFilter` without a trace, `explainFilter` with one. */
function evaluate(
  filter: ItemFilter,
  item: Record<string, AttributeValue>,
  trace: Trace | undefined,
): boolean {
  if ('attribute' in filter)
    return trace === undefined ? compareAttribute(filter, item) : traceAttribute(filter, item, trace);
  if (trace === undefined) return combinatorMatches(filter, item, undefined);
  const node = 'and' in filter ? 'and' : 'or' in filter ? 'or' : 'not';
  const step: FilterStep = { path: trace.path, depth: trace.depth, node, matched: false };
  trace.steps.push(step); // before its members: a combinator reads above what it combines
  step.matched = combinatorMatches(filter, item, trace);
  return step.matched;
}

/** Whether `item` matches `filter`. */
export function matchesFilter(filter: ItemFilter, item: Record<string, AttributeValue>): boolean {
  return evaluate(filter, item, undefined);
}

/**
 * Whether `item` matches `filter`, and why: every node with its outcome (and, for an attribute node, the
 * item's value), for `typesense-sync preview`. The same evaluation as `matchesFilter`.
 */
export function explainFilter(filter: ItemFilter, item: Record<string, AttributeValue>): FilterExplanation {
  const steps: FilterStep[] = [];
  const matches = evaluate(filter, item, { steps, path: 'filter', depth: 0 });
  return { matches, steps };
}
