/**
 * IAM (awsQuery): roles (trust policy, description, tags), managed policy attachments, inline role
 * policies and customer managed policies with versions; every AWS managed policy exists by its real ARN
 * with its real latest document (./aws-managed.ts). Policy documents come back URL-encoded, as IAM
 * returns them.
 */
import { setUniqueIds } from '../../core/cloudtrail';
import { AwsError, type ServiceModule } from '../../core/types';
import { bool, compact, num, type Obj, str, strs, tagsFrom } from '../state';
import { enforceIam } from './enforce';
import { iamStore, type ManagedPolicy, type Role } from './store';

function roleOut(r: Role): Obj {
  return compact({
    Path: r.path,
    RoleName: r.name,
    RoleId: r.id,
    Arn: r.arn,
    CreateDate: r.createDate,
    AssumeRolePolicyDocument: encodeURIComponent(r.assumeRolePolicy),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
    PermissionsBoundary: r.permissionsBoundary
      ? { PermissionsBoundaryType: 'Policy', PermissionsBoundaryArn: r.permissionsBoundary }
      : undefined,
    Tags: r.tags.length > 0 ? r.tags : undefined,
    RoleLastUsed: {},
  });
}

function policyOut(p: ManagedPolicy, attachments: number, withDescription: boolean): Obj {
  return compact({
    PolicyName: p.name,
    PolicyId: p.id,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: p.defaultVersionId,
    AttachmentCount: attachments,
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    Description: withDescription ? p.description : undefined,
    CreateDate: p.createDate,
    UpdateDate: p.updateDate,
    Tags: withDescription && p.tags.length > 0 ? p.tags : undefined,
  });
}

/** Marker/MaxItems pagination as IAM does it. */
function paginate<T>(items: T[], input: Obj): { page: T[]; IsTruncated: boolean; Marker?: string } {
  const max = num(input.MaxItems) ?? 100;
  if (max < 1 || max > 1000)
    throw new AwsError(
      'ValidationError',
      `1 validation error detected: Value '${max}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000`,
    );
  const marker = str(input.Marker);
  const start =
    marker === undefined ? 0 : Number.parseInt(Buffer.from(marker, 'base64').toString('utf8'), 10);
  if (Number.isNaN(start)) throw new AwsError('ValidationError', 'Invalid Marker.');
  const page = items.slice(start, start + max);
  const more = start + max < items.length;
  return compact({
    page,
    IsTruncated: more,
    Marker: more ? Buffer.from(String(start + max)).toString('base64') : undefined,
  });
}

/** Roles: the role itself, its tags, attached managed policies and inline policies. */
const ROLE_OPERATIONS: ServiceModule['operations'] = {
  CreateRole: (input, ctx) => {
    const r = iamStore(ctx.sandbox).createRole({
      RoleName: str(input.RoleName),
      Path: str(input.Path),
      AssumeRolePolicyDocument: str(input.AssumeRolePolicyDocument),
      Description: str(input.Description),
      MaxSessionDuration: num(input.MaxSessionDuration),
      PermissionsBoundary: str(input.PermissionsBoundary),
      Tags: tagsFrom(input.Tags),
    });
    return { Role: roleOut(r) };
  },
  GetRole: (input, ctx) => ({ Role: roleOut(iamStore(ctx.sandbox).role(str(input.RoleName))) }),
  ListRoles: (input, ctx) => {
    const prefix = str(input.PathPrefix) ?? '/';
    const roles = [...iamStore(ctx.sandbox).roles.values()].filter((r) => r.path.startsWith(prefix));
    const p = paginate(roles, input);
    return compact({ Roles: p.page.map(roleOut), IsTruncated: p.IsTruncated, Marker: p.Marker });
  },
  DeleteRole: (input, ctx) => {
    iamStore(ctx.sandbox).deleteRole(str(input.RoleName));
    return {};
  },
  UpdateRole: (input, ctx) => {
    iamStore(ctx.sandbox).updateRole(str(input.RoleName), {
      Description: str(input.Description),
      MaxSessionDuration: num(input.MaxSessionDuration),
    });
    return {};
  },
  UpdateRoleDescription: (input, ctx) => {
    const r = iamStore(ctx.sandbox).updateRole(str(input.RoleName), {
      Description: str(input.Description) ?? '',
    });
    return { Role: roleOut(r) };
  },
  UpdateAssumeRolePolicy: (input, ctx) => {
    iamStore(ctx.sandbox).updateAssumeRolePolicy(str(input.RoleName), str(input.PolicyDocument));
    return {};
  },
  TagRole: (input, ctx) => {
    iamStore(ctx.sandbox).tagRole(str(input.RoleName), tagsFrom(input.Tags));
    return {};
  },
  UntagRole: (input, ctx) => {
    iamStore(ctx.sandbox).untagRole(str(input.RoleName), strs(input.TagKeys));
    return {};
  },
  ListRoleTags: (input, ctx) => {
    const r = iamStore(ctx.sandbox).role(str(input.RoleName));
    const p = paginate(r.tags, input);
    return compact({ Tags: p.page, IsTruncated: p.IsTruncated, Marker: p.Marker });
  },
  AttachRolePolicy: (input, ctx) => {
    iamStore(ctx.sandbox).attachRolePolicy(str(input.RoleName), str(input.PolicyArn));
    return {};
  },
  DetachRolePolicy: (input, ctx) => {
    iamStore(ctx.sandbox).detachRolePolicy(str(input.RoleName), str(input.PolicyArn));
    return {};
  },
  ListAttachedRolePolicies: (input, ctx) => {
    const store = iamStore(ctx.sandbox);
    const r = store.role(str(input.RoleName));
    const prefix = str(input.PathPrefix) ?? '/';
    const attached = r.attached
      .map((arn) => store.policies.get(arn))
      .filter((p): p is ManagedPolicy => p?.path.startsWith(prefix) === true)
      .map((p) => ({ PolicyName: p.name, PolicyArn: p.arn }));
    const p = paginate(attached, input);
    return compact({ AttachedPolicies: p.page, IsTruncated: p.IsTruncated, Marker: p.Marker });
  },
  PutRolePolicy: (input, ctx) => {
    iamStore(ctx.sandbox).putRolePolicy(
      str(input.RoleName),
      str(input.PolicyName),
      str(input.PolicyDocument),
    );
    return {};
  },
  GetRolePolicy: (input, ctx) => {
    const doc = iamStore(ctx.sandbox).getRolePolicy(str(input.RoleName), str(input.PolicyName));
    return {
      RoleName: str(input.RoleName),
      PolicyName: str(input.PolicyName),
      PolicyDocument: encodeURIComponent(doc),
    };
  },
  DeleteRolePolicy: (input, ctx) => {
    iamStore(ctx.sandbox).deleteRolePolicy(str(input.RoleName), str(input.PolicyName));
    return {};
  },
  ListRolePolicies: (input, ctx) => {
    const r = iamStore(ctx.sandbox).role(str(input.RoleName));
    const p = paginate([...r.inline.keys()].sort(), input);
    return compact({ PolicyNames: p.page, IsTruncated: p.IsTruncated, Marker: p.Marker });
  },
};

/** Customer managed policies and their versions; AWS managed ones are listed and read. */
const POLICY_OPERATIONS: ServiceModule['operations'] = {
  CreatePolicy: (input, ctx) => {
    const store = iamStore(ctx.sandbox);
    const p = store.createPolicy({
      PolicyName: str(input.PolicyName),
      Path: str(input.Path),
      PolicyDocument: str(input.PolicyDocument),
      Description: str(input.Description),
      Tags: tagsFrom(input.Tags),
    });
    return { Policy: policyOut(p, 0, false) };
  },
  GetPolicy: (input, ctx) => {
    const store = iamStore(ctx.sandbox);
    const p = store.policy(str(input.PolicyArn));
    return { Policy: policyOut(p, store.attachmentCount(p.arn), true) };
  },
  GetPolicyVersion: (input, ctx) => {
    const store = iamStore(ctx.sandbox);
    const p = store.policy(str(input.PolicyArn));
    const v = store.version(p.arn, str(input.VersionId));
    return {
      PolicyVersion: {
        Document: encodeURIComponent(v.document),
        VersionId: v.versionId,
        IsDefaultVersion: v.versionId === p.defaultVersionId,
        CreateDate: v.createDate,
      },
    };
  },
  ListPolicyVersions: (input, ctx) => {
    const store = iamStore(ctx.sandbox);
    const p = store.policy(str(input.PolicyArn));
    const versions = [...p.versions].reverse().map((v) => ({
      VersionId: v.versionId,
      IsDefaultVersion: v.versionId === p.defaultVersionId,
      CreateDate: v.createDate,
    }));
    const pg = paginate(versions, input);
    return compact({ Versions: pg.page, IsTruncated: pg.IsTruncated, Marker: pg.Marker });
  },
  ListPolicies: (input, ctx) => {
    const store = iamStore(ctx.sandbox);
    const scope = str(input.Scope) ?? 'All';
    if (!['All', 'AWS', 'Local'].includes(scope)) {
      throw new AwsError(
        'ValidationError',
        `1 validation error detected: Value '${scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]`,
      );
    }
    const onlyAttached = bool(input.OnlyAttached) ?? false;
    const prefix = str(input.PathPrefix) ?? '/';
    if (scope !== 'Local' && !onlyAttached) store.loadAwsManagedPolicies();
    const list = [...store.policies.values()]
      .filter((p) => scope === 'All' || (scope === 'AWS') === p.awsManaged)
      .filter((p) => p.path.startsWith(prefix))
      .filter((p) => !onlyAttached || store.attachmentCount(p.arn) > 0)
      .map((p) => policyOut(p, store.attachmentCount(p.arn), false));
    const pg = paginate(list, input);
    return compact({ Policies: pg.page, IsTruncated: pg.IsTruncated, Marker: pg.Marker });
  },
  ListEntitiesForPolicy: (input, ctx) => {
    const store = iamStore(ctx.sandbox);
    const p = store.policy(str(input.PolicyArn));
    const roles = [...store.roles.values()]
      .filter((r) => r.attached.includes(p.arn))
      .map((r) => ({ RoleName: r.name, RoleId: r.id }));
    return { PolicyGroups: [], PolicyUsers: [], PolicyRoles: roles, IsTruncated: false };
  },
  CreatePolicyVersion: (input, ctx) => {
    const v = iamStore(ctx.sandbox).createPolicyVersion(
      str(input.PolicyArn),
      str(input.PolicyDocument),
      bool(input.SetAsDefault) ?? false,
    );
    const p = iamStore(ctx.sandbox).policy(str(input.PolicyArn));
    return {
      PolicyVersion: {
        VersionId: v.versionId,
        IsDefaultVersion: p.defaultVersionId === v.versionId,
        CreateDate: v.createDate,
      },
    };
  },
  DeletePolicyVersion: (input, ctx) => {
    iamStore(ctx.sandbox).deletePolicyVersion(str(input.PolicyArn), str(input.VersionId));
    return {};
  },
  SetDefaultPolicyVersion: (input, ctx) => {
    iamStore(ctx.sandbox).setDefaultPolicyVersion(str(input.PolicyArn), str(input.VersionId));
    return {};
  },
  DeletePolicy: (input, ctx) => {
    iamStore(ctx.sandbox).deletePolicy(str(input.PolicyArn));
    return {};
  },
};

export interface IamServiceOptions {
  /** Authorize role sessions' calls against their policies (./enforce.ts). Default true. */
  enforce?: boolean;
}

export function iamService(options: IamServiceOptions = {}): ServiceModule {
  return {
    serviceName: 'iam',
    signingName: 'iam',
    protocol: 'awsQuery',
    xmlNamespace: 'https://iam.amazonaws.com/doc/2010-05-08/',
    operations: { ...ROLE_OPERATIONS, ...POLICY_OPERATIONS },
    start(ctx) {
      if (options.enforce ?? true) enforceIam(ctx);
      // CloudTrail names a role session by its role's unique id (AROA…:session).
      setUniqueIds(ctx, (arn) => {
        const m = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(arn);
        return m?.[1] && m[2] ? iamStore(ctx.scoped(m[1], ctx.home.region)).roles.get(m[2])?.id : undefined;
      });
    },
  };
}
