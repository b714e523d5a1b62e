/**
 * CloudFormation providers for AWS::IAM::Role (trust policy, ManagedPolicyArns, inline Policies,
 * Description, Path, MaxSessionDuration, Tags) and AWS::IAM::ManagedPolicy (PolicyDocument, Roles).
 * Documents are objects in template shape; IAM keeps their JSON text.
 */
import type { ResourceProvider } from '../../core/types';
import { docText, num, type Obj, objs, parseDoc, physicalName, str, strs, tagsFrom } from '../state';
import { iamStore, type ManagedPolicy, type Role } from './store';

function roleAttributes(r: Role): Record<string, string> {
  return { Arn: r.arn, RoleId: r.id };
}

/** Same JSON value? (documents compared by meaning, not by whitespace). */
function sameDoc(a: string, b: string): boolean {
  return JSON.stringify(parseDoc(a)) === JSON.stringify(parseDoc(b));
}

function reconcileRole(store: ReturnType<typeof iamStore>, r: Role, props: Obj): void {
  const wantedArns = strs(props.ManagedPolicyArns).map((a) => a.replace(/^arn:aws[a-z-]*:/, 'arn:aws:'));
  for (const arn of [...r.attached]) if (!wantedArns.includes(arn)) store.detachRolePolicy(r.name, arn);
  for (const arn of wantedArns) if (!r.attached.includes(arn)) store.attachRolePolicy(r.name, arn);
  const wantedInline = new Map(
    objs(props.Policies).map((p) => [str(p.PolicyName) ?? '', docText(p.PolicyDocument) ?? '']),
  );
  for (const name of [...r.inline.keys()]) if (!wantedInline.has(name)) store.deleteRolePolicy(r.name, name);
  for (const [name, doc] of wantedInline) {
    const have = r.inline.get(name);
    if (have === undefined || !sameDoc(have, doc)) store.putRolePolicy(r.name, name, doc);
  }
}

export const roleProvider: ResourceProvider = {
  type: 'AWS::IAM::Role',
  async create(logicalId, props, ctx) {
    const store = iamStore(ctx.sandbox);
    const r = store.createRole({
      RoleName: str(props.RoleName) ?? physicalName(ctx.stackName, logicalId, 64),
      Path: str(props.Path),
      AssumeRolePolicyDocument: docText(props.AssumeRolePolicyDocument),
      Description: str(props.Description),
      MaxSessionDuration: num(props.MaxSessionDuration),
      PermissionsBoundary: str(props.PermissionsBoundary),
      Tags: tagsFrom(props.Tags),
    });
    try {
      reconcileRole(store, r, props);
    } catch (err) {
      for (const arn of [...r.attached]) store.detachRolePolicy(r.name, arn);
      for (const name of [...r.inline.keys()]) store.deleteRolePolicy(r.name, name);
      store.deleteRole(r.name);
      throw err;
    }
    return { physicalId: r.name, attributes: roleAttributes(r) };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = iamStore(ctx.sandbox);
    const r = store.role(physicalId);
    const trust = docText(props.AssumeRolePolicyDocument);
    if (trust !== undefined && !sameDoc(trust, r.assumeRolePolicy))
      store.updateAssumeRolePolicy(r.name, trust);
    const description = str(props.Description) ?? '';
    const max = num(props.MaxSessionDuration) ?? 3600;
    if (description !== (r.description ?? '') || max !== r.maxSessionDuration) {
      store.updateRole(r.name, { Description: description, MaxSessionDuration: max });
    }
    reconcileRole(store, r, props);
    const tags = tagsFrom(props.Tags);
    const stale = r.tags.filter((t) => !tags.some((n) => n.Key === t.Key)).map((t) => t.Key);
    if (stale.length > 0) store.untagRole(r.name, stale);
    if (tags.length > 0) store.tagRole(r.name, tags);
    return { physicalId, attributes: roleAttributes(r) };
  },
  async delete(physicalId, ctx) {
    const store = iamStore(ctx.sandbox);
    const r = store.roles.get(physicalId);
    if (!r) return;
    for (const arn of [...r.attached]) store.detachRolePolicy(r.name, arn);
    for (const name of [...r.inline.keys()]) store.deleteRolePolicy(r.name, name);
    // Customer managed policies that name this role in their Roles keep no dangling attachment.
    store.deleteRole(r.name);
  },
  async read(physicalId, ctx) {
    const r = iamStore(ctx.sandbox).roles.get(physicalId);
    if (!r) return undefined;
    const out: Obj = {
      RoleName: r.name,
      Arn: r.arn,
      RoleId: r.id,
      Path: r.path,
      AssumeRolePolicyDocument: parseDoc(r.assumeRolePolicy),
      MaxSessionDuration: r.maxSessionDuration,
      ManagedPolicyArns: [...r.attached],
      Policies: [...r.inline.entries()].map(([PolicyName, doc]) => ({
        PolicyName,
        PolicyDocument: parseDoc(doc),
      })),
    };
    if (r.description !== undefined) out.Description = r.description;
    if (r.permissionsBoundary !== undefined) out.PermissionsBoundary = r.permissionsBoundary;
    if (r.tags.length > 0) out.Tags = r.tags.map((t) => ({ ...t }));
    return out;
  },
  requiresReplacement: (property) => property === 'RoleName' || property === 'Path',
  sample: {
    RoleName: '{{ Name }}',
    AssumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    },
    ManagedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
    Policies: [
      {
        PolicyName: 'read-reports',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::reports/*' }],
        },
      },
    ],
  },
};

function policyAttributes(store: ReturnType<typeof iamStore>, p: ManagedPolicy): Record<string, string> {
  return {
    PolicyArn: p.arn,
    PolicyId: p.id,
    DefaultVersionId: p.defaultVersionId,
    AttachmentCount: String(store.attachmentCount(p.arn)),
    IsAttachable: 'true',
    CreateDate: p.createDate.toISOString(),
    UpdateDate: p.updateDate.toISOString(),
  };
}

function reconcilePolicyRoles(store: ReturnType<typeof iamStore>, p: ManagedPolicy, roles: string[]): void {
  for (const r of store.roles.values()) {
    if (r.attached.includes(p.arn) && !roles.includes(r.name)) store.detachRolePolicy(r.name, p.arn);
  }
  for (const name of roles)
    if (!store.role(name).attached.includes(p.arn)) store.attachRolePolicy(name, p.arn);
}

/** Role names from Roles (names or role ARNs). */
function roleNames(v: unknown): string[] {
  return strs(v).map((s) => s.split('/').pop() ?? s);
}

export const managedPolicyProvider: ResourceProvider = {
  type: 'AWS::IAM::ManagedPolicy',
  async create(logicalId, props, ctx) {
    const store = iamStore(ctx.sandbox);
    const p = store.createPolicy({
      PolicyName: str(props.ManagedPolicyName) ?? physicalName(ctx.stackName, logicalId, 128),
      Path: str(props.Path),
      PolicyDocument: docText(props.PolicyDocument),
      Description: str(props.Description),
    });
    reconcilePolicyRoles(store, p, roleNames(props.Roles));
    return { physicalId: p.arn, attributes: policyAttributes(store, p) };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = iamStore(ctx.sandbox);
    const p = store.customerPolicy(physicalId);
    const doc = docText(props.PolicyDocument) ?? '{}';
    if (!sameDoc(doc, store.defaultDocument(p))) {
      if (p.versions.length >= 5) {
        const oldest = p.versions.find((v) => v.versionId !== p.defaultVersionId);
        if (oldest) store.deletePolicyVersion(p.arn, oldest.versionId);
      }
      store.createPolicyVersion(p.arn, doc, true);
    }
    reconcilePolicyRoles(store, p, roleNames(props.Roles));
    return { physicalId, attributes: policyAttributes(store, p) };
  },
  async delete(physicalId, ctx) {
    const store = iamStore(ctx.sandbox);
    const p = store.policies.get(physicalId);
    if (!p || p.awsManaged) return;
    reconcilePolicyRoles(store, p, []);
    for (const v of [...p.versions])
      if (v.versionId !== p.defaultVersionId) store.deletePolicyVersion(p.arn, v.versionId);
    store.deletePolicy(p.arn);
  },
  async read(physicalId, ctx) {
    const store = iamStore(ctx.sandbox);
    const p = store.policies.get(physicalId);
    if (!p || p.awsManaged) return undefined;
    const out: Obj = {
      PolicyArn: p.arn,
      ManagedPolicyName: p.name,
      Path: p.path,
      PolicyDocument: parseDoc(store.defaultDocument(p)),
      Roles: [...store.roles.values()].filter((r) => r.attached.includes(p.arn)).map((r) => r.name),
      Groups: [],
      Users: [],
    };
    if (p.description !== undefined) out.Description = p.description;
    return out;
  },
  requiresReplacement: (property) => ['ManagedPolicyName', 'Path', 'Description'].includes(property),
  sample: {
    ManagedPolicyName: '{{ Name }}',
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' },
        { Effect: 'Allow', Action: 'cloudwatch:ListMetrics', Resource: '*' },
      ],
    },
  },
};
