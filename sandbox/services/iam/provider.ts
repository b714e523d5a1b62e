/**
 * CloudFormation providers for AWS::IAM::Role (trust policy, ManagedPolicyArns, inline Policies,
 * Description, Path, MaxSessionDuration, Tags) and AWS::IAM::ManagedPolicy (PolicyDocument, Roles).
 * Documents are objects in template shape; IAM keeps their JSON text.
 */
import type { ProviderContext, ResourceProvider } from '../../core/types';
import { docText, num, type Obj, objs, parseDoc, physicalName, str, strs, tagsFrom } from '../state';
import { iamStore, type ManagedPolicy, type Role } from './store';

function roleAttributes(r: Role): Record<string, string> {
  return { Arn: r.arn, RoleId: r.id };
}

/** Same JSON value? (documents compared by meaning, not by whitespace). */
function sameDoc(a: string, b: string): boolean {
  return JSON.stringify(parseDoc(a)) === JSON.stringify(parseDoc(b));
}

/** The IAM call CloudFormation's handler makes (for CloudTrail). */
function report(ctx: ProviderContext, operation: string, input: Obj, output: unknown = {}): void {
  ctx.recordCall?.('iam', operation, input, output);
}

/** The IAM calls that change a role's attachments and inline policies, made and reported. */
function roleCalls(ctx: ProviderContext) {
  const store = iamStore(ctx.sandbox);
  return {
    attach(RoleName: string, PolicyArn: string) {
      store.attachRolePolicy(RoleName, PolicyArn);
      report(ctx, 'AttachRolePolicy', { RoleName, PolicyArn });
    },
    detach(RoleName: string, PolicyArn: string) {
      store.detachRolePolicy(RoleName, PolicyArn);
      report(ctx, 'DetachRolePolicy', { RoleName, PolicyArn });
    },
    put(RoleName: string, PolicyName: string, PolicyDocument: string) {
      store.putRolePolicy(RoleName, PolicyName, PolicyDocument);
      report(ctx, 'PutRolePolicy', { RoleName, PolicyName, PolicyDocument });
    },
    remove(RoleName: string, PolicyName: string) {
      store.deleteRolePolicy(RoleName, PolicyName);
      report(ctx, 'DeleteRolePolicy', { RoleName, PolicyName });
    },
  };
}

/** Detaches and deletes everything a role holds (before the role itself goes). */
function emptyRole(ctx: ProviderContext, r: Role): void {
  const calls = roleCalls(ctx);
  for (const arn of [...r.attached]) calls.detach(r.name, arn);
  for (const name of [...r.inline.keys()]) calls.remove(r.name, name);
}

function reconcileRole(ctx: ProviderContext, r: Role, props: Obj): void {
  const calls = roleCalls(ctx);
  const wantedArns = strs(props.ManagedPolicyArns).map((a) => a.replace(/^arn:aws[a-z-]*:/, 'arn:aws:'));
  for (const arn of [...r.attached]) if (!wantedArns.includes(arn)) calls.detach(r.name, arn);
  for (const arn of wantedArns) if (!r.attached.includes(arn)) calls.attach(r.name, arn);
  const wantedInline = new Map(
    objs(props.Policies).map((p) => [str(p.PolicyName) ?? '', docText(p.PolicyDocument) ?? '']),
  );
  for (const name of [...r.inline.keys()]) if (!wantedInline.has(name)) calls.remove(r.name, name);
  for (const [name, doc] of wantedInline) {
    const have = r.inline.get(name);
    if (have === undefined || !sameDoc(have, doc)) calls.put(r.name, name, doc);
  }
}

export const roleProvider: ResourceProvider = {
  type: 'AWS::IAM::Role',
  async create(logicalId, props, ctx) {
    const store = iamStore(ctx.sandbox);
    const input = {
      RoleName: str(props.RoleName) ?? physicalName(ctx.stackName, logicalId, 64),
      Path: str(props.Path),
      AssumeRolePolicyDocument: docText(props.AssumeRolePolicyDocument),
      Description: str(props.Description),
      MaxSessionDuration: num(props.MaxSessionDuration),
      PermissionsBoundary: str(props.PermissionsBoundary),
      Tags: tagsFrom(props.Tags),
    };
    const r = store.createRole(input);
    report(ctx, 'CreateRole', input, { Role: { RoleName: r.name, RoleId: r.id, Arn: r.arn } });
    try {
      reconcileRole(ctx, r, props);
    } catch (err) {
      emptyRole(ctx, r);
      store.deleteRole(r.name);
      report(ctx, 'DeleteRole', { RoleName: r.name });
      throw err;
    }
    return { physicalId: r.name, attributes: roleAttributes(r) };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = iamStore(ctx.sandbox);
    const r = store.role(physicalId);
    const trust = docText(props.AssumeRolePolicyDocument);
    if (trust !== undefined && !sameDoc(trust, r.assumeRolePolicy)) {
      store.updateAssumeRolePolicy(r.name, trust);
      report(ctx, 'UpdateAssumeRolePolicy', { RoleName: r.name, PolicyDocument: trust });
    }
    const description = str(props.Description) ?? '';
    const max = num(props.MaxSessionDuration) ?? 3600;
    if (description !== (r.description ?? '') || max !== r.maxSessionDuration) {
      const change = { Description: description, MaxSessionDuration: max };
      store.updateRole(r.name, change);
      report(ctx, 'UpdateRole', { RoleName: r.name, ...change });
    }
    reconcileRole(ctx, r, props);
    const tags = tagsFrom(props.Tags);
    const stale = r.tags.filter((t) => !tags.some((n) => n.Key === t.Key)).map((t) => t.Key);
    if (stale.length > 0) {
      store.untagRole(r.name, stale);
      report(ctx, 'UntagRole', { RoleName: r.name, TagKeys: stale });
    }
    if (tags.length > 0) {
      store.tagRole(r.name, tags);
      report(ctx, 'TagRole', { RoleName: r.name, Tags: tags });
    }
    return { physicalId, attributes: roleAttributes(r) };
  },
  async delete(physicalId, ctx) {
    const store = iamStore(ctx.sandbox);
    const r = store.roles.get(physicalId);
    if (!r) return;
    emptyRole(ctx, r);
    // Customer managed policies that name this role in their Roles keep no dangling attachment.
    store.deleteRole(r.name);
    report(ctx, 'DeleteRole', { RoleName: r.name });
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

function reconcilePolicyRoles(ctx: ProviderContext, p: ManagedPolicy, roles: string[]): void {
  const store = iamStore(ctx.sandbox);
  const calls = roleCalls(ctx);
  for (const r of store.roles.values()) {
    if (r.attached.includes(p.arn) && !roles.includes(r.name)) calls.detach(r.name, p.arn);
  }
  for (const name of roles) if (!store.role(name).attached.includes(p.arn)) calls.attach(name, p.arn);
}

function deletePolicyVersion(ctx: ProviderContext, p: ManagedPolicy, versionId: string): void {
  iamStore(ctx.sandbox).deletePolicyVersion(p.arn, versionId);
  report(ctx, 'DeletePolicyVersion', { PolicyArn: p.arn, VersionId: versionId });
}

/** Role names from Roles (names or role ARNs). */
function roleNames(v: unknown): string[] {
  return strs(v).map((s) => s.split('/').pop() ?? s);
}

export const managedPolicyProvider: ResourceProvider = {
  type: 'AWS::IAM::ManagedPolicy',
  async create(logicalId, props, ctx) {
    const store = iamStore(ctx.sandbox);
    const input = {
      PolicyName: str(props.ManagedPolicyName) ?? physicalName(ctx.stackName, logicalId, 128),
      Path: str(props.Path),
      PolicyDocument: docText(props.PolicyDocument),
      Description: str(props.Description),
    };
    const p = store.createPolicy(input);
    report(ctx, 'CreatePolicy', input, { Policy: { PolicyName: p.name, PolicyId: p.id, Arn: p.arn } });
    reconcilePolicyRoles(ctx, p, roleNames(props.Roles));
    return { physicalId: p.arn, attributes: policyAttributes(store, p) };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = iamStore(ctx.sandbox);
    const p = store.customerPolicy(physicalId);
    const doc = docText(props.PolicyDocument) ?? '{}';
    if (!sameDoc(doc, store.defaultDocument(p))) {
      if (p.versions.length >= 5) {
        const oldest = p.versions.find((v) => v.versionId !== p.defaultVersionId);
        if (oldest) deletePolicyVersion(ctx, p, oldest.versionId);
      }
      store.createPolicyVersion(p.arn, doc, true);
      report(ctx, 'CreatePolicyVersion', { PolicyArn: p.arn, PolicyDocument: doc, SetAsDefault: true });
    }
    reconcilePolicyRoles(ctx, p, roleNames(props.Roles));
    return { physicalId, attributes: policyAttributes(store, p) };
  },
  async delete(physicalId, ctx) {
    const store = iamStore(ctx.sandbox);
    const p = store.policies.get(physicalId);
    if (!p || p.awsManaged) return;
    reconcilePolicyRoles(ctx, p, []);
    for (const v of [...p.versions])
      if (v.versionId !== p.defaultVersionId) deletePolicyVersion(ctx, p, v.versionId);
    store.deletePolicy(p.arn);
    report(ctx, 'DeletePolicy', { PolicyArn: p.arn });
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
