import { Names } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { TypesenseEnv } from '../../functions/contract/env-builders.ts';
import { allowLogGroupEncryption } from '../encryption.ts';
import { SYNC_FUNCTIONS, type SyncFunction, type SyncFunctionKind, syncFunction } from '../sync-function.ts';
import { TRANSFORMING_FUNCTIONS, writeTransformEntry } from '../transform-entry.ts';
import type { TypesenseSyncProps } from '../typesense-sync-props.ts';
import type { TypesenseSyncSettings } from '../validate-props.ts';

/** What every function of one sync shares, computed once from the props and settings. */
export interface Wiring {
  readonly props: TypesenseSyncProps;
  readonly settings: TypesenseSyncSettings;
  readonly keyAttributes: string[];
  /** Each function's POWERTOOLS_SERVICE_NAME: the `service` dimension of its metrics. */
  readonly serviceName: (kind: SyncFunctionKind) => string;
  /** A function of the table with the sync's log settings and service name. */
  readonly fn: (
    kind: SyncFunctionKind,
    props: Omit<Parameters<typeof syncFunction>[2], 'serviceName' | 'logRetention' | 'logEncryptionKey'>,
  ) => SyncFunction;
  /** The network of the functions that talk to Typesense (the others call AWS alone). */
  readonly typesenseNetwork: Pick<lambda.FunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'>;
  /** How the writer and lag check reach Typesense, with the (possibly scoped) `apiKeySecret`. */
  readonly typesenseEnv: TypesenseEnv;
  /** The key that creates and drops collections and aliases: `adminApiKeySecret`, else `apiKeySecret`. */
  readonly adminKey: { readonly secret: secretsmanager.ISecret; readonly key?: kms.IKey };
}

/** The wiring of the sync `scope` (a `TypesenseSync`): its functions are created in its scope. */
export function syncWiring(
  scope: Construct,
  props: TypesenseSyncProps,
  settings: TypesenseSyncSettings,
): Wiring {
  // Unique per construct instance, so two syncs in one account publish apart: the dashboard selects each
  // function's metrics by this `service` dimension.
  const servicePrefix = Names.uniqueResourceName(scope, { maxLength: 64, separator: '-' });
  const serviceName = (kind: SyncFunctionKind) => `${servicePrefix}-${SYNC_FUNCTIONS[kind].dir}`;
  const logEncryptionKey = props.encryptionKey;
  if (logEncryptionKey !== undefined) allowLogGroupEncryption(scope, logEncryptionKey);
  const keyAttributes = settings.table.keyAttributes;
  const { typesense } = props;
  return {
    props,
    settings,
    keyAttributes,
    serviceName,
    fn: (kind, fnProps) =>
      syncFunction(scope, kind, {
        serviceName: serviceName(kind),
        logRetention: props.logRetention,
        logEncryptionKey,
        ...(props.transform !== undefined &&
          TRANSFORMING_FUNCTIONS.has(kind) && { entry: writeTransformEntry(scope, kind, props.transform) }),
        ...fnProps,
      }),
    typesenseNetwork:
      props.vpc === undefined
        ? {}
        : { vpc: props.vpc.vpc, vpcSubnets: props.vpc.vpcSubnets, securityGroups: props.vpc.securityGroups },
    typesenseEnv: {
      KEY_ATTRIBUTES: keyAttributes,
      TYPESENSE_NODES: typesense.nodes,
      // The key is fetched at runtime: a value in the environment would be readable by anyone
      // allowed lambda:GetFunctionConfiguration.
      TYPESENSE_API_KEY_SECRET_ARN: typesense.apiKeySecret.secretArn,
      TYPESENSE_COLLECTION: typesense.collection,
      PROJECTION: props.projection ?? {},
      ...(props.aggregate !== undefined && { AGGREGATE: props.aggregate }),
    },
    adminKey:
      typesense.adminApiKeySecret === undefined
        ? { secret: typesense.apiKeySecret, key: typesense.apiKeySecretKey }
        : { secret: typesense.adminApiKeySecret, key: typesense.adminApiKeySecretKey },
  };
}
