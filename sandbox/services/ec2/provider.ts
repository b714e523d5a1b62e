/**
 * CloudFormation providers for AWS::EC2::SecurityGroup and AWS::EC2::SecurityGroupIngress, in
 * template shape (SecurityGroupIngress [{IpProtocol, FromPort, ToPort, CidrIp, …}], Tags [{Key, Value}]).
 */
import type { ProviderContext, ResourceProvider } from '../../core/types';
import { completeCreate, handlerCall, handlerReads } from '../handler-calls';
import { num, type Obj, objs, physicalName, str, tagsFrom } from '../state';
import {
  ec2Store,
  normalizeProtocol,
  type RuleSpec,
  type SecurityGroup,
  type SgRule,
  toIpPermissions,
} from './store';

/** A template rule ({IpProtocol, FromPort, ToPort, CidrIp | CidrIpv6 | Source… | Destination…, Description}) → spec. */
export function specFromTemplate(rule: Obj, isEgress: boolean): RuleSpec {
  const ipProtocol = normalizeProtocol(rule.IpProtocol);
  const ported =
    ipProtocol === 'tcp' || ipProtocol === 'udp' || ipProtocol === 'icmp' || ipProtocol === 'icmpv6';
  const fromPort = ported ? (num(rule.FromPort) ?? -1) : -1;
  const toPort = ported ? (num(rule.ToPort) ?? -1) : -1;
  const peer = isEgress
    ? { group: str(rule.DestinationSecurityGroupId), prefix: str(rule.DestinationPrefixListId) }
    : { group: str(rule.SourceSecurityGroupId), prefix: str(rule.SourcePrefixListId) };
  const spec: RuleSpec = { isEgress, ipProtocol, fromPort, toPort };
  const cidr = str(rule.CidrIp);
  const cidr6 = str(rule.CidrIpv6);
  if (cidr) spec.cidrIpv4 = cidr;
  else if (cidr6) spec.cidrIpv6 = cidr6.toLowerCase();
  else if (peer.prefix) spec.prefixListId = peer.prefix;
  else if (peer.group) spec.referencedGroupId = peer.group;
  const description = str(rule.Description);
  if (description !== undefined) spec.description = description;
  return spec;
}

/** A stored rule in template shape. */
export function ruleToTemplate(r: SgRule | RuleSpec): Obj {
  const out: Obj = { IpProtocol: r.ipProtocol };
  if (r.ipProtocol !== '-1') {
    out.FromPort = r.fromPort;
    out.ToPort = r.toPort;
  }
  if (r.cidrIpv4) out.CidrIp = r.cidrIpv4;
  if (r.cidrIpv6) out.CidrIpv6 = r.cidrIpv6;
  if (r.prefixListId) out[r.isEgress ? 'DestinationPrefixListId' : 'SourcePrefixListId'] = r.prefixListId;
  if (r.referencedGroupId)
    out[r.isEgress ? 'DestinationSecurityGroupId' : 'SourceSecurityGroupId'] = r.referencedGroupId;
  if (r.description !== undefined) out.Description = r.description;
  return out;
}

const key = (s: RuleSpec): string =>
  [
    s.isEgress,
    s.ipProtocol,
    s.fromPort,
    s.toPort,
    s.cidrIpv4,
    s.cidrIpv6,
    s.prefixListId,
    s.referencedGroupId,
  ].join('|');

const DEFAULT_EGRESS: RuleSpec = {
  isEgress: true,
  ipProtocol: '-1',
  fromPort: -1,
  toPort: -1,
  cidrIpv4: '0.0.0.0/0',
};

/** The EC2 call CloudFormation's handler makes to add or remove `rules` of a group: authorized, made, recorded. */
function ruleCall<T>(
  ctx: ProviderContext,
  verb: 'Authorize' | 'Revoke',
  g: SecurityGroup,
  isEgress: boolean,
  rules: RuleSpec[],
  apply: () => T,
): Promise<T> {
  const input = { GroupId: g.groupId, IpPermissions: toIpPermissions(rules, g.ownerId) };
  const operation = `${verb}SecurityGroup${isEgress ? 'Egress' : 'Ingress'}`;
  return handlerCall(ctx, 'ec2', operation, input, apply, () => ({ Return: true }));
}

/** Makes one direction's rules exactly `desired` (revoke extra, authorize missing, fix descriptions). */
async function reconcile(
  ctx: ProviderContext,
  g: SecurityGroup,
  isEgress: boolean,
  desired: RuleSpec[],
): Promise<void> {
  const store = ec2Store(ctx.sandbox);
  const wanted = new Map(desired.map((d) => [key(d), d]));
  const current = g.rules.filter((r) => r.isEgress === isEgress);
  const extra = current.filter((r) => !wanted.has(key(r)));
  if (extra.length > 0) {
    const ids = extra.map((r) => r.ruleId);
    await ruleCall(ctx, 'Revoke', g, isEgress, extra, () => store.revoke(g, isEgress, [], ids));
  }
  const have = new Map(g.rules.filter((r) => r.isEgress === isEgress).map((r) => [key(r), r]));
  const missing = desired.filter((d) => !have.has(key(d)));
  if (missing.length > 0)
    await ruleCall(ctx, 'Authorize', g, isEgress, missing, () => store.authorize(g, missing));
  for (const [k, d] of wanted) {
    const r = have.get(k);
    if (r && r.description !== d.description) {
      const operation = `UpdateSecurityGroupRuleDescriptions${isEgress ? 'Egress' : 'Ingress'}`;
      const input = { GroupId: g.groupId, IpPermissions: toIpPermissions([d], g.ownerId) };
      await handlerCall(ctx, 'ec2', operation, input, () => store.setRuleDescription(r, d.description));
    }
  }
}

/** The group's tags made `tags`: DeleteTags for stale keys, CreateTags for new or changed ones (only calls needed). */
async function reconcileTags(
  ctx: ProviderContext,
  g: SecurityGroup,
  tags: { Key: string; Value: string }[],
): Promise<void> {
  const store = ec2Store(ctx.sandbox);
  const stale = g.tags.filter((t) => !tags.some((n) => n.Key === t.Key)).map((t) => ({ Key: t.Key }));
  const fresh = tags.filter((t) => !g.tags.some((o) => o.Key === t.Key && o.Value === t.Value));
  if (stale.length > 0)
    await handlerCall(ctx, 'ec2', 'DeleteTags', { Resources: [g.groupId], Tags: stale }, () =>
      store.setTags(g.groupId, [], stale),
    );
  if (fresh.length > 0)
    await handlerCall(ctx, 'ec2', 'CreateTags', { Resources: [g.groupId], Tags: fresh }, () =>
      store.setTags(g.groupId, fresh, []),
    );
}

export const securityGroupProvider: ResourceProvider = {
  type: 'AWS::EC2::SecurityGroup',
  async create(logicalId, props, ctx) {
    const store = ec2Store(ctx.sandbox);
    const tags = tagsFrom(props.Tags);
    const request = {
      GroupName: str(props.GroupName) ?? physicalName(ctx.stackName, logicalId, 255),
      Description: props.GroupDescription,
      VpcId: props.VpcId,
      ...(tags.length > 0 ? { TagSpecifications: [{ ResourceType: 'security-group', Tags: tags }] } : {}),
    };
    // Tags on create need ec2:CreateTags too (EC2's tag-on-create rule, part of the call's authorization:
    // sandbox/services/iam/tag-on-create.ts): only when the template has tags.
    const g = await handlerCall(
      ctx,
      'ec2',
      'CreateSecurityGroup',
      request,
      () => store.createGroup(request),
      (created) => ({ GroupId: created.groupId }),
    );
    // A failure from here on leaves the group made: the stack's rollback deletes it.
    await completeCreate(g.groupId, async () => {
      const ingress = objs(props.SecurityGroupIngress).map((r) => specFromTemplate(r, false));
      if (ingress.length > 0)
        await ruleCall(ctx, 'Authorize', g, false, ingress, () => store.authorize(g, ingress));
      if (props.SecurityGroupEgress !== undefined) {
        const egress = objs(props.SecurityGroupEgress).map((r) => specFromTemplate(r, true));
        await reconcile(ctx, g, true, egress);
      }
    });
    return { physicalId: g.groupId, attributes: { GroupId: g.groupId, VpcId: g.vpcId } };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = ec2Store(ctx.sandbox);
    const g = store.get(physicalId);
    const ingress = objs(props.SecurityGroupIngress).map((r) => specFromTemplate(r, false));
    await reconcile(ctx, g, false, ingress);
    const egress =
      props.SecurityGroupEgress === undefined
        ? [DEFAULT_EGRESS]
        : objs(props.SecurityGroupEgress).map((r) => specFromTemplate(r, true));
    await reconcile(ctx, g, true, egress);
    await reconcileTags(ctx, g, tagsFrom(props.Tags));
    return { physicalId: g.groupId, attributes: { GroupId: g.groupId, VpcId: g.vpcId } };
  },
  async delete(physicalId, ctx) {
    const store = ec2Store(ctx.sandbox);
    await handlerReads(ctx, 'ec2', [['DescribeSecurityGroups', { GroupIds: [physicalId] }]]);
    const g = store.groups.get(physicalId);
    if (g) {
      const input = { GroupId: g.groupId };
      await handlerCall(
        ctx,
        'ec2',
        'DeleteSecurityGroup',
        input,
        () => store.deleteGroup(g),
        () => ({ Return: true }),
      );
    }
  },
  async read(physicalId, ctx) {
    await handlerReads(ctx, 'ec2', [['DescribeSecurityGroups', { GroupIds: [physicalId] }]]);
    const g = ec2Store(ctx.sandbox).groups.get(physicalId);
    if (!g) return undefined;
    const out: Obj = {
      GroupId: g.groupId,
      Id: g.groupId,
      GroupName: g.groupName,
      GroupDescription: g.description,
      VpcId: g.vpcId,
      SecurityGroupIngress: g.rules.filter((r) => !r.isEgress).map(ruleToTemplate),
      SecurityGroupEgress: g.rules.filter((r) => r.isEgress).map(ruleToTemplate),
    };
    if (g.tags.length > 0) out.Tags = g.tags.map((t) => ({ ...t }));
    return out;
  },
  requiresReplacement: (property) => ['GroupDescription', 'GroupName', 'VpcId'].includes(property),
  sample: {
    GroupDescription: '{{ Name }} web tier',
    SecurityGroupIngress: [
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '10.0.0.0/8', Description: 'HTTPS in' },
    ],
    SecurityGroupEgress: [
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '10.0.0.0/8', Description: 'HTTPS out' },
    ],
    Tags: [{ Key: 'app', Value: 'sample' }],
  },
};

export const securityGroupIngressProvider: ResourceProvider = {
  type: 'AWS::EC2::SecurityGroupIngress',
  async create(_logicalId, props, ctx) {
    const store = ec2Store(ctx.sandbox);
    const g = store.resolve({ GroupId: props.GroupId, GroupName: props.GroupName });
    const spec = specFromTemplate(props, false);
    const [rule] = await ruleCall(ctx, 'Authorize', g, false, [spec], () => store.authorize(g, [spec]));
    if (!rule) throw new Error('no rule authorized');
    return { physicalId: rule.ruleId, attributes: { Id: rule.ruleId } };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = ec2Store(ctx.sandbox);
    const rule = store.findRule(physicalId);
    if (!rule) throw new Error(`security group rule ${physicalId} does not exist`);
    const SecurityGroupRuleDescriptions = [
      { SecurityGroupRuleId: physicalId, Description: str(props.Description) ?? '' },
    ];
    const input = { GroupId: rule.groupId, SecurityGroupRuleDescriptions };
    const update = () => store.setRuleDescription(rule, str(props.Description));
    await handlerCall(ctx, 'ec2', 'UpdateSecurityGroupRuleDescriptionsIngress', input, update);
    return { physicalId, attributes: { Id: physicalId } };
  },
  async delete(physicalId, ctx) {
    const store = ec2Store(ctx.sandbox);
    const rule = store.findRule(physicalId);
    const g = rule ? store.groups.get(rule.groupId) : undefined;
    if (rule && g) {
      const input = { GroupId: g.groupId, SecurityGroupRuleIds: [rule.ruleId] };
      await handlerCall(ctx, 'ec2', 'RevokeSecurityGroupIngress', input, () =>
        store.revoke(g, false, [], [rule.ruleId]),
      );
    }
  },
  async read(physicalId, ctx) {
    await handlerReads(ctx, 'ec2', [['DescribeSecurityGroupRules', { SecurityGroupRuleIds: [physicalId] }]]);
    const rule = ec2Store(ctx.sandbox).findRule(physicalId);
    if (!rule) return undefined;
    return { Id: rule.ruleId, GroupId: rule.groupId, ...ruleToTemplate(rule) };
  },
  requiresReplacement: (property) => property !== 'Description',
};
