/**
 * KMS (awsJson1.1, TrentService): the symmetric customer managed keys the stack creates
 * (AWS::KMS::Key with its KeyPolicy, AWS::KMS::Alias), their key policies (which IAM evaluates as the
 * key's resource policy, sandbox/services/iam/resource-policies.ts), and the cryptographic operations
 * a service performs on a caller's behalf (GenerateDataKey, Encrypt, Decrypt), and the key states that
 * make a key unusable (DisableKey, ScheduleKeyDeletion / CancelKeyDeletion). State per account-region
 * (./store.ts).
 */
import { randomBytes } from 'node:crypto';
import type { RequestContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import { type Key, keyState, kmsStore, notFound, usableKey } from './store';

type Input = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const validation = (m: string): AwsError => new AwsError('ValidationException', m);
const invalidState = (key: Key): AwsError =>
  new AwsError(
    'KMSInvalidStateException',
    `${key.arn} is ${keyState(key) === 'PendingDeletion' ? 'pending deletion' : keyState(key)}.`,
  );

/** A blob member: base64 text on the wire, bytes from in-process callers. */
function blob(v: unknown, name: string): Buffer {
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === 'string' && v !== '') return Buffer.from(v, 'base64');
  throw validation(`${name} is required.`);
}

function metadata(key: Key): Input {
  return {
    AWSAccountId: key.account,
    KeyId: key.id,
    Arn: key.arn,
    CreationDate: key.createdAt,
    Enabled: keyState(key) === 'Enabled',
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: keyState(key),
    ...(key.deletionDate ? { DeletionDate: key.deletionDate } : {}),
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    KeySpec: 'SYMMETRIC_DEFAULT',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  };
}

function policyText(v: unknown): string | undefined {
  const text = str(v);
  if (text === undefined) return undefined;
  try {
    JSON.parse(text);
  } catch {
    throw new AwsError('MalformedPolicyDocumentException', 'The key policy is not valid JSON.');
  }
  return text;
}

function dataKeyBytes(input: Input): number {
  const spec = str(input.KeySpec);
  const bytes = input.NumberOfBytes ?? (spec === 'AES_128' ? 16 : spec === 'AES_256' || !spec ? 32 : NaN);
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 1 || bytes > 1024)
    throw validation('Specify either KeySpec (AES_128 or AES_256) or NumberOfBytes (1 to 1024).');
  return bytes;
}

const ALIAS = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

const store = (ctx: RequestContext) => kmsStore(ctx.sandbox);

/** One small handler per operation over the account-region's store. */
const OPERATIONS: ServiceModule['operations'] = {
  CreateKey: (input, ctx) => {
    const tags = Array.isArray(input.Tags) ? (input.Tags as Key['tags']) : [];
    const key = store(ctx).create(str(input.Description) ?? '', policyText(input.Policy), tags);
    return { KeyMetadata: metadata(key) };
  },
  DescribeKey: (input, ctx) => ({ KeyMetadata: metadata(store(ctx).get(input.KeyId)) }),
  ListKeys: (_input, ctx) => ({
    Keys: [...store(ctx).keys.values()].map((k) => ({ KeyId: k.id, KeyArn: k.arn })),
    Truncated: false,
  }),
  GetKeyPolicy: (input, ctx) => ({ Policy: store(ctx).get(input.KeyId).policy, PolicyName: 'default' }),
  PutKeyPolicy: (input, ctx) => {
    const key = store(ctx).get(input.KeyId);
    key.policy = policyText(input.Policy) ?? key.policy;
    return {};
  },
  DisableKey: (input, ctx) => {
    const key = store(ctx).get(input.KeyId);
    if (key.deletionDate) throw invalidState(key);
    key.enabled = false;
    return {};
  },
  EnableKey: (input, ctx) => {
    const key = store(ctx).get(input.KeyId);
    if (key.deletionDate) throw invalidState(key);
    key.enabled = true;
    return {};
  },
  ScheduleKeyDeletion: (input, ctx) => {
    const key = store(ctx).get(input.KeyId);
    const days = input.PendingWindowInDays ?? 30;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30)
      throw validation('PendingWindowInDays must be an integer from 7 to 30.');
    if (key.deletionDate) throw invalidState(key);
    key.enabled = false;
    key.deletionDate = new Date(Date.now() + days * 86_400_000);
    return {
      KeyId: key.arn,
      DeletionDate: key.deletionDate,
      KeyState: 'PendingDeletion',
      PendingWindowInDays: days,
    };
  },
  /** Cancelling a deletion leaves the key Disabled, as KMS does. */
  CancelKeyDeletion: (input, ctx) => {
    const key = store(ctx).get(input.KeyId);
    if (!key.deletionDate) throw invalidState(key);
    key.deletionDate = undefined;
    return { KeyId: key.arn };
  },
  CreateAlias: (input, ctx) => {
    const s = store(ctx);
    const name = str(input.AliasName) ?? '';
    if (!ALIAS.test(name) || name.startsWith('alias/aws/'))
      throw validation(`Alias ${name} must begin with alias/ and not with alias/aws/.`);
    if (s.aliases.has(name))
      throw new AwsError(
        'AlreadyExistsException',
        `An alias with the name ${s.account}:${name} already exists`,
      );
    s.aliases.set(name, s.get(input.TargetKeyId).id);
    return {};
  },
  DeleteAlias: (input, ctx) => {
    const s = store(ctx);
    if (!s.aliases.delete(str(input.AliasName) ?? '')) throw notFound(`Alias ${String(input.AliasName)}`);
    return {};
  },
  ListAliases: (input, ctx) => {
    const s = store(ctx);
    const only = str(input.KeyId) ? s.get(input.KeyId).id : undefined;
    const aliases = [...s.aliases].filter(([, id]) => !only || id === only);
    return {
      Aliases: aliases.map(([name, id]) => ({
        AliasName: name,
        AliasArn: `arn:aws:kms:${s.region}:${s.account}:${name}`,
        TargetKeyId: id,
      })),
      Truncated: false,
    };
  },
  Encrypt: (input, ctx) => {
    const key = store(ctx).usable(input.KeyId);
    const plaintext = blob(input.Plaintext, 'Plaintext');
    if (plaintext.length > 4096) throw validation('Plaintext must be at most 4096 bytes.');
    return {
      CiphertextBlob: store(ctx).encrypt(key, plaintext),
      KeyId: key.arn,
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },
  Decrypt: (input, ctx) => {
    const s = store(ctx);
    const data = blob(input.CiphertextBlob, 'CiphertextBlob');
    const key = s.keyOf(data);
    if (str(input.KeyId) && s.get(input.KeyId).id !== key.id)
      throw new AwsError(
        'IncorrectKeyException',
        'The key ID in the request does not identify the key used to encrypt the ciphertext.',
      );
    usableKey(key);
    return { Plaintext: s.decrypt(key, data), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  },
  GenerateDataKey: (input, ctx) => {
    const s = store(ctx);
    const key = s.usable(input.KeyId);
    const plaintext = randomBytes(dataKeyBytes(input));
    return { Plaintext: plaintext, CiphertextBlob: s.encrypt(key, plaintext), KeyId: key.arn };
  },
  GenerateDataKeyWithoutPlaintext: (input, ctx) => {
    const s = store(ctx);
    const key = s.usable(input.KeyId);
    return { CiphertextBlob: s.encrypt(key, randomBytes(dataKeyBytes(input))), KeyId: key.arn };
  },
};

export function kmsService(): ServiceModule {
  return {
    serviceName: 'kms',
    signingName: 'kms',
    protocol: 'awsJson1_1',
    targetPrefix: 'TrentService',
    operations: OPERATIONS,
  };
}
