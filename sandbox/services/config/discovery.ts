/**
 * What Config has "discovered": per resource type, the resources with the id Config records them by
 * (IAM roles by their unique id `AROA…`, customer managed policies by `ANPA…`, others by their physical
 * id) and their name, for ListDiscoveredResources and BatchGetResourceConfig. IAM users (`AIDA…`) are
 * not emulated by this sandbox's IAM, so there are none.
 */
import { ResourceType } from '@aws-sdk/client-config-service';
import { AwsError, type RequestContext, type SandboxContext } from '../../core/types';
import { ec2Store, type SgRule } from '../ec2/store';
import { iamStore } from '../iam/store';
import { lambdaStore } from '../lambda/store';
import { s3Store } from '../s3/store';
import { isObj, num, type Obj, str, strs } from '../state';

export interface Discovered {
  resourceType: string;
  resourceId: string;
  resourceName: string;
  arn: string;
  createdAt?: Date;
  /** The configuration item's `configuration` (Config serializes it as a JSON string). */
  configuration: Obj;
}

type Lister = (sandbox: SandboxContext) => Discovered[];

const roles: Lister = (sandbox) =>
  [...iamStore(sandbox).roles.values()].map((r) => ({
    resourceType: 'AWS::IAM::Role',
    resourceId: r.id,
    resourceName: r.name,
    arn: r.arn,
    createdAt: r.createDate,
    configuration: {
      path: r.path,
      roleName: r.name,
      roleId: r.id,
      arn: r.arn,
      createDate: r.createDate.toISOString(),
      assumeRolePolicyDocument: encodeURIComponent(r.assumeRolePolicy),
      attachedManagedPolicies: r.attached.map((a) => ({ policyArn: a, policyName: a.split('/').pop() })),
      rolePolicyList: [...r.inline].map(([policyName, doc]) => ({
        policyName,
        policyDocument: encodeURIComponent(doc),
      })),
      tags: r.tags.map((t) => ({ key: t.Key, value: t.Value })),
    },
  }));

const policies: Lister = (sandbox) =>
  [...iamStore(sandbox).policies.values()]
    .filter((p) => !p.awsManaged)
    .map((p) => ({
      resourceType: 'AWS::IAM::Policy',
      resourceId: p.id,
      resourceName: p.name,
      arn: p.arn,
      createdAt: p.createDate,
      configuration: { policyName: p.name, policyId: p.id, arn: p.arn, path: p.path },
    }));

/** A group's rules as the configuration item's ipPermissions: one entry per protocol and port range. */
function ipPermissions(rules: readonly SgRule[]): Obj[] {
  const byRange = new Map<string, Obj & { ipv4Ranges: Obj[]; ipRanges: string[]; ipv6Ranges: Obj[] }>();
  for (const r of rules) {
    const key = `${r.ipProtocol}|${r.fromPort}|${r.toPort}`;
    let p = byRange.get(key);
    if (!p) {
      p = {
        ipProtocol: r.ipProtocol,
        ...(r.ipProtocol === '-1' ? {} : { fromPort: r.fromPort, toPort: r.toPort }),
        ipv4Ranges: [],
        ipRanges: [],
        ipv6Ranges: [],
        prefixListIds: [],
        userIdGroupPairs: [],
      };
      byRange.set(key, p);
    }
    if (r.cidrIpv4) {
      p.ipv4Ranges.push({ cidrIp: r.cidrIpv4, ...(r.description ? { description: r.description } : {}) });
      p.ipRanges.push(r.cidrIpv4);
    }
    if (r.cidrIpv6) p.ipv6Ranges.push({ cidrIpv6: r.cidrIpv6 });
    if (r.prefixListId) (p.prefixListIds as Obj[]).push({ prefixListId: r.prefixListId });
    if (r.referencedGroupId) (p.userIdGroupPairs as Obj[]).push({ groupId: r.referencedGroupId });
  }
  return [...byRange.values()];
}

const LISTERS: Record<string, Lister> = {
  'AWS::IAM::Role': roles,
  'AWS::IAM::Policy': policies,
  'AWS::EC2::SecurityGroup': (sandbox) =>
    [...ec2Store(sandbox).groups.values()].map((g) => ({
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: g.groupId,
      resourceName: g.groupName,
      arn: `arn:aws:ec2:${sandbox.region}:${sandbox.accountId}:security-group/${g.groupId}`,
      configuration: {
        description: g.description,
        groupName: g.groupName,
        ipPermissions: ipPermissions(g.rules.filter((r) => !r.isEgress)),
        ownerId: g.ownerId,
        groupId: g.groupId,
        ipPermissionsEgress: ipPermissions(g.rules.filter((r) => r.isEgress)),
        vpcId: g.vpcId,
      },
    })),
  'AWS::S3::Bucket': (sandbox) =>
    [...s3Store(sandbox).buckets.values()].map((b) => ({
      resourceType: 'AWS::S3::Bucket',
      resourceId: b.name,
      resourceName: b.name,
      arn: `arn:aws:s3:::${b.name}`,
      createdAt: b.creationDate,
      configuration: { name: b.name },
    })),
  'AWS::Lambda::Function': (sandbox) =>
    [...lambdaStore(sandbox).functions.values()].map((f) => ({
      resourceType: 'AWS::Lambda::Function',
      resourceId: f.name,
      resourceName: f.name,
      arn: f.arn,
      configuration: { functionName: f.name, functionArn: f.arn },
    })),
};

/** The discovered resources of a type (none for a type this sandbox does not record). */
export function discovered(sandbox: SandboxContext, resourceType: string): Discovered[] {
  return LISTERS[resourceType]?.(sandbox) ?? [];
}

/** Config's id for a resource of a type given its physical id (a role name → its AROA… id). */
export function configIdOf(sandbox: SandboxContext, resourceType: string, physicalId: string): string {
  if (resourceType !== 'AWS::IAM::Role') return physicalId;
  return iamStore(sandbox).roles.get(physicalId)?.id ?? physicalId;
}

/**
 * Resource types Config records (the SDK's published enum). The account pseudo-type of account-level
 * rules' results (`AWS::::Account`) is not one of them: it has results, not configuration items.
 */
export const CONFIG_RESOURCE_TYPES: ReadonlySet<string> = new Set<string>(Object.values(ResourceType));

function checkType(type: string | undefined): string {
  if (!type || !CONFIG_RESOURCE_TYPES.has(type)) {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${type ?? ''}' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set`,
    );
  }
  return type;
}

/** ListDiscoveredResources: by type, optionally by ids or by name; ids as Config records them. */
export function listDiscoveredResources(input: Obj, ctx: RequestContext): Obj {
  const type = checkType(str(input.resourceType));
  const ids = strs(input.resourceIds);
  const name = str(input.resourceName);
  if (ids.length > 0 && name)
    throw new AwsError('ValidationException', 'You cannot specify both resource IDs and a resource name.');
  const limit = num(input.limit) ?? 100;
  if (limit < 0 || limit > 100) throw new AwsError('ValidationException', 'limit must be between 0 and 100.');
  const found = discovered(ctx.sandbox, type)
    .filter((d) => (ids.length === 0 || ids.includes(d.resourceId)) && (!name || d.resourceName === name))
    .sort((a, b) => a.resourceId.localeCompare(b.resourceId));
  const start = Number.parseInt(str(input.nextToken) ?? '0', 10) || 0;
  const page = found.slice(start, start + (limit || 100));
  const out: Obj = {
    resourceIdentifiers: page.map((d) => ({
      resourceType: d.resourceType,
      resourceId: d.resourceId,
      resourceName: d.resourceName,
    })),
  };
  if (start + page.length < found.length) out.nextToken = String(start + page.length);
  return out;
}

/** BatchGetResourceConfig: the current configuration item of up to 100 resources. */
export function batchGetResourceConfig(input: Obj, ctx: RequestContext): Obj {
  const keys = Array.isArray(input.resourceKeys) ? input.resourceKeys.filter(isObj) : [];
  if (keys.length === 0 || keys.length > 100)
    throw new AwsError('ValidationException', 'resourceKeys must hold 1 to 100 keys.');
  const items: Obj[] = [];
  const unprocessed: Obj[] = [];
  for (const k of keys) {
    const type = checkType(str(k.resourceType));
    const d = discovered(ctx.sandbox, type).find((x) => x.resourceId === str(k.resourceId));
    if (!d) continue; // AWS leaves out keys it has no configuration item for
    items.push({
      version: '1.3',
      accountId: ctx.accountId,
      configurationItemCaptureTime: ctx.sandbox.clock.now(),
      configurationItemStatus: 'OK',
      configurationStateId: String(ctx.sandbox.clock.now().getTime()),
      arn: d.arn,
      resourceType: d.resourceType,
      resourceId: d.resourceId,
      resourceName: d.resourceName,
      awsRegion: ctx.region,
      availabilityZone: 'Not Applicable',
      ...(d.createdAt ? { resourceCreationTime: d.createdAt } : {}),
      configuration: JSON.stringify(d.configuration),
      supplementaryConfiguration: {},
    });
  }
  return { baseConfigurationItems: items, unprocessedResourceKeys: unprocessed };
}
