/**
 * EC2 calls are authorized against the resource they act on, however the request names it: a security
 * group named by GroupName (the default VPC's) is the ARN of the group it resolves to, CreateTags/DeleteTags
 * need the action on every resource listed, and `ec2:ResourceTag/…` conditions read the group's tags.
 * Describe* stay `*` as in AWS. A denied call changes nothing. Real SDK v3 clients.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { withSandbox } from '../helpers';
import { actingAs, failure, role } from './iam-support';

const sb = withSandbox(() => ({ services: [iamService(), ec2Service()] }));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const admin = () => new EC2Client(sb.clientConfig);
const groupArn = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${id}`;
const SSH = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] };

/** A default-VPC group with SSH open to the world (and these tags); its id. */
async function group(name: string, tags: Record<string, string> = {}): Promise<string> {
  const out = await admin().send(
    new CreateSecurityGroupCommand({
      GroupName: name,
      Description: name,
      ...(Object.keys(tags).length > 0
        ? {
            TagSpecifications: [
              {
                ResourceType: 'security-group',
                Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
              },
            ],
          }
        : {}),
    }),
  );
  const id = String(out.GroupId);
  await admin().send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [SSH] }));
  return id;
}

const ingress = async (id: string) =>
  (await admin().send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }))).SecurityGroups?.[0]
    ?.IpPermissions;
const tagsOf = async (id: string) =>
  (await admin().send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }))).SecurityGroups?.[0]?.Tags ?? [];

const ec2As = (roleArn: string) => new EC2Client(actingAs(sb, roleArn, 'task'));

describe('EC2 resource ARNs', () => {
  it('a revoke by GroupName is denied by a policy scoped to another group and allowed by its own', async () => {
    const mine = await group('by-name-mine');
    const other = await group('by-name-other');
    const scopedElsewhere = await role(sb, 'revoke-other', [
      { Effect: 'Allow', Action: 'ec2:RevokeSecurityGroupIngress', Resource: groupArn(other) },
      { Effect: 'Allow', Action: 'ec2:DescribeSecurityGroups', Resource: '*' },
    ]);
    const revokeMine = new RevokeSecurityGroupIngressCommand({
      GroupName: 'by-name-mine',
      IpPermissions: [SSH],
    });

    const denied = await failure(ec2As(scopedElsewhere).send(revokeMine));
    expect(denied).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(denied.message).toContain(
      `is not authorized to perform: ec2:RevokeSecurityGroupIngress on resource: ${groupArn(mine)} `,
    );
    expect(await ingress(mine)).toHaveLength(1);
    // Describe* take no resource ARN: the same role lists groups by name.
    const listed = await ec2As(scopedElsewhere).send(
      new DescribeSecurityGroupsCommand({ GroupNames: ['by-name-mine'] }),
    );
    expect(listed.SecurityGroups?.[0]?.GroupId).toBe(mine);

    const scopedHere = await role(sb, 'revoke-mine', [
      { Effect: 'Allow', Action: 'ec2:RevokeSecurityGroupIngress', Resource: groupArn(mine) },
    ]);
    await ec2As(scopedHere).send(revokeMine);
    expect(await ingress(mine)).toEqual([]);
    expect(await ingress(other)).toHaveLength(1);
  });

  it('ec2:ResourceTag conditions read the group; CreateTags needs every listed resource', async () => {
    const teamA = await group('tagged-a', { team: 'a' });
    const teamB = await group('tagged-b', { team: 'b' });
    const tagger = await role(sb, 'tag-team-a', [
      {
        Effect: 'Allow',
        Action: ['ec2:CreateTags', 'ec2:RevokeSecurityGroupIngress'],
        Resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/*`,
        Condition: { StringEquals: { 'ec2:ResourceTag/team': 'a' } },
      },
    ]);
    const ec2 = ec2As(tagger);
    await ec2.send(new CreateTagsCommand({ Resources: [teamA], Tags: [{ Key: 'checked', Value: 'yes' }] }));
    expect(await tagsOf(teamA)).toContainEqual({ Key: 'checked', Value: 'yes' });

    // One allowed resource and one not: the call is refused and neither changes.
    const both = await failure(
      ec2.send(new CreateTagsCommand({ Resources: [teamA, teamB], Tags: [{ Key: 'both', Value: 'yes' }] })),
    );
    expect(both).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(both.message).toContain(`on resource: ${groupArn(teamB)} `);
    expect(await tagsOf(teamA)).not.toContainEqual({ Key: 'both', Value: 'yes' });
    expect(await tagsOf(teamB)).toEqual([{ Key: 'team', Value: 'b' }]);

    // By name too: the tag condition is evaluated on the group the name resolves to.
    const byName = await failure(
      ec2.send(new RevokeSecurityGroupIngressCommand({ GroupName: 'tagged-b', IpPermissions: [SSH] })),
    );
    expect(byName).toMatchObject({ name: 'UnauthorizedOperation' });
    expect(await ingress(teamB)).toHaveLength(1);
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupName: 'tagged-a', IpPermissions: [SSH] }));
    expect(await ingress(teamA)).toEqual([]);
  });
});
