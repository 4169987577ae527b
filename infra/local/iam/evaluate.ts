import { SyncError } from '../../../functions/core/errors.ts';
/**
 * A small IAM evaluator for the embedded stack: identity policies only (the statements of one
 * function's role), Allow and Deny with `Action` and `Resource` wildcards, and the condition
 * operators the construct's templates use. Anything else it meets is an error, never an allow, so
 * a policy it cannot read fails the test instead of passing it.
 */

/** A statement whose intrinsics are resolved to plain strings. */
export interface PolicyStatement {
  effect: 'Allow' | 'Deny';
  actions: readonly string[];
  resources: readonly string[];
  /** Operator → condition key → values, as in the policy document. */
  conditions: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

/** One authorisation a call needs: an action on one resource, with the request's condition keys. */
export interface IamRequest {
  action: string;
  resource: string;
  /** Multivalued condition keys of the request (e.g. `dynamodb:LeadingKeys`); absent when unknown. */
  context?: Readonly<Record<string, readonly string[]>>;
}

export type IamDecision = 'allow' | 'implicit-deny' | 'explicit-deny';

/** A policy uses something this evaluator does not implement: evaluating it would be a guess. */
export class UnsupportedPolicyError extends SyncError {
  override name = 'UnsupportedPolicyError';
}

/** The condition keys the evaluator can supply from a request's input. */
const SUPPORTED_KEYS = new Set(['dynamodb:leadingkeys']);

const compiled = new Map<string, RegExp>();

/** IAM wildcards: `*` any run of characters, `?` exactly one. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const cacheKey = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let expression = compiled.get(cacheKey);
  if (expression === undefined) {
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    // Compiled once: every call of every function is checked against the same few patterns.
    expression = new RegExp(`^${source}$`, ignoreCase ? 'si' : 's');
    compiled.set(cacheKey, expression);
  }
  return expression.test(value);
}

function conditionHolds(operator: string, key: string, expected: readonly string[], request: IamRequest) {
  if (!SUPPORTED_KEYS.has(key.toLowerCase()))
    throw new UnsupportedPolicyError(`unsupported condition key ${key} (operator ${operator})`);
  const entry = Object.entries(request.context ?? {}).find(
    ([name]) => name.toLowerCase() === key.toLowerCase(),
  );
  if (entry === undefined)
    throw new UnsupportedPolicyError(
      `condition key ${key} is not known for ${request.action} on ${request.resource}: cannot evaluate ${operator}`,
    );
  const values = entry[1];
  switch (operator) {
    // Every request value must equal one of the policy's (true for an empty set, as in IAM).
    case 'ForAllValues:StringEquals':
      return values.every((value) => expected.includes(value));
    case 'ForAnyValue:StringEquals':
      return values.some((value) => expected.includes(value));
    case 'StringEquals':
      return values.length === 1 && expected.includes(values[0] as string);
    default:
      throw new UnsupportedPolicyError(`unsupported condition operator ${operator} (key ${key})`);
  }
}

function applies(statement: PolicyStatement, request: IamRequest): boolean {
  if (!statement.actions.some((action) => wildcardMatch(action, request.action, true))) return false;
  if (!statement.resources.some((resource) => wildcardMatch(resource, request.resource))) return false;
  return Object.entries(statement.conditions).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => conditionHolds(operator, key, expected, request)),
  );
}

/** Explicit Deny wins; otherwise an Allow is needed; otherwise the request is implicitly denied. */
export function evaluate(statements: readonly PolicyStatement[], request: IamRequest): IamDecision {
  const matching = statements.filter((statement) => applies(statement, request));
  if (matching.some((statement) => statement.effect === 'Deny')) return 'explicit-deny';
  return matching.some((statement) => statement.effect === 'Allow') ? 'allow' : 'implicit-deny';
}
