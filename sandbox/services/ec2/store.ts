/**
 * EC2 security groups: the state and semantics shared by the ec2Query operations and the
 * CloudFormation providers. Rules are kept one per source (CIDR, IPv6 CIDR, prefix list or group), as
 * EC2 does since security group rule ids exist; DescribeSecurityGroups folds them back into IpPermissions.
 */
import { AwsError, type SandboxContext } from '../../core/types';
import { arr, compact, hexId, num, type Obj, objs, stateOf, str, type Tag, tagsFrom } from '../state';

export const SG_TYPE = 'AWS::EC2::SecurityGroup';

export interface SgRule {
  ruleId: string;
  groupId: string;
  isEgress: boolean;
  /** Normalized: tcp, udp, icmp, icmpv6, -1, or a protocol number. */
  ipProtocol: string;
  fromPort: number;
  toPort: number;
  cidrIpv4?: string;
  cidrIpv6?: string;
  prefixListId?: string;
  referencedGroupId?: string;
  description?: string;
  tags: Tag[];
}

export interface SecurityGroup {
  groupId: string;
  groupName: string;
  description: string;
  vpcId: string;
  ownerId: string;
  tags: Tag[];
  rules: SgRule[];
}

/** One rule's match key, without the description (EC2 matches rules without it). */
function ruleKey(
  r: Pick<
    SgRule,
    | 'isEgress'
    | 'ipProtocol'
    | 'fromPort'
    | 'toPort'
    | 'cidrIpv4'
    | 'cidrIpv6'
    | 'prefixListId'
    | 'referencedGroupId'
  >,
): string {
  return [
    r.isEgress ? 'e' : 'i',
    r.ipProtocol,
    r.fromPort,
    r.toPort,
    r.cidrIpv4 ?? '',
    r.cidrIpv6 ?? '',
    r.prefixListId ?? '',
    r.referencedGroupId ?? '',
  ].join('|');
}

const PROTOCOL_NUMBERS: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6' };

export function normalizeProtocol(p: unknown): string {
  const s = (str(p) ?? '').toLowerCase();
  if (s === '') throw new AwsError('MissingParameter', 'The request must contain the parameter ipProtocol');
  if (s === 'all' || s === '-1') return '-1';
  const mapped = PROTOCOL_NUMBERS[s];
  if (mapped) return mapped;
  if (['tcp', 'udp', 'icmp', 'icmpv6'].includes(s)) return s;
  if (/^\d+$/.test(s) && Number(s) <= 255) return s;
  throw new AwsError(
    'InvalidParameterValue',
    `Invalid value '${String(p)}' for IP protocol. Unknown protocol.`,
  );
}

const SG_ID = /^sg-[0-9a-f]{8,17}$/;
const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** EC2's answer for a security group rule id it does not know (or not in the group named). */
export const ruleNotFound = (id: string): AwsError =>
  new AwsError('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist`);

export function assertGroupId(id: string): void {
  if (!SG_ID.test(id))
    throw new AwsError('InvalidGroupId.Malformed', `Invalid id: "${id}" (expecting "sg-...")`);
}

function assertCidr(c: string): void {
  const m = CIDR4.exec(c);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    throw new AwsError('InvalidParameterValue', `CIDR block ${c} is malformed`);
  }
}

/** A rule as described to a caller: the peer in words, as EC2's duplicate/not-found messages put it. */
function peerText(r: Omit<SgRule, 'ruleId' | 'groupId' | 'tags'>): string {
  const peer = r.cidrIpv4 ?? r.cidrIpv6 ?? r.prefixListId ?? r.referencedGroupId ?? '?';
  const proto = r.ipProtocol === '-1' ? 'ALL' : r.ipProtocol.toUpperCase();
  return `peer: ${peer}, ${proto}, from port: ${r.fromPort}, to port: ${r.toPort}, ALLOW`;
}

export type RuleSpec = Omit<SgRule, 'ruleId' | 'groupId' | 'tags'> & { tags?: Tag[] };

/** What a rule's peer is, as SecurityGroupRuleRequest names it (a modification keeps it). */
function peerKind(r: Pick<SgRule, 'cidrIpv4' | 'cidrIpv6' | 'prefixListId'>): string {
  if (r.cidrIpv4) return 'CidrIpv4';
  if (r.cidrIpv6) return 'CidrIpv6';
  return r.prefixListId ? 'PrefixListId' : 'ReferencedGroupId';
}

/**
 * A SecurityGroupRuleRequest (ModifySecurityGroupRules) as a rule spec: exactly one of CidrIpv4,
 * CidrIpv6, PrefixListId or ReferencedGroupId, validated as AuthorizeSecurityGroup* validates it.
 */
export function specFromRuleRequest(request: Obj, isEgress: boolean): RuleSpec {
  const peers = ['CidrIpv4', 'CidrIpv6', 'PrefixListId', 'ReferencedGroupId'].filter((k) => str(request[k]));
  if (peers.length !== 1)
    throw new AwsError(
      'InvalidParameterCombination',
      'Specify exactly one of CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupId',
    );
  const description = str(request.Description);
  const peer = (ranges: string, field: string, value: unknown) => ({
    [ranges]: [compact({ [field]: value, Description: description })],
  });
  const perm: Obj = {
    IpProtocol: request.IpProtocol,
    FromPort: request.FromPort,
    ToPort: request.ToPort,
    ...(str(request.CidrIpv4) ? peer('IpRanges', 'CidrIp', request.CidrIpv4) : {}),
    ...(str(request.CidrIpv6) ? peer('Ipv6Ranges', 'CidrIpv6', request.CidrIpv6) : {}),
    ...(str(request.PrefixListId) ? peer('PrefixListIds', 'PrefixListId', request.PrefixListId) : {}),
    ...(str(request.ReferencedGroupId) ? peer('UserIdGroupPairs', 'GroupId', request.ReferencedGroupId) : {}),
  };
  const [spec] = specsFromPermissions([perm], isEgress);
  if (!spec)
    throw new AwsError('MissingParameter', 'The request must contain the parameter SecurityGroupRule');
  return spec;
}

/** Expands SDK-shaped IpPermissions into one spec per source. */
export function specsFromPermissions(perms: unknown, isEgress: boolean): RuleSpec[] {
  const out: RuleSpec[] = [];
  for (const p of objs(perms)) {
    const ipProtocol = normalizeProtocol(p.IpProtocol);
    const all = ipProtocol === '-1';
    const tcpUdp = ipProtocol === 'tcp' || ipProtocol === 'udp';
    let fromPort = all ? -1 : (num(p.FromPort) ?? (tcpUdp ? undefined : -1));
    let toPort = all ? -1 : (num(p.ToPort) ?? (tcpUdp ? undefined : -1));
    if (fromPort === undefined || toPort === undefined) {
      if (!tcpUdp) {
        fromPort = -1;
        toPort = -1;
      } else {
        throw new AwsError(
          'InvalidParameterValue',
          'Invalid value for portRange. Must specify both from and to ports with TCP/UDP.',
        );
      }
    }
    if (tcpUdp && (fromPort < 0 || toPort > 65535 || fromPort > toPort)) {
      throw new AwsError(
        'InvalidParameterValue',
        `Invalid value for portRange. From port ${fromPort} must be <= to port ${toPort} and within 0-65535.`,
      );
    }
    const base = { isEgress, ipProtocol, fromPort, toPort };
    const before = out.length;
    for (const r of objs(p.IpRanges)) {
      const cidr = str(r.CidrIp) ?? '';
      assertCidr(cidr);
      out.push({ ...base, cidrIpv4: cidr, description: str(r.Description) });
    }
    for (const r of objs(p.Ipv6Ranges)) {
      const cidr = str(r.CidrIpv6) ?? '';
      if (!cidr.includes(':') || !cidr.includes('/'))
        throw new AwsError('InvalidParameterValue', `CIDR block ${cidr} is malformed`);
      out.push({ ...base, cidrIpv6: cidr.toLowerCase(), description: str(r.Description) });
    }
    for (const r of objs(p.PrefixListIds)) {
      out.push({ ...base, prefixListId: str(r.PrefixListId), description: str(r.Description) });
    }
    for (const r of objs(p.UserIdGroupPairs)) {
      const gid = str(r.GroupId);
      if (!gid)
        throw new AwsError(
          'MissingParameter',
          'The request must contain the parameter groupId for a user id group pair',
        );
      out.push({ ...base, referencedGroupId: gid, description: str(r.Description) });
    }
    if (out.length === before) {
      throw new AwsError(
        'MissingParameter',
        'The request must contain a source or destination: IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs',
      );
    }
  }
  return out;
}

export class Ec2Store {
  readonly defaultVpcId: string;
  readonly groups = new Map<string, SecurityGroup>();

  constructor(private readonly sandbox: SandboxContext) {
    this.defaultVpcId = 'vpc-0a1b2c3d4e5f60718';
    const def = this.insertGroup('default', 'default VPC security group', this.defaultVpcId);
    // The default group allows all traffic from itself.
    this.addRules(
      def,
      [{ isEgress: false, ipProtocol: '-1', fromPort: -1, toPort: -1, referencedGroupId: def.groupId }],
      false,
    );
  }

  private change(groupId: string, kind: 'created' | 'updated' | 'deleted'): void {
    this.sandbox.recordChange({ resourceType: SG_TYPE, resourceId: groupId, kind });
  }

  private insertGroup(name: string, description: string, vpcId: string): SecurityGroup {
    const g: SecurityGroup = {
      groupId: hexId('sg-', 17),
      groupName: name,
      description,
      vpcId,
      ownerId: this.sandbox.accountId,
      tags: [],
      rules: [],
    };
    this.groups.set(g.groupId, g);
    // Default egress: all traffic to anywhere.
    this.addRules(
      g,
      [{ isEgress: true, ipProtocol: '-1', fromPort: -1, toPort: -1, cidrIpv4: '0.0.0.0/0' }],
      false,
    );
    return g;
  }

  createGroup(input: {
    GroupName?: unknown;
    Description?: unknown;
    VpcId?: unknown;
    TagSpecifications?: unknown;
  }): SecurityGroup {
    const name = str(input.GroupName);
    const description = str(input.Description);
    if (!name) throw new AwsError('MissingParameter', 'The request must contain the parameter GroupName');
    if (!description)
      throw new AwsError('MissingParameter', 'The request must contain the parameter GroupDescription');
    if (name.length > 255 || description.length > 255) {
      throw new AwsError(
        'InvalidParameterValue',
        'Group name and description must be at most 255 characters',
      );
    }
    if (name.toLowerCase().startsWith('sg-'))
      throw new AwsError('InvalidParameterValue', 'Group names may not be in the format sg-*');
    const vpcId = str(input.VpcId) ?? this.defaultVpcId;
    if (!/^vpc-[0-9a-f]{8,17}$/.test(vpcId))
      throw new AwsError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
    for (const g of this.groups.values()) {
      if (g.vpcId === vpcId && g.groupName === name) {
        throw new AwsError(
          'InvalidGroup.Duplicate',
          `The security group '${name}' already exists for VPC '${vpcId}'`,
        );
      }
    }
    const g = this.insertGroup(name, description, vpcId);
    for (const spec of objs(input.TagSpecifications)) {
      if ((str(spec.ResourceType) ?? 'security-group') === 'security-group')
        g.tags.push(...tagsFrom(spec.Tags));
    }
    this.change(g.groupId, 'created');
    return g;
  }

  get(groupId: string): SecurityGroup {
    assertGroupId(groupId);
    const g = this.groups.get(groupId);
    if (!g) throw new AwsError('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`);
    return g;
  }

  /** By GroupId, or by GroupName in the default VPC (the legacy way). */
  resolve(input: { GroupId?: unknown; GroupName?: unknown }): SecurityGroup {
    const id = str(input.GroupId);
    if (id) return this.get(id);
    const name = str(input.GroupName);
    if (!name)
      throw new AwsError('MissingParameter', 'The request must contain the parameter groupId or groupName');
    for (const g of this.groups.values()) if (g.groupName === name && g.vpcId === this.defaultVpcId) return g;
    throw new AwsError(
      'InvalidGroup.NotFound',
      `The security group '${name}' does not exist in default VPC '${this.defaultVpcId}'`,
    );
  }

  deleteGroup(g: SecurityGroup): void {
    if (g.groupName === 'default') {
      throw new AwsError(
        'CannotDelete',
        `the specified group: "${g.groupId}" name: "default" cannot be deleted by a user`,
      );
    }
    for (const other of this.groups.values()) {
      if (other !== g && other.rules.some((r) => r.referencedGroupId === g.groupId)) {
        throw new AwsError('DependencyViolation', `resource ${g.groupId} has a dependent object`);
      }
    }
    this.groups.delete(g.groupId);
    this.change(g.groupId, 'deleted');
  }

  private addRules(g: SecurityGroup, specs: RuleSpec[], record = true): SgRule[] {
    const existing = new Set(g.rules.map(ruleKey));
    const seen = new Set<string>();
    for (const s of specs) {
      const k = ruleKey(s);
      if (existing.has(k) || seen.has(k)) {
        throw new AwsError(
          'InvalidPermission.Duplicate',
          `the specified rule "${peerText(s)}" already exists`,
        );
      }
      seen.add(k);
      if (s.referencedGroupId && s.referencedGroupId !== g.groupId) this.get(s.referencedGroupId);
    }
    const added = specs.map(
      (s): SgRule =>
        compact({
          ruleId: hexId('sgr-', 17),
          groupId: g.groupId,
          isEgress: s.isEgress,
          ipProtocol: s.ipProtocol,
          fromPort: s.fromPort,
          toPort: s.toPort,
          cidrIpv4: s.cidrIpv4,
          cidrIpv6: s.cidrIpv6,
          prefixListId: s.prefixListId,
          referencedGroupId: s.referencedGroupId,
          description: s.description,
          tags: s.tags ?? [],
        }),
    );
    g.rules.push(...added);
    if (record && added.length > 0) this.change(g.groupId, 'updated');
    return added;
  }

  authorize(g: SecurityGroup, specs: RuleSpec[]): SgRule[] {
    if (specs.length === 0)
      throw new AwsError('MissingParameter', 'The request must contain the parameter ipPermissions');
    return this.addRules(g, specs);
  }

  /**
   * Revokes rules by spec or id. Unknown specs: in the default VPC they come back as "unknown" and
   * nothing fails (EC2's documented behaviour); elsewhere InvalidPermission.NotFound, nothing revoked.
   */
  revoke(
    g: SecurityGroup,
    isEgress: boolean,
    specs: RuleSpec[],
    ruleIds: string[],
  ): { revoked: SgRule[]; unknown: RuleSpec[] } {
    const toRemove = new Set<SgRule>();
    const unknown: RuleSpec[] = [];
    for (const id of ruleIds) {
      const r = g.rules.find((x) => x.ruleId === id && x.isEgress === isEgress);
      if (!r) throw ruleNotFound(id);
      toRemove.add(r);
    }
    for (const s of specs) {
      const k = ruleKey(s);
      const r = g.rules.find((x) => ruleKey(x) === k);
      if (r) toRemove.add(r);
      else unknown.push(s);
    }
    if (unknown.length > 0 && g.vpcId !== this.defaultVpcId) {
      throw new AwsError(
        'InvalidPermission.NotFound',
        `The specified rule does not exist in this security group (${unknown.map(peerText).join('; ')}).`,
      );
    }
    if (specs.length === 0 && ruleIds.length === 0) {
      throw new AwsError(
        'MissingParameter',
        'The request must contain the parameter ipPermissions or securityGroupRuleIds',
      );
    }
    g.rules = g.rules.filter((r) => !toRemove.has(r));
    if (toRemove.size > 0) this.change(g.groupId, 'updated');
    return { revoked: [...toRemove], unknown };
  }

  setTags(groupId: string, tags: Tag[], remove: Array<{ Key: string; Value?: string }>): void {
    const g = this.get(groupId);
    for (const r of remove) {
      g.tags = g.tags.filter((t) => !(t.Key === r.Key && (r.Value === undefined || r.Value === t.Value)));
    }
    for (const t of tags) {
      const i = g.tags.findIndex((x) => x.Key === t.Key);
      if (i >= 0) g.tags[i] = t;
      else g.tags.push(t);
    }
    this.change(g.groupId, 'updated');
  }

  /**
   * ModifySecurityGroupRules: each named rule of `g` becomes its new spec in place (same id, direction and
   * tags). Checked first, so a bad update changes nothing: every id must be a rule of this group, the
   * peer must stay of the same kind (an IPv4 range stays one), and no two rules may end up the same.
   */
  modifyRules(g: SecurityGroup, updates: Array<{ ruleId: string; spec: RuleSpec }>): void {
    const replaced = new Map<SgRule, RuleSpec>();
    for (const { ruleId, spec } of updates) {
      const r = g.rules.find((x) => x.ruleId === ruleId);
      if (!r) throw ruleNotFound(ruleId);
      if (peerKind(r) !== peerKind(spec))
        throw new AwsError(
          'InvalidParameterValue',
          `You cannot change the rule type of security group rule '${ruleId}': specify its ${peerKind(r)}`,
        );
      if (spec.referencedGroupId && spec.referencedGroupId !== g.groupId) this.get(spec.referencedGroupId);
      replaced.set(r, { ...spec, isEgress: r.isEgress });
    }
    const after = g.rules.map((r) => replaced.get(r) ?? r);
    const seen = new Set<string>();
    for (const r of after) {
      const k = ruleKey(r);
      if (seen.has(k))
        throw new AwsError(
          'InvalidPermission.Duplicate',
          `the specified rule "${peerText(r)}" already exists`,
        );
      seen.add(k);
    }
    g.rules = g.rules.map((r) => {
      const spec = replaced.get(r);
      return spec ? compact({ ...spec, ruleId: r.ruleId, groupId: r.groupId, tags: r.tags }) : r;
    });
    if (replaced.size > 0) this.change(g.groupId, 'updated');
  }

  /** Changes a rule's description (ModifySecurityGroupRules / UpdateSecurityGroupRuleDescriptions*). */
  setRuleDescription(rule: SgRule, description: string | undefined): void {
    if (rule.description === description) return;
    if (description === undefined) delete rule.description;
    else rule.description = description;
    this.change(rule.groupId, 'updated');
  }

  /** Finds a rule by id across groups. */
  findRule(ruleId: string): SgRule | undefined {
    for (const g of this.groups.values()) {
      const r = g.rules.find((x) => x.ruleId === ruleId);
      if (r) return r;
    }
    return undefined;
  }
}

export function ec2Store(sandbox: SandboxContext): Ec2Store {
  return stateOf(sandbox, 'ec2', () => new Ec2Store(sandbox));
}

/** IpPermissions (SDK shape) for a set of rules, grouped by protocol and port range as EC2 does. */
export function toIpPermissions(rules: RuleSpec[], ownerId: string): Obj[] {
  const groups = new Map<string, RuleSpec[]>();
  for (const r of rules) {
    const k = `${r.ipProtocol}|${r.fromPort}|${r.toPort}`;
    const list = groups.get(k) ?? [];
    list.push(r);
    groups.set(k, list);
  }
  const out: Obj[] = [];
  for (const list of groups.values()) {
    const first = list[0];
    if (!first) continue;
    const all = first.ipProtocol === '-1';
    out.push(
      compact({
        IpProtocol: first.ipProtocol,
        FromPort: all ? undefined : first.fromPort,
        ToPort: all ? undefined : first.toPort,
        IpRanges: list
          .filter((r) => r.cidrIpv4)
          .map((r) => compact({ CidrIp: r.cidrIpv4, Description: r.description })),
        Ipv6Ranges: list
          .filter((r) => r.cidrIpv6)
          .map((r) => compact({ CidrIpv6: r.cidrIpv6, Description: r.description })),
        PrefixListIds: list
          .filter((r) => r.prefixListId)
          .map((r) => compact({ PrefixListId: r.prefixListId, Description: r.description })),
        UserIdGroupPairs: list
          .filter((r) => r.referencedGroupId)
          .map((r) => compact({ GroupId: r.referencedGroupId, UserId: ownerId, Description: r.description })),
      }),
    );
  }
  return out;
}

/** A SecurityGroupRule (SDK shape). */
export function toSecurityGroupRule(r: SgRule, ownerId: string, region: string): Obj {
  return compact({
    SecurityGroupRuleId: r.ruleId,
    GroupId: r.groupId,
    GroupOwnerId: ownerId,
    IsEgress: r.isEgress,
    IpProtocol: r.ipProtocol,
    FromPort: r.fromPort,
    ToPort: r.toPort,
    CidrIpv4: r.cidrIpv4,
    CidrIpv6: r.cidrIpv6,
    PrefixListId: r.prefixListId,
    ReferencedGroupInfo: r.referencedGroupId ? { GroupId: r.referencedGroupId, UserId: ownerId } : undefined,
    Description: r.description,
    Tags: r.tags,
    SecurityGroupRuleArn: `arn:aws:ec2:${region}:${ownerId}:security-group-rule/${r.ruleId}`,
  });
}

export function toSecurityGroup(g: SecurityGroup, region: string): Obj {
  return {
    GroupId: g.groupId,
    GroupName: g.groupName,
    Description: g.description,
    OwnerId: g.ownerId,
    VpcId: g.vpcId,
    SecurityGroupArn: `arn:aws:ec2:${region}:${g.ownerId}:security-group/${g.groupId}`,
    IpPermissions: toIpPermissions(
      g.rules.filter((r) => !r.isEgress),
      g.ownerId,
    ),
    IpPermissionsEgress: toIpPermissions(
      g.rules.filter((r) => r.isEgress),
      g.ownerId,
    ),
    Tags: g.tags.map((t) => ({ ...t })),
  };
}

/** The legacy top-level parameters (CidrIp, FromPort, ToPort, IpProtocol, SourceSecurityGroupName). */
export function legacySpecs(input: Obj, isEgress: boolean, store: Ec2Store): RuleSpec[] {
  const cidr = str(input.CidrIp);
  const srcName = str(input.SourceSecurityGroupName);
  if (!cidr && !srcName && input.IpProtocol === undefined) return [];
  const perm: Obj = { IpProtocol: input.IpProtocol ?? '-1', FromPort: input.FromPort, ToPort: input.ToPort };
  if (cidr) perm.IpRanges = [{ CidrIp: cidr }];
  else if (srcName) perm.UserIdGroupPairs = [{ GroupId: store.resolve({ GroupName: srcName }).groupId }];
  else
    throw new AwsError(
      'MissingParameter',
      'The request must contain the parameter CidrIp or SourceSecurityGroupName',
    );
  return specsFromPermissions([perm], isEgress);
}

export function arrOfStrings(v: unknown): string[] {
  return arr(v)
    .map(str)
    .filter((s): s is string => s !== undefined);
}
