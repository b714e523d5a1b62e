/**
 * EC2 (ec2Query): security groups and their rules, tags, and the default VPC. Operations take and
 * return SDK shapes; the server does the ec2Query codec. Errors carry EC2's codes
 * (InvalidGroup.NotFound, InvalidGroupId.Malformed, InvalidPermission.Duplicate, …).
 */
import { AwsError, type RequestContext, type ServiceModule } from '../../core/types';
import { compact, type Obj, objs, str, strs, tagsFrom } from '../state';
import {
  assertGroupId,
  ec2Store,
  legacySpecs,
  type RuleSpec,
  ruleNotFound,
  type SecurityGroup,
  type SgRule,
  specFromRuleRequest,
  specsFromPermissions,
  toIpPermissions,
  toSecurityGroup,
  toSecurityGroupRule,
} from './store';

/** EC2 filter values accept * and ? wildcards. */
function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    's',
  );
  return re.test(value);
}

interface Filter {
  name: string;
  values: string[];
}

function filtersOf(input: Obj): Filter[] {
  return objs(input.Filters).map((f) => ({ name: str(f.Name) ?? '', values: strs(f.Values) }));
}

function tagFilter(f: Filter, tags: Array<{ Key: string; Value: string }>): boolean | undefined {
  if (f.name.startsWith('tag:')) {
    const key = f.name.slice(4);
    return tags.some((t) => t.Key === key && f.values.some((v) => globMatch(v, t.Value)));
  }
  if (f.name === 'tag-key') return tags.some((t) => f.values.some((v) => globMatch(v, t.Key)));
  if (f.name === 'tag-value') return tags.some((t) => f.values.some((v) => globMatch(v, t.Value)));
  return undefined;
}

function groupMatches(g: SecurityGroup, filters: Filter[]): boolean {
  return filters.every((f) => {
    const byTag = tagFilter(f, g.tags);
    if (byTag !== undefined) return byTag;
    const any = (value: string | undefined) =>
      value !== undefined && f.values.some((v) => globMatch(v, value));
    switch (f.name) {
      case 'group-id':
        return any(g.groupId);
      case 'group-name':
        return any(g.groupName);
      case 'description':
        return any(g.description);
      case 'vpc-id':
        return any(g.vpcId);
      case 'owner-id':
        return any(g.ownerId);
      case 'ip-permission.cidr':
        return g.rules.some((r) => !r.isEgress && any(r.cidrIpv4));
      case 'ip-permission.from-port':
        return g.rules.some((r) => !r.isEgress && any(String(r.fromPort)));
      case 'ip-permission.to-port':
        return g.rules.some((r) => !r.isEgress && any(String(r.toPort)));
      case 'ip-permission.protocol':
        return g.rules.some((r) => !r.isEgress && any(r.ipProtocol));
      case 'egress.ip-permission.cidr':
        return g.rules.some((r) => r.isEgress && any(r.cidrIpv4));
      default:
        throw new AwsError('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    }
  });
}

function ruleMatches(r: SgRule, filters: Filter[]): boolean {
  return filters.every((f) => {
    const byTag = tagFilter(f, r.tags);
    if (byTag !== undefined) return byTag;
    switch (f.name) {
      case 'group-id':
        return f.values.some((v) => globMatch(v, r.groupId));
      case 'security-group-rule-id':
        return f.values.some((v) => globMatch(v, r.ruleId));
      default:
        throw new AwsError('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    }
  });
}

function page<T>(items: T[], input: Obj, min = 5, max = 1000): { items: T[]; next?: string } {
  const maxResults = input.MaxResults === undefined ? undefined : Number(input.MaxResults);
  const start = input.NextToken === undefined ? 0 : Number.parseInt(String(input.NextToken), 10);
  if (Number.isNaN(start) || start < 0)
    throw new AwsError('InvalidNextToken', 'The specified NextToken is not valid');
  if (maxResults === undefined) return { items: items.slice(start) };
  if (!Number.isInteger(maxResults) || maxResults < min || maxResults > max) {
    throw new AwsError(
      'InvalidParameterValue',
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`,
    );
  }
  const slice = items.slice(start, start + maxResults);
  return { items: slice, next: start + maxResults < items.length ? String(start + maxResults) : undefined };
}

function specsOf(input: Obj, isEgress: boolean, store: ReturnType<typeof ec2Store>): RuleSpec[] {
  return [...specsFromPermissions(input.IpPermissions, isEgress), ...legacySpecs(input, isEgress, store)];
}

function createSecurityGroup(input: Obj, ctx: RequestContext): Obj {
  const g = ec2Store(ctx.sandbox).createGroup(input);
  return {
    GroupId: g.groupId,
    Tags: g.tags.length > 0 ? g.tags : undefined,
    SecurityGroupArn: `arn:aws:ec2:${ctx.region}:${g.ownerId}:security-group/${g.groupId}`,
  };
}

function describeSecurityGroups(input: Obj, ctx: RequestContext): Obj {
  const store = ec2Store(ctx.sandbox);
  const ids = strs(input.GroupIds);
  const names = strs(input.GroupNames);
  let groups: SecurityGroup[];
  if (ids.length > 0) groups = ids.map((id) => store.get(id));
  else if (names.length > 0) groups = names.map((n) => store.resolve({ GroupName: n }));
  else groups = [...store.groups.values()];
  const filters = filtersOf(input);
  groups = groups.filter((g) => groupMatches(g, filters));
  const p = page(groups, input);
  return compact({ SecurityGroups: p.items.map((g) => toSecurityGroup(g, ctx.region)), NextToken: p.next });
}

function describeSecurityGroupRules(input: Obj, ctx: RequestContext): Obj {
  const store = ec2Store(ctx.sandbox);
  const ids = strs(input.SecurityGroupRuleIds);
  let rules: SgRule[];
  if (ids.length > 0) {
    rules = ids.map((id) => {
      const r = store.findRule(id);
      if (!r) throw ruleNotFound(id);
      return r;
    });
  } else {
    rules = [...store.groups.values()].flatMap((g) => g.rules);
  }
  const filters = filtersOf(input);
  for (const f of filters)
    if (f.name === 'group-id') for (const v of f.values) if (!v.includes('*')) assertGroupId(v);
  rules = rules.filter((r) => ruleMatches(r, filters));
  const p = page(rules, input, 5, 1000);
  return compact({
    SecurityGroupRules: p.items.map((r) => toSecurityGroupRule(r, ctx.accountId, ctx.region)),
    NextToken: p.next,
  });
}

/** The one (default) VPC the sandbox has. */
function describeVpcs(input: Obj, ctx: RequestContext): Obj {
  const store = ec2Store(ctx.sandbox);
  for (const id of strs(input.VpcIds)) {
    if (id !== store.defaultVpcId)
      throw new AwsError('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
  }
  const vpc = {
    VpcId: store.defaultVpcId,
    CidrBlock: '172.31.0.0/16',
    IsDefault: true,
    State: 'available',
    OwnerId: ctx.accountId,
    InstanceTenancy: 'default',
    DhcpOptionsId: 'dopt-0a1b2c3d',
  };
  return { Vpcs: [vpc] };
}

export function ec2Service(): ServiceModule {
  return {
    serviceName: 'ec2',
    signingName: 'ec2',
    protocol: 'ec2Query',
    xmlNamespace: 'http://ec2.amazonaws.com/doc/2016-11-15/',
    operations: {
      CreateSecurityGroup: createSecurityGroup,
      DeleteSecurityGroup: (input, ctx) => {
        const store = ec2Store(ctx.sandbox);
        const g = store.resolve(input);
        store.deleteGroup(g);
        return { Return: true, GroupId: g.groupId };
      },
      DescribeSecurityGroups: describeSecurityGroups,
      DescribeSecurityGroupRules: describeSecurityGroupRules,
      AuthorizeSecurityGroupIngress: (input, ctx) => authorize(input, ctx.sandbox, false, ctx.region),
      AuthorizeSecurityGroupEgress: (input, ctx) => authorize(input, ctx.sandbox, true, ctx.region),
      RevokeSecurityGroupIngress: (input, ctx) => revoke(input, ctx.sandbox, false, ctx.accountId),
      RevokeSecurityGroupEgress: (input, ctx) => revoke(input, ctx.sandbox, true, ctx.accountId),
      CreateTags: (input, ctx) => {
        tagResources(input, ctx.sandbox, 'create');
        return {};
      },
      DeleteTags: (input, ctx) => {
        tagResources(input, ctx.sandbox, 'delete');
        return {};
      },
      ModifySecurityGroupRules: modifySecurityGroupRules,
      DescribeVpcs: describeVpcs,
    },
  };
}

/** Updates rules of one group in place (ids kept), all or none; the change is recorded like the others. */
function modifySecurityGroupRules(input: Obj, ctx: RequestContext): Obj {
  const store = ec2Store(ctx.sandbox);
  if (!str(input.GroupId))
    throw new AwsError('MissingParameter', 'The request must contain the parameter GroupId');
  const g = store.get(String(input.GroupId));
  const updates = objs(input.SecurityGroupRules);
  if (updates.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter SecurityGroupRule');
  store.modifyRules(
    g,
    updates.map((u) => {
      const ruleId = str(u.SecurityGroupRuleId) ?? '';
      const rule = g.rules.find((r) => r.ruleId === ruleId);
      if (!rule) throw ruleNotFound(ruleId);
      const request = u.SecurityGroupRule;
      if (!request || typeof request !== 'object')
        throw new AwsError('MissingParameter', 'The request must contain the parameter SecurityGroupRule');
      return { ruleId, spec: specFromRuleRequest(request as Obj, rule.isEgress) };
    }),
  );
  return { Return: true };
}

function authorize(
  input: Obj,
  sandbox: Parameters<typeof ec2Store>[0],
  isEgress: boolean,
  region: string,
): Obj {
  const store = ec2Store(sandbox);
  if (isEgress && !str(input.GroupId))
    throw new AwsError('MissingParameter', 'The request must contain the parameter groupId');
  const g = store.resolve(input);
  const specs = specsOf(input, isEgress, store);
  const tags = objs(input.TagSpecifications).flatMap((s) => tagsFrom(s.Tags));
  const added = store.authorize(
    g,
    specs.map((s) => ({ ...s, tags })),
  );
  return { Return: true, SecurityGroupRules: added.map((r) => toSecurityGroupRule(r, g.ownerId, region)) };
}

function revoke(
  input: Obj,
  sandbox: Parameters<typeof ec2Store>[0],
  isEgress: boolean,
  ownerId: string,
): Obj {
  const store = ec2Store(sandbox);
  if (isEgress && !str(input.GroupId))
    throw new AwsError('MissingParameter', 'The request must contain the parameter groupId');
  const g = store.resolve(input);
  const { revoked, unknown } = store.revoke(
    g,
    isEgress,
    specsOf(input, isEgress, store),
    strs(input.SecurityGroupRuleIds),
  );
  return compact({
    Return: unknown.length === 0,
    UnknownIpPermissions: unknown.length > 0 ? toIpPermissions(unknown, ownerId) : undefined,
    RevokedSecurityGroupRules: revoked.map((r) =>
      compact({
        SecurityGroupRuleId: r.ruleId,
        GroupId: r.groupId,
        IsEgress: r.isEgress,
        IpProtocol: r.ipProtocol,
        FromPort: r.fromPort,
        ToPort: r.toPort,
        CidrIpv4: r.cidrIpv4,
        CidrIpv6: r.cidrIpv6,
        PrefixListId: r.prefixListId,
        ReferencedGroupId: r.referencedGroupId,
        Description: r.description,
      }),
    ),
  });
}

function tagResources(input: Obj, sandbox: Parameters<typeof ec2Store>[0], mode: 'create' | 'delete'): void {
  const store = ec2Store(sandbox);
  const resources = strs(input.Resources);
  if (resources.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter resourceIdSet');
  const tagInput = objs(input.Tags);
  if (mode === 'create' && tagInput.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter tagSet');
  for (const t of tagInput) {
    const key = str(t.Key) ?? '';
    if (mode === 'create' && key.toLowerCase().startsWith('aws:')) {
      throw new AwsError(
        'InvalidParameterValue',
        "Tag keys starting with 'aws:' are reserved for internal use",
      );
    }
  }
  for (const id of resources) {
    if (id.startsWith('sg-')) {
      store.get(id);
    } else if (id.startsWith('sgr-')) {
      if (!store.findRule(id)) throw ruleNotFound(id);
    } else {
      throw new AwsError('InvalidID', `The ID '${id}' is not valid`);
    }
  }
  for (const id of resources) {
    if (id.startsWith('sg-')) {
      if (mode === 'create') store.setTags(id, tagsFrom(tagInput), []);
      else if (tagInput.length === 0)
        store.setTags(
          id,
          [],
          store.get(id).tags.map((t) => ({ Key: t.Key })),
        );
      else
        store.setTags(
          id,
          [],
          tagInput.map((t) => ({ Key: str(t.Key) ?? '', Value: str(t.Value) })),
        );
    } else {
      const rule = store.findRule(id);
      if (!rule) continue;
      if (mode === 'create') {
        for (const t of tagsFrom(tagInput)) {
          rule.tags = rule.tags.filter((x) => x.Key !== t.Key);
          rule.tags.push(t);
        }
      } else {
        rule.tags = rule.tags.filter(
          (x) =>
            tagInput.length > 0 &&
            !tagInput.some(
              (t) => str(t.Key) === x.Key && (t.Value === undefined || str(t.Value) === x.Value),
            ),
        );
      }
    }
  }
}
