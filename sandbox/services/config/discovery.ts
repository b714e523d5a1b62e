/**
 * What the configuration recorder captures of one resource (recorder.ts records it as a configuration
 * item): per resource type, the ids Config records resources by (IAM roles by their unique id `AROA…`,
 * customer managed policies by `ANPA…`, others by their physical id), the item's `configuration` and
 * `supplementaryConfiguration` in Config's shapes, its tags, and the describe calls Config makes to read
 * it (which the recorder's role must be allowed). IAM users (`AIDA…`) are not emulated by this
 * sandbox's IAM, so there are none.
 */
import { ResourceType } from '@aws-sdk/client-config-service';
import type { SandboxContext } from '../../core/types';
import { ec2Store, type SecurityGroup, type SgRule } from '../ec2/store';
import { iamStore, type ManagedPolicy, type Role } from '../iam/store';
import { type LambdaFunction, lambdaStore } from '../lambda/store';
import { type Bucket, s3Store } from '../s3/store';
import type { Obj, Tag } from '../state';

/** A resource as the recorder reads it (the configuration item's content). */
export interface Discovered {
  resourceType: string;
  resourceId: string;
  resourceName: string;
  arn: string;
  createdAt?: Date;
  /** The configuration item's `configuration` (Config serializes it as a JSON string). */
  configuration: Obj;
  supplementaryConfiguration: Obj;
  tags: Record<string, string>;
}

/** One describe call the recorder makes as its role to read a resource. */
export interface ReadCall {
  service: string;
  operation: string;
  input: Record<string, unknown>;
}

interface Capture {
  /** The Config ids of every resource of the type. */
  ids(sandbox: SandboxContext): string[] | Promise<string[]>;
  /** The resource by its Config id, or undefined when it does not exist. */
  one(sandbox: SandboxContext, id: string): Discovered | undefined | Promise<Discovered | undefined>;
  /** The describe calls that read it. */
  reads(d: Discovered): ReadCall[];
}

const tagMap = (tags: readonly Tag[]): Record<string, string> =>
  Object.fromEntries(tags.map((t) => [t.Key, t.Value ?? '']));

const configTags = (tags: readonly Tag[]): Obj[] => tags.map((t) => ({ key: t.Key, value: t.Value }));

function roleOf(sandbox: SandboxContext, id: string): Role | undefined {
  for (const r of iamStore(sandbox).roles.values()) if (r.id === id) return r;
  return undefined;
}

function roleItem(r: Role): Discovered {
  return {
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
      tags: configTags(r.tags),
    },
    supplementaryConfiguration: {},
    tags: tagMap(r.tags),
  };
}

function policyOf(sandbox: SandboxContext, id: string): ManagedPolicy | undefined {
  for (const p of iamStore(sandbox).policies.values()) if (!p.awsManaged && p.id === id) return p;
  return undefined;
}

function policyItem(sandbox: SandboxContext, p: ManagedPolicy): Discovered {
  return {
    resourceType: 'AWS::IAM::Policy',
    resourceId: p.id,
    resourceName: p.name,
    arn: p.arn,
    createdAt: p.createDate,
    configuration: {
      policyName: p.name,
      policyId: p.id,
      arn: p.arn,
      path: p.path,
      defaultVersionId: p.defaultVersionId,
      policyVersionList: [
        {
          document: encodeURIComponent(iamStore(sandbox).defaultDocument(p)),
          versionId: p.defaultVersionId,
          isDefaultVersion: true,
        },
      ],
      tags: configTags(p.tags),
    },
    supplementaryConfiguration: {},
    tags: tagMap(p.tags),
  };
}

type IpPermission = Obj & { ipv4Ranges: Obj[]; ipRanges: string[]; ipv6Ranges: Obj[] };

/** A group's rules as the configuration item's ipPermissions: one entry per protocol and port range. */
function ipPermissions(rules: readonly SgRule[]): Obj[] {
  const byRange = new Map<string, IpPermission>();
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

function groupItem(sandbox: SandboxContext, g: SecurityGroup): Discovered {
  return {
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
      tags: configTags(g.tags),
      vpcId: g.vpcId,
    },
    supplementaryConfiguration: {},
    tags: tagMap(g.tags),
  };
}

/** A bucket's settings in the item's supplementaryConfiguration, as Config records them. */
function bucketItem(b: Bucket): Discovered {
  const pab = b.publicAccessBlock;
  return {
    resourceType: 'AWS::S3::Bucket',
    resourceId: b.name,
    resourceName: b.name,
    arn: `arn:aws:s3:::${b.name}`,
    createdAt: b.creationDate,
    configuration: { name: b.name, owner: {}, creationDate: b.creationDate.toISOString() },
    supplementaryConfiguration: {
      BucketVersioningConfiguration: {
        status: b.versioning?.Status ?? 'Off',
        ...(b.versioning?.MFADelete ? { isMfaDeleteEnabled: b.versioning.MFADelete === 'Enabled' } : {}),
      },
      ...(b.encryption && b.encryption.length > 0
        ? {
            ServerSideEncryptionConfiguration: {
              rules: b.encryption.map((r) => ({
                applyServerSideEncryptionByDefault: r.ApplyServerSideEncryptionByDefault
                  ? {
                      sseAlgorithm: r.ApplyServerSideEncryptionByDefault.SSEAlgorithm,
                      kmsMasterKeyID: r.ApplyServerSideEncryptionByDefault.KMSMasterKeyID ?? null,
                    }
                  : null,
                bucketKeyEnabled: r.BucketKeyEnabled ?? false,
              })),
            },
          }
        : {}),
      ...(pab
        ? {
            PublicAccessBlockConfiguration: {
              blockPublicAcls: pab.BlockPublicAcls,
              ignorePublicAcls: pab.IgnorePublicAcls,
              blockPublicPolicy: pab.BlockPublicPolicy,
              restrictPublicBuckets: pab.RestrictPublicBuckets,
            },
          }
        : {}),
      ...(b.tags && b.tags.length > 0
        ? { BucketTaggingConfiguration: { tagSets: [{ tags: tagMap(b.tags) }] } }
        : {}),
    },
    tags: tagMap(b.tags ?? []),
  };
}

function functionItem(f: LambdaFunction): Discovered {
  return {
    resourceType: 'AWS::Lambda::Function',
    resourceId: f.name,
    resourceName: f.name,
    arn: f.arn,
    configuration: {
      functionName: f.name,
      functionArn: f.arn,
      ...(f.runtime ? { runtime: f.runtime } : {}),
      role: f.role,
      ...(f.handler ? { handler: f.handler } : {}),
      timeout: f.timeout,
      memorySize: f.memorySize,
      codeSize: f.codeSize,
      codeSha256: f.codeSha256,
      packageType: f.packageType,
      lastModified: f.lastModified,
    },
    supplementaryConfiguration: { Tags: { ...f.tags } },
    tags: { ...f.tags },
  };
}

const CAPTURES: Record<string, Capture> = {
  'AWS::IAM::Role': {
    ids: (sandbox) => [...iamStore(sandbox).roles.values()].map((r) => r.id),
    one: (sandbox, id) => {
      const r = roleOf(sandbox, id);
      return r ? roleItem(r) : undefined;
    },
    reads: (d) => [
      { service: 'iam', operation: 'GetRole', input: { RoleName: d.resourceName } },
      { service: 'iam', operation: 'ListAttachedRolePolicies', input: { RoleName: d.resourceName } },
      { service: 'iam', operation: 'ListRolePolicies', input: { RoleName: d.resourceName } },
    ],
  },
  'AWS::IAM::Policy': {
    ids: (sandbox) => [...iamStore(sandbox).policies.values()].filter((p) => !p.awsManaged).map((p) => p.id),
    one: (sandbox, id) => {
      const p = policyOf(sandbox, id);
      return p ? policyItem(sandbox, p) : undefined;
    },
    reads: (d) => [
      { service: 'iam', operation: 'GetPolicy', input: { PolicyArn: d.arn } },
      {
        service: 'iam',
        operation: 'GetPolicyVersion',
        input: { PolicyArn: d.arn, VersionId: String(d.configuration.defaultVersionId) },
      },
    ],
  },
  'AWS::EC2::SecurityGroup': {
    ids: (sandbox) => [...ec2Store(sandbox).groups.keys()],
    one: (sandbox, id) => {
      const g = ec2Store(sandbox).groups.get(id);
      return g ? groupItem(sandbox, g) : undefined;
    },
    reads: (d) => [
      { service: 'ec2', operation: 'DescribeSecurityGroups', input: { GroupIds: [d.resourceId] } },
    ],
  },
  'AWS::S3::Bucket': {
    ids: (sandbox) => [...s3Store(sandbox).buckets.keys()],
    one: (sandbox, id) => {
      const b = s3Store(sandbox).buckets.get(id);
      return b ? bucketItem(b) : undefined;
    },
    reads: (d) =>
      ['GetBucketEncryption', 'GetBucketVersioning', 'GetPublicAccessBlock', 'GetBucketTagging'].map(
        (operation) => ({ service: 's3', operation, input: { Bucket: d.resourceId } }),
      ),
  },
  'AWS::Lambda::Function': {
    ids: (sandbox) => [...lambdaStore(sandbox).functions.keys()],
    one: (sandbox, id) => {
      const f = lambdaStore(sandbox).functions.get(id);
      return f ? functionItem(f) : undefined;
    },
    reads: (d) => [{ service: 'lambda', operation: 'GetFunction', input: { FunctionName: d.resourceId } }],
  },
  'AWS::CloudFormation::Stack': {
    ids: async (sandbox) =>
      (await describeStacks(sandbox, undefined))
        .filter((st) => st.StackStatus !== 'DELETE_COMPLETE' && st.StackStatus !== 'REVIEW_IN_PROGRESS')
        .map((st) => st.StackId ?? '')
        .filter((id) => id !== ''),
    one: async (sandbox, id) => {
      const st = (await describeStacks(sandbox, id))[0];
      if (!st?.StackId || st.StackStatus === 'DELETE_COMPLETE') return undefined;
      return {
        resourceType: 'AWS::CloudFormation::Stack',
        resourceId: st.StackId,
        resourceName: st.StackName ?? '',
        arn: st.StackId,
        ...(st.CreationTime instanceof Date ? { createdAt: st.CreationTime } : {}),
        configuration: { stackId: st.StackId, stackName: st.StackName, stackStatus: st.StackStatus },
        supplementaryConfiguration: {},
        tags: tagMap(st.Tags ?? []),
      };
    },
    reads: (d) => [
      { service: 'cloudformation', operation: 'DescribeStacks', input: { StackName: d.resourceId } },
    ],
  },
};

interface StackSummary {
  StackId?: string;
  StackName?: string;
  StackStatus?: string;
  CreationTime?: unknown;
  Tags?: Tag[];
}

/** Stacks as CloudFormation describes them (none without a CloudFormation module; gone → none). */
async function describeStacks(
  sandbox: SandboxContext,
  stackName: string | undefined,
): Promise<StackSummary[]> {
  try {
    const out = await sandbox.call(
      'cloudformation',
      'DescribeStacks',
      stackName ? { StackName: stackName } : {},
    );
    return Array.isArray(out.Stacks) ? (out.Stacks as StackSummary[]) : [];
  } catch {
    return [];
  }
}

/** The resource types the recorder can record here (others are valid Config types it finds none of). */
export const CAPTURED_TYPES: readonly string[] = Object.keys(CAPTURES);

/** The Config ids of every existing resource of a type. */
export async function idsOfType(sandbox: SandboxContext, resourceType: string): Promise<string[]> {
  return (await CAPTURES[resourceType]?.ids(sandbox)) ?? [];
}

/** One resource as the recorder would record it now, with the calls that read it; undefined once gone. */
export async function capture(
  sandbox: SandboxContext,
  resourceType: string,
  resourceId: string,
): Promise<{ item: Discovered; reads: ReadCall[] } | undefined> {
  const c = CAPTURES[resourceType];
  const item = await c?.one(sandbox, resourceId);
  return c && item ? { item, reads: c.reads(item) } : undefined;
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
