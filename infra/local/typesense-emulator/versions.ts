/**
 * What differs between the Typesense release lines the sync supports (v27 to v30), read from the server
 * source (github.com/typesense/typesense at tags v27.1, v28.0, v29.0 and the v30 line's HEAD).
 */

export const TYPESENSE_VERSIONS = [27, 28, 29, 30] as const;
export type TypesenseVersion = (typeof TYPESENSE_VERSIONS)[number];
/** The current release line. */
export const DEFAULT_TYPESENSE_VERSION: TypesenseVersion = 30;

export type VersionProfile = {
  version: TypesenseVersion;
  /** What `/debug` reports as `version`. */
  release: string;
  /**
   * 404 message of a missing collection or alias (get, import, export, documents, aliases):
   * src/core_api.cpp `res->set_404()` ("Not Found") up to v28, `set_404("Collection not found")` from v29.
   */
  collectionNotFound: string;
  /** Search on a missing collection: src/collection_manager.cpp CollectionManager::do_search. */
  searchCollectionNotFound: string;
  /**
   * Failed import lines echo the input line as `document` always in v27, and only with `return_doc=true`
   * from v28: src/collection.cpp Collection::batch_index.
   */
  failedLineDocumentAlways: boolean;
  /**
   * v30 moved synonyms and overrides out of collections into global `/synonym_sets` and `/curation_sets`,
   * referenced from the schema's `synonym_sets` / `curation_sets` (src/main/typesense_server.cpp routes).
   */
  globalSynonymSets: boolean;
  /** Updates drop nulls inside arrays too from v29: src/index.cpp Index::get_doc_changes (process_value). */
  updateDropsArrayNulls: boolean;
};

export function versionProfile(version: TypesenseVersion = DEFAULT_TYPESENSE_VERSION): VersionProfile {
  if (!TYPESENSE_VERSIONS.includes(version)) {
    throw new RangeError(
      `Typesense emulator: unsupported version ${version}; use one of ${TYPESENSE_VERSIONS.join(', ')}`,
    );
  }
  return {
    version,
    release: { 27: '27.1', 28: '28.0', 29: '29.0', 30: '30.0' }[version],
    collectionNotFound: version >= 29 ? 'Collection not found' : 'Not Found',
    searchCollectionNotFound: version >= 29 ? 'Collection not found' : 'Not found.',
    failedLineDocumentAlways: version === 27,
    globalSynonymSets: version >= 30,
    updateDropsArrayNulls: version >= 29,
  };
}

/** Parses "27", "v28", "29.0", "30.1" into a supported major version. */
export function parseTypesenseVersion(text: string): TypesenseVersion {
  const major = Number(/^v?(\d+)/.exec(text.trim())?.[1]);
  const found = TYPESENSE_VERSIONS.find((candidate) => candidate === major);
  if (found === undefined) {
    throw new RangeError(`Typesense version "${text}" is not one of ${TYPESENSE_VERSIONS.join(', ')}`);
  }
  return found;
}
