/**
 * KMS's DescribeKey as the other emulated services ask it (IAM for an encrypted resource's key, DynamoDB
 * for a table's key): made as the service itself and cached per sandbox until KMS's change generation
 * moves (sandbox/core/changes.ts: every KMS operation that is not a read bumps it, e.g. DisableKey,
 * ScheduleKeyDeletion, PutKeyPolicy, CreateAlias), so asking per message or per item costs no call.
 */
import { asService } from '../../core/authz';
import { changeCache } from '../../core/changes';
import { AwsError, type SandboxContext } from '../../core/types';

/** The key's metadata, or what DescribeKey threw (NotFoundException for a key that does not exist). */
export type Described = { metadata: Record<string, unknown> } | { error: unknown };

const keyCache = changeCache<Promise<Described>>(10_000);

/** KMS's DescribeKey of `keyId` in (account, region), as the service; cached until KMS changes anything. */
export function describeKey(
  sandbox: SandboxContext,
  account: string,
  region: string,
  keyId: string,
): Promise<Described> {
  return keyCache(sandbox, 'kms', `${account} ${region} ${keyId}`, () =>
    asService(() => sandbox.scoped(account, region).call('kms', 'DescribeKey', { KeyId: keyId })).then(
      (out): Described => ({ metadata: (out.KeyMetadata ?? {}) as Record<string, unknown> }),
      (error: unknown): Described => ({ error }),
    ),
  );
}

/**
 * Why a key cannot encrypt or decrypt, as KMS would refuse it (NotFoundException, DisabledException,
 * KMSInvalidStateException), or undefined when it can.
 */
export function keyRefusal(described: Described, keyId: string): AwsError | undefined {
  if ('error' in described) {
    const err = described.error;
    if (err instanceof AwsError) return err;
    throw err;
  }
  const arn = String(described.metadata.Arn ?? keyId);
  switch (described.metadata.KeyState) {
    case 'Enabled':
      return undefined;
    case 'PendingDeletion':
      return new AwsError('KMSInvalidStateException', `${arn} is pending deletion.`);
    default:
      return new AwsError('DisabledException', `${arn} is disabled.`);
  }
}
