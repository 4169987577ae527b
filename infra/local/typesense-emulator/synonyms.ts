/**
 * Synonyms and overrides (curations). Up to v29 they live in each collection
 * (`/collections/{c}/synonyms/{id}`, `/collections/{c}/overrides/{id}`: src/core_api.cpp put_synonym,
 * put_override, src/synonym_index.cpp synonym_t::parse); v30 has global `/synonym_sets/{name}` and
 * `/curation_sets/{name}` with `items` (src/core_api.cpp put_synonym_set, put_curation_set;
 * src/synonym_index_manager.cpp validate_synonym_index), referenced from a schema's `synonym_sets` and
 * `curation_sets`.
 */
import { isObject, type JsonObject, type JsonValue } from './json.ts';
import { RequestError } from './schema.ts';

export type ItemStore = Map<string, JsonObject>;

export function validateSynonym(id: string, body: JsonObject): JsonObject {
  if (id === '') throw new RequestError(400, 'Missing `id` field.');
  const synonyms = body.synonyms;
  if (!Array.isArray(synonyms) || synonyms.length === 0) {
    throw new RequestError(400, 'Could not find an array of `synonyms`');
  }
  if (!synonyms.every((item) => typeof item === 'string')) {
    throw new RequestError(400, 'Could not find a valid string array of `synonyms`');
  }
  if (body.root !== undefined && typeof body.root !== 'string') {
    throw new RequestError(400, 'Key `root` should be a string.');
  }
  const out: JsonObject = { id, synonyms };
  if (typeof body.root === 'string' && body.root !== '') out.root = body.root;
  return out;
}

export function validateCuration(id: string, body: JsonObject): JsonObject {
  const rule = body.rule;
  if (!isObject(rule)) throw new RequestError(400, 'Bad JSON.');
  if (rule.query === undefined && rule.filter_by === undefined && rule.tags === undefined) {
    throw new RequestError(
      400,
      'The `rule` definition must contain either a `tags` or a `query` and `match`.',
    );
  }
  if (rule.query !== undefined && rule.match !== 'exact' && rule.match !== 'contains') {
    throw new RequestError(400, 'The `rule.match` must be either `exact` or `contains`.');
  }
  return { ...body, id };
}

/** PUT /synonym_sets/{name} or /curation_sets/{name}: `{items: [...]}` answered as `{name, items}`. */
export function parseSet(
  name: string,
  body: JsonObject,
  validate: (id: string, item: JsonObject) => JsonObject,
): JsonObject {
  if (!Array.isArray(body.items)) throw new RequestError(400, "Missing or invalid 'items' field");
  const items: JsonValue[] = body.items.map((item) => {
    if (!isObject(item) || typeof item.id !== 'string') throw new RequestError(400, 'Missing `id` field.');
    return validate(item.id, item);
  });
  return { name, items };
}
