/**
 * A REVERT_DRIFT change set (what runbooks/DriftRemediation-RevertStackDrift.yaml runs) made and executed
 * by a narrow role: CloudFormation's handlers make their calls with that role's credentials, each
 * authorized when it is made, so the role needs exactly the calls reverting this drift makes — the live
 * read (ec2:DescribeSecurityGroups), the revoke of the added rule and the authorize of the removed one —
 * and none of the rest of the type's schema update list (tags, egress). Without one of them the revert
 * fails naming that action, as CloudFormation reports it. Real SDK v3 clients against the sandbox.
 */
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  CreateStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { resourceSchema } from '../../../infra/runbook-permissions';
import { allServices } from '../../../sandbox/services';
import { resourceProviders } from '../../../sandbox/services/providers';
import { actingAs, role } from '../core/iam-support';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({ timeScale: 0.01, services: allServices(), providers: resourceProviders() }));

/** The calls the runbook role makes itself (CloudFormation's API), and those the handlers make as it. */
const STACK_CALLS = [
  'cloudformation:CreateChangeSet',
  'cloudformation:DescribeChangeSet',
  'cloudformation:ExecuteChangeSet',
];
const HANDLER_CALLS = [
  'ec2:DescribeSecurityGroups',
  'ec2:RevokeSecurityGroupIngress',
  'ec2:AuthorizeSecurityGroupIngress',
];

const template = (description: string) => `Resources:
  WebSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: ${description}
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8 }
`;

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const v = await read();
    if (done(v)) return v;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error('did not settle');
}

const admin = () => ({
  cfn: new CloudFormationClient(sb.clientConfig),
  ec2: new EC2Client(sb.clientConfig),
});

async function stackStatus(name: string): Promise<string> {
  const read = async () =>
    String((await admin().cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0]?.StackStatus);
  return until(read, (s) => !s.endsWith('_IN_PROGRESS'));
}

/** A stack with one group, drifted by hand: its 443 rule revoked and a port 22 rule added. */
async function driftedStack(name: string): Promise<string> {
  const { cfn, ec2 } = admin();
  await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: template(`${name} web`) }));
  expect(await stackStatus(name)).toBe('CREATE_COMPLETE');
  const groupId = await groupOf(name);
  const rule = (port: number) => ({
    GroupId: groupId,
    IpPermissions: [
      { IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
    ],
  });
  await ec2.send(new RevokeSecurityGroupIngressCommand(rule(443)));
  await ec2.send(new AuthorizeSecurityGroupIngressCommand(rule(22)));
  return groupId;
}

async function groupOf(name: string): Promise<string> {
  const groups = (await admin().ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  return String(groups.find((g) => g.Description === `${name} web`)?.GroupId);
}

async function ports(groupId: string): Promise<number[]> {
  const out = await admin().ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
  return (out.SecurityGroups?.[0]?.IpPermissions ?? []).map((p) => Number(p.FromPort));
}

/** The runbook's revert, made and executed as `roleArn`: the change set's status and the stack's. */
async function revertAs(roleArn: string, name: string) {
  const cfn = new CloudFormationClient(actingAs(sb, roleArn, 'revert'));
  const { Id } = await cfn.send(
    new CreateChangeSetCommand({
      StackName: name,
      ChangeSetName: 'revert',
      ChangeSetType: 'UPDATE',
      DeploymentMode: 'REVERT_DRIFT',
      UsePreviousTemplate: true,
    }),
  );
  const describe = () => cfn.send(new DescribeChangeSetCommand({ ChangeSetName: Id }));
  const cs = await until(describe, (c) => c.Status === 'CREATE_COMPLETE' || c.Status === 'FAILED');
  if (cs.Status === 'FAILED') return { changeSet: cs };
  await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: Id }));
  return { changeSet: cs, stack: await stackStatus(name) };
}

const roleWith = (name: string, actions: string[]) =>
  role(sb, name, [{ Effect: 'Allow', Action: actions, Resource: '*' }]);

describe('a REVERT_DRIFT change set needs the permissions of the calls it makes', () => {
  it('with exactly the calls’ permissions the drift is reverted, though the schema lists more', async () => {
    const schema = resourceSchema('AWS::EC2::SecurityGroup').handlers?.update?.permissions ?? [];
    const unneeded = schema.filter((a) => !HANDLER_CALLS.includes(a));
    expect(unneeded).toEqual(expect.arrayContaining(['ec2:CreateTags', 'ec2:AuthorizeSecurityGroupEgress']));
    const groupId = await driftedStack('revert-exact');
    expect(await ports(groupId)).toEqual([22]);
    const roleArn = await roleWith('revert-exact', [...STACK_CALLS, ...HANDLER_CALLS]);
    const { changeSet, stack } = await revertAs(roleArn, 'revert-exact');
    expect(changeSet.Changes?.map((c) => c.ResourceChange?.ResourceDriftStatus)).toEqual(['MODIFIED']);
    expect(stack).toBe('UPDATE_COMPLETE');
    expect(await ports(groupId)).toEqual([443]);
  });

  // The handler revokes the added rule before it authorizes the removed one: without the revoke nothing
  // changes (the rollback has nothing to bring back); without the authorize the revoke has been made
  // when the authorize is refused, and the rollback, which brings the failed group back to its live
  // rules, needs the authorize it is refused too: UPDATE_ROLLBACK_FAILED, the revoke left made.
  it.each([
    {
      missing: 'ec2:RevokeSecurityGroupIngress',
      name: 'revert-no-revoke',
      ends: 'UPDATE_ROLLBACK_COMPLETE',
      left: [22],
    },
    {
      missing: 'ec2:AuthorizeSecurityGroupIngress',
      name: 'revert-no-authorize',
      ends: 'UPDATE_ROLLBACK_FAILED',
      left: [],
    },
  ])('without $missing the update fails naming it and ends $ends', async ({ missing, name, ends, left }) => {
    const groupId = await driftedStack(name);
    const roleArn = await roleWith(name, [...STACK_CALLS, ...HANDLER_CALLS.filter((a) => a !== missing)]);
    const { stack } = await revertAs(roleArn, name);
    expect(stack).toBe(ends);
    const events = (await admin().cfn.send(new DescribeStackEventsCommand({ StackName: name }))).StackEvents;
    const failed = events?.find(
      (e) => e.LogicalResourceId === 'WebSg' && e.ResourceStatus === 'UPDATE_FAILED',
    );
    expect(failed?.ResourceStatusReason).toMatch(
      new RegExp(
        `^Resource handler returned message: ".*assumed-role/${name}/revert is not authorized to perform: ${missing} .*\\(HandlerErrorCode: AccessDenied\\)$`,
      ),
    );
    expect(await ports(groupId)).toEqual(left);
  });

  it('without the live read (ec2:DescribeSecurityGroups) the change set fails naming it; nothing changes', async () => {
    const groupId = await driftedStack('revert-no-read');
    const roleArn = await roleWith('revert-no-read', [...STACK_CALLS, ...HANDLER_CALLS.slice(1)]);
    const { changeSet, stack } = await revertAs(roleArn, 'revert-no-read');
    expect(stack).toBeUndefined();
    expect(changeSet.Status).toBe('FAILED');
    expect(changeSet.StatusReason).toContain('is not authorized to perform: ec2:DescribeSecurityGroups');
    expect(await ports(groupId)).toEqual([22]);
  });
});
