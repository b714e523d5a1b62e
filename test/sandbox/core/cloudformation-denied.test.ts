/**
 * CloudFormation provisions a stack's resources as the stack's service role (RoleARN), or else with the
 * caller's credentials, through the same IAM enforcement: each resource handler needs the type's handler
 * permissions (its registry schema, as Cloud Control). A role lacking one fails that resource with
 * CREATE_FAILED naming the denied action, the stack rolls back, and nothing is left behind; with the
 * permission the same template deploys. Real SDK v3 clients against the sandbox.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { resourceProviders } from '../../../sandbox/services/providers';
import { withSandbox } from '../helpers';
import { actingAs, role } from './iam-support';

const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: allServices(),
  providers: resourceProviders(),
}));
const TEMPLATE = `Resources:
  WebSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: cfn-denied web
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8 }
`;

/** A CloudFormation service role allowed EC2, less the actions `denied` names. */
async function serviceRole(name: string, denied: string[]): Promise<string> {
  const statements: object[] = [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }];
  if (denied.length > 0) statements.push({ Effect: 'Deny', Action: denied, Resource: '*' });
  return role(sb, name, statements, 'cloudformation.amazonaws.com');
}

async function settle(cfn: CloudFormationClient, name: string): Promise<string> {
  for (let i = 0; i < 2000; i++) {
    const s = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
    if (s?.StackStatus && !s.StackStatus.endsWith('_IN_PROGRESS')) return s.StackStatus;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error(`stack ${name} did not settle`);
}

async function groupsNamed(description: string): Promise<number> {
  const ec2 = new EC2Client(sb.clientConfig);
  const out = await ec2.send(new DescribeSecurityGroupsCommand({}));
  return (out.SecurityGroups ?? []).filter((g) => g.Description === description).length;
}

describe('CloudFormation provisioning as the stack role', () => {
  it('a role without ec2:AuthorizeSecurityGroupIngress: CREATE_FAILED naming it, rolled back, nothing left', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const roleArn = await serviceRole('cfn-no-ingress', ['ec2:AuthorizeSecurityGroupIngress']);
    await cfn.send(new CreateStackCommand({ StackName: 'denied', TemplateBody: TEMPLATE, RoleARN: roleArn }));
    expect(await settle(cfn, 'denied')).toBe('ROLLBACK_COMPLETE');
    const events =
      (await cfn.send(new DescribeStackEventsCommand({ StackName: 'denied' }))).StackEvents ?? [];
    const failed = events.find(
      (e) => e.LogicalResourceId === 'WebSg' && e.ResourceStatus === 'CREATE_FAILED',
    );
    expect(failed?.ResourceStatusReason).toMatch(
      /^Resource handler returned message: "User: arn:aws:sts::\d{12}:assumed-role\/cfn-no-ingress\/AWSCloudFormation is not authorized to perform: ec2:AuthorizeSecurityGroupIngress .*HandlerErrorCode: AccessDenied\)$/,
    );
    expect(await groupsNamed('cfn-denied web')).toBe(0);
  });

  it('with the permission the same template deploys as the role', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const roleArn = await serviceRole('cfn-ec2', []);
    await cfn.send(
      new CreateStackCommand({ StackName: 'allowed', TemplateBody: TEMPLATE, RoleARN: roleArn }),
    );
    expect(await settle(cfn, 'allowed')).toBe('CREATE_COMPLETE');
    expect(await groupsNamed('cfn-denied web')).toBe(1);
  });

  it('an update by a role lacking the permission fails and rolls back, keeping the deployed group', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    await cfn.send(new CreateStackCommand({ StackName: 'kept', TemplateBody: TEMPLATE }));
    expect(await settle(cfn, 'kept')).toBe('CREATE_COMPLETE');
    const roleArn = await serviceRole('cfn-no-update', ['ec2:AuthorizeSecurityGroupIngress']);
    const changed = TEMPLATE.replace('443, ToPort: 443', '8443, ToPort: 8443');
    await cfn.send(new UpdateStackCommand({ StackName: 'kept', TemplateBody: changed, RoleARN: roleArn }));
    expect(await settle(cfn, 'kept')).toBe('UPDATE_ROLLBACK_COMPLETE');
    const events = (await cfn.send(new DescribeStackEventsCommand({ StackName: 'kept' }))).StackEvents ?? [];
    const failed = events.find(
      (e) => e.LogicalResourceId === 'WebSg' && e.ResourceStatus === 'UPDATE_FAILED',
    );
    expect(failed?.ResourceStatusReason).toContain('ec2:AuthorizeSecurityGroupIngress');
  });

  it('a deployer without iam:PassRole on the RoleARN is refused at CreateStack; no stack is made', async () => {
    const roleArn = await serviceRole('cfn-passed', []);
    const allowed = ['ec2:*', 'cloudformation:*'];
    const deployerArn = await role(sb, 'deployer-no-pass', [
      { Effect: 'Allow', Action: allowed, Resource: '*' },
    ]);
    const deployer = new CloudFormationClient(actingAs(sb, deployerArn, 'ci'));
    const refused = deployer.send(
      new CreateStackCommand({ StackName: 'unpassed', TemplateBody: TEMPLATE, RoleARN: roleArn }),
    );
    await expect(refused).rejects.toThrow(
      /not authorized to perform: iam:PassRole on resource: .*cfn-passed/,
    );
    const cfn = new CloudFormationClient(sb.clientConfig);
    await expect(cfn.send(new DescribeStacksCommand({ StackName: 'unpassed' }))).rejects.toThrow(
      /does not exist/,
    );
  });
});
