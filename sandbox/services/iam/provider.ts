/**
 * CloudFormation providers for AWS::IAM::Role (trust policy, ManagedPolicyArns, inline Policies,
 * Description, Path, MaxSessionDuration, Tags) and AWS::IAM::ManagedPolicy (PolicyDocument, Roles).
 * Documents are objects in template shape; IAM keeps their JSON text.
 */
import type { ProviderContext, ResourceProvider } from '../../core/types';
import { callsOf, completeCreate, handlerReads } from '../handler-calls';
import { docText, num, type Obj, objs, parseDoc, physicalName, str, strs, tagsFrom } from '../state';
import { iamStore, type ManagedPolicy, type Role } from './store';

function roleAttributes(r: Role): Record<string, string> {
  return { Arn: r.arn, RoleId: r.id };
}

/** Same JSON value? (documents compared by meaning, not by whitespace). */
function sameDoc(a: string, b: string): boolean {
  return JSON.stringify(parseDoc(a)) === JSON.stringify(parseDoc(b));
}

/** One IAM call CloudFormation's handler makes: authorized, made, recorded. */
const iamCall = callsOf('iam');

/** The IAM calls that change a role's attachments and inline policies. */
function roleCalls(ctx: ProviderContext) {
  const store = iamStore(ctx.sandbox);
  return {
    attach: (RoleName: string, PolicyArn: string) =>
      iamCall(ctx, 'AttachRolePolicy', { RoleName, PolicyArn }, () =>
        store.attachRolePolicy(RoleName, PolicyArn),
      ),
    detach: (RoleName: string, PolicyArn: string) =>
      iamCall(ctx, 'DetachRolePolicy', { RoleName, PolicyArn }, () =>
        store.detachRolePolicy(RoleName, PolicyArn),
      ),
    put: (RoleName: string, PolicyName: string, PolicyDocument: string) =>
      iamCall(ctx, 'PutRolePolicy', { RoleName, PolicyName, PolicyDocument }, () =>
        store.putRolePolicy(RoleName, PolicyName, PolicyDocument),
      ),
    remove: (RoleName: string, PolicyName: string) =>
      iamCall(ctx, 'DeleteRolePolicy', { RoleName, PolicyName }, () =>
        store.deleteRolePolicy(RoleName, PolicyName),
      ),
  };
}

/** Detaches and deletes everything a role holds (before the role itself goes). */
async function emptyRole(ctx: ProviderContext, r: Role): Promise<void> {
  const calls = roleCalls(ctx);
  for (const arn of [...r.attached]) await calls.detach(r.name, arn);
  for (const name of [...r.inline.keys()]) await calls.remove(r.name, name);
}

async function reconcileRole(ctx: ProviderContext, r: Role, props: Obj): Promise<void> {
  const calls = roleCalls(ctx);
  const wantedArns = strs(props.ManagedPolicyArns).map((a) => a.replace(/^arn:aws[a-z-]*:/, 'arn:aws:'));
  for (const arn of [...r.attached]) if (!wantedArns.includes(arn)) await calls.detach(r.name, arn);
  for (const arn of wantedArns) if (!r.attached.includes(arn)) await calls.attach(r.name, arn);
  const wantedInline = new Map(
    objs(props.Policies).map((p) => [str(p.PolicyName) ?? '', docText(p.PolicyDocument) ?? '']),
  );
  for (const name of [...r.inline.keys()]) if (!wantedInline.has(name)) await calls.remove(r.name, name);
  for (const [name, doc] of wantedInline) {
    const have = r.inline.get(name);
    if (have === undefined || !sameDoc(have, doc)) await calls.put(r.name, name, doc);
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
    const r = await iamCall(
      ctx,
      'CreateRole',
      input,
      () => store.createRole(input),
      (made) => ({ Role: { RoleName: made.name, RoleId: made.id, Arn: made.arn } }),
    );
    // A failure from here on leaves the role made: the stack's rollback deletes it.
    await completeCreate(r.name, () => reconcileRole(ctx, r, props));
    return { physicalId: r.name, attributes: roleAttributes(r) };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = iamStore(ctx.sandbox);
    const r = store.role(physicalId);
    const trust = docText(props.AssumeRolePolicyDocument);
    if (trust !== undefined && !sameDoc(trust, r.assumeRolePolicy)) {
      const input = { RoleName: r.name, PolicyDocument: trust };
      await iamCall(ctx, 'UpdateAssumeRolePolicy', input, () => store.updateAssumeRolePolicy(r.name, trust));
    }
    const description = str(props.Description) ?? '';
    const max = num(props.MaxSessionDuration) ?? 3600;
    if (description !== (r.description ?? '') || max !== r.maxSessionDuration) {
      const change = { Description: description, MaxSessionDuration: max };
      await iamCall(ctx, 'UpdateRole', { RoleName: r.name, ...change }, () =>
        store.updateRole(r.name, change),
      );
    }
    await reconcileRole(ctx, r, props);
    const tags = tagsFrom(props.Tags);
    const stale = r.tags.filter((t) => !tags.some((n) => n.Key === t.Key)).map((t) => t.Key);
    const fresh = tags.filter((t) => !r.tags.some((o) => o.Key === t.Key && o.Value === t.Value));
    if (stale.length > 0)
      await iamCall(ctx, 'UntagRole', { RoleName: r.name, TagKeys: stale }, () =>
        store.untagRole(r.name, stale),
      );
    if (fresh.length > 0)
      await iamCall(ctx, 'TagRole', { RoleName: r.name, Tags: fresh }, () => store.tagRole(r.name, fresh));
    return { physicalId, attributes: roleAttributes(r) };
  },
  async delete(physicalId, ctx) {
    const store = iamStore(ctx.sandbox);
    const r = store.roles.get(physicalId);
    if (!r) return;
    await emptyRole(ctx, r);
    // Customer managed policies that name this role in their Roles keep no dangling attachment.
    await iamCall(ctx, 'DeleteRole', { RoleName: r.name }, () => store.deleteRole(r.name));
  },
  async read(physicalId, ctx) {
    const RoleName = physicalId;
    await handlerReads(ctx, 'iam', [['GetRole', { RoleName }]]);
    const r = iamStore(ctx.sandbox).roles.get(physicalId);
    if (!r) return undefined;
    await handlerReads(ctx, 'iam', [
      ['ListAttachedRolePolicies', { RoleName }],
      ['ListRolePolicies', { RoleName }],
      ...[...r.inline.keys()].map((PolicyName) => ['GetRolePolicy', { RoleName, PolicyName }] as const),
    ]);
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

async function reconcilePolicyRoles(ctx: ProviderContext, p: ManagedPolicy, roles: string[]): Promise<void> {
  const store = iamStore(ctx.sandbox);
  const calls = roleCalls(ctx);
  for (const r of [...store.roles.values()]) {
    if (r.attached.includes(p.arn) && !roles.includes(r.name)) await calls.detach(r.name, p.arn);
  }
  for (const name of roles) if (!store.role(name).attached.includes(p.arn)) await calls.attach(name, p.arn);
}

function deletePolicyVersion(ctx: ProviderContext, p: ManagedPolicy, versionId: string): Promise<void> {
  const input = { PolicyArn: p.arn, VersionId: versionId };
  return iamCall(ctx, 'DeletePolicyVersion', input, () =>
    iamStore(ctx.sandbox).deletePolicyVersion(p.arn, versionId),
  );
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
    const p = await iamCall(
      ctx,
      'CreatePolicy',
      input,
      () => store.createPolicy(input),
      (made) => ({ Policy: { PolicyName: made.name, PolicyId: made.id, Arn: made.arn } }),
    );
    await completeCreate(p.arn, () => reconcilePolicyRoles(ctx, p, roleNames(props.Roles)));
    return { physicalId: p.arn, attributes: policyAttributes(store, p) };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = iamStore(ctx.sandbox);
    const p = store.customerPolicy(physicalId);
    const doc = docText(props.PolicyDocument) ?? '{}';
    if (!sameDoc(doc, store.defaultDocument(p))) {
      if (p.versions.length >= 5) {
        const oldest = p.versions.find((v) => v.versionId !== p.defaultVersionId);
        if (oldest) await deletePolicyVersion(ctx, p, oldest.versionId);
      }
      const input = { PolicyArn: p.arn, PolicyDocument: doc, SetAsDefault: true };
      await iamCall(ctx, 'CreatePolicyVersion', input, () => store.createPolicyVersion(p.arn, doc, true));
    }
    await reconcilePolicyRoles(ctx, p, roleNames(props.Roles));
    return { physicalId, attributes: policyAttributes(store, p) };
  },
  async delete(physicalId, ctx) {
    const store = iamStore(ctx.sandbox);
    const p = store.policies.get(physicalId);
    if (!p || p.awsManaged) return;
    await reconcilePolicyRoles(ctx, p, []);
    for (const v of [...p.versions])
      if (v.versionId !== p.defaultVersionId) await deletePolicyVersion(ctx, p, v.versionId);
    await iamCall(ctx, 'DeletePolicy', { PolicyArn: p.arn }, () => store.deletePolicy(p.arn));
  },
  async read(physicalId, ctx) {
    const store = iamStore(ctx.sandbox);
    const PolicyArn = physicalId;
    await handlerReads(ctx, 'iam', [['GetPolicy', { PolicyArn }]]);
    const p = store.policies.get(physicalId);
    if (!p || p.awsManaged) return undefined;
    await handlerReads(ctx, 'iam', [
      ['GetPolicyVersion', { PolicyArn, VersionId: p.defaultVersionId }],
      ['ListEntitiesForPolicy', { PolicyArn }],
    ]);
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
