import { Token } from 'aws-cdk-lib';
import { aggregateProblems, changeKeyAttributes } from '../../functions/contract/aggregate.ts';
import { collectionSchemaProblems } from '../../functions/contract/collection-schema.ts';
import { projectionProblems } from '../../functions/contract/projection.ts';
import { transformProblems } from '../transform-entry.ts';
import type { TypesenseSyncIndex, TypesenseSyncProps } from '../typesense-sync-props.ts';
import type { Problems } from './problems.ts';

/**
 * The indexes of a sync: `indexes`, or the one index the top-level props describe. Every check of an index
 * (its alias, schema, projection and transform) reports at the prop the user wrote: `typesense.schema …`
 * for the single index, `indexes[1] (orders).projection …` for a listed one.
 */

/** The most indexes of one table: the stream-gap rule starts each one's re-sync, and a rule has ≤ 5 targets. */
export const MAX_INDEXES = 5;

/** An index with where its props are written, for the problems found in it. */
interface LocatedIndex {
  readonly index: TypesenseSyncIndex;
  /** How each prop of the index is named in a problem. */
  readonly at: {
    collection: string;
    schema: string;
    projection: string;
    transform: string;
    aggregate: string;
  };
}

/**
 * The id of the child construct holding a further index's pipeline: `Index` and the alias in PascalCase
 * (`order-lines` → `IndexOrderLines`), or its position when the alias is a token.
 */
export function indexConstructId(alias: string, position: number): string {
  if (Token.isUnresolved(alias)) return `Index${position}`;
  const words = alias.split(/[^A-Za-z0-9]+/).filter((word) => word.length > 0);
  return `Index${words.map((word) => word[0]?.toUpperCase() + word.slice(1)).join('')}`;
}

/** The indexes, the first first. Only meaningful once `indexProblems` found none. */
export function indexesOf(props: TypesenseSyncProps): TypesenseSyncIndex[] {
  return located(props).map(({ index }) => index);
}

function located(props: TypesenseSyncProps): LocatedIndex[] {
  if (props.indexes === undefined) {
    const { collection = '', schema } = props.typesense;
    return [
      {
        index: {
          collection,
          schema,
          projection: props.projection,
          transform: props.transform,
          aggregate: props.aggregate,
        },
        at: {
          collection: 'typesense.collection',
          schema: 'typesense.schema',
          projection: 'projection',
          transform: 'transform',
          aggregate: 'aggregate',
        },
      },
    ];
  }
  return props.indexes.map((index, position) => {
    const prefix = `indexes[${position}] (${index.collection})`;
    return {
      index,
      at: {
        collection: `indexes[${position}].collection`,
        schema: `${prefix}.schema`,
        projection: `${prefix}.projection`,
        transform: `${prefix}.transform`,
        aggregate: `${prefix}.aggregate`,
      },
    };
  });
}

/** The top-level props that `indexes` replaces: either form, not both. */
function formProblems(props: TypesenseSyncProps, problems: Problems): void {
  if (props.indexes === undefined) return;
  const replaced = [
    props.typesense.collection !== undefined && 'typesense.collection',
    props.typesense.schema !== undefined && 'typesense.schema',
    props.projection !== undefined && 'projection',
    props.transform !== undefined && 'transform',
    props.aggregate !== undefined && 'aggregate',
    props.collectionSchema !== undefined && 'collectionSchema',
  ].filter((name) => name !== false);
  if (replaced.length > 0)
    problems.add(
      `with indexes, set ${replaced.join(', ')} on each index instead (indexes[0] is the first index)`,
    );
  if (props.indexes.length === 0 || props.indexes.length > MAX_INDEXES)
    problems.add(`indexes must list 1 to ${MAX_INDEXES} indexes, got ${props.indexes.length}`);
}

/** Every problem of the indexes: the form, each alias (non-empty, distinct), schema, projection, transform, aggregate. */
export function indexProblems(
  props: TypesenseSyncProps,
  keyAttributes: readonly string[],
  problems: Problems,
): void {
  formProblems(props, problems);
  const aliases = new Map<string, string>();
  const ids = new Map<string, string>();
  for (const [position, { index, at }] of located(props).entries()) {
    const { collection } = index;
    if (!Token.isUnresolved(collection)) {
      if (collection.length === 0) problems.add(`${at.collection} must not be empty`);
      const first = aliases.get(collection);
      if (first !== undefined)
        problems.add(
          `${first} and ${at.collection} both name the alias ${JSON.stringify(collection)}: each index needs its own`,
        );
      aliases.set(collection, at.collection);
      const id = indexConstructId(collection, position);
      const sameId = ids.get(id);
      if (first === undefined && sameId !== undefined)
        problems.add(`${sameId} and ${at.collection} make the same construct id ${id}: rename one alias`);
      ids.set(id, at.collection);
    }
    if (index.schema !== undefined)
      for (const problem of collectionSchemaProblems(index.schema)) problems.add(`${at.schema} ${problem}`);
    if (index.projection !== undefined)
      for (const problem of projectionProblems(
        index.projection,
        at.projection,
        keyAttributes,
        changeKeyAttributes(keyAttributes, index.aggregate),
      ))
        problems.add(problem);
    if (index.transform !== undefined)
      for (const problem of transformProblems(index.transform, at.transform)) problems.add(problem);
    // The mirror of an Atlas collection holds one item per document (keyed by `_id`): no item collection to
    // aggregate; MongoDB documents embed their children instead.
    if (index.aggregate !== undefined && props.mongoAtlas !== undefined)
      problems.add(
        `${at.aggregate} cannot be used with mongoAtlas: the mirror table holds one item per MongoDB document, ` +
          `keyed by '_id' alone, so there is no item collection to aggregate; embed the children in the document`,
      );
    else if (index.aggregate !== undefined)
      for (const problem of aggregateProblems(index.aggregate, at.aggregate, keyAttributes))
        problems.add(problem);
  }
}
