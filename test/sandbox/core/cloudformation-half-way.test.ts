/**
 * A resource handler failing half-way, as CloudFormation handles it: the calls made before the failure
 * stay made, so the rollback brings back every resource updated *or being updated* (the failed one too)
 * to the previous template's properties, and a create that failed after its resource was made (it has
 * a physical id) is deleted in the rollback — with the stack role's delete permission, else
 * ROLLBACK_FAILED with the resource kept. Real SDK v3 clients against the sandbox.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  type StackEvent,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeSecurityGroupsCommand, EC2Client, type SecurityGroup } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { resourceProviders } from '../../../sandbox/services/providers';
import { withSandbox } from '../helpers';
import { role } from './iam-support';
import { settle } from './stack-support';

const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: allServices(),
  providers: resourceProviders(),
}));

const template = (description: string, ingress: string[]) => `Resources:
  WebSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: ${description}
      SecurityGroupIngress:
${ingress.map((r) => `        - ${r}`).join('\n')}
`;
const HTTPS = '{ IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8 }';
const ALT_HTTPS = '{ IpProtocol: tcp, FromPort: 8443, ToPort: 8443, CidrIp: 10.0.0.0/8 }';
/** A rule naming a well-formed group id that does not exist: EC2 refuses the authorize (InvalidGroup.NotFound). */
const FROM_MISSING_GROUP =
  '{ IpProtocol: tcp, FromPort: 22, ToPort: 22, SourceSecurityGroupId: sg-0123456789abcdef0 }';

/** The stack's events, oldest first, as `LogicalId STATUS`. */
async function history(cfn: CloudFormationClient, name: string): Promise<string[]> {
  const events: StackEvent[] =
    (await cfn.send(new DescribeStackEventsCommand({ StackName: name }))).StackEvents ?? [];
  return events.reverse().map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}`);
}

async function groupsDescribed(description: string): Promise<SecurityGroup[]> {
  const out = await new EC2Client(sb.clientConfig).send(new DescribeSecurityGroupsCommand({}));
  return (out.SecurityGroups ?? []).filter((g) => g.Description === description);
}

const ingressOf = (g: SecurityGroup | undefined) =>
  (g?.IpPermissions ?? []).map((p) => `${p.FromPort} ${p.IpRanges?.map((r) => r.CidrIp).join(',') ?? ''}`);

describe('UPDATE_ROLLBACK restores the resource that failed half-way', () => {
  it('a group whose ingress authorize failed after its old rule was revoked ends with its old rules', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    await cfn.send(
      new CreateStackCommand({ StackName: 'half-update', TemplateBody: template('half update', [HTTPS]) }),
    );
    expect(await settle(cfn, 'half-update')).toBe('CREATE_COMPLETE');
    // The update revokes 443, then authorizes 8443 with a rule EC2 refuses: the revoke stays made.
    const next = template('half update', [ALT_HTTPS, FROM_MISSING_GROUP]);
    await cfn.send(new UpdateStackCommand({ StackName: 'half-update', TemplateBody: next }));
    expect(await settle(cfn, 'half-update')).toBe('UPDATE_ROLLBACK_COMPLETE');
    const steps = await history(cfn, 'half-update');
    const failedAt = steps.indexOf('WebSg UPDATE_FAILED');
    expect(failedAt).toBeGreaterThan(-1);
    // In the rollback the failed group is updated back (UPDATE_IN_PROGRESS → UPDATE_COMPLETE).
    expect(steps.slice(failedAt)).toEqual(
      expect.arrayContaining(['WebSg UPDATE_IN_PROGRESS', 'WebSg UPDATE_COMPLETE']),
    );
    const [group] = await groupsDescribed('half update');
    expect(ingressOf(group)).toEqual(['443 10.0.0.0/8']);
  });

  it('a role that may not make the call the rollback needs: UPDATE_ROLLBACK_FAILED, the group as the failed update left it', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    await cfn.send(
      new CreateStackCommand({ StackName: 'no-way-back', TemplateBody: template('no way back', [HTTPS]) }),
    );
    expect(await settle(cfn, 'no-way-back')).toBe('CREATE_COMPLETE');
    const roleArn = await role(
      sb,
      'cfn-revoke-only',
      [
        { Effect: 'Allow', Action: 'ec2:*', Resource: '*' },
        { Effect: 'Deny', Action: 'ec2:AuthorizeSecurityGroupIngress', Resource: '*' },
      ],
      'cloudformation.amazonaws.com',
    );
    const next = template('no way back', [ALT_HTTPS]);
    await cfn.send(
      new UpdateStackCommand({ StackName: 'no-way-back', TemplateBody: next, RoleARN: roleArn }),
    );
    expect(await settle(cfn, 'no-way-back')).toBe('UPDATE_ROLLBACK_FAILED');
    const failures = (await history(cfn, 'no-way-back')).filter((s) => s === 'WebSg UPDATE_FAILED');
    expect(failures).toHaveLength(2); // the update, then its rollback
    const [group] = await groupsDescribed('no way back');
    expect(ingressOf(group)).toEqual([]);
  });
});

describe('a create that failed half-way is deleted in the rollback', () => {
  it('the group made before the ingress authorize was refused is deleted (DELETE_COMPLETE), nothing left', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const roleArn = await role(
      sb,
      'cfn-create-no-ingress',
      [
        { Effect: 'Allow', Action: 'ec2:*', Resource: '*' },
        { Effect: 'Deny', Action: 'ec2:AuthorizeSecurityGroupIngress', Resource: '*' },
      ],
      'cloudformation.amazonaws.com',
    );
    await cfn.send(
      new CreateStackCommand({
        StackName: 'half-create',
        TemplateBody: template('half create', [HTTPS]),
        RoleARN: roleArn,
      }),
    );
    expect(await settle(cfn, 'half-create')).toBe('ROLLBACK_COMPLETE');
    const events =
      (await cfn.send(new DescribeStackEventsCommand({ StackName: 'half-create' }))).StackEvents ?? [];
    const deleted = events.find(
      (e) => e.LogicalResourceId === 'WebSg' && e.ResourceStatus === 'DELETE_COMPLETE',
    );
    expect(deleted?.PhysicalResourceId).toMatch(/^sg-[0-9a-f]+$/);
    expect(await groupsDescribed('half create')).toEqual([]);
  });

  it('a role that may neither authorize nor delete: ROLLBACK_FAILED naming the group, which is kept', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const roleArn = await role(
      sb,
      'cfn-create-only',
      [
        { Effect: 'Allow', Action: 'ec2:*', Resource: '*' },
        {
          Effect: 'Deny',
          Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:DeleteSecurityGroup'],
          Resource: '*',
        },
      ],
      'cloudformation.amazonaws.com',
    );
    await cfn.send(
      new CreateStackCommand({
        StackName: 'half-kept',
        TemplateBody: template('half kept', [HTTPS]),
        RoleARN: roleArn,
      }),
    );
    expect(await settle(cfn, 'half-kept')).toBe('ROLLBACK_FAILED');
    const s = (await cfn.send(new DescribeStacksCommand({ StackName: 'half-kept' }))).Stacks?.[0];
    expect(s?.StackStatusReason).toBe('The following resource(s) failed to delete: [WebSg]. ');
    expect(await history(cfn, 'half-kept')).toEqual(
      expect.arrayContaining(['WebSg CREATE_FAILED', 'WebSg DELETE_FAILED']),
    );
    const kept = await groupsDescribed('half kept');
    expect(kept).toHaveLength(1);
    expect(ingressOf(kept[0])).toEqual([]);
  });
});
