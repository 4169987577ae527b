/**
 * A simple /documents/search: src/collection_manager.cpp CollectionManager::do_search (parameters and
 * errors) with a token-match stand-in for ranking.
 */
import { compileFilter } from './filter.ts';
import type { JsonValue } from './json.ts';
import { type Collection, type Doc, RequestError } from './schema.ts';

export function search(collection: Collection, query: URLSearchParams): unknown {
  const started = Date.now();
  const q = query.get('q');
  if (q === null) throw new RequestError(400, 'Parameter `q` is required.');
  const queryBy = (query.get('query_by') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const wildcard = q.trim() === '*' || q.trim() === '';
  if (!wildcard && queryBy.length === 0)
    throw new RequestError(400, 'No search fields specified for the query.');
  for (const name of queryBy) {
    if (!collection.fields.some((field) => field.name === name)) {
      throw new RequestError(404, `Could not find a field named \`${name}\` in the schema.`);
    }
  }

  const facetBy = facetFields(collection, query.get('facet_by'));
  const perPage = parseIntParam(query, 'per_page', 10);
  if (perPage > 250) throw new RequestError(422, 'Only upto 250 hits can be fetched per page.');
  const page = Math.max(1, parseIntParam(query, 'page', 1));
  const filterBy = query.get('filter_by');
  const filter =
    filterBy === null || filterBy.trim() === '' ? () => true : compileFilter(collection, filterBy);
  const tokens = wildcard
    ? []
    : q
        .toLowerCase()
        .split(/\s+/)
        .filter((token) => token !== '');

  const matches: { doc: Doc; order: number }[] = [];
  let order = 0;
  for (const doc of collection.docs.values()) {
    order += 1;
    if (!filter(doc)) continue;
    if (!wildcard) {
      const text = queryBy
        .map((name) => doc[name])
        .flatMap((value) => (Array.isArray(value) ? value : [value]))
        .filter((value) => value !== undefined && value !== null)
        .map((value) => String(value as JsonValue).toLowerCase())
        .join(' ');
      if (!tokens.every((token) => text.includes(token))) continue;
    }
    matches.push({ doc, order });
  }

  const dsf = collection.defaultSortingField;
  matches.sort((a, b) => {
    if (dsf !== '') {
      const difference = Number(b.doc[dsf] ?? 0n) - Number(a.doc[dsf] ?? 0n);
      if (difference !== 0) return difference;
    }
    // Typesense breaks ties by sequence id, newest first.
    return b.order - a.order;
  });

  const start = (page - 1) * perPage;
  const hits = matches.slice(start, start + perPage).map(({ doc }) => ({
    document: doc,
    highlight: {},
    highlights: [],
    text_match: 100,
  }));
  const requestParams: Record<string, unknown> = { collection_name: collection.name, per_page: perPage, q };
  if (!wildcard) requestParams.first_q = q;

  return {
    facet_counts: facetBy.map((name) => facetCounts(name, matches)),
    found: matches.length,
    hits,
    out_of: collection.docs.size,
    page,
    request_params: requestParams,
    search_cutoff: false,
    search_time_ms: Date.now() - started,
  };
}

/** The facet_by fields, each a facet of the schema (src/collection.cpp Collection::search). */
function facetFields(collection: Collection, facetBy: string | null): string[] {
  const names = (facetBy ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names)
    if (!collection.fields.some((field) => field.name === name && field.facet))
      throw new RequestError(404, `Could not find a facet field named \`${name}\` in the schema.`);
  return names;
}

/** The values of a facet over the matches, most frequent first, at most 10 (max_facet_values). */
function facetCounts(name: string, matches: readonly { doc: Doc }[]) {
  const counts = new Map<string, number>();
  for (const { doc } of matches) {
    const value = doc[name];
    for (const item of Array.isArray(value) ? value : [value])
      if (item !== undefined && item !== null) counts.set(String(item), (counts.get(String(item)) ?? 0) + 1);
  }
  const top = [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).slice(0, 10);
  return {
    counts: top.map(([value, count]) => ({ count, highlighted: value, value })),
    field_name: name,
    sampled: false,
    stats: { total_values: counts.size },
  };
}

function parseIntParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new RequestError(400, `Parameter \`${name}\` must be an unsigned integer.`);
  return Number(raw);
}
