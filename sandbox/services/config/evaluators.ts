/**
 * Local evaluators for the AWS managed Config rules the sandbox supports. Each lists the resources of
 * its type and evaluates one against the live state (the same stores the service APIs change), with
 * the rule's documented parameters and defaults.
 */

import {
  adminAccessVerdict,
  type ComplianceType,
  encryptionVerdict,
  functionSettingsVerdict,
  publicAccessVerdict,
  restrictedPorts,
  SSH_PORTS,
  securityGroupVerdict,
  type Verdict,
  versioningVerdict,
} from '../../../tasks/shared/rule-checks';
import type { ApiCallSpec, SandboxContext } from '../../core/types';
import { ec2Store } from '../ec2/store';
import { iamStore, type ManagedPolicy, type Role } from '../iam/store';
import { lambdaStore } from '../lambda/store';
import { s3Store } from '../s3/store';
import { str, type Tag } from '../state';

export { hasAdminStatement } from '../../../tasks/shared/rule-checks';
// The rules' logic is shared with the CloudTrail fast path (tasks/shared/rule-checks.ts); these adapt it to the stores.
export type { ComplianceType, Verdict };

/** Thrown by an evaluator when it cannot evaluate yet (e.g. a stack operation is in progress). */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
}

export interface Evaluator {
  /** The Config resource type this rule evaluates. */
  readonly resourceType: string;
  /** Also run periodically (AWS's trigger type "Configuration changes and Periodic"), every MaximumExecutionFrequency. */
  readonly periodic?: boolean;
  /** The parameter naming the role the rule assumes for its calls (as `config.amazonaws.com`), if any. */
  readonly roleParameter?: string;
  /** The annotation of the NON_COMPLIANT result AWS gives when that role may not do the rule's calls. */
  readonly deniedAnnotation?: string;
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

const tagMap = (tags: readonly Tag[]): Record<string, string> =>
  Object.fromEntries(tags.map((t) => [t.Key, t.Value ?? '']));

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
      return securityGroupVerdict(g.rules, ports(params), what);
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
  periodic: true,
  roleParameter: 'cloudformationRoleArn',
  deniedAnnotation:
    'Your stack drift detection operation for the specific stack has failed. Check your existing AWS CloudFormation role permission and add the missing permissions.',
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
    ...sgEvaluator(SSH_PORTS, 'SSH'),
    violation: openToTheWorld(22),
  },
  RESTRICTED_INCOMING_TRAFFIC: {
    ...sgEvaluator(restrictedPorts, 'TCP'),
    violation: openToTheWorld(3389),
  },
  S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED: {
    ...bucketEvaluator((b) => encryptionVerdict(b.encryption?.length ?? 0)),
    violation: [{ service: 's3', api: 'DeleteBucketEncryption', input: { Bucket: '{{ ResourceId }}' } }],
  },
  S3_BUCKET_VERSIONING_ENABLED: {
    ...bucketEvaluator((b, params) => versioningVerdict(b.versioning, params)),
    violation: [
      {
        service: 's3',
        api: 'PutBucketVersioning',
        input: { Bucket: '{{ ResourceId }}', VersioningConfiguration: { Status: 'Suspended' } },
      },
    ],
  },
  S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED: {
    ...bucketEvaluator((b, params) => publicAccessVerdict(b.name, b.publicAccessBlock, params)),
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
      return adminAccessVerdict(iamStore(sandbox).defaultDocument(p));
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
      return functionSettingsVerdict(fn, params);
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
