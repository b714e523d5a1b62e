/**
 * Local evaluators for the AWS managed Config rules the sandbox supports. Each lists the resources of its
 * type the configuration recorder recorded and evaluates one from its recorded configuration item
 * (recorder.ts), with the rule's documented parameters and defaults: a resource the recorder did not
 * record is not evaluated. CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK runs a drift detection of its own.
 */

import {
  adminAccessVerdict,
  type ComplianceType,
  encryptionVerdict,
  functionSettingsVerdict,
  publicAccessVerdict,
  restrictedPorts,
  type SgRuleView,
  SSH_PORTS,
  securityGroupVerdict,
  type Verdict,
  versioningVerdict,
} from '../../../tasks/shared/rule-checks';
import type { ApiCallSpec, SandboxContext } from '../../core/types';
import { isObj, num, type Obj, str, type Tag } from '../state';
import { type ConfigurationItem, discovered, recordedIds, recordedItem } from './recorder';

export { hasAdminStatement } from '../../../tasks/shared/rule-checks';
// The rules' logic is shared with the CloudTrail fast path (tasks/shared/rule-checks.ts); these adapt it to configuration items.
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

type Item = ConfigurationItem;

/** An evaluator over the recorded configuration items of its type (the recorder's, not live state). */
function itemEvaluator(
  resourceType: string,
  check: (item: Item, params: Record<string, string>) => Verdict,
): Pick<Evaluator, 'resourceType' | 'list' | 'tags' | 'evaluate'> {
  return {
    resourceType,
    list: (sandbox) => recordedIds(sandbox, resourceType),
    async tags(sandbox, id) {
      return (await recordedItem(sandbox, resourceType, id))?.tags;
    },
    async evaluate(id, params, sandbox) {
      const item = await recordedItem(sandbox, resourceType, id);
      return item ? check(item, params) : undefined;
    },
  };
}

const objs = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const config = (item: Item): Obj => item.configuration ?? {};
const supplementary = (item: Item, key: string): Obj => {
  const v = item.supplementaryConfiguration[key];
  return isObj(v) ? v : {};
};

/** A security group's recorded ipPermissions as the rules the checks take (ingress only). */
function ingressRules(item: Item): SgRuleView[] {
  return objs(config(item).ipPermissions).flatMap((p) => {
    const base = {
      isEgress: false,
      ipProtocol: str(p.ipProtocol) ?? '-1',
      fromPort: typeof p.fromPort === 'number' ? p.fromPort : -1,
      toPort: typeof p.toPort === 'number' ? p.toPort : -1,
    };
    return [
      ...objs(p.ipv4Ranges).map((r) => ({ ...base, cidrIpv4: str(r.cidrIp) })),
      ...objs(p.ipv6Ranges).map((r) => ({ ...base, cidrIpv6: str(r.cidrIpv6) })),
    ];
  });
}

function sgEvaluator(ports: (params: Record<string, string>) => number[], what: string): Evaluator {
  return itemEvaluator('AWS::EC2::SecurityGroup', (item, params) =>
    securityGroupVerdict(ingressRules(item), ports(params), what),
  );
}

/** A bucket's recorded settings (supplementaryConfiguration) in the shapes the checks take. */
function bucketSettings(item: Item) {
  const versioning = supplementary(item, 'BucketVersioningConfiguration');
  const status = str(versioning.status);
  const pab = supplementary(item, 'PublicAccessBlockConfiguration');
  const flag = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
  return {
    name: item.resourceName,
    encryptionRules: objs(supplementary(item, 'ServerSideEncryptionConfiguration').rules).length,
    versioning:
      status === 'Enabled' || status === 'Suspended'
        ? {
            Status: status,
            ...(typeof versioning.isMfaDeleteEnabled === 'boolean'
              ? { MFADelete: versioning.isMfaDeleteEnabled ? 'Enabled' : 'Disabled' }
              : {}),
          }
        : undefined,
    publicAccessBlock:
      Object.keys(pab).length > 0
        ? {
            BlockPublicAcls: flag(pab.blockPublicAcls),
            IgnorePublicAcls: flag(pab.ignorePublicAcls),
            BlockPublicPolicy: flag(pab.blockPublicPolicy),
            RestrictPublicBuckets: flag(pab.restrictPublicBuckets),
          }
        : undefined,
  };
}

function bucketEvaluator(
  check: (b: ReturnType<typeof bucketSettings>, params: Record<string, string>) => Verdict,
): Evaluator {
  return itemEvaluator('AWS::S3::Bucket', (item, params) => check(bucketSettings(item), params));
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
  ...itemEvaluator('AWS::IAM::Role', (item, params) => {
    if (exceptedRoles(params.exceptionList).includes(item.resourceName)) return { compliance: 'COMPLIANT' };
    const banned = (params.policyArns || 'arn:aws:iam::aws:policy/AdministratorAccess')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    const attached = objs(config(item).attachedManagedPolicies)
      .map((a) => str(a.policyArn) ?? '')
      .filter((a) => banned.includes(a));
    return attached.length === 0
      ? { compliance: 'COMPLIANT' }
      : { compliance: 'NON_COMPLIANT', annotation: `Attached policies not allowed: ${attached.join(', ')}.` };
  }),
  physicalId(sandbox, id) {
    return discovered(sandbox, 'AWS::IAM::Role').find((i) => i.resourceId === id)?.resourceName;
  },
  violation: [
    {
      service: 'iam',
      api: 'AttachRolePolicy',
      input: { RoleName: '{{ ResourceId }}', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    },
  ],
};

/** A customer managed policy's recorded default version document. */
function defaultDocument(item: Item): string {
  const versions = objs(config(item).policyVersionList);
  const doc = str((versions.find((v) => v.isDefaultVersion === true) ?? versions[0])?.document);
  return doc ? decodeURIComponent(doc) : '{}';
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

/**
 * CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK: the recorded stacks, each checked by a drift detection the
 * rule starts itself (as the rule's cloudformationRoleArn, index.ts), not from the configuration item.
 */
const stackDriftEvaluator: Evaluator = {
  resourceType: 'AWS::CloudFormation::Stack',
  periodic: true,
  roleParameter: 'cloudformationRoleArn',
  deniedAnnotation:
    'Your stack drift detection operation for the specific stack has failed. Check your existing AWS CloudFormation role permission and add the missing permissions.',
  list: (sandbox) => recordedIds(sandbox, 'AWS::CloudFormation::Stack'),
  // The stack's own tags, live: they also stand for the tags CloudFormation propagates to the stack's
  // resources (scope.ts), which in AWS are in each resource's configuration item from its creation on,
  // before the stack itself is complete and recorded.
  async tags(sandbox, id) {
    try {
      const stack = (await describeStacks(sandbox, id))[0] as (StackSummary & { Tags?: Tag[] }) | undefined;
      return stack ? Object.fromEntries((stack.Tags ?? []).map((t) => [t.Key, t.Value ?? ''])) : undefined;
    } catch {
      return undefined;
    }
  },
  async evaluate(id, _params, sandbox, signal) {
    if (!(await recordedItem(sandbox, 'AWS::CloudFormation::Stack', id))) return undefined;
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
    return driftVerdict(sandbox, id, signal);
  },
};

/** Detects the stack's drift and waits for the result (as the rule's session, when it has a role). */
async function driftVerdict(sandbox: SandboxContext, id: string, signal?: AbortSignal): Promise<Verdict> {
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
}

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
    ...bucketEvaluator((b) => encryptionVerdict(b.encryptionRules)),
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
  IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS: itemEvaluator('AWS::IAM::Policy', (item) =>
    adminAccessVerdict(defaultDocument(item)),
  ),
  LAMBDA_FUNCTION_SETTINGS_CHECK: {
    ...itemEvaluator('AWS::Lambda::Function', (item, params) => {
      const c = config(item);
      return functionSettingsVerdict(
        {
          runtime: str(c.runtime),
          role: str(c.role),
          timeout: num(c.timeout),
          memorySize: num(c.memorySize),
        },
        params,
      );
    }),
    requiredParameters: ['runtime'],
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
