/**
 * A secret's KMS key as Secrets Manager uses it: every new value is sealed under a data key from the
 * secret's key (kms:GenerateDataKey) and every read decrypts that data key (kms:Decrypt). Whether the
 * caller may do so is IAM's question (sandbox/services/iam/key-use.ts, refused before the call runs);
 * whether the key can do it at all is asked here, for every caller, the administrator too: a key that
 * does not exist, is disabled or is pending deletion fails the call with Secrets Manager's
 * `EncryptionFailure` / `DecryptionFailure`, changing nothing. The AWS managed key (no `KmsKeyId`, or
 * `alias/aws/secretsmanager`) is always usable. Values are kept as given (not sealed) in the sandbox.
 */
import { asService } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { AwsError, type RequestContext } from '../../core/types';

const AWS_MANAGED = /^(?:arn:[^:]+:kms:[^:]*:\d*:)?alias\/aws\//;

const FAILURES = {
  encrypt: () =>
    new AwsError(
      'EncryptionFailure',
      "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state. For more information, see Key state: Effect on your KMS key.",
    ),
  decrypt: () =>
    new AwsError(
      'DecryptionFailure',
      "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
    ),
};

/**
 * Fails unless `kmsKeyId` (a secret's key, in the account-region of `secretArn`) can `use` — seal a new
 * value or open a stored one. The sandbox log says why a key could not.
 */
export async function requireUsableKey(
  ctx: RequestContext,
  secretArn: string,
  kmsKeyId: string | undefined,
  use: 'encrypt' | 'decrypt',
): Promise<void> {
  if (!kmsKeyId || AWS_MANAGED.test(kmsKeyId) || !serviceModule(ctx.sandbox, 'kms')) return;
  const [, , , region = ctx.region, account = ctx.accountId] = secretArn.split(':');
  const scope = ctx.sandbox.scoped(account, region);
  let reason: string;
  try {
    const out = await asService(() => scope.call('kms', 'DescribeKey', { KeyId: kmsKeyId }));
    const state = (out.KeyMetadata as { KeyState?: string } | undefined)?.KeyState;
    if (state === 'Enabled') return;
    reason = `its key ${kmsKeyId} is ${state === 'PendingDeletion' ? 'pending deletion' : 'disabled'}`;
  } catch (err) {
    if (!(err instanceof AwsError) || err.code !== 'NotFoundException') throw err;
    reason = `its key ${kmsKeyId} does not exist`;
  }
  ctx.sandbox.log(`secretsmanager: ${secretArn} cannot ${use}: ${reason}`);
  throw FAILURES[use]();
}
