/**
 * The fast path's direct check of a suspected drift: read the resource's configuration (Cloud Control
 * GetResource: the template-shaped properties, one client for every type), judge it with the Config rule's
 * own logic (tasks/shared/rule-checks.ts), and, for a resource a stack manages, detect its drift
 * (DetectStackResourceDrift, synchronous). Read-only.
 */
import { type CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import {
  type CloudFormationClient,
  DescribeStackResourcesCommand,
  type DescribeStackResourcesCommandOutput,
  DescribeStacksCommand,
  DetectStackResourceDriftCommand,
  type StackResourceDrift,
} from '@aws-sdk/client-cloudformation';
import { awsCall, errorName } from '../shared/errors';
import { tagsOf } from '../shared/resource-lookup';
import {
  adminAccessVerdict,
  encryptionVerdict,
  functionSettingsVerdict,
  publicAccessVerdict,
  restrictedPorts,
  type SgRuleView,
  SSH_PORTS,
  securityGroupVerdict,
  type Verdict,
  versioningVerdict,
} from '../shared/rule-checks';

export interface CheckClients {
  cloudFormation: CloudFormationClient;
  cloudControl: CloudControlClient;
}

/** What the fast path read of a resource: Config's id for it, its tags, and a rule judge. */
export interface ResourceSnapshot {
  /** The id Config records (an IAM policy's id, not its ARN). */
  configId: string;
  tags: Record<string, string>;
  /** The verdict of the managed rule `sourceIdentifier` with `params`; undefined: the rule is not checkable here. */
  judge(sourceIdentifier: string, params: Record<string, string>): Verdict | undefined;
}

type Props = Record<string, unknown>;
type Judges = Record<string, (props: Props, params: Record<string, string>) => Verdict>;

const obj = (v: unknown): Props => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Props) : {});
const list = (v: unknown): Props[] => (Array.isArray(v) ? v.map(obj) : []);
const num = (v: unknown, d: number): number => (v === undefined || v === '' ? d : Number(v));
const optStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** CloudFormation's SecurityGroupIngress entries → rule views (protocol numbers 6 / -1 as names). */
function ingressRules(props: Props): SgRuleView[] {
  return list(props.SecurityGroupIngress).map((r) => {
    const p = String(r.IpProtocol ?? '-1');
    return {
      isEgress: false,
      ipProtocol: p === '6' ? 'tcp' : p === '17' ? 'udp' : p,
      fromPort: num(r.FromPort, -1),
      toPort: num(r.ToPort, -1),
      cidrIpv4: optStr(r.CidrIp),
      cidrIpv6: optStr(r.CidrIpv6),
    };
  });
}

function policyDocument(props: Props): string {
  const d = props.PolicyDocument;
  return typeof d === 'string' ? d : JSON.stringify(d ?? {});
}

/** Per resource type, the managed rules judged over its Cloud Control properties. */
const JUDGES: Record<string, Judges> = {
  'AWS::EC2::SecurityGroup': {
    INCOMING_SSH_DISABLED: (p) => securityGroupVerdict(ingressRules(p), SSH_PORTS(), 'SSH'),
    RESTRICTED_INCOMING_TRAFFIC: (p, params) =>
      securityGroupVerdict(ingressRules(p), restrictedPorts(params), 'TCP'),
  },
  'AWS::S3::Bucket': {
    S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED: (p) =>
      encryptionVerdict(list(obj(p.BucketEncryption).ServerSideEncryptionConfiguration).length),
    S3_BUCKET_VERSIONING_ENABLED: (p, params) =>
      versioningVerdict({ Status: optStr(obj(p.VersioningConfiguration).Status) }, params),
    S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED: (p, params) =>
      publicAccessVerdict(
        String(p.BucketName ?? ''),
        p.PublicAccessBlockConfiguration ? obj(p.PublicAccessBlockConfiguration) : undefined,
        params,
      ),
  },
  'AWS::IAM::ManagedPolicy': {
    IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS: (p) => adminAccessVerdict(policyDocument(p)),
  },
  'AWS::Lambda::Function': {
    LAMBDA_FUNCTION_SETTINGS_CHECK: (p, params) =>
      functionSettingsVerdict(
        {
          runtime: optStr(p.Runtime),
          role: optStr(p.Role),
          timeout: num(p.Timeout, 3),
          memorySize: num(p.MemorySize, 128),
        },
        params,
      ),
  },
};

/** Config names a customer managed policy AWS::IAM::Policy and identifies it by its id; Cloud Control by its ARN. */
const CLOUD_CONTROL_TYPE: Record<string, string> = { 'AWS::IAM::Policy': 'AWS::IAM::ManagedPolicy' };

/** Reads a resource; undefined when it does not exist. */
export async function readResource(
  c: CheckClients,
  resourceType: string,
  physicalId: string,
): Promise<ResourceSnapshot | undefined> {
  const typeName = CLOUD_CONTROL_TYPE[resourceType] ?? resourceType;
  let props: Props;
  try {
    const r = await awsCall('GetResource', () =>
      c.cloudControl.send(new GetResourceCommand({ TypeName: typeName, Identifier: physicalId })),
    );
    props = obj(JSON.parse(r.ResourceDescription?.Properties ?? '{}'));
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return undefined;
    throw err;
  }
  const judges = JUDGES[typeName] ?? {};
  const configId = resourceType === 'AWS::IAM::Policy' ? (optStr(props.PolicyId) ?? physicalId) : physicalId;
  return {
    configId,
    tags: tagsOf(props),
    judge: (rule, params) => judges[rule]?.(props, params),
  };
}

export interface StackMembership {
  stackName: string;
  stackId: string;
  logicalResourceId: string;
  stackTags: Record<string, string>;
}

/** The stack that manages the resource (by physical id), with its tags; undefined when none does. */
export async function stackOf(c: CheckClients, physicalId: string): Promise<StackMembership | undefined> {
  let res: DescribeStackResourcesCommandOutput;
  try {
    res = await awsCall('DescribeStackResources', () =>
      c.cloudFormation.send(new DescribeStackResourcesCommand({ PhysicalResourceId: physicalId })),
    );
  } catch (err) {
    // "Stack for <id> does not exist": no stack manages it.
    if (errorName(err) === 'ValidationError') return undefined;
    throw err;
  }
  // AWS returns every resource of that stack: pick the one named.
  const r = res.StackResources?.find((x) => x.PhysicalResourceId === physicalId);
  if (!r?.StackName || !r.LogicalResourceId) return undefined;
  const stacks = await awsCall('DescribeStacks', () =>
    c.cloudFormation.send(new DescribeStacksCommand({ StackName: r.StackId ?? r.StackName })),
  );
  return {
    stackName: r.StackName,
    stackId: r.StackId ?? r.StackName,
    logicalResourceId: r.LogicalResourceId,
    stackTags: tagsOf({ Tags: stacks.Stacks?.[0]?.Tags }),
  };
}

/** Per-resource drift detection (synchronous in CloudFormation). */
export async function detectResourceDrift(c: CheckClients, m: StackMembership): Promise<StackResourceDrift> {
  const out = await awsCall('DetectStackResourceDrift', () =>
    c.cloudFormation.send(
      new DetectStackResourceDriftCommand({ StackName: m.stackName, LogicalResourceId: m.logicalResourceId }),
    ),
  );
  if (!out.StackResourceDrift) throw new Error('DetectStackResourceDrift returned no StackResourceDrift');
  return out.StackResourceDrift;
}
