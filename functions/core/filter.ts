import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeFilter, FilterValue, ItemFilter } from '../contract/projection.ts';

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

/** Whether `item` matches `filter`. */
export function matchesFilter(filter: ItemFilter, item: Record<string, AttributeValue>): boolean {
  if ('attribute' in filter) return compareAttribute(filter, item);
  if ('and' in filter) return filter.and.every((member) => matchesFilter(member, item));
  if ('or' in filter) return filter.or.some((member) => matchesFilter(member, item));
  return !matchesFilter(filter.not, item);
}
