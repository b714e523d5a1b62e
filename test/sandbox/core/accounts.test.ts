/**
 * Accounts and regions: a request runs in its caller's account (the access key: the dummy keys are the
 * home account's administrator, a 12-digit key that account's) and its signature's region; resources are
 * isolated per account-region, IAM per account.
 */
import {
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type EC2ServiceException,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { TEST_CREDENTIALS, withSandbox } from '../helpers';

const CENTRAL = '111111111111';
const MEMBER = '222222222222';
const sb = withSandbox({ services: [ec2Service(), iamService()], accountId: CENTRAL, region: 'us-east-1' });

function clients(region: string, accessKeyId = TEST_CREDENTIALS.accessKeyId) {
  const config = {
    endpoint: sb.endpoint,
    region,
    credentials: { accessKeyId, secretAccessKey: 'x' },
    maxAttempts: 1,
  };
  return { ec2: new EC2Client(config), iam: new IAMClient(config) };
}

/** The groups made here (every account-region also has its own default VPC's `default` group). */
async function groupNames(ec2: EC2Client): Promise<string[]> {
  const out = await ec2.send(new DescribeSecurityGroupsCommand({}));
  return (out.SecurityGroups ?? []).map((g) => g.GroupName ?? '').filter((n) => n !== 'default');
}

const trust = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ssm.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

describe('accounts and regions', () => {
  it('keeps each account-region its own EC2 state, with ARNs and owners of that account-region', async () => {
    const central = clients('us-east-1');
    const memberWest = clients('us-west-2', MEMBER);
    const memberEast = clients('us-east-1', MEMBER);
    const created = await memberWest.ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'member-web', Description: 'member' }),
    );
    await central.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'central-web', Description: 'c' }));

    expect(await groupNames(memberWest.ec2)).toEqual(['member-web']);
    expect(await groupNames(central.ec2)).toEqual(['central-web']);
    expect(await groupNames(memberEast.ec2)).toEqual([]);
    const seen = await memberWest.ec2.send(
      new DescribeSecurityGroupsCommand({ GroupIds: [created.GroupId ?? ''] }),
    );
    expect(seen.SecurityGroups?.[0]?.OwnerId).toBe(MEMBER);
    expect(created.SecurityGroupArn).toBe(
      `arn:aws:ec2:us-west-2:${MEMBER}:security-group/${created.GroupId}`,
    );

    const err = await central.ec2
      .send(new DescribeSecurityGroupsCommand({ GroupIds: [created.GroupId ?? ''] }))
      .catch((e: EC2ServiceException) => e);
    expect((err as EC2ServiceException).name).toBe('InvalidGroup.NotFound');
  });

  it('keeps IAM per account: a role is seen from every region of its account and from no other account', async () => {
    const member = clients('us-west-2', MEMBER);
    const role = await member.iam.send(
      new CreateRoleCommand({ RoleName: 'member-exec', AssumeRolePolicyDocument: trust }),
    );
    expect(role.Role?.Arn).toBe(`arn:aws:iam::${MEMBER}:role/member-exec`);
    const fromEast = await clients('us-east-1', MEMBER).iam.send(
      new GetRoleCommand({ RoleName: 'member-exec' }),
    );
    expect(fromEast.Role?.Arn).toBe(role.Role?.Arn);
    await expect(
      clients('us-east-1').iam.send(new GetRoleCommand({ RoleName: 'member-exec' })),
    ).rejects.toThrow(/member-exec/);
  });

  it('gives in-process callers the scope of the context they call through', async () => {
    const member = sb.sandbox.context.scoped(MEMBER, 'us-west-2');
    expect(member).toBe(sb.sandbox.context.scoped(MEMBER, 'us-west-2'));
    expect(sb.sandbox.context.scoped(CENTRAL, 'us-east-1')).toBe(sb.sandbox.context);
    await member.call('ec2', 'CreateSecurityGroup', { GroupName: 'in-process', Description: 'x' });
    expect(await groupNames(clients('us-west-2', MEMBER).ec2)).toContain('in-process');
    expect(await groupNames(clients('us-west-2').ec2)).toEqual([]);
    expect(() => sb.sandbox.context.scoped('12', 'us-east-1')).toThrow(/not an account id/);
  });
});
