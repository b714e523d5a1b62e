/**
 * IAM roles and managed policies, shared by the awsQuery operations and the AWS::IAM::Role /
 * AWS::IAM::ManagedPolicy providers. Documents are kept as the JSON text the caller sent (IAM returns
 * them URL-encoded; the operations do that).
 */
import { createHash } from 'node:crypto';
import { AwsError, type SandboxContext } from '../../core/types';
import { accountScope, isObj, type Obj, stateOf, type Tag, upperId } from '../state';
import { type AwsManagedPolicyData, allAwsManagedPolicies, awsManagedPolicy } from './aws-managed';

export const ROLE_TYPE = 'AWS::IAM::Role';
export const MANAGED_POLICY_TYPE = 'AWS::IAM::ManagedPolicy';

export interface Role {
  name: string;
  id: string;
  arn: string;
  path: string;
  createDate: Date;
  assumeRolePolicy: string;
  description?: string;
  maxSessionDuration: number;
  permissionsBoundary?: string;
  tags: Tag[];
  /** Attached managed policy ARNs, in attach order. */
  attached: string[];
  /** Inline policies: name → document text. */
  inline: Map<string, string>;
}

export interface PolicyVersion {
  versionId: string;
  document: string;
  createDate: Date;
}

export interface ManagedPolicy {
  name: string;
  id: string;
  arn: string;
  path: string;
  description?: string;
  createDate: Date;
  updateDate: Date;
  defaultVersionId: string;
  versions: PolicyVersion[];
  nextVersion: number;
  tags: Tag[];
  awsManaged: boolean;
}

const NAME = /^[\w+=,.@-]+$/;

export function validationError(field: string, value: string, constraint: string): AwsError {
  return new AwsError(
    'ValidationError',
    `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

function assertName(field: string, value: string | undefined, max: number): string {
  if (value === undefined || value === '') {
    throw new AwsError(
      'ValidationError',
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (value.length > max)
    throw validationError(field, value, `Member must have length less than or equal to ${max}`);
  if (!NAME.test(value))
    throw validationError(field, value, 'Member must satisfy regular expression pattern: [\\w+=,.@-]+');
  return value;
}

function assertPath(path: string | undefined): string {
  const p = path ?? '/';
  if (!/^(\u002F)|(\u002F[\u0021-\u007E]+\u002F)$/.test(p) || !p.startsWith('/') || !p.endsWith('/')) {
    throw validationError(
      'path',
      p,
      'Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)',
    );
  }
  return p;
}

function malformed(message: string): AwsError {
  return new AwsError('MalformedPolicyDocument', message);
}

/**
 * Checks a policy document as IAM does (the grammar, not the action names): JSON, Version, Statement,
 * Effect, Action/NotAction, and Principal (required in trust policies, prohibited in identity policies)
 * and Resource/NotResource (required in identity policies). Returns the parsed document.
 */
export function validatePolicyDocument(text: unknown, kind: 'identity' | 'trust'): Obj {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new AwsError(
      'ValidationError',
      "1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null",
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('Syntax errors in policy.');
  }
  if (!isObj(doc)) throw malformed('Syntax errors in policy.');
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    throw malformed('The policy failed legacy parsing');
  }
  const statements = Array.isArray(doc.Statement)
    ? doc.Statement
    : doc.Statement === undefined
      ? []
      : [doc.Statement];
  if (statements.length === 0) throw malformed('Missing required field Statement');
  for (const st of statements) {
    if (!isObj(st)) throw malformed('Syntax errors in policy.');
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny')
      throw malformed(st.Effect === undefined ? 'Missing required field Effect' : 'Invalid effect');
    if (st.Action === undefined && st.NotAction === undefined)
      throw malformed('Policy statement must contain actions.');
    const hasPrincipal = st.Principal !== undefined || st.NotPrincipal !== undefined;
    if (kind === 'trust') {
      if (!hasPrincipal) throw malformed('AssumeRolepolicy contained an invalid principal element');
      if (st.Resource !== undefined) throw malformed('Has prohibited field Resource');
    } else {
      if (hasPrincipal) throw malformed('Policy document should not specify a principal.');
      if (st.Resource === undefined && st.NotResource === undefined)
        throw malformed('Policy statement must contain resources.');
    }
  }
  return doc;
}

/** An AWS managed policy as the store keeps it (its id is stable per ARN, as AWS's are). */
function awsPolicy(data: AwsManagedPolicyData): ManagedPolicy {
  const createDate = new Date(data.createDate);
  return {
    name: data.name,
    id: `ANPA${createHash('sha256').update(data.arn).digest('hex').slice(0, 17).toUpperCase()}`,
    arn: data.arn,
    path: data.path,
    createDate,
    updateDate: new Date(data.updateDate),
    defaultVersionId: data.versionId,
    versions: [{ versionId: data.versionId, document: data.document, createDate }],
    nextVersion: Number(data.versionId.slice(1)) + 1,
    tags: [],
    awsManaged: true,
  };
}

export class IamStore {
  readonly roles = new Map<string, Role>();
  readonly policies = new Map<string, ManagedPolicy>();

  constructor(private readonly sandbox: SandboxContext) {}

  /** Brings every AWS managed policy into `policies` (ListPolicies with Scope AWS or All). */
  loadAwsManagedPolicies(): void {
    for (const data of allAwsManagedPolicies()) {
      if (!this.policies.has(data.arn)) this.policies.set(data.arn, awsPolicy(data));
    }
  }

  /** Bumped by every change to a role or policy (authorization decisions are cached per generation). */
  generation = 0;

  private roleChanged(name: string, kind: 'created' | 'updated' | 'deleted'): void {
    this.generation++;
    this.sandbox.recordChange({ resourceType: ROLE_TYPE, resourceId: name, kind });
  }

  private policyChanged(p: ManagedPolicy, kind: 'created' | 'updated' | 'deleted'): void {
    this.generation++;
    if (!p.awsManaged)
      this.sandbox.recordChange({ resourceType: MANAGED_POLICY_TYPE, resourceId: p.arn, kind });
  }

  createRole(input: {
    RoleName?: string;
    Path?: string;
    AssumeRolePolicyDocument?: string;
    Description?: string;
    MaxSessionDuration?: number;
    PermissionsBoundary?: string;
    Tags?: Tag[];
  }): Role {
    const name = assertName('roleName', input.RoleName, 64);
    const path = assertPath(input.Path);
    if (input.AssumeRolePolicyDocument === undefined) {
      throw new AwsError(
        'ValidationError',
        "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null",
      );
    }
    validatePolicyDocument(input.AssumeRolePolicyDocument, 'trust');
    const max = input.MaxSessionDuration ?? 3600;
    if (max < 3600 || max > 43200)
      throw validationError(
        'maxSessionDuration',
        String(max),
        'Member must have value between 3600 and 43200',
      );
    if ([...this.roles.keys()].some((k) => k.toLowerCase() === name.toLowerCase())) {
      throw new AwsError('EntityAlreadyExists', `Role with name ${name} already exists.`, 409);
    }
    if (input.PermissionsBoundary) this.policy(input.PermissionsBoundary);
    const role: Role = {
      name,
      id: upperId('AROA'),
      arn: `arn:aws:iam::${this.sandbox.accountId}:role${path}${name}`,
      path,
      createDate: this.sandbox.clock.now(),
      assumeRolePolicy: input.AssumeRolePolicyDocument,
      description: input.Description,
      maxSessionDuration: max,
      permissionsBoundary: input.PermissionsBoundary,
      tags: [...(input.Tags ?? [])],
      attached: [],
      inline: new Map(),
    };
    this.roles.set(name, role);
    this.roleChanged(name, 'created');
    return role;
  }

  role(name: string | undefined): Role {
    const r = name ? this.roles.get(name) : undefined;
    if (!r) throw new AwsError('NoSuchEntity', `The role with name ${name ?? ''} cannot be found.`, 404);
    return r;
  }

  deleteRole(name: string | undefined): void {
    const r = this.role(name);
    if (r.attached.length > 0)
      throw new AwsError('DeleteConflict', 'Cannot delete entity, must detach all policies first.', 409);
    if (r.inline.size > 0)
      throw new AwsError('DeleteConflict', 'Cannot delete entity, must delete policies first.', 409);
    this.roles.delete(r.name);
    this.roleChanged(r.name, 'deleted');
  }

  updateRole(name: string | undefined, changes: { Description?: string; MaxSessionDuration?: number }): Role {
    const r = this.role(name);
    if (changes.MaxSessionDuration !== undefined) {
      const max = changes.MaxSessionDuration;
      if (max < 3600 || max > 43200)
        throw validationError(
          'maxSessionDuration',
          String(max),
          'Member must have value between 3600 and 43200',
        );
      r.maxSessionDuration = max;
    }
    if (changes.Description !== undefined) {
      if (changes.Description.length > 1000)
        throw validationError(
          'description',
          changes.Description,
          'Member must have length less than or equal to 1000',
        );
      r.description = changes.Description === '' ? undefined : changes.Description;
    }
    this.roleChanged(r.name, 'updated');
    return r;
  }

  updateAssumeRolePolicy(name: string | undefined, doc: string | undefined): void {
    const r = this.role(name);
    validatePolicyDocument(doc, 'trust');
    r.assumeRolePolicy = doc ?? r.assumeRolePolicy;
    this.roleChanged(r.name, 'updated');
  }

  tagRole(name: string | undefined, tags: Tag[]): void {
    const r = this.role(name);
    for (const t of tags) {
      if (t.Key.toLowerCase().startsWith('aws:'))
        throw new AwsError('InvalidInput', "User-defined tag keys can't start with 'aws:'");
      r.tags = r.tags.filter((x) => x.Key !== t.Key);
      r.tags.push(t);
    }
    if (r.tags.length > 50)
      throw new AwsError('LimitExceeded', 'The number of tags has reached the maximum limit.', 409);
    this.roleChanged(r.name, 'updated');
  }

  untagRole(name: string | undefined, keys: string[]): void {
    const r = this.role(name);
    r.tags = r.tags.filter((t) => !keys.includes(t.Key));
    this.roleChanged(r.name, 'updated');
  }

  policy(arn: string | undefined): ManagedPolicy {
    const key = arn?.replace(/^arn:aws[a-z-]*:/, 'arn:aws:');
    let p = key ? this.policies.get(key) : undefined;
    const data = !p && key ? awsManagedPolicy(key) : undefined;
    if (data) {
      p = awsPolicy(data);
      this.policies.set(p.arn, p);
    }
    if (!p) {
      if (arn && !/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\//.test(arn)) {
        throw new AwsError('InvalidInput', `ARN ${arn} is not valid.`);
      }
      throw new AwsError('NoSuchEntity', `Policy ${arn ?? ''} does not exist or is not attachable.`, 404);
    }
    return p;
  }

  attachRolePolicy(name: string | undefined, arn: string | undefined): void {
    const r = this.role(name);
    const p = this.policy(arn);
    if (!r.attached.includes(p.arn)) {
      if (r.attached.length >= 20) {
        throw new AwsError('LimitExceeded', `Cannot exceed quota for PoliciesPerRole: 20`, 409);
      }
      r.attached.push(p.arn);
    }
    this.roleChanged(r.name, 'updated');
  }

  detachRolePolicy(name: string | undefined, arn: string | undefined): void {
    const r = this.role(name);
    const p = this.policy(arn);
    if (!r.attached.includes(p.arn))
      throw new AwsError('NoSuchEntity', `Policy ${p.arn} was not found.`, 404);
    r.attached = r.attached.filter((a) => a !== p.arn);
    this.roleChanged(r.name, 'updated');
  }

  putRolePolicy(name: string | undefined, policyName: string | undefined, doc: string | undefined): void {
    const r = this.role(name);
    const pn = assertName('policyName', policyName, 128);
    validatePolicyDocument(doc, 'identity');
    r.inline.set(pn, doc ?? '');
    this.roleChanged(r.name, 'updated');
  }

  getRolePolicy(name: string | undefined, policyName: string | undefined): string {
    const r = this.role(name);
    const doc = policyName ? r.inline.get(policyName) : undefined;
    if (doc === undefined)
      throw new AwsError(
        'NoSuchEntity',
        `The role policy with name ${policyName ?? ''} cannot be found.`,
        404,
      );
    return doc;
  }

  deleteRolePolicy(name: string | undefined, policyName: string | undefined): void {
    const r = this.role(name);
    this.getRolePolicy(name, policyName);
    r.inline.delete(policyName ?? '');
    this.roleChanged(r.name, 'updated');
  }

  createPolicy(input: {
    PolicyName?: string;
    Path?: string;
    PolicyDocument?: string;
    Description?: string;
    Tags?: Tag[];
  }): ManagedPolicy {
    const name = assertName('policyName', input.PolicyName, 128);
    const path = assertPath(input.Path);
    validatePolicyDocument(input.PolicyDocument, 'identity');
    const arn = `arn:aws:iam::${this.sandbox.accountId}:policy${path}${name}`;
    if (
      [...this.policies.values()].some((p) => !p.awsManaged && p.name.toLowerCase() === name.toLowerCase())
    ) {
      throw new AwsError(
        'EntityAlreadyExists',
        `A policy called ${name} already exists. Duplicate names are not allowed.`,
        409,
      );
    }
    const now = this.sandbox.clock.now();
    const p: ManagedPolicy = {
      name,
      id: upperId('ANPA'),
      arn,
      path,
      description: input.Description,
      createDate: now,
      updateDate: now,
      defaultVersionId: 'v1',
      versions: [{ versionId: 'v1', document: input.PolicyDocument ?? '', createDate: now }],
      nextVersion: 2,
      tags: [...(input.Tags ?? [])],
      awsManaged: false,
    };
    this.policies.set(arn, p);
    this.policyChanged(p, 'created');
    return p;
  }

  attachmentCount(arn: string): number {
    let n = 0;
    for (const r of this.roles.values()) if (r.attached.includes(arn)) n++;
    return n;
  }

  customerPolicy(arn: string | undefined): ManagedPolicy {
    const p = this.policy(arn);
    if (p.awsManaged)
      throw new AwsError('InvalidInput', `ARN ${p.arn} is an AWS managed policy and cannot be modified.`);
    return p;
  }

  createPolicyVersion(
    arn: string | undefined,
    doc: string | undefined,
    setAsDefault: boolean,
  ): PolicyVersion {
    const p = this.customerPolicy(arn);
    validatePolicyDocument(doc, 'identity');
    if (p.versions.length >= 5) {
      throw new AwsError(
        'LimitExceeded',
        'A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.',
        409,
      );
    }
    const v: PolicyVersion = {
      versionId: `v${p.nextVersion}`,
      document: doc ?? '',
      createDate: this.sandbox.clock.now(),
    };
    p.nextVersion++;
    p.versions.push(v);
    if (setAsDefault) p.defaultVersionId = v.versionId;
    p.updateDate = v.createDate;
    this.policyChanged(p, 'updated');
    return v;
  }

  version(arn: string | undefined, versionId: string | undefined): PolicyVersion {
    const p = this.policy(arn);
    const v = p.versions.find((x) => x.versionId === versionId);
    if (!v)
      throw new AwsError(
        'NoSuchEntity',
        `Policy ${p.arn} version ${versionId ?? ''} does not exist or is not attachable.`,
        404,
      );
    return v;
  }

  deletePolicyVersion(arn: string | undefined, versionId: string | undefined): void {
    const p = this.customerPolicy(arn);
    const v = this.version(arn, versionId);
    if (v.versionId === p.defaultVersionId)
      throw new AwsError('DeleteConflict', 'Cannot delete the default version of a policy.', 409);
    p.versions = p.versions.filter((x) => x !== v);
    this.policyChanged(p, 'updated');
  }

  setDefaultPolicyVersion(arn: string | undefined, versionId: string | undefined): void {
    const p = this.customerPolicy(arn);
    const v = this.version(arn, versionId);
    p.defaultVersionId = v.versionId;
    p.updateDate = this.sandbox.clock.now();
    this.policyChanged(p, 'updated');
  }

  deletePolicy(arn: string | undefined): void {
    const p = this.customerPolicy(arn);
    if (this.attachmentCount(p.arn) > 0)
      throw new AwsError('DeleteConflict', 'Cannot delete a policy attached to entities.', 409);
    if (p.versions.length > 1) {
      throw new AwsError(
        'DeleteConflict',
        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions.",
        409,
      );
    }
    this.policies.delete(p.arn);
    this.policyChanged(p, 'deleted');
  }

  defaultDocument(p: ManagedPolicy): string {
    return p.versions.find((v) => v.versionId === p.defaultVersionId)?.document ?? '{}';
  }
}

export function iamStore(sandbox: SandboxContext): IamStore {
  // IAM is global: one store per account, whatever region the call was signed for.
  const scope = accountScope(sandbox);
  return stateOf(scope, 'iam', () => new IamStore(scope));
}
