import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { TypesenseSyncProps } from '../typesense-sync-props.ts';
import type { Problems } from './problems.ts';

/** The source table: an existing one, or the key schema of the one the construct creates. */
export type TableSettings =
  | { readonly existing: dynamodb.ITable; readonly keyAttributes: string[] }
  | {
      readonly existing?: undefined;
      readonly partitionKey: dynamodb.Attribute;
      readonly keyAttributes: string[];
    };

const ATTRIBUTE_TYPE_NAMES: Record<dynamodb.AttributeType, string> = {
  [dynamodb.AttributeType.STRING]: 'STRING',
  [dynamodb.AttributeType.NUMBER]: 'NUMBER',
  [dynamodb.AttributeType.BINARY]: 'BINARY',
};

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, index) => name === b[index]);
}

/** The table props: existing or created, its key attributes, and what the lag check and an Atlas source need. */
export function tableSettings(
  props: TypesenseSyncProps,
  lagCheckScheduled: boolean,
  problems: Problems,
): TableSettings {
  const { existingTableObj, tableProps } = props;
  if (existingTableObj !== undefined && tableProps !== undefined) {
    problems.add('pass either existingTableObj or tableProps, not both');
  }
  const names = props.keyAttributes;
  if (
    names !== undefined &&
    (names.length < 1 || names.length > 2 || names.some((name) => name.length === 0 || name.includes(',')))
  ) {
    problems.add(
      'keyAttributes must be one or two non-empty attribute names: partition key first, then sort key',
    );
  }
  // An Atlas source mirrors MongoDB documents keyed by their `_id` (as a string).
  const atlas = props.mongoAtlas;
  if (atlas !== undefined) {
    const keys = props.keyAttributes ?? (existingTableObj === undefined ? undefined : []);
    const partitionKey = tableProps?.partitionKey;
    if (
      (keys !== undefined && !sameNames(keys, ['_id'])) ||
      (partitionKey !== undefined && partitionKey.name !== '_id') ||
      (partitionKey !== undefined && partitionKey.type !== dynamodb.AttributeType.STRING) ||
      tableProps?.sortKey !== undefined
    ) {
      problems.add("with mongoAtlas the table must be keyed by '_id' (string) alone: keyAttributes ['_id']");
    }
  }
  if (existingTableObj !== undefined) return existingTable(existingTableObj, props.keyAttributes, problems);

  const partitionKey = tableProps?.partitionKey ?? {
    name: atlas === undefined ? 'pk' : '_id',
    type: dynamodb.AttributeType.STRING,
  };
  const keys = [partitionKey, ...(tableProps?.sortKey ? [tableProps.sortKey] : [])];
  const derived = keys.map((key) => key.name);
  // The canary's key attributes are strings (functions/core/canary.ts): a key of another type would
  // make every canary write fail, and the lag alarm fire forever. An imported table's key types are
  // unknown here: the README says so.
  if (lagCheckScheduled) {
    for (const key of keys) {
      if (key.type !== dynamodb.AttributeType.STRING) {
        problems.add(
          `the lag check's canary item needs string key attributes, but ${key.name} is ` +
            `${ATTRIBUTE_TYPE_NAMES[key.type]}: use string keys, or set lagCheck.schedule: false`,
        );
      }
    }
  }
  if (props.keyAttributes !== undefined && !sameNames(props.keyAttributes, derived)) {
    problems.add(
      `keyAttributes ${JSON.stringify(props.keyAttributes)} do not match the table key schema ${JSON.stringify(derived)}`,
    );
  }
  return { partitionKey, keyAttributes: derived };
}

function existingTable(
  table: dynamodb.ITable,
  keyAttributes: string[] | undefined,
  problems: Problems,
): TableSettings {
  if (table.tableStreamArn === undefined) {
    problems.add(
      'existingTableObj has no stream ARN; enable a DynamoDB stream (NEW_AND_OLD_IMAGES) on the table ' +
        'and import it with Table.fromTableAttributes({ tableName, tableStreamArn })',
    );
  }
  if (keyAttributes === undefined) {
    problems.add(
      'keyAttributes is required with existingTableObj (the key schema of an imported table is unknown)',
    );
  }
  return { existing: table, keyAttributes: [...(keyAttributes ?? [])] };
}
