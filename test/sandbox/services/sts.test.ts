/**
 * STS over a real STSClient: AssumeRole admitted or refused by the role's trust policy (account, role and
 * organization principals, sts:ExternalId, aws:PrincipalOrgID from the organization model), the caller's
 * own sts:AssumeRole permission across accounts, and session credentials that act in the role's account
 * with the role's policies.
 */
import {
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type EC2ServiceException,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type STSServiceException,
} from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { stsService } from '../../../sandbox/services/sts';
import { TEST_CREDENTIALS, withSandbox } from '../helpers';

const CENTRAL = '111111111111';
const MEMBER = '222222222222';
const OUTSIDER = '333333333333';
const ORG = 'o-sandbox0001';
const sb = withSandbox({
  services: [ec2Service(), iamService(), stsService()],
  accountId: CENTRAL,
  organization: {
    id: ORG,
    managementAccountId: CENTRAL,
    accounts: [{ id: CENTRAL }, { id: MEMBER, ou: 'ou-sbox-members1' }],
  },
});

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
const admin = (account?: string): Creds => ({
  accessKeyId: account ?? TEST_CREDENTIALS.accessKeyId,
  secretAccessKey: 'x',
});
const config = (credentials: Creds, region = 'us-east-1') => ({
  endpoint: sb.endpoint,
  region,
  credentials,
  maxAttempts: 1,
});

const policy = (statement: Record<string, unknown>) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [statement] });

async function role(account: string, name: string, trust: Record<string, unknown>, allow?: string[]) {
  const iam = new IAMClient(config(admin(account === CENTRAL ? undefined : account)));
  const out = await iam.send(
    new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: policy(trust) }),
  );
  if (allow)
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: name,
        PolicyName: 'p',
        PolicyDocument: policy({ Effect: 'Allow', Action: allow, Resource: '*' }),
      }),
    );
  return out.Role?.Arn ?? '';
}

async function assume(credentials: Creds, RoleArn: string, ExternalId?: string): Promise<Creds> {
  const out = await new STSClient(config(credentials)).send(
    new AssumeRoleCommand({ RoleArn, RoleSessionName: 'drift', ...(ExternalId ? { ExternalId } : {}) }),
  );
  const c = out.Credentials;
  return {
    accessKeyId: c?.AccessKeyId ?? '',
    secretAccessKey: c?.SecretAccessKey ?? '',
    sessionToken: c?.SessionToken ?? '',
  };
}

async function refusal(p: Promise<unknown>): Promise<STSServiceException> {
  const err = await p.then(
    () => undefined,
    (e: STSServiceException) => e,
  );
  if (!err) throw new Error('expected AccessDenied');
  return err;
}

describe('STS AssumeRole and GetCallerIdentity', () => {
  it('admits the central account by its root with the external id; the session acts in the member account with the role policy', async () => {
    const arn = await role(
      MEMBER,
      'member-exec',
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${CENTRAL}:root` },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': 'drift-remediation' } },
      },
      ['ec2:DescribeSecurityGroups'],
    );
    await new EC2Client(config(admin(MEMBER), 'us-west-2')).send(
      new CreateSecurityGroupCommand({ GroupName: 'member-web', Description: 'm' }),
    );
    const session = await assume(admin(), arn, 'drift-remediation');
    const who = await new STSClient(config(session)).send(new GetCallerIdentityCommand({}));
    expect(who.Account).toBe(MEMBER);
    expect(who.Arn).toBe(`arn:aws:sts::${MEMBER}:assumed-role/member-exec/drift`);

    const ec2 = new EC2Client(config(session, 'us-west-2'));
    const groups = await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['member-web'] }));
    expect(groups.SecurityGroups?.[0]?.OwnerId).toBe(MEMBER);
    const denied = await ec2
      .send(new CreateSecurityGroupCommand({ GroupName: 'nope', Description: 'n' }))
      .catch((e: EC2ServiceException) => e);
    expect((denied as EC2ServiceException).name).toBe('UnauthorizedOperation');

    const noId = await refusal(assume(admin(), arn));
    expect(noId.name).toBe('AccessDenied');
    expect(noId.$metadata.httpStatusCode).toBe(403);
    expect(noId.message).toBe(
      `User: arn:aws:iam::${CENTRAL}:user/sandbox-admin is not authorized to perform: sts:AssumeRole on resource: ${arn}`,
    );
    expect((await refusal(assume(admin(OUTSIDER), arn, 'drift-remediation'))).name).toBe('AccessDenied');
  });

  it('evaluates aws:PrincipalOrgID from the organization model', async () => {
    const arn = await role(MEMBER, 'org-reader', {
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG } },
    });
    const central = await assume(admin(), arn);
    expect(central.accessKeyId).toMatch(/^ASIA/);
    const outsider = await refusal(assume(admin(OUTSIDER), arn));
    expect(outsider.message).toContain(`arn:aws:iam::${OUTSIDER}:user/sandbox-admin is not authorized`);
  });

  it('needs the trust policy even in the role account, and the caller role its own sts:AssumeRole across accounts', async () => {
    const serviceOnly = await role(MEMBER, 'ssm-only', {
      Effect: 'Allow',
      Principal: { Service: 'ssm.amazonaws.com' },
      Action: 'sts:AssumeRole',
    });
    expect((await refusal(assume(admin(MEMBER), serviceOnly))).name).toBe('AccessDenied');
    expect((await refusal(assume(admin(), `arn:aws:iam::${MEMBER}:role/missing`))).name).toBe('AccessDenied');

    const target = await role(MEMBER, 'chain-target', {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${CENTRAL}:role/central-task` },
      Action: 'sts:AssumeRole',
    });
    const trustCentral = {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${CENTRAL}:root` },
      Action: 'sts:AssumeRole',
    };
    const task = await role(CENTRAL, 'central-task', trustCentral, ['sts:AssumeRole']);
    const bare = await role(CENTRAL, 'central-bare', trustCentral, ['ec2:DescribeSecurityGroups']);
    const chained = await assume(await assume(admin(), task), target);
    const who = await new STSClient(config(chained)).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe(`arn:aws:sts::${MEMBER}:assumed-role/chain-target/drift`);
    // central-bare is not the trusted role; and where the central account is trusted, its own policies
    // still must allow sts:AssumeRole.
    expect((await refusal(assume(await assume(admin(), bare), target))).name).toBe('AccessDenied');
    const accountTrusted = await role(MEMBER, 'account-trusted', trustCentral);
    await expect(assume(await assume(admin(), task), accountTrusted)).resolves.toHaveProperty('sessionToken');
    const bareDenied = await refusal(assume(await assume(admin(), bare), accountTrusted));
    expect(bareDenied.message).toContain(
      `assumed-role/central-bare/drift is not authorized to perform: sts:AssumeRole`,
    );
  });

  it('refuses bad input with a validation error', async () => {
    const sts = new STSClient(config(admin()));
    const err = await refusal(
      sts.send(new AssumeRoleCommand({ RoleArn: 'not-an-arn', RoleSessionName: 'drift' })),
    );
    expect(err.name).toBe('ValidationError');
  });
});
