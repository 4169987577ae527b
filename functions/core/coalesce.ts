import type { Change } from './change.ts';

/** Compares stream sequence numbers (decimal strings of any length, maybe zero-padded) numerically. */
export function compareVersions(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The last change per document id, in order of first appearance. "Last" is by version, so the
 * result does not depend on the order the changes arrive in (duplicates and retries included).
 */
export function coalesce(changes: Iterable<Change>): Change[] {
  const latest = new Map<string, Change>();
  for (const change of changes) {
    const seen = latest.get(change.id);
    if (seen === undefined || compareVersions(change.version, seen.version) >= 0)
      latest.set(change.id, change);
  }
  return [...latest.values()];
}
