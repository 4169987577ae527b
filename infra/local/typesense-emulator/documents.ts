/**
 * The per-document write path shared by single writes and import lines: src/collection.cpp Collection::add_many,
 * Collection::to_doc and batch_index, src/index.cpp Index::get_doc_changes.
 */
import { isObject, JsonSyntaxError, type JsonValue, mergePatch, parseJson } from './json.ts';
import { type Collection, type DirtyValues, type Doc, detectNewFields } from './schema.ts';
import { validateDocument } from './validate.ts';

export type Operation = 'create' | 'upsert' | 'update' | 'emplace';

export type WriteOutcome =
  | { ok: true; doc: Doc }
  /** `id` is the parsed document's id, when it had one (reported with return_id=true). */
  | { ok: false; code: number; error: string; id?: JsonValue };

export function writeDocument(
  collection: Collection,
  line: string,
  operation: Operation,
  pathId: string | undefined,
  dirty: DirtyValues,
  /** v29+: replaced values lose nulls inside arrays too (see mergePatch). */
  cleanArrays = false,
): WriteOutcome {
  let input: JsonValue;
  try {
    input = parseJson(line);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    return { ok: false, code: 400, error: `Bad JSON: ${error.message}` };
  }
  if (!isObject(input)) return { ok: false, code: 400, error: 'Bad JSON: not a properly formed document.' };
  const doc: Doc = { ...input };
  const fail = (code: number, error: string): WriteOutcome => ({ ok: false, code, error, id: input.id });

  if (pathId !== undefined) {
    if (doc.id !== undefined && doc.id !== pathId) {
      return fail(400, 'The `id` of the resource does not match the `id` in the JSON body.');
    }
    doc.id = pathId;
  }
  if (doc.id === '') return fail(400, 'The `id` should not be empty.');
  if (doc.id === undefined) {
    if (operation === 'update') return fail(400, 'For update, the `id` key must be provided.');
    doc.id = generateId(collection);
  } else if (typeof doc.id !== 'string') {
    return fail(400, "Document's `id` field should be a string.");
  }
  const id = doc.id as string;
  const existing = collection.docs.get(id);
  if (existing !== undefined && operation === 'create')
    return fail(409, `A document with id ${id} already exists.`);
  if (existing === undefined && operation === 'update')
    return fail(404, `Could not find a document with id: ${id}`);

  // The schema grows before validation, so a rejected document may still have added a field.
  detectNewFields(collection, doc);
  const isUpdate = existing !== undefined && (operation === 'update' || operation === 'emplace');
  const invalid = validateDocument(collection, doc, operation, existing !== undefined, dirty);
  if (invalid !== undefined) return fail(invalid.code, invalid.error);

  // A new document is stored as sent (nested nulls included). For an existing one, Index::get_doc_changes:
  // upsert replaces it (its own nulls removed), update and emplace merge-patch it.
  let stored = doc;
  if (existing !== undefined) stored = mergePatch(isUpdate ? existing : {}, doc, cleanArrays) as Doc;
  if (existing === undefined) collection.nextSeqId += 1;
  collection.docs.set(id, stored);
  return { ok: true, doc: stored };
}

function generateId(collection: Collection): string {
  // Typesense uses the document's sequence id; skip any that a client already used as an explicit id.
  let seq = collection.nextSeqId;
  while (collection.docs.has(String(seq))) seq += 1;
  return String(seq);
}
