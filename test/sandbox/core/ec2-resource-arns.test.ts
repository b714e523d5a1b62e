/**
 * EC2 calls are authorized against the resource they act on, however the request names it: a security
 * group named by GroupName (the default VPC's) is the ARN of the group it resolves to, CreateTags/DeleteTags
 * need the action on every resource listed, and `ec2:ResourceTag/…` conditions read the group's tags.
 * CreateSecurityGroup acts on the group to be (`security-group/*`, with the request's tags as
 * `aws:RequestTag/…` / `aws:TagKeys`) and its VPC; tagging on creation also needs `ec2:CreateTags` (with
 * `ec2:CreateAction`). Describe* stay `*` as in AWS. A denied call changes nothing. Real SDK v3 clients.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
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
const NEW_GROUP = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/*`;
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

describe('CreateSecurityGroup', () => {
  const named = async (name: string) =>
    (
      await admin().send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [name] }] }),
      )
    ).SecurityGroups ?? [];
  const create = (roleArn: string, name: string, tags?: Record<string, string>) =>
    ec2As(roleArn).send(
      new CreateSecurityGroupCommand({
        GroupName: name,
        Description: name,
        ...(tags
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

  it('is evaluated on the group to be and on its VPC (the default one when none is named)', async () => {
    const vpc = (await admin().send(new DescribeVpcsCommand({}))).Vpcs?.[0]?.VpcId;
    const vpcArn = `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/${vpc}`;
    const groupsOnly = await role(sb, 'create-groups-only', [
      { Effect: 'Allow', Action: 'ec2:CreateSecurityGroup', Resource: NEW_GROUP },
    ]);
    const denied = await failure(create(groupsOnly, 'no-vpc-grant'));
    expect(denied).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(denied.message).toContain(
      `is not authorized to perform: ec2:CreateSecurityGroup on resource: ${vpcArn} `,
    );
    expect(await named('no-vpc-grant')).toEqual([]);
    const vpcOnly = await role(sb, 'create-vpc-only', [
      { Effect: 'Allow', Action: 'ec2:CreateSecurityGroup', Resource: vpcArn },
    ]);
    expect((await failure(create(vpcOnly, 'no-group-grant'))).message).toContain(
      `on resource: ${NEW_GROUP} `,
    );
    const both = await role(sb, 'create-group-in-vpc', [
      { Effect: 'Allow', Action: 'ec2:CreateSecurityGroup', Resource: [NEW_GROUP, vpcArn] },
    ]);
    await create(both, 'granted-group');
    expect(await named('granted-group')).toHaveLength(1);
  });

  it('tags on creation: aws:RequestTag conditions see them, and ec2:CreateTags is needed on creation only', async () => {
    const vpcs = `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/*`;
    const teamOnly = {
      Effect: 'Allow',
      Action: 'ec2:CreateSecurityGroup',
      Resource: [NEW_GROUP, vpcs],
    };
    const requestTag = { StringEquals: { 'aws:RequestTag/team': 'a' } };
    const withoutTagging = await role(sb, 'create-untagging', [
      { ...teamOnly, Resource: vpcs },
      {
        ...teamOnly,
        Resource: NEW_GROUP,
        Condition: requestTag,
      },
    ]);
    const refused = await failure(create(withoutTagging, 'tagged-no-createtags', { team: 'a' }));
    expect(refused.message).toContain(
      `is not authorized to perform: ec2:CreateTags on resource: ${NEW_GROUP} `,
    );
    expect(await named('tagged-no-createtags')).toEqual([]);
    // Untagged, the group fails the RequestTag condition.
    expect((await failure(create(withoutTagging, 'untagged-team'))).message).toContain(
      `ec2:CreateSecurityGroup on resource: ${NEW_GROUP} `,
    );

    const tagging = await role(sb, 'create-tagging', [
      { ...teamOnly, Resource: vpcs },
      { ...teamOnly, Resource: NEW_GROUP, Condition: requestTag },
      {
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: NEW_GROUP,
        Condition: { StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' } },
      },
    ]);
    await create(tagging, 'team-a-group', { team: 'a' });
    expect((await named('team-a-group'))[0]?.Tags).toEqual([{ Key: 'team', Value: 'a' }]);
    expect((await failure(create(tagging, 'team-b-group', { team: 'b' }))).message).toContain(
      `ec2:CreateSecurityGroup on resource: ${NEW_GROUP} `,
    );
    expect(await named('team-b-group')).toEqual([]);
    // The same CreateTags grant does not tag an existing group: ec2:CreateAction is set on creation only.
    const existing = String((await named('team-a-group'))[0]?.GroupId);
    const later = await failure(
      ec2As(tagging).send(new CreateTagsCommand({ Resources: [existing], Tags: [{ Key: 'x', Value: 'y' }] })),
    );
    expect(later.message).toContain(`ec2:CreateTags on resource: ${groupArn(existing)} `);
    // The request's keys are ones IAM documents for these actions: nothing fell back to unvalidated.
    expect(sb.sandbox.logs.filter((l) => l.includes('evaluated unvalidated'))).toEqual([]);
  });
});

describe('AuthorizeSecurityGroupIngress tagging the rules it creates', () => {
  it('acts on security-group-rule/* with the request tags and needs ec2:CreateTags on creation', async () => {
    const id = await group('rule-tags');
    const NEW_RULE = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group-rule/*`;
    const authorize = (roleArn: string, port: number, tags?: Record<string, string>) =>
      ec2As(roleArn).send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: id,
          IpPermissions: [{ ...SSH, FromPort: port, ToPort: port }],
          ...(tags
            ? {
                TagSpecifications: [
                  {
                    ResourceType: 'security-group-rule',
                    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
                  },
                ],
              }
            : {}),
        }),
      );
    const groupOnly = await role(sb, 'authorize-group-only', [
      { Effect: 'Allow', Action: 'ec2:AuthorizeSecurityGroupIngress', Resource: groupArn(id) },
    ]);
    await authorize(groupOnly, 80);
    const tagged = await failure(authorize(groupOnly, 81, { purpose: 'web' }));
    expect(tagged.message).toContain(`ec2:AuthorizeSecurityGroupIngress on resource: ${NEW_RULE} `);
    const rules = [
      { Effect: 'Allow', Action: 'ec2:AuthorizeSecurityGroupIngress', Resource: [groupArn(id), NEW_RULE] },
    ];
    const noTagging = await role(sb, 'authorize-rules', rules);
    expect((await failure(authorize(noTagging, 82, { purpose: 'web' }))).message).toContain(
      `ec2:CreateTags on resource: ${NEW_RULE} `,
    );
    const tagging = await role(sb, 'authorize-tagged-rules', [
      ...rules,
      {
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: NEW_RULE,
        Condition: { StringEquals: { 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress' } },
      },
    ]);
    await authorize(tagging, 83, { purpose: 'web' });
    const ports = (await ingress(id))?.map((p) => p.FromPort).sort((a, b) => Number(a) - Number(b));
    expect(ports).toEqual([22, 80, 83]);
  });
});
