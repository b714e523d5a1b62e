/**
 * KMS's model for one account-region: symmetric keys (id, ARN, key policy, enabled state, random key
 * material) and aliases. Ciphertext is real AES-256-GCM under the key's material, prefixed with the key's
 * id so Decrypt finds the key without being told (as KMS does for symmetric keys). A key scheduled for
 * deletion stays PendingDeletion (unusable) until cancelled; it is never actually deleted. Asymmetric
 * keys, grants, multi-Region keys, imported material and rotation are not emulated.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { AwsError, type SandboxContext } from '../../core/types';
import { stateOf } from '../state';

export interface Key {
  id: string;
  arn: string;
  account: string;
  description: string;
  policy: string;
  enabled: boolean;
  /** When a scheduled deletion is due (ScheduleKeyDeletion): the key is unusable meanwhile. */
  deletionDate?: Date;
  createdAt: Date;
  material: Buffer;
  tags: { TagKey: string; TagValue: string }[];
}

export const notFound = (what: string): AwsError =>
  new AwsError('NotFoundException', `${what} is not found.`);
export const invalidArn = (m: string): AwsError => new AwsError('InvalidArnException', m);
const invalidCiphertext = (): AwsError => new AwsError('InvalidCiphertextException', '');

/** The key policy KMS gives a key created without one: the account's IAM policies decide. */
export function defaultKeyPolicy(account: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  });
}

const ID_BYTES = 36; // a key id (UUID) heads every ciphertext blob

export class KmsStore {
  readonly keys = new Map<string, Key>();
  /** alias name (alias/…) → key id */
  readonly aliases = new Map<string, string>();

  constructor(
    readonly account: string,
    readonly region: string,
  ) {}

  create(description: string, policy: string | undefined, tags: Key['tags']): Key {
    const id = randomUUID();
    const key: Key = {
      id,
      arn: `arn:aws:kms:${this.region}:${this.account}:key/${id}`,
      account: this.account,
      description,
      policy: policy ?? defaultKeyPolicy(this.account),
      enabled: true,
      createdAt: new Date(),
      material: randomBytes(32),
      tags,
    };
    this.keys.set(id, key);
    return key;
  }

  /** A key by id, key ARN, alias name or alias ARN (KMS's KeyId forms), or undefined. */
  find(keyId: string): Key | undefined {
    const alias = /^(?:arn:aws[a-z-]*:kms:[^:]*:\d{12}:)?(alias\/.+)$/.exec(keyId)?.[1];
    const id = alias ? this.aliases.get(alias) : /(?:^|:key\/)([0-9a-f-]{36})$/.exec(keyId)?.[1];
    return id ? this.keys.get(id) : undefined;
  }

  /** Like find, with KMS's NotFoundException. */
  get(keyId: unknown): Key {
    if (typeof keyId !== 'string' || keyId === '')
      throw new AwsError('ValidationException', 'KeyId is required.');
    const key = this.find(keyId);
    if (!key)
      throw notFound(
        `Key '${keyId.includes(':') ? keyId : `arn:aws:kms:${this.region}:${this.account}:${keyId.startsWith('alias/') ? keyId : `key/${keyId}`}`}'`,
      );
    return key;
  }

  /** A key that may encrypt and decrypt (enabled). */
  usable(keyId: unknown): Key {
    return usableKey(this.get(keyId));
  }

  encrypt(key: Key, plaintext: Buffer): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.material, iv);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from(key.id, 'latin1'), iv, cipher.getAuthTag(), body]);
  }

  /** The key a ciphertext blob was made under (InvalidCiphertextException if none of ours). */
  keyOf(blob: Buffer): Key {
    const key = this.keys.get(blob.subarray(0, ID_BYTES).toString('latin1'));
    if (!key || blob.length < ID_BYTES + 28) throw invalidCiphertext();
    return key;
  }

  decrypt(key: Key, blob: Buffer): Buffer {
    try {
      const iv = blob.subarray(ID_BYTES, ID_BYTES + 12);
      const decipher = createDecipheriv('aes-256-gcm', key.material, iv);
      decipher.setAuthTag(blob.subarray(ID_BYTES + 12, ID_BYTES + 28));
      return Buffer.concat([decipher.update(blob.subarray(ID_BYTES + 28)), decipher.final()]);
    } catch (err) {
      throw Object.assign(invalidCiphertext(), { cause: err });
    }
  }
}

/** KMS's KeyState for a key: Enabled, Disabled or PendingDeletion. */
export function keyState(key: Key): 'Enabled' | 'Disabled' | 'PendingDeletion' {
  if (key.deletionDate) return 'PendingDeletion';
  return key.enabled ? 'Enabled' : 'Disabled';
}

/** The key, if it may encrypt and decrypt: KMS's DisabledException / KMSInvalidStateException otherwise. */
export function usableKey(key: Key): Key {
  if (key.deletionDate) throw new AwsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  if (!key.enabled) throw new AwsError('DisabledException', `${key.arn} is disabled.`);
  return key;
}

export function kmsStore(sandbox: SandboxContext): KmsStore {
  return stateOf(sandbox, 'kms', () => new KmsStore(sandbox.accountId, sandbox.region));
}
