/*
 * The Typesense calls the cores make, as port types: the cores stay free of HTTP, and
 * functions/shared/typesense.ts's `TypesenseClient` implements these interfaces (checked by `tsc`
 * through its `implements` clause), so an adapter passes the client as it is.
 */

/** How an import treats an id that exists: `create` refuses it (409), `upsert` replaces it. */
export type ImportAction = 'create' | 'upsert' | 'update' | 'emplace';

/** One line of a Typesense import answer (the HTTP status is 200 whatever the lines say). */
export type ImportLineResult =
  | { success: true; id?: string }
  | { success: false; code: number; error: string; document?: string };

/**
 * Per call: an import bounded by what remains of the invocation, say; `sendBy` (ms since the epoch): no
 * request of the call starts after it (a write under the writer's visibility lease).
 */
export type CallOptions = { timeoutMs?: number; sendBy?: number };

/** A collection's schema without its name: what a re-sync gives its new collection. */
export interface CollectionDefinition {
  fields: Record<string, unknown>[];
  [key: string]: unknown;
}

export type NamedCollection = CollectionDefinition & { name: string };

/** Collections and aliases: what a re-sync creates, swaps and prunes. */
export interface TypesenseCollectionsPort {
  createCollection(schema: NamedCollection): Promise<unknown>;
  getCollection(name: string): Promise<NamedCollection | undefined>;
  deleteCollection(name: string): Promise<unknown>;
  listCollections(): Promise<{ name: string }[]>;
  getAlias(alias: string): Promise<{ collection_name: string } | undefined>;
  upsertAlias(alias: string, collection: string): Promise<unknown>;
  /** Synonyms and overrides (or, on v30, set references) of the live collection onto the new one. */
  copySearchSettings?(from: string, to: string): Promise<unknown>;
}

/** Documents: imports, look-ups and deletes by id. */
export interface TypesenseDocumentsPort {
  /** One result per line, in order; `call.timeoutMs` bounds the request. */
  importDocuments(
    collection: string,
    lines: string[],
    action: ImportAction,
    call?: CallOptions,
  ): Promise<ImportLineResult[]>;
  /** Undefined when the collection has no document with that id. */
  getDocument(collection: string, id: string): Promise<Record<string, unknown> | undefined>;
  /** How many of the ids were removed. */
  deleteByIds(collection: string, ids: string[], call?: CallOptions): Promise<number>;
}
