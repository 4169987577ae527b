import { SyncError } from '../../../functions/core/errors.ts';
import { type PolicyStatement, UnsupportedPolicyError } from './evaluate.ts';
import { ACCOUNT, REGION } from './requests.ts';
import type { CfnResource, SyncFunctionName, SyncResourceName, SyncTemplate } from './template.ts';

/**
 * A function's identity policy as the synthesised template gives it: the role named by the
 * function, its inline policies, the `AWS::IAM::Policy` resources attached to it and its managed
 * policies, with every intrinsic resolved to the local stack's names. What cannot be resolved is an
 * error, never a wildcard.
 */

/** A local stand-in for a template resource: what `Ref` and `Fn::GetAtt` answer for it. */
export interface PhysicalResource {
  ref: string;
  attributes: Readonly<Record<string, string>>;
}

export type PhysicalResources = Partial<Record<SyncResourceName, PhysicalResource>>;

export interface RolePolicy {
  /** The role's logical id: the local stand-in for its physical name. */
  roleName: string;
  statements: PolicyStatement[];
}

/** An intrinsic the embedded stack has no local value for. */
export class UnresolvableIntrinsicError extends SyncError {
  override name = 'UnresolvableIntrinsicError';
}

/**
 * The AWS managed policies CDK attaches to Lambda roles (lib/sync-function.ts), as AWS publishes
 * them. They are AWS's documents, not this project's permissions; any other managed policy is an error.
 */
const LOGS = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];
const AWS_MANAGED_POLICIES: Record<string, PolicyStatement[]> = {
  'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole': [
    { effect: 'Allow', actions: LOGS, resources: ['*'], conditions: {} },
  ],
  'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole': [
    {
      effect: 'Allow',
      actions: [
        ...LOGS,
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
      conditions: {},
    },
  ],
};

const NO_VALUE = Symbol('AWS::NoValue');
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Resolves template values against the local stand-ins. */
export class Resolver {
  private readonly byLogicalId = new Map<
    string,
    { name: SyncResourceName; physical: PhysicalResource | undefined }
  >();

  constructor(template: SyncTemplate, physical: PhysicalResources) {
    for (const [name, logicalId] of Object.entries(template.logicalIds) as [SyncResourceName, string][])
      this.byLogicalId.set(logicalId, { name, physical: physical[name] });
  }

  private standIn(logicalId: string, what: string): PhysicalResource {
    const entry = this.byLogicalId.get(logicalId);
    if (entry?.physical === undefined)
      throw new UnresolvableIntrinsicError(
        `cannot resolve ${what}: ${entry === undefined ? `no local resource stands in for ${logicalId}` : `the local stack has no ${entry.name}`}`,
      );
    return entry.physical;
  }

  resolve(value: unknown): string | typeof NO_VALUE {
    if (typeof value === 'string') return value;
    if (value === null || typeof value !== 'object' || Object.keys(value).length !== 1)
      throw new UnresolvableIntrinsicError(`cannot resolve ${JSON.stringify(value)}`);
    const [intrinsic, argument] = Object.entries(value)[0] as [string, unknown];
    switch (intrinsic) {
      case 'Ref':
        return this.ref(argument as string);
      case 'Fn::GetAtt':
        return this.getAtt(...(argument as [string, string]));
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown[]];
        return parts.map((part) => this.resolveString(part)).join(separator);
      }
      case 'Fn::Sub':
        return this.sub(argument as string | [string, Record<string, unknown>]);
      default:
        throw new UnresolvableIntrinsicError(`unsupported intrinsic ${intrinsic}: ${JSON.stringify(value)}`);
    }
  }

  resolveString(value: unknown): string {
    const resolved = this.resolve(value);
    if (resolved === NO_VALUE) throw new UnresolvableIntrinsicError('AWS::NoValue inside a string');
    return resolved;
  }

  private ref(name: string): string | typeof NO_VALUE {
    if (name === 'AWS::NoValue') return NO_VALUE;
    const pseudo = PSEUDO[name];
    if (pseudo !== undefined) return pseudo;
    if (name.startsWith('AWS::'))
      throw new UnresolvableIntrinsicError(`unsupported pseudo parameter ${name}`);
    return this.standIn(name, `{"Ref":"${name}"}`).ref;
  }

  private getAtt(logicalId: string, attribute: string): string {
    const resolved = this.standIn(logicalId, `Fn::GetAtt ${logicalId}.${attribute}`).attributes[attribute];
    if (resolved === undefined)
      throw new UnresolvableIntrinsicError(
        `cannot resolve Fn::GetAtt ${logicalId}.${attribute}: no local value`,
      );
    return resolved;
  }

  private sub(argument: string | [string, Record<string, unknown>]): string {
    const [text, variables] = typeof argument === 'string' ? [argument, {}] : argument;
    return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
      if (name in variables) return this.resolveString(variables[name]);
      const [logicalId, attribute] = name.split('.') as [string, string | undefined];
      return attribute === undefined
        ? this.resolveString({ Ref: logicalId })
        : this.getAtt(logicalId, attribute);
    });
  }
}

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

interface PolicyDocument {
  Statement: Record<string, unknown>[];
}

function statementsOf(document: PolicyDocument, resolver: Resolver, origin: string): PolicyStatement[] {
  return document.Statement.map((statement) => {
    for (const unsupported of ['NotAction', 'NotResource', 'Principal', 'NotPrincipal'])
      if (unsupported in statement)
        throw new UnsupportedPolicyError(`${origin}: statements with ${unsupported} are not supported`);
    const effect = statement.Effect;
    if (effect !== 'Allow' && effect !== 'Deny')
      throw new UnsupportedPolicyError(`${origin}: Effect ${String(effect)}`);
    const resources = list(statement.Resource)
      .map((resource) => resolver.resolve(resource))
      .filter((resource): resource is string => resource !== NO_VALUE);
    // A statement left with no resource would silently match nothing: a Deny among them would be lost.
    if (resources.length === 0)
      throw new UnsupportedPolicyError(`${origin}: a statement whose resources all resolve to AWS::NoValue`);
    const conditions = Object.fromEntries(
      Object.entries((statement.Condition ?? {}) as Record<string, Record<string, unknown>>).map(
        ([operator, keys]) => [
          operator,
          Object.fromEntries(
            Object.entries(keys).map(([key, values]) => [
              key,
              list(values).map((each) => resolver.resolveString(each)),
            ]),
          ),
        ],
      ),
    );
    return { effect, actions: list(statement.Action).map(String), resources, conditions };
  });
}

const attachedTo = (resource: CfnResource, roleId: string) =>
  list(resource.Properties?.Roles ?? []).some((role) => (role as { Ref?: string }).Ref === roleId);

/** The role of `fn` in the template and every statement that applies to it. */
export function rolePolicyOf(template: SyncTemplate, fn: SyncFunctionName, resolver: Resolver): RolePolicy {
  const functionId = template.functions[fn];
  if (functionId === undefined) throw new Error(`the synthesised template has no ${fn} function`);
  const roleRef = template.resources[functionId]?.Properties?.Role as
    | { 'Fn::GetAtt'?: [string, string] }
    | undefined;
  const roleId = roleRef?.['Fn::GetAtt']?.[0];
  const role = roleId === undefined ? undefined : template.resources[roleId];
  if (roleId === undefined || role?.Type !== 'AWS::IAM::Role')
    throw new UnresolvableIntrinsicError(`${fn} (${functionId}): its Role is not a role of the template`);
  // A boundary narrows what the policies allow; evaluating the policies alone would allow too much.
  if (role.Properties?.PermissionsBoundary !== undefined)
    throw new UnsupportedPolicyError(`${roleId}: permissions boundaries are not supported`);
  const statements: PolicyStatement[] = [];
  for (const inline of list(role.Properties?.Policies ?? []) as {
    PolicyName: string;
    PolicyDocument: PolicyDocument;
  }[])
    statements.push(
      ...statementsOf(inline.PolicyDocument, resolver, `${roleId} inline ${inline.PolicyName}`),
    );
  for (const arn of list(role.Properties?.ManagedPolicyArns ?? [])) {
    const logicalId = (arn as { Ref?: string }).Ref;
    const managed = logicalId === undefined ? undefined : template.resources[logicalId];
    if (managed?.Type === 'AWS::IAM::ManagedPolicy') {
      statements.push(
        ...statementsOf(managed.Properties?.PolicyDocument as PolicyDocument, resolver, logicalId as string),
      );
      continue;
    }
    const resolved = resolver.resolveString(arn);
    const known = AWS_MANAGED_POLICIES[resolved];
    if (known === undefined)
      throw new UnsupportedPolicyError(`${roleId}: unknown managed policy ${resolved}`);
    statements.push(...known);
  }
  for (const [id, resource] of Object.entries(template.resources)) {
    if (
      !['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(resource.Type) ||
      !attachedTo(resource, roleId)
    )
      continue;
    statements.push(...statementsOf(resource.Properties?.PolicyDocument as PolicyDocument, resolver, id));
  }
  return { roleName: roleId, statements };
}
