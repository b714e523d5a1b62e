/**
 * IAM's `aws:ResourceTag/…` keys of a stack's resource come from reads of CloudFormation (the stack a
 * physical id belongs to, the stack's tags), cached until CloudFormation's change generation moves
 * (sandbox/core/changes.ts). A drift detection changes only the stack's drift status, so it must not force
 * those reads again; a change of the stack's tags or the resource's own must be seen by the very next call.
 * Real SDK v3 clients against the sandbox.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateTagsCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { resourceProviders } from '../../../sandbox/services/providers';
import { withSandbox } from '../helpers';
import { actingAs, failure, role } from './iam-support';

const sb = withSandbox(() => ({ timeScale: 0.01, services: allServices(), providers: resourceProviders() }));
const STACK = 'tag-reads';
const TEMPLATE = `Resources:
  WebSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: tag reads web
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8 }
`;
const SSH = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8' }] };
const READS = ['DescribeStackResources', 'DescribeStacks'].map((op) => `cloudformation:${op} (in-process)`);

async function until<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const v = await read();
    if (v !== undefined) return v;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const cfn = () => new CloudFormationClient(sb.clientConfig);

async function settled(): Promise<void> {
  await until(`${STACK} to settle`, async () => {
    const s = (await cfn().send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0]?.StackStatus;
    return s && !s.endsWith('_IN_PROGRESS') ? s : undefined;
  });
}

/** CloudFormation reads made in-process (IAM's) while `fn` runs. */
async function cfnReadsDuring(fn: () => Promise<unknown>): Promise<number> {
  const count = (m: Map<string, number>) => READS.reduce((n, k) => n + (m.get(k) ?? 0), 0);
  const before = count(sb.sandbox.callCounts());
  await fn();
  return count(sb.sandbox.callCounts()) - before;
}

/** The group's ingress ports. */
const portsOf = async (id: string) =>
  (
    (await new EC2Client(sb.clientConfig).send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })))
      .SecurityGroups?.[0]?.IpPermissions ?? []
  ).map((p) => p.FromPort);

describe('cached resource-tag reads (IAM)', () => {
  it('a drift detection forces no re-read; a stack tag change and a resource tag change are seen at once', async () => {
    await cfn().send(
      new CreateStackCommand({
        StackName: STACK,
        TemplateBody: TEMPLATE,
        Tags: [{ Key: 'team', Value: 'a' }],
      }),
    );
    await settled();
    const resources = await cfn().send(new DescribeStackResourcesCommand({ StackName: STACK }));
    const groupId = String(resources.StackResources?.[0]?.PhysicalResourceId);
    const teamA = await role(sb, 'team-a-operator', [
      {
        Effect: 'Allow',
        Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'],
        Resource: 'arn:aws:ec2:*:*:security-group/*',
        Condition: { StringEquals: { 'aws:ResourceTag/team': 'a' } },
      },
    ]);
    const ec2 = new EC2Client(actingAs(sb, teamA, 'ops'));
    const authorize = () =>
      ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [SSH] }));
    const revoke = () =>
      ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [SSH] }));
    // The first call reads the stack the group belongs to, and the stack's tags (team=a: allowed).
    expect(await cfnReadsDuring(authorize)).toBeGreaterThan(0);

    const { StackDriftDetectionId: detection } = await cfn().send(
      new DetectStackDriftCommand({ StackName: STACK }),
    );
    const drift = await until('the drift detection', async () => {
      const d = await cfn().send(
        new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: detection }),
      );
      return d.DetectionStatus === 'DETECTION_IN_PROGRESS' ? undefined : d.StackDriftStatus;
    });
    expect(drift).toBe('DRIFTED'); // SSH is not in the template
    expect(await cfnReadsDuring(revoke)).toBe(0);
    expect(await portsOf(groupId)).toEqual([443]);

    // The stack's tags change (propagated to the group): the very next call is refused, and changes nothing.
    await cfn().send(
      new UpdateStackCommand({
        StackName: STACK,
        UsePreviousTemplate: true,
        Tags: [{ Key: 'team', Value: 'b' }],
      }),
    );
    await settled();
    const refused = await failure(authorize());
    expect(refused).toMatchObject({ name: 'UnauthorizedOperation' });
    expect(await portsOf(groupId)).toEqual([443]);

    // The group's own tag wins over its stack's: allowed again at once.
    await new EC2Client(sb.clientConfig).send(
      new CreateTagsCommand({ Resources: [groupId], Tags: [{ Key: 'team', Value: 'a' }] }),
    );
    await authorize();
    expect((await portsOf(groupId)).sort()).toEqual([22, 443]);
  });
});
