/**
 * A stack update changes a resource in place unless a property the *template* declares needs a
 * replacement. Values that only the live resource has (a generated GroupName, the default VpcId) are not
 * template properties and must never force one — even when the resource has drifted.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { allProviders, allServices } from '../../../sandbox/services';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({ services: allServices(), providers: allProviders() }));

const template = (cidr: string) => `
Resources:
  Web:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: web tier
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: ${cidr} }
Outputs:
  GroupId:
    Value: !Ref Web
`;

async function stackStatus(cfn: CloudFormationClient, name: string) {
  for (let i = 0; i < 200; i++) {
    const s = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
    if (s?.StackStatus && !s.StackStatus.endsWith('IN_PROGRESS')) return s;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${name} did not settle`);
}

describe('stack updates of a drifted resource', () => {
  it('update the security group in place (same id) when only its ingress changes', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const ec2 = new EC2Client(sb.clientConfig);
    await cfn.send(new CreateStackCommand({ StackName: 'web', TemplateBody: template('10.0.0.0/8') }));
    const created = await stackStatus(cfn, 'web');
    expect(created.StackStatus).toBe('CREATE_COMPLETE');
    const groupId = created.Outputs?.find((o) => o.OutputKey === 'GroupId')?.OutputValue ?? '';
    expect(groupId).toMatch(/^sg-/);

    // Someone opens SSH by hand (drift), then the team ships a template change.
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    await cfn.send(new UpdateStackCommand({ StackName: 'web', TemplateBody: template('10.1.0.0/16') }));
    const updated = await stackStatus(cfn, 'web');
    expect(updated.StackStatus).toBe('UPDATE_COMPLETE');
    expect(updated.Outputs?.find((o) => o.OutputKey === 'GroupId')?.OutputValue).toBe(groupId);
    const group = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] })))
      .SecurityGroups?.[0];
    expect(group?.IpPermissions?.map((p) => [p.FromPort, p.IpRanges?.map((r) => r.CidrIp)])).toEqual([
      [443, ['10.1.0.0/16']],
    ]);
  });
});
