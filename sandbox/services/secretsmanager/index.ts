/**
 * Secrets Manager (awsJson1.1, secretsmanager): CreateSecret, GetSecretValue, PutSecretValue,
 * UpdateSecret, DescribeSecret, DeleteSecret, GetRandomPassword, with AWSCURRENT/AWSPREVIOUS version
 * staging and ClientRequestToken idempotency. CreateSecret also accepts `GenerateSecretString`
 * (CloudFormation's AWS::SecretsManager::Secret property) so the installer can create generated secrets
 * in one call. A secret's `KmsKeyId` must be usable whenever a value is written or read (./encryption.ts).
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { RequestContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import { stateOf } from '../state';
import { requireUsableKey } from './encryption';

interface Version {
  id: string;
  string?: string;
  binary?: Uint8Array;
  stages: Set<string>;
  createdAt: Date;
}

interface Secret {
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  tags: { Key: string; Value: string }[];
  versions: Map<string, Version>;
  createdAt: Date;
  changedAt: Date;
  accessedAt?: Date;
  deletedAt?: Date;
}

export interface PasswordSpec {
  PasswordLength?: number;
  ExcludeCharacters?: string;
  ExcludeNumbers?: boolean;
  ExcludePunctuation?: boolean;
  ExcludeUppercase?: boolean;
  ExcludeLowercase?: boolean;
  IncludeSpace?: boolean;
  RequireEachIncludedType?: boolean;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

const invalidParam = (m: string): AwsError => new AwsError('InvalidParameterException', m);
const notFound = (): AwsError =>
  new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");

/** A random password per GetRandomPassword's rules (defaults: 32 characters, every type required). */
export function randomPassword(spec: PasswordSpec = {}): string {
  const length = spec.PasswordLength ?? 32;
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw invalidParam('PasswordLength must be between 1 and 4096.');
  }
  const exclude = new Set(spec.ExcludeCharacters ?? '');
  const keep = (s: string): string => [...s].filter((c) => !exclude.has(c)).join('');
  const classes = [
    spec.ExcludeLowercase ? '' : keep(LOWER),
    spec.ExcludeUppercase ? '' : keep(UPPER),
    spec.ExcludeNumbers ? '' : keep(DIGITS),
    spec.ExcludePunctuation ? '' : keep(PUNCT),
    spec.IncludeSpace ? keep(' ') : '',
  ].filter((c) => c.length > 0);
  const all = classes.join('');
  if (!all) throw invalidParam('The password cannot be generated: every character type is excluded.');
  const required = spec.RequireEachIncludedType ?? true;
  if (required && classes.length > length)
    throw invalidParam('PasswordLength is too short to include every required character type.');
  const chars: string[] = [];
  if (required) for (const c of classes) chars.push(c.charAt(randomInt(c.length)));
  while (chars.length < length) chars.push(all.charAt(randomInt(all.length)));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

/** CloudFormation's GenerateSecretString: a password, or a JSON template with the password under GenerateStringKey. */
export function generateSecretString(
  spec: PasswordSpec & { SecretStringTemplate?: string; GenerateStringKey?: string },
): string {
  const password = randomPassword(spec);
  if (spec.SecretStringTemplate === undefined) return password;
  if (!spec.GenerateStringKey) throw invalidParam('GenerateStringKey is required with SecretStringTemplate.');
  let template: unknown;
  try {
    template = JSON.parse(spec.SecretStringTemplate);
  } catch {
    throw invalidParam('SecretStringTemplate is not valid JSON.');
  }
  if (!template || typeof template !== 'object' || Array.isArray(template))
    throw invalidParam('SecretStringTemplate must be a JSON object.');
  return JSON.stringify({ ...(template as Record<string, unknown>), [spec.GenerateStringKey]: password });
}

const NAME_RE = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

function toBytes(v: unknown): Uint8Array | undefined {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return new Uint8Array(Buffer.from(v, 'base64'));
  throw invalidParam('SecretBinary must be a blob.');
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const hasValue = (v: SecretValue): boolean => v.string !== undefined || v.binary !== undefined;

type SecretValue = { string?: string; binary?: Uint8Array };

/** The value of a PutSecretValue/CreateSecret request: a string or a binary, not both. */
function readValue(input: Record<string, unknown>): SecretValue {
  const string = str(input.SecretString);
  const binary = toBytes(input.SecretBinary);
  if (string !== undefined && binary !== undefined) {
    throw invalidParam(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (string !== undefined && Buffer.byteLength(string) > 65_536)
    throw invalidParam('SecretString must be at most 65536 bytes.');
  return { string, binary };
}

function describeSecret(s: Secret): Record<string, unknown> {
  return {
    ARN: s.arn,
    Name: s.name,
    Description: s.description,
    KmsKeyId: s.kmsKeyId,
    LastChangedDate: s.changedAt,
    LastAccessedDate: s.accessedAt,
    DeletedDate: s.deletedAt,
    CreatedDate: s.createdAt,
    Tags: s.tags.length ? s.tags : undefined,
    VersionIdsToStages: Object.fromEntries(
      [...s.versions.values()].filter((v) => v.stages.size).map((v) => [v.id, [...v.stages]]),
    ),
  };
}

function usable(s: Secret, op: string): Secret {
  if (s.deletedAt) {
    throw new AwsError(
      'InvalidRequestException',
      `You can't perform this operation on the secret because it was marked for deletion (${op}).`,
    );
  }
  return s;
}

/** Moves the staging labels a new version takes (AWSCURRENT's holder becomes AWSPREVIOUS). */
function restage(s: Secret, targetStages: readonly string[]): void {
  if (targetStages.includes('AWSCURRENT')) {
    for (const v of s.versions.values()) v.stages.delete('AWSPREVIOUS');
    for (const v of s.versions.values()) {
      if (v.stages.delete('AWSCURRENT')) v.stages.add('AWSPREVIOUS');
    }
  }
  for (const st of targetStages)
    for (const v of s.versions.values()) if (st !== 'AWSCURRENT') v.stages.delete(st);
}

/** Adds a version (idempotent per ClientRequestToken: the same value again is the same version). */
function addVersion(s: Secret, token: string | undefined, value: SecretValue, stages?: string[]): Version {
  const id = token ?? randomUUID();
  if (id.length < 32 || id.length > 64) throw invalidParam('ClientRequestToken must be 32-64 characters.');
  const existing = s.versions.get(id);
  if (existing) {
    const same =
      existing.string === value.string &&
      Buffer.from(existing.binary ?? []).equals(Buffer.from(value.binary ?? []));
    if (!same) {
      throw new AwsError(
        'ResourceExistsException',
        "You can't modify an existing version, you can only create a new version.",
      );
    }
    return existing;
  }
  const targetStages = stages ?? ['AWSCURRENT'];
  restage(s, targetStages);
  const version: Version = { id, ...value, stages: new Set(targetStages), createdAt: new Date() };
  s.versions.set(id, version);
  for (const [k, v] of s.versions) if (v.stages.size === 0 && s.versions.size > 100) s.versions.delete(k);
  s.changedAt = new Date();
  return version;
}

/** The version GetSecretValue asks for: by VersionId and/or VersionStage (default AWSCURRENT). */
function selectVersion(s: Secret, input: Record<string, unknown>): Version {
  const versionId = str(input.VersionId);
  const stage = str(input.VersionStage) ?? (versionId ? undefined : 'AWSCURRENT');
  let v: Version | undefined = versionId ? s.versions.get(versionId) : undefined;
  if (!versionId) v = [...s.versions.values()].find((x) => stage !== undefined && x.stages.has(stage));
  if (v && versionId && stage && !v.stages.has(stage)) v = undefined;
  if (!v) {
    throw new AwsError(
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret value for " +
        (versionId ? `VersionId: ${versionId}` : `staging label: ${stage}`),
    );
  }
  return v;
}

/** The value CreateSecret stores: the given one, or one generated per GenerateSecretString. */
function initialValue(input: Record<string, unknown>): SecretValue {
  const value = readValue(input);
  const generate = input.GenerateSecretString as
    | (PasswordSpec & { SecretStringTemplate?: string; GenerateStringKey?: string })
    | undefined;
  if (generate && value.string === undefined && value.binary === undefined)
    return { string: generateSecretString(generate) };
  return value;
}

function newSecret(name: string, input: Record<string, unknown>, ctx: RequestContext): Secret {
  const suffix = randomBytes(6)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, 'x')
    .slice(0, 6);
  const now = new Date();
  return {
    name,
    arn: `arn:aws:secretsmanager:${ctx.region}:${ctx.accountId}:secret:${name}-${suffix}`,
    description: str(input.Description),
    kmsKeyId: str(input.KmsKeyId),
    tags: Array.isArray(input.Tags) ? (input.Tags as Secret['tags']) : [],
    versions: new Map(),
    createdAt: now,
    changedAt: now,
  };
}

/** The secrets of one account-region, by name, and the operations on them. */
class SecretStore {
  private readonly secrets = new Map<string, Secret>();

  /** By name, full ARN, or partial ARN (without the 6-character suffix). */
  find(id: unknown): Secret {
    if (typeof id !== 'string' || id === '') throw invalidParam('You must provide a SecretId.');
    const direct = this.secrets.get(id);
    if (direct) return direct;
    for (const s of this.secrets.values()) {
      if (s.arn === id) return s;
      if (id.startsWith('arn:') && s.arn.startsWith(`${id}-`) && s.arn.length === id.length + 7) return s;
    }
    throw notFound();
  }

  async create(input: Record<string, unknown>, ctx: RequestContext): Promise<Record<string, unknown>> {
    const name = input.Name;
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw invalidParam(
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    const value = initialValue(input);
    // Before anything is looked at or stored: nothing awaits between the checks below and the store.
    if (hasValue(value)) {
      const arn = `arn:aws:secretsmanager:${ctx.region}:${ctx.accountId}:secret:${name}`;
      await requireUsableKey(ctx, arn, str(input.KmsKeyId), 'encrypt');
    }
    const existing = this.secrets.get(name);
    if (existing?.deletedAt) {
      throw new AwsError(
        'InvalidRequestException',
        `You can't create this secret because a secret with this name is already scheduled for deletion.`,
      );
    }
    const token = str(input.ClientRequestToken);
    if (existing) {
      const v = token ? existing.versions.get(token) : undefined;
      if (v && v.string === value.string) return { ARN: existing.arn, Name: existing.name, VersionId: v.id };
      throw new AwsError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const s = newSecret(name, input, ctx);
    let versionId: string | undefined;
    if (hasValue(value)) versionId = addVersion(s, token, value).id;
    this.secrets.set(name, s);
    return { ARN: s.arn, Name: s.name, VersionId: versionId };
  }

  async getValue(input: Record<string, unknown>, ctx: RequestContext): Promise<Record<string, unknown>> {
    const s = usable(this.find(input.SecretId), 'GetSecretValue');
    const v = selectVersion(s, input);
    await requireUsableKey(ctx, s.arn, s.kmsKeyId, 'decrypt');
    s.accessedAt = new Date();
    return {
      ARN: s.arn,
      Name: s.name,
      VersionId: v.id,
      SecretString: v.string,
      SecretBinary: v.binary,
      VersionStages: [...v.stages],
      CreatedDate: v.createdAt,
    };
  }

  async putValue(input: Record<string, unknown>, ctx: RequestContext): Promise<Record<string, unknown>> {
    const s = usable(this.find(input.SecretId), 'PutSecretValue');
    const value = readValue(input);
    if (!hasValue(value)) throw invalidParam('You must provide either SecretString or SecretBinary.');
    await requireUsableKey(ctx, s.arn, s.kmsKeyId, 'encrypt');
    const stages = Array.isArray(input.VersionStages) ? (input.VersionStages as string[]) : undefined;
    const v = addVersion(s, str(input.ClientRequestToken), value, stages);
    return { ARN: s.arn, Name: s.name, VersionId: v.id, VersionStages: [...v.stages] };
  }

  /** Description, key and/or a new AWSCURRENT value; a new key must be usable, and so must the key of a new value. */
  async update(input: Record<string, unknown>, ctx: RequestContext): Promise<Record<string, unknown>> {
    const s = usable(this.find(input.SecretId), 'UpdateSecret');
    const value = readValue(input);
    const kmsKeyId = str(input.KmsKeyId) || s.kmsKeyId;
    if (hasValue(value) || kmsKeyId !== s.kmsKeyId) await requireUsableKey(ctx, s.arn, kmsKeyId, 'encrypt');
    const version = hasValue(value) ? addVersion(s, str(input.ClientRequestToken), value) : undefined;
    if (input.Description !== undefined) s.description = str(input.Description);
    s.kmsKeyId = kmsKeyId;
    s.changedAt = new Date();
    return { ARN: s.arn, Name: s.name, VersionId: version?.id };
  }

  delete(input: Record<string, unknown>): Record<string, unknown> {
    const s = this.find(input.SecretId);
    const force = input.ForceDeleteWithoutRecovery === true;
    const window = input.RecoveryWindowInDays;
    if (force && window !== undefined) {
      throw invalidParam(
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    const days = typeof window === 'number' ? window : 30;
    if (days < 7 || days > 30)
      throw invalidParam('RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    const at = new Date();
    if (force) this.secrets.delete(s.name);
    else s.deletedAt = new Date(at.getTime() + days * 86_400_000);
    return { ARN: s.arn, Name: s.name, DeletionDate: force ? at : s.deletedAt };
  }

  restore(input: Record<string, unknown>): Record<string, unknown> {
    const s = this.find(input.SecretId);
    s.deletedAt = undefined;
    return { ARN: s.arn, Name: s.name };
  }
}

/**
 * The store a call works on: the caller's account-region's, or for a SecretId that is an ARN the store of
 * the ARN's account-region (IAM decides whether a caller from another account may: without a resource
 * policy, which the sandbox does not model for secrets, it may not).
 */
function storeFor(ctx: RequestContext, secretId?: unknown): SecretStore {
  const [arn, , , region = '', account = ''] = typeof secretId === 'string' ? secretId.split(':') : [];
  const scope =
    arn === 'arn' && /^\d{12}$/.test(account) && region !== ''
      ? ctx.sandbox.scoped(account, region)
      : ctx.sandbox;
  return stateOf(scope, 'secretsmanager', () => new SecretStore());
}

export function secretsManagerService(): ServiceModule {
  const of = (input: Record<string, unknown>, ctx: RequestContext) => storeFor(ctx, input.SecretId);
  return {
    serviceName: 'secretsmanager',
    signingName: 'secretsmanager',
    protocol: 'awsJson1_1',
    targetPrefix: 'secretsmanager',
    operations: {
      CreateSecret: (input, ctx: RequestContext) => storeFor(ctx).create(input, ctx),
      GetSecretValue: (input, ctx) => of(input, ctx).getValue(input, ctx),
      PutSecretValue: (input, ctx) => of(input, ctx).putValue(input, ctx),
      UpdateSecret: (input, ctx) => of(input, ctx).update(input, ctx),
      DescribeSecret: (input, ctx) => describeSecret(of(input, ctx).find(input.SecretId)),
      DeleteSecret: (input, ctx) => of(input, ctx).delete(input),
      RestoreSecret: (input, ctx) => of(input, ctx).restore(input),
      GetRandomPassword: (input) => ({ RandomPassword: randomPassword(input as PasswordSpec) }),
    },
  };
}
