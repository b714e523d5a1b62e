/**
 * EC2 ModifySecurityGroupRules through real SDK v3 clients: rules of a group are updated in place (their
 * ids kept), ingress and egress; a bad update (an unknown rule id, a rule of another group, a changed peer
 * kind, a duplicate, two peers) fails the whole request and changes nothing. IAM evaluates it on the
 * group and on each rule it names (the Service Authorization Reference lists both as required). The
 * change is a mutating call CloudTrail records and Config's recorder records like
 * AuthorizeSecurityGroupIngress's.
 */
import {
  BatchGetResourceConfigCommand,
  ConfigServiceClient,
  DescribeConfigurationRecordersCommand,
} from '@aws-sdk/client-config-service';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  ModifySecurityGroupRulesCommand,
  type SecurityGroupRuleUpdate,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../sandbox/services';
import { subscribeQueueToEvents } from '../e2e/support/events-queue';
import { actingAs, failure, role } from './core/iam-support';
import { withSandbox } from './helpers';

const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: allServices(),
  cloudTrail: { enabled: true, deliverySeconds: 0 },
}));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const ec2 = () => new EC2Client(sb.clientConfig);
const arn = (kind: string, id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:${kind}/${id}`;

/** A group with an HTTPS ingress rule from 10.0.0.0/8; its id and the rules' ids. */
async function group(name: string): Promise<{ groupId: string; ingress: string; egress: string }> {
  const groupId = String(
    (await ec2().send(new CreateSecurityGroupCommand({ GroupName: name, Description: name }))).GroupId,
  );
  const added = await ec2().send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: groupId,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
      ],
    }),
  );
  const rules = await rulesOf(groupId);
  return {
    groupId,
    ingress: String(added.SecurityGroupRules?.[0]?.SecurityGroupRuleId),
    egress: String(rules.find((r) => r.IsEgress)?.SecurityGroupRuleId),
  };
}

const rulesOf = async (groupId: string) =>
  (
    await ec2().send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
    )
  ).SecurityGroupRules ?? [];
const shape = async (groupId: string) =>
  (await rulesOf(groupId))
    .map(
      (r) =>
        `${r.SecurityGroupRuleId} ${r.IsEgress ? 'out' : 'in'} ${r.IpProtocol} ${r.FromPort}-${r.ToPort} ${r.CidrIpv4 ?? r.ReferencedGroupInfo?.GroupId} ${r.Description ?? ''}`,
    )
    .sort();
const modify = (client: EC2Client, GroupId: string, SecurityGroupRules: SecurityGroupRuleUpdate[]) =>
  client.send(new ModifySecurityGroupRulesCommand({ GroupId, SecurityGroupRules }));
const ssh = (id: string, cidr = '192.0.2.0/24'): SecurityGroupRuleUpdate => ({
  SecurityGroupRuleId: id,
  SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: cidr, Description: 'ssh' },
});

describe('ModifySecurityGroupRules', () => {
  it('updates ingress and egress rules in place, keeping their ids', async () => {
    const g = await group('modify-in-place');
    const out = await modify(ec2(), g.groupId, [
      ssh(g.ingress),
      {
        SecurityGroupRuleId: g.egress,
        SecurityGroupRule: { IpProtocol: 'udp', FromPort: 53, ToPort: 53, CidrIpv4: '10.1.0.0/16' },
      },
    ]);
    expect(out.Return).toBe(true);
    expect(await shape(g.groupId)).toEqual(
      [`${g.ingress} in tcp 22-22 192.0.2.0/24 ssh`, `${g.egress} out udp 53-53 10.1.0.0/16 `].sort(),
    );
  });

  it('refuses a bad update as a whole, changing nothing', async () => {
    const g = await group('modify-refused');
    const other = await group('modify-other');
    const before = await shape(g.groupId);
    const refusals: Array<[SecurityGroupRuleUpdate[], string, string]> = [
      [
        [ssh(g.ingress), ssh('sgr-0123456789abcdef0')],
        'InvalidSecurityGroupRuleId.NotFound',
        "The security group rule ID 'sgr-0123456789abcdef0' does not exist",
      ],
      [
        [ssh(other.ingress)],
        'InvalidSecurityGroupRuleId.NotFound',
        `The security group rule ID '${other.ingress}' does not exist`,
      ],
      [
        [
          {
            SecurityGroupRuleId: g.ingress,
            SecurityGroupRule: {
              IpProtocol: 'tcp',
              FromPort: 22,
              ToPort: 22,
              ReferencedGroupId: other.groupId,
            },
          },
        ],
        'InvalidParameterValue',
        'CidrIpv4',
      ],
      [
        [
          {
            SecurityGroupRuleId: g.ingress,
            SecurityGroupRule: {
              IpProtocol: 'tcp',
              FromPort: 22,
              ToPort: 22,
              CidrIpv4: '10.0.0.0/8',
              CidrIpv6: '::/0',
            },
          },
        ],
        'InvalidParameterCombination',
        'exactly one',
      ],
    ];
    for (const [updates, code, words] of refusals) {
      const refused = await failure(modify(ec2(), g.groupId, updates));
      expect(refused.name).toBe(code);
      expect(refused.message).toContain(words);
      expect(await shape(g.groupId)).toEqual(before);
    }
    // Two updates that make the same rule: a duplicate.
    const second = await ec2().send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: g.groupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
        ],
      }),
    );
    const withSecond = await shape(g.groupId);
    const duplicate = await failure(
      modify(ec2(), g.groupId, [
        ssh(g.ingress),
        ssh(String(second.SecurityGroupRules?.[0]?.SecurityGroupRuleId)),
      ]),
    );
    expect(duplicate.name).toBe('InvalidPermission.Duplicate');
    expect(await shape(g.groupId)).toEqual(withSecond);
  });

  it('is authorized on the group and on every rule it names', async () => {
    const g = await group('modify-iam');
    const other = await group('modify-iam-other');
    const groupOnly = await role(sb, 'modify-group-only', [
      { Effect: 'Allow', Action: 'ec2:ModifySecurityGroupRules', Resource: arn('security-group', g.groupId) },
    ]);
    const denied = await failure(
      modify(new EC2Client(actingAs(sb, groupOnly, 'm')), g.groupId, [ssh(g.ingress)]),
    );
    expect(denied).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(denied.message).toContain(
      `is not authorized to perform: ec2:ModifySecurityGroupRules on resource: ${arn('security-group-rule', g.ingress)} `,
    );
    const grant = {
      Effect: 'Allow',
      Action: 'ec2:ModifySecurityGroupRules',
      Resource: [arn('security-group', g.groupId), arn('security-group-rule', '*')],
    };
    const scoped = new EC2Client(actingAs(sb, await role(sb, 'modify-scoped', [grant]), 'm'));
    const elsewhere = await failure(modify(scoped, other.groupId, [ssh(other.ingress)]));
    expect(elsewhere.message).toContain(`on resource: ${arn('security-group', other.groupId)} `);
    expect((await shape(other.groupId)).join()).not.toContain('ssh');
    await modify(scoped, g.groupId, [ssh(g.ingress)]);
    expect((await shape(g.groupId)).join()).toContain(`${g.ingress} in tcp 22-22 192.0.2.0/24 ssh`);
  });

  it('is recorded by CloudTrail and by Config as a change of the group', async () => {
    // Config's default recorder starts at the account's first Config call.
    await new ConfigServiceClient(sb.clientConfig).send(new DescribeConfigurationRecordersCommand({}));
    const queueUrl = await subscribeQueueToEvents(
      {
        sqs: new SQSClient(sb.clientConfig),
        events: new EventBridgeClient(sb.clientConfig),
        region: REGION,
        accountId: ACCOUNT,
      },
      'modify-trail',
      { source: ['aws.ec2'], detail: { eventName: ['ModifySecurityGroupRules'] } },
    );
    const g = await group('modify-recorded');
    await modify(ec2(), g.groupId, [ssh(g.ingress)]);
    const sqs = new SQSClient(sb.clientConfig);
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 10 }),
    );
    const details = (got.Messages ?? []).map((m) => JSON.parse(String(m.Body)).detail);
    expect(details).toHaveLength(1);
    expect(details[0]).toMatchObject({
      eventSource: 'ec2.amazonaws.com',
      eventName: 'ModifySecurityGroupRules',
      // CloudTrail records this call in its query form, as AWS does (one update: an object, not a list).
      requestParameters: {
        ModifySecurityGroupRulesRequest: {
          GroupId: g.groupId,
          SecurityGroupRule: { SecurityGroupRuleId: expect.stringMatching(/^sgr-/) },
        },
      },
    });
    const config = new ConfigServiceClient(sb.clientConfig);
    const recorded = async () => {
      const out = await config.send(
        new BatchGetResourceConfigCommand({
          resourceKeys: [{ resourceType: 'AWS::EC2::SecurityGroup', resourceId: g.groupId }],
        }),
      );
      const item = out.baseConfigurationItems?.[0]?.configuration;
      return item ? (JSON.parse(item) as { ipPermissions?: Array<Record<string, unknown>> }) : undefined;
    };
    // The recorder records the change (its delay is emulated time).
    for (let i = 0; i < 50 && (await recorded())?.ipPermissions?.[0]?.fromPort !== 22; i++)
      await sb.sandbox.context.clock.sleep(1);
    expect((await recorded())?.ipPermissions).toEqual([
      expect.objectContaining({ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: ['192.0.2.0/24'] }),
    ]);
  });
});
