import { CloudWatchServiceException } from '@aws-sdk/client-cloudwatch';
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import { SQSServiceException } from '@aws-sdk/client-sqs';
import { evaluate, type IamDecision, type IamRequest, type PolicyStatement } from './evaluate.ts';
import { type PhysicalResources, Resolver, type RolePolicy, rolePolicyOf } from './policies.ts';
import { ACCOUNT, type PartitionKeys, requestsOf } from './requests.ts';
import { type SyncFunctionName, type SyncTemplateOptions, syncTemplate } from './template.ts';

/**
 * IAM on the embedded stack: a middleware on each client a function's code uses refuses, as AWS
 * would, every call its role in the synthesised template does not allow.
 */

/** How each service answers a refused call: error name, HTTP status, exception class. */
const DENIALS = {
  DynamoDB: { name: 'AccessDeniedException', status: 400, Exception: DynamoDBServiceException },
  // SQS speaks JSON but keeps its query-protocol error code.
  SQS: { name: 'AccessDenied', status: 403, Exception: SQSServiceException },
  S3: { name: 'AccessDenied', status: 403, Exception: S3ServiceException },
  'Secrets Manager': {
    name: 'AccessDeniedException',
    status: 400,
    Exception: SecretsManagerServiceException,
  },
  CloudWatch: { name: 'AccessDenied', status: 403, Exception: CloudWatchServiceException },
} as const;

type ServiceId = keyof typeof DENIALS;

/** A refused call, as recorded for the tests. */
export interface AccessDenial {
  function: SyncFunctionName;
  action: string;
  resource: string;
  decision: Exclude<IamDecision, 'allow'>;
}

/** An action taken away from a function's role: to show that a missing grant is caught. */
export interface Revocation {
  function: SyncFunctionName;
  action: string;
  /**
   * Only on this resource (an ARN, as the denials name it; its sub-resources such as a table's indexes too),
   * the others keeping the action: to show the grant on one resource is needed. Default: every resource.
   */
  resource?: string;
}

const coveredBy = (resource: string, revoked: string) =>
  resource === revoked || resource.startsWith(`${revoked}/`);

/** An Allow statement less the revocations: a resource-scoped one splits off the revoked action's resources. */
function allowWithout(statement: PolicyStatement, revocations: readonly Revocation[]): PolicyStatement[] {
  const revokedOf = (action: string) =>
    revocations.filter((each) => each.action.toLowerCase() === action.toLowerCase());
  const kept = statement.actions.filter((action) => revokedOf(action).length === 0);
  const scoped = statement.actions.flatMap((action) => {
    const revoked = revokedOf(action);
    if (revoked.length === 0 || revoked.some((each) => each.resource === undefined)) return [];
    const resources = statement.resources.filter(
      (resource) => !revoked.some((each) => coveredBy(resource, each.resource as string)),
    );
    return resources.length === 0 ? [] : [{ ...statement, actions: [action], resources }];
  });
  return [{ ...statement, actions: kept }, ...scoped];
}

/** The part of an SDK v3 client the enforcement needs. */
export interface SdkClient {
  config: { serviceId?: string };
  middlewareStack: {
    add(middleware: unknown, options: { step: 'initialize'; name: string; priority?: 'high' }): void;
    remove(name: string): boolean;
  };
}

export interface LocalIamOptions {
  template: SyncTemplateOptions;
  physical: PhysicalResources;
  partitionKeys: PartitionKeys;
  revoke?: readonly Revocation[] | undefined;
}

const MIDDLEWARE = 'localIamEnforcement';

/** The message AWS gives, with its per-service quirks (SQS lowercases the action, S3 quotes the ARN). */
function deniedMessage(
  service: ServiceId,
  principal: string,
  request: IamRequest,
  decision: AccessDenial['decision'],
) {
  const action = service === 'SQS' ? request.action.toLowerCase() : request.action;
  const resource = service === 'S3' ? `"${request.resource}"` : request.resource;
  const why =
    decision === 'explicit-deny'
      ? 'with an explicit deny in an identity-based policy'
      : `because no identity-based policy allows the ${action} action`;
  return `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}

/** `fn`'s role in the template, less the actions `revoke` takes away from it. */
function roleWithout(
  template: ReturnType<typeof syncTemplate>,
  fn: SyncFunctionName,
  resolver: Resolver,
  revoke: readonly Revocation[],
): RolePolicy {
  const role = rolePolicyOf(template, fn, resolver);
  const revoked = revoke.filter((each) => each.function === fn);
  const statements = role.statements.flatMap((statement) =>
    statement.effect === 'Allow' ? allowWithout(statement, revoked) : [statement],
  );
  return { roleName: role.roleName, statements };
}

/** What one client's check needs: whose role, how the service refuses, and where refusals are recorded. */
interface Guarded {
  fn: SyncFunctionName;
  service: ServiceId;
  role: RolePolicy;
  partitionKeys: PartitionKeys;
  denials: AccessDenial[];
  problems: Error[];
}

/** The SDK middleware authorising each call against the role before it is sent. */
function enforcement({ fn, service, role, partitionKeys, denials, problems }: Guarded) {
  const denial = DENIALS[service];
  const principal = `arn:aws:sts::${ACCOUNT}:assumed-role/${role.roleName}/${fn}`;
  return (
    next: (args: { input: Record<string, unknown> }) => Promise<unknown>,
    context: { commandName?: string },
  ) =>
    async (args: { input: Record<string, unknown> }) => {
      try {
        const requests = requestsOf(service, context.commandName ?? '', args.input, partitionKeys);
        for (const request of requests) {
          const decision = evaluate(role.statements, request);
          if (decision === 'allow') continue;
          denials.push({ function: fn, action: request.action, resource: request.resource, decision });
          throw new denial.Exception({
            name: denial.name,
            $fault: 'client',
            $metadata: { httpStatusCode: denial.status, attempts: 1, totalRetryDelay: 0 },
            message: deniedMessage(service, principal, request, decision),
          });
        }
      } catch (error) {
        // The function's code may swallow what it cannot handle: a call IAM cannot judge also fails the stack.
        if (!(error instanceof denial.Exception)) problems.push(error as Error);
        throw error;
      }
      return next(args);
    };
}

export function localIam(options: LocalIamOptions) {
  const template = syncTemplate(options.template);
  const resolver = new Resolver(template, options.physical);
  const roles = new Map<SyncFunctionName, RolePolicy>();
  const denials: AccessDenial[] = [];
  /** Calls that could not be authorised at all (unmapped, unsupported): they fail the test at stop. */
  const problems: Error[] = [];

  const roleOf = (fn: SyncFunctionName): RolePolicy => {
    const known = roles.get(fn);
    if (known !== undefined) return known;
    const policy = roleWithout(template, fn, resolver, options.revoke ?? []);
    roles.set(fn, policy);
    return policy;
  };

  const guard = (fn: SyncFunctionName, client: SdkClient) => {
    const service = client.config.serviceId as ServiceId;
    if (DENIALS[service] === undefined)
      throw new Error(`local IAM: no access-denied shape for service ${service}`);
    const role = roleOf(fn);
    const middleware = enforcement({
      fn,
      service,
      role,
      partitionKeys: options.partitionKeys,
      denials,
      problems,
    });
    // A second local stack in the process re-imports nothing: replace the previous stack's check.
    client.middlewareStack.remove(MIDDLEWARE);
    client.middlewareStack.add(middleware, { step: 'initialize', name: MIDDLEWARE, priority: 'high' });
  };

  return {
    denials,
    problems,
    /** Every call of these clients is authorised against `fn`'s role; returns the clients. */
    enforce<T extends readonly SdkClient[]>(fn: SyncFunctionName, ...clients: T): T {
      for (const client of clients) guard(fn, client);
      return clients;
    },
    /** Throws when any call could not be authorised (no mapping, unsupported policy). */
    assertNoProblems() {
      if (problems.length > 0)
        throw new Error(
          `local IAM could not authorise ${problems.length} calls: ${[...new Set(problems.map((p) => p.message))].join('; ')}`,
        );
    },
  };
}

export type LocalIam = ReturnType<typeof localIam>;
