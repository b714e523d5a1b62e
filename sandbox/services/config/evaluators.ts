/**
 * Local evaluators for the AWS managed Config rules the sandbox supports. Each lists the resources of
 * its type and evaluates one against the live state (the same stores the service APIs change), with
 * the rule's documented parameters and defaults.
 */
import type { ApiCallSpec, SandboxContext } from '../../core/types';
import { ec2Store, type SgRule } from '../ec2/store';
import { iamStore, type ManagedPolicy, type Role } from '../iam/store';
import { lambdaStore } from '../lambda/store';
import { s3Store } from '../s3/store';
import { isObj, type Obj, str, type Tag } from '../state';

export type ComplianceType = 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE';

export interface Verdict {
  compliance: ComplianceType;
  annotation?: string;
}

/** Thrown by an evaluator when it cannot evaluate yet (e.g. a stack operation is in progress). */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
}

export interface Evaluator {
  /** The Config resource type this rule evaluates. */
  readonly resourceType: string;
  /** Parameters that must be present in InputParameters. */
  readonly requiredParameters?: readonly string[];
  /** Config resource ids of every resource of the type. */
  list(sandbox: SandboxContext): Promise<string[]>;
  /** The physical id of a resource Config records under another id (a role's name for its AROA… id). */
  physicalId?(sandbox: SandboxContext, configId: string): string | undefined;
  /** The resource's tags (for a rule's TagKey/TagValue scope); undefined when it no longer exists. */
  tags(sandbox: SandboxContext, resourceId: string): Promise<Record<string, string> | undefined>;
  /** undefined when the resource no longer exists (→ NOT_APPLICABLE). */
  evaluate(
    resourceId: string,
    params: Record<string, string>,
    sandbox: SandboxContext,
    /** Aborted when the sandbox stops (long evaluations such as stack drift detection give up). */
    signal?: AbortSignal,
  ): Promise<Verdict | undefined>;
  /**
   * API calls that make a compliant resource of the type NON_COMPLIANT (as a person in the console would),
   * for tests that derive a scenario per policy entry; `{{ ResourceId }}` is the resource's physical id
   * (a role's name, where Config records its unique id).
   */
  readonly violation?: readonly ApiCallSpec[];
}

const WORLD = ['0.0.0.0/0', '::/0'];

const tagMap = (tags: readonly Tag[]): Record<string, string> =>
  Object.fromEntries(tags.map((t) => [t.Key, t.Value ?? '']));

function openTo(r: SgRule, port: number): boolean {
  if (r.isEgress) return false;
  const world =
    (r.cidrIpv4 !== undefined && WORLD.includes(r.cidrIpv4)) ||
    (r.cidrIpv6 !== undefined && WORLD.includes(r.cidrIpv6));
  if (!world) return false;
  if (r.ipProtocol === '-1') return true;
  return r.ipProtocol === 'tcp' && r.fromPort <= port && port <= r.toPort;
}

function sgEvaluator(ports: (params: Record<string, string>) => number[], what: string): Evaluator {
  return {
    resourceType: 'AWS::EC2::SecurityGroup',
    async list(sandbox) {
      return [...ec2Store(sandbox).groups.keys()];
    },
    async tags(sandbox, id) {
      const g = ec2Store(sandbox).groups.get(id);
      return g ? tagMap(g.tags) : undefined;
    },
    async evaluate(id, params, sandbox) {
      const g = ec2Store(sandbox).groups.get(id);
      if (!g) return undefined;
      const open = ports(params).filter((p) => g.rules.some((r) => openTo(r, p)));
      if (open.length === 0) return { compliance: 'COMPLIANT' };
      return {
        compliance: 'NON_COMPLIANT',
        annotation: `The security group allows unrestricted incoming ${what} traffic (tcp/${open.join(', tcp/')}) from 0.0.0.0/0 or ::/0.`,
      };
    },
  };
}

function bucketEvaluator(
  check: (b: ReturnType<ReturnType<typeof s3Store>['get']>, params: Record<string, string>) => Verdict,
): Evaluator {
  return {
    resourceType: 'AWS::S3::Bucket',
    async list(sandbox) {
      return [...s3Store(sandbox).buckets.keys()];
    },
    async tags(sandbox, id) {
      const b = s3Store(sandbox).buckets.get(id);
      return b ? tagMap(b.tags ?? []) : undefined;
    },
    async evaluate(id, params, sandbox) {
      const b = s3Store(sandbox).buckets.get(id);
      return b ? check(b, params) : undefined;
    },
  };
}

function statements(doc: unknown): Obj[] {
  if (!isObj(doc)) return [];
  const st = doc.Statement;
  return (Array.isArray(st) ? st : [st]).filter(isObj);
}

function includesStar(v: unknown): boolean {
  return v === '*' || (Array.isArray(v) && v.includes('*'));
}

/** Has an Allow statement with Action "*" over Resource "*" (the rule's documented definition). */
export function hasAdminStatement(document: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(document);
  } catch {
    return false;
  }
  return statements(doc).some(
    (s) => s.Effect === 'Allow' && includesStar(s.Action) && includesStar(s.Resource),
  );
}

function findRoleById(sandbox: SandboxContext, id: string): Role | undefined {
  for (const r of iamStore(sandbox).roles.values()) if (r.id === id) return r;
  return undefined;
}

/** `roles:[a;b], users:[c]` → the role names (the rule's exceptionList; names, never ARNs). */
function exceptedRoles(exceptionList: string | undefined): string[] {
  const m = /roles\s*:\s*\[([^\]]*)\]/i.exec(exceptionList ?? '');
  return (m?.[1] ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * IAM_POLICY_BLACKLISTED_CHECK for roles (the sandbox has no IAM users or groups): NON_COMPLIANT when a
 * policy of `policyArns` (default AdministratorAccess) is attached. Config records roles by unique id.
 */
const blacklistedPolicyEvaluator: Evaluator = {
  resourceType: 'AWS::IAM::Role',
  async list(sandbox) {
    return [...iamStore(sandbox).roles.values()].map((r) => r.id);
  },
  physicalId(sandbox, id) {
    return findRoleById(sandbox, id)?.name;
  },
  async tags(sandbox, id) {
    const r = findRoleById(sandbox, id);
    return r ? tagMap(r.tags) : undefined;
  },
  async evaluate(id, params, sandbox) {
    const r = findRoleById(sandbox, id);
    if (!r) return undefined;
    if (exceptedRoles(params.exceptionList).includes(r.name)) return { compliance: 'COMPLIANT' };
    const banned = (params.policyArns || 'arn:aws:iam::aws:policy/AdministratorAccess')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    const attached = r.attached.filter((a) => banned.includes(a));
    return attached.length === 0
      ? { compliance: 'COMPLIANT' }
      : { compliance: 'NON_COMPLIANT', annotation: `Attached policies not allowed: ${attached.join(', ')}.` };
  },
  violation: [
    {
      service: 'iam',
      api: 'AttachRolePolicy',
      input: { RoleName: '{{ ResourceId }}', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    },
  ],
};

function findPolicyById(sandbox: SandboxContext, id: string): ManagedPolicy | undefined {
  for (const p of iamStore(sandbox).policies.values()) if (!p.awsManaged && p.id === id) return p;
  return undefined;
}

interface StackSummary {
  StackId?: string;
  StackName?: string;
  StackStatus?: string;
}

async function describeStacks(sandbox: SandboxContext, stackName?: string): Promise<StackSummary[]> {
  const out = await sandbox.call(
    'cloudformation',
    'DescribeStacks',
    stackName ? { StackName: stackName } : {},
  );
  return Array.isArray(out.Stacks) ? (out.Stacks as StackSummary[]) : [];
}

const stackDriftEvaluator: Evaluator = {
  resourceType: 'AWS::CloudFormation::Stack',
  async list(sandbox) {
    try {
      return (await describeStacks(sandbox))
        .filter((s) => s.StackStatus !== 'DELETE_COMPLETE')
        .map((s) => s.StackId ?? '')
        .filter((id) => id !== '');
    } catch {
      return [];
    }
  },
  async tags(sandbox, id) {
    try {
      const stack = (await describeStacks(sandbox, id))[0] as (StackSummary & { Tags?: Tag[] }) | undefined;
      return stack ? tagMap(stack.Tags ?? []) : undefined;
    } catch {
      return undefined;
    }
  },
  async evaluate(id, _params, sandbox, signal) {
    let stack: StackSummary | undefined;
    try {
      stack = (await describeStacks(sandbox, id))[0];
    } catch (err) {
      if (err instanceof Error && /does not exist/i.test(err.message)) return undefined;
      throw err;
    }
    if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return undefined;
    if (stack.StackStatus?.endsWith('_IN_PROGRESS'))
      throw new RetryLater(`stack ${id} is ${stack.StackStatus}`);
    let detectionId: string | undefined;
    try {
      const started = await sandbox.call('cloudformation', 'DetectStackDrift', { StackName: id });
      detectionId = str(started.StackDriftDetectionId);
    } catch (err) {
      if (err instanceof Error && /IN_PROGRESS|in progress/i.test(err.message))
        throw new RetryLater(err.message);
      throw err;
    }
    if (!detectionId) throw new Error('DetectStackDrift returned no StackDriftDetectionId');
    // Drift detection takes seconds; give up after two emulated minutes (the rule retries later).
    for (let i = 0; i < 120; i++) {
      const status = await sandbox.call('cloudformation', 'DescribeStackDriftDetectionStatus', {
        StackDriftDetectionId: detectionId,
      });
      const detection = str(status.DetectionStatus);
      if (detection === 'DETECTION_COMPLETE') {
        const drift = str(status.StackDriftStatus);
        if (drift === 'DRIFTED') {
          return {
            compliance: 'NON_COMPLIANT',
            annotation: `Stack drift status is DRIFTED (${String(status.DriftedStackResourceCount ?? '?')} drifted resources).`,
          };
        }
        if (drift === 'IN_SYNC') return { compliance: 'COMPLIANT' };
        return { compliance: 'NOT_APPLICABLE', annotation: `Stack drift status is ${drift ?? 'UNKNOWN'}.` };
      }
      if (detection === 'DETECTION_FAILED') {
        return {
          compliance: 'NON_COMPLIANT',
          annotation: `Drift detection failed: ${str(status.DetectionStatusReason) ?? 'unknown reason'}`,
        };
      }
      await sandbox.clock.sleep(1, signal);
    }
    throw new RetryLater(`drift detection ${detectionId} did not complete`);
  },
};

/** The API calls that break a security-group rule: TCP `port` opened to 0.0.0.0/0 on the group. */
function openToTheWorld(port: number): readonly ApiCallSpec[] {
  return [
    {
      service: 'ec2',
      api: 'AuthorizeSecurityGroupIngress',
      input: {
        GroupId: '{{ ResourceId }}',
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        ],
      },
    },
  ];
}

export const EVALUATORS: Record<string, Evaluator> = {
  INCOMING_SSH_DISABLED: {
    ...sgEvaluator(() => [22], 'SSH'),
    violation: openToTheWorld(22),
  },
  RESTRICTED_INCOMING_TRAFFIC: {
    ...sgEvaluator((params) => {
      const defaults: Record<string, number> = {
        blockedPort1: 20,
        blockedPort2: 21,
        blockedPort3: 3389,
        blockedPort4: 3306,
        blockedPort5: 4333,
      };
      return Object.entries(defaults).map(([k, d]) => {
        const v = params[k];
        return v !== undefined && v !== '' && Number.isInteger(Number(v)) ? Number(v) : d;
      });
    }, 'TCP'),
    violation: openToTheWorld(3389),
  },
  S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED: {
    ...bucketEvaluator((b) =>
      b.encryption && b.encryption.length > 0
        ? { compliance: 'COMPLIANT' }
        : {
            compliance: 'NON_COMPLIANT',
            annotation: 'The bucket has no default server-side encryption configuration.',
          },
    ),
    violation: [{ service: 's3', api: 'DeleteBucketEncryption', input: { Bucket: '{{ ResourceId }}' } }],
  },
  S3_BUCKET_VERSIONING_ENABLED: {
    ...bucketEvaluator((b, params) => {
      if (b.versioning?.Status !== 'Enabled') {
        return {
          compliance: 'NON_COMPLIANT',
          annotation: `Versioning is ${b.versioning?.Status ?? 'not enabled'}.`,
        };
      }
      if (params.isMfaDeleteEnabled === 'true' && b.versioning.MFADelete !== 'Enabled') {
        return { compliance: 'NON_COMPLIANT', annotation: 'MFA delete is not enabled.' };
      }
      return { compliance: 'COMPLIANT' };
    }),
    violation: [
      {
        service: 's3',
        api: 'PutBucketVersioning',
        input: { Bucket: '{{ ResourceId }}', VersioningConfiguration: { Status: 'Suspended' } },
      },
    ],
  },
  S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED: {
    ...bucketEvaluator((b, params) => {
      const excluded = (params.excludedPublicBuckets ?? '').split(',').map((s) => s.trim());
      if (excluded.includes(b.name)) return { compliance: 'COMPLIANT' };
      const pab = b.publicAccessBlock;
      const off = pab
        ? Object.entries(pab)
            .filter(([, v]) => !v)
            .map(([k]) => k)
        : ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'];
      return off.length === 0
        ? { compliance: 'COMPLIANT' }
        : {
            compliance: 'NON_COMPLIANT',
            annotation: `Bucket-level public access block settings not enabled: ${off.join(', ')}.`,
          };
    }),
    violation: [
      {
        service: 's3',
        api: 'PutPublicAccessBlock',
        input: {
          Bucket: '{{ ResourceId }}',
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: false,
            IgnorePublicAcls: false,
            BlockPublicPolicy: false,
            RestrictPublicBuckets: true,
          },
        },
      },
    ],
  },
  IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS: {
    resourceType: 'AWS::IAM::Policy',
    async list(sandbox) {
      return [...iamStore(sandbox).policies.values()].filter((p) => !p.awsManaged).map((p) => p.id);
    },
    async tags(sandbox, id) {
      const p = findPolicyById(sandbox, id);
      return p ? tagMap(p.tags) : undefined;
    },
    async evaluate(id, _params, sandbox) {
      const p = findPolicyById(sandbox, id);
      if (!p) return undefined;
      return hasAdminStatement(iamStore(sandbox).defaultDocument(p))
        ? {
            compliance: 'NON_COMPLIANT',
            annotation: 'The policy has a statement that allows Action "*" on Resource "*".',
          }
        : { compliance: 'COMPLIANT' };
    },
  },
  LAMBDA_FUNCTION_SETTINGS_CHECK: {
    resourceType: 'AWS::Lambda::Function',
    requiredParameters: ['runtime'],
    async list(sandbox) {
      return [...lambdaStore(sandbox).functions.keys()];
    },
    async tags(sandbox, id) {
      const fn = lambdaStore(sandbox).functions.get(id);
      return fn ? { ...fn.tags } : undefined;
    },
    async evaluate(id, params, sandbox) {
      const fn = lambdaStore(sandbox).functions.get(id);
      if (!fn) return undefined;
      const problems: string[] = [];
      const runtimes = (params.runtime ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (runtimes.length > 0 && !runtimes.includes(fn.runtime ?? ''))
        problems.push(`runtime is ${fn.runtime ?? 'unset'} (expected ${runtimes.join(' or ')})`);
      if (params.role && params.role !== fn.role)
        problems.push(`role is ${fn.role} (expected ${params.role})`);
      const timeout = Number(params.timeout ?? '3');
      if (fn.timeout !== timeout) problems.push(`timeout is ${fn.timeout} (expected ${timeout})`);
      const memory = Number(params.memorySize ?? '128');
      if (fn.memorySize !== memory) problems.push(`memorySize is ${fn.memorySize} (expected ${memory})`);
      return problems.length === 0
        ? { compliance: 'COMPLIANT' }
        : { compliance: 'NON_COMPLIANT', annotation: problems.join('; ') };
    },
    violation: [
      {
        service: 'lambda',
        api: 'UpdateFunctionConfiguration',
        input: { FunctionName: '{{ ResourceId }}', MemorySize: 1024 },
      },
    ],
  },
  CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK: stackDriftEvaluator,
  IAM_POLICY_BLACKLISTED_CHECK: blacklistedPolicyEvaluator,
};

/**
 * Config resource id for a ResourceChange (CloudFormation type + physical id), or undefined if Config does
 * not record it. IAM roles and policies are recorded by their unique ids (AROA…, ANPA…); `uniqueIds`
 * remembers physical id → unique id, so a deleted one is still reported under its unique id.
 */
export function configResourceOf(
  sandbox: SandboxContext,
  change: { resourceType: string; resourceId: string },
  uniqueIds: Map<string, string>,
): { resourceType: string; resourceId: string } | undefined {
  switch (change.resourceType) {
    case 'AWS::IAM::Role': {
      const r = iamStore(sandbox).roles.get(change.resourceId);
      if (r) uniqueIds.set(`role/${r.name}`, r.id);
      const id = r?.id ?? uniqueIds.get(`role/${change.resourceId}`);
      return id ? { resourceType: 'AWS::IAM::Role', resourceId: id } : undefined;
    }
    case 'AWS::IAM::ManagedPolicy': {
      const p = iamStore(sandbox).policies.get(change.resourceId);
      if (p) uniqueIds.set(p.arn, p.id);
      const id = p?.id ?? uniqueIds.get(change.resourceId);
      return id ? { resourceType: 'AWS::IAM::Policy', resourceId: id } : undefined;
    }
    case 'AWS::EC2::SecurityGroupIngress':
      return undefined;
    default:
      return { resourceType: change.resourceType, resourceId: change.resourceId };
  }
}
