/**
 * The demo's drift cases: a stack deployed from a template, drift injected through the real service
 * API (as a person in the console would), and a check that the resource is back to its template.
 * Everything goes through SDK v3 clients pointed at the sandbox endpoint.
 */
import {
  type CloudFormationClient,
  DescribeStacksCommand,
  DetectStackDriftCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  type IAMClient,
  ListAttachedRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  GetFunctionConfigurationCommand,
  type LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { DeleteBucketEncryptionCommand, GetBucketEncryptionCommand, type S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_RULE_SCOPE } from '../../tasks/shared/policy/schema';

/**
 * Stack tags that put a demo stack and its resources in the Config rules' scope (the policy's default
 * `scope`; CloudFormation propagates stack tags to the resources, and Config sees them there).
 */
export const IN_SCOPE_TAGS = [{ Key: DEFAULT_RULE_SCOPE.tagKey, Value: DEFAULT_RULE_SCOPE.tagValue }];

export interface DemoClients {
  cloudFormation: CloudFormationClient;
  ec2: EC2Client;
  s3: S3Client;
  iam: IAMClient;
  lambda: LambdaClient;
}

export interface DriftCase {
  id: string;
  /** What the person did, in words. */
  drift: string;
  stackName: string;
  template: string;
  /** The stack output holding the resource's physical id. */
  output: string;
  resourceType: string;
  /** The Config rule that flags it, or undefined when CloudFormation drift detection does. */
  rule?: string;
  /** Whether the policy requires an approval for it. */
  approval: boolean;
  /** In the organization's member account-region (sandbox/demo/organization.ts); default the central one. */
  inMember?: boolean;
  inject(c: DemoClients, id: string): Promise<void>;
  /** Null when the resource is back to its template, else what is still wrong. */
  stillWrong(c: DemoClients, id: string): Promise<string | null>;
}

const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
/** The reporting role's AWS managed policies (reporting-role.yaml), sorted. */
const READER_POLICIES = ['AmazonDynamoDBReadOnlyAccess', 'AmazonEC2ReadOnlyAccess'];

export const CASES: readonly DriftCase[] = [
  {
    id: 'ssh-open',
    drift: 'SSH (22/tcp) opened to 0.0.0.0/0',
    stackName: 'drift-demo-web',
    template: 'web-security-group.yaml',
    output: 'GroupId',
    resourceType: 'AWS::EC2::SecurityGroup',
    rule: 'restricted-ssh',
    approval: false,
    inject: async (c, id) => {
      await c.ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: id,
          IpPermissions: [
            {
              IpProtocol: 'tcp',
              FromPort: 22,
              ToPort: 22,
              IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'incident debugging' }],
            },
          ],
        }),
      );
    },
    stillWrong: async (c, id) => {
      const r = await c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
      const perms = r.SecurityGroups?.[0]?.IpPermissions ?? [];
      const open = perms.some(
        (p) => p.FromPort === 22 && (p.IpRanges ?? []).some((x) => x.CidrIp === '0.0.0.0/0'),
      );
      const https = perms.some(
        (p) => p.FromPort === 443 && (p.IpRanges ?? []).some((x) => x.CidrIp === '10.0.0.0/8'),
      );
      if (open) return 'SSH is still open to the world';
      return https ? null : 'the declared HTTPS rule is gone';
    },
  },
  {
    id: 'bucket-encryption',
    drift: 'default encryption removed from the data bucket',
    stackName: 'drift-demo-data',
    template: 'data-bucket.yaml',
    output: 'BucketName',
    resourceType: 'AWS::S3::Bucket',
    rule: 's3-bucket-server-side-encryption-enabled',
    approval: false,
    inject: async (c, id) => {
      await c.s3.send(new DeleteBucketEncryptionCommand({ Bucket: id }));
    },
    stillWrong: async (c, id) => {
      try {
        const r = await c.s3.send(new GetBucketEncryptionCommand({ Bucket: id }));
        const alg =
          r.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm;
        return alg === 'AES256' ? null : `encryption is ${alg ?? 'unset'}`;
      } catch (err) {
        return `no default encryption (${(err as Error).name})`;
      }
    },
  },
  {
    id: 'admin-role',
    drift: 'AdministratorAccess attached to the reporting role',
    stackName: 'drift-demo-reporting',
    template: 'reporting-role.yaml',
    output: 'RoleName',
    resourceType: 'AWS::IAM::Role',
    approval: true,
    inject: async (c, id) => {
      await c.iam.send(new AttachRolePolicyCommand({ RoleName: id, PolicyArn: ADMIN }));
    },
    stillWrong: async (c, id) => {
      const r = await c.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: id }));
      const arns = (r.AttachedPolicies ?? []).map((p) => p.PolicyArn);
      if (arns.includes(ADMIN)) return 'AdministratorAccess is still attached';
      // Restored exactly: the template's two AWS managed policies, nothing else.
      const declared = READER_POLICIES.map((name) => `arn:aws:iam::aws:policy/${name}`);
      const actual = arns.map(String).sort();
      return JSON.stringify(actual) === JSON.stringify(declared) ? null : `attached: ${actual.join(', ')}`;
    },
  },
  {
    id: 'lambda-memory',
    drift: "the thumbnail function's memory raised to 1024 MB",
    stackName: 'drift-demo-thumbnail',
    template: 'thumbnail-function.yaml',
    output: 'FunctionName',
    resourceType: 'AWS::Lambda::Function',
    rule: 'lambda-function-settings-check',
    approval: false,
    inject: async (c, id) => {
      await c.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: id, MemorySize: 1024 }));
    },
    stillWrong: async (c, id) => {
      const r = await c.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: id }));
      return r.MemorySize === 128 ? null : `memory is ${r.MemorySize} MB`;
    },
  },
];

/**
 * The organization case (#13): the same SSH drift, in member account 222222222222 in us-west-2, remediated
 * from the central account through the member stack.
 */
export const MEMBER_CASE: DriftCase = {
  ...(CASES[0] as DriftCase),
  id: 'member-ssh-open',
  drift: 'SSH opened to 0.0.0.0/0 in the member account',
  stackName: 'drift-demo-member-web',
  inMember: true,
};

/** What `npm start` runs: the four central cases and the member case. */
export const DEMO_CASES: readonly DriftCase[] = [...CASES, MEMBER_CASE];

/** The physical id a case's stack output names. */
export async function physicalIdOf(c: DemoClients, dc: DriftCase): Promise<string> {
  const r = await c.cloudFormation.send(new DescribeStacksCommand({ StackName: dc.stackName }));
  const v = r.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === dc.output)?.OutputValue;
  if (!v) throw new Error(`stack ${dc.stackName} has no output ${dc.output}`);
  return v;
}

/**
 * What an operator does after a case's drift so the workflow sees it at once. A case a Config rule flags:
 * nothing (Config evaluates the resource on its configuration change). A case found by CloudFormation drift:
 * Config's stack drift rule runs on changes of the stack itself and periodically (MaximumExecutionFrequency,
 * 24 hours unless set), not on a change to a resource in the stack, so the operator runs drift detection on
 * the stack (the console's "Detect drift"); the remediation stack consumes its "CloudFormation Drift
 * Detection Status Change" event. Returns whether a detection was started.
 */
export async function surfaceDrift(
  c: DemoClients,
  dc: DriftCase,
  stackName: string = dc.stackName,
): Promise<boolean> {
  if (dc.rule) return false;
  await c.cloudFormation.send(new DetectStackDriftCommand({ StackName: stackName }));
  return true;
}
