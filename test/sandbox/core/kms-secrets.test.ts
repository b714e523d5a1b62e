/**
 * Secrets Manager with a customer managed KMS key: every new value needs the caller's kms:GenerateDataKey
 * and every read its kms:Decrypt on the secret's key through secretsmanager.REGION.amazonaws.com (the key
 * policy and, where it trusts the account, the caller's identity policies), refused as Secrets Manager
 * refuses it (`AccessDeniedException` "Access to KMS is not allowed", HTTP 400) with the sandbox log naming
 * the missing action; a disabled key or one pending deletion fails writes (`EncryptionFailure`) and reads
 * (`DecryptionFailure`) for every caller. A refused call changes nothing. Real SDK v3 clients signed with
 * role-session credentials the sandbox minted.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { iamService } from '../../../sandbox/services/iam';
import { kmsService } from '../../../sandbox/services/kms';
import { secretsManagerService } from '../../../sandbox/services/secretsmanager';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const sb = withSandbox(() => ({ services: [iamService(), kmsService(), secretsManagerService()] }));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const VIA_SECRETS = { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } };
/** CDK's default key policy: the account's IAM policies decide. */
const TRUST_ACCOUNT = {
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  Action: 'kms:*',
  Resource: '*',
};

const kms = (op: string, input: Record<string, unknown>) => sb.sandbox.context.call('kms', op, input);
const admin = () => new SecretsManagerClient(sb.clientConfig);

async function key(): Promise<string> {
  const out = await kms('CreateKey', { Description: 'secrets', Policy: policy(TRUST_ACCOUNT) });
  return String((out.KeyMetadata as { Arn: string }).Arn);
}

/** A secret under `keyArn` holding `value`; its ARN. */
async function secret(name: string, keyArn: string | undefined, value = 'v1'): Promise<string> {
  const out = await admin().send(
    new CreateSecretCommand({ Name: name, SecretString: value, ...(keyArn ? { KmsKeyId: keyArn } : {}) }),
  );
  return String(out.ARN);
}

const current = async (id: string) =>
  (await admin().send(new GetSecretValueCommand({ SecretId: id }))).SecretString;

describe('a secret encrypted with a customer managed key', () => {
  it('refuses GetSecretValue to a role without kms:Decrypt (Access to KMS is not allowed), the log naming it', async () => {
    const keyArn = await key();
    const arn = await secret('cmk-read', keyArn);
    const reader = await role(sb, 'cmk-reader', [
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn },
    ]);
    const denied = await failure(
      new SecretsManagerClient(actingAs(sb, reader, 'read')).send(
        new GetSecretValueCommand({ SecretId: arn }),
      ),
    );
    expect(denied).toEqual({
      name: 'AccessDeniedException',
      message: 'Access to KMS is not allowed',
      status: 400,
      code: undefined,
    });
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: arn:aws:sts::${ACCOUNT}:assumed-role/cmk-reader/read is not allowed kms:Decrypt on ${keyArn} (KMS key)`,
    );
  });

  it('admits kms:Decrypt only through Secrets Manager when the policy says kms:ViaService secretsmanager', async () => {
    const keyArn = await key();
    const arn = await secret('via-read', keyArn, 'sealed');
    const statement = (service: string) => ({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: keyArn,
      Condition: { StringEquals: { 'kms:ViaService': `${service}.${REGION}.amazonaws.com` } },
    });
    const read = { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn };
    const viaSqs = await role(sb, 'via-sqs-reader', [read, statement('sqs')]);
    const viaSecrets = await role(sb, 'via-secrets-reader', [read, statement('secretsmanager')]);
    const get = (r: string) =>
      new SecretsManagerClient(actingAs(sb, r, 'read')).send(new GetSecretValueCommand({ SecretId: arn }));
    expect((await failure(get(viaSqs))).message).toBe('Access to KMS is not allowed');
    expect((await get(viaSecrets)).SecretString).toBe('sealed');
  });

  it('refuses PutSecretValue and CreateSecret without kms:GenerateDataKey, storing nothing', async () => {
    const keyArn = await key();
    const arn = await secret('cmk-write', keyArn, 'before');
    const writer = await role(sb, 'cmk-writer', [
      {
        Effect: 'Allow',
        Action: ['secretsmanager:PutSecretValue', 'secretsmanager:CreateSecret'],
        Resource: '*',
      },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn, Condition: VIA_SECRETS },
    ]);
    const client = new SecretsManagerClient(actingAs(sb, writer, 'write'));
    const put = await failure(
      client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'after' })),
    );
    expect(put).toMatchObject({ name: 'AccessDeniedException', message: 'Access to KMS is not allowed' });
    expect(await current(arn)).toBe('before');
    const created = await failure(
      client.send(new CreateSecretCommand({ Name: 'cmk-new', SecretString: 'x', KmsKeyId: keyArn })),
    );
    expect(created.name).toBe('AccessDeniedException');
    expect(
      sb.sandbox.logs.some((l) => l.includes('cmk-writer/write is not allowed kms:GenerateDataKey')),
    ).toBe(true);
    expect((await failure(admin().send(new DescribeSecretCommand({ SecretId: 'cmk-new' })))).name).toBe(
      'ResourceNotFoundException',
    );
    // Without a value CreateSecret makes no data key: no KMS permission is needed.
    await client.send(new CreateSecretCommand({ Name: 'cmk-empty', KmsKeyId: keyArn }));
  });

  it('needs no KMS permission for a secret under the AWS managed key (no KmsKeyId)', async () => {
    const arn = await secret('default-key', undefined, 'plain');
    const reader = await role(sb, 'default-reader', [
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn },
    ]);
    const out = await new SecretsManagerClient(actingAs(sb, reader, 'read')).send(
      new GetSecretValueCommand({ SecretId: arn }),
    );
    expect(out.SecretString).toBe('plain');
  });
});

describe("a secret whose key can't be used", () => {
  it('fails reads (DecryptionFailure) and writes (EncryptionFailure) while the key is disabled, for the administrator too', async () => {
    const keyArn = await key();
    const arn = await secret('disabled-key', keyArn, 'kept');
    await kms('DisableKey', { KeyId: keyArn });
    const read = await failure(admin().send(new GetSecretValueCommand({ SecretId: arn })));
    expect(read).toMatchObject({
      name: 'DecryptionFailure',
      message: "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
      status: 400,
    });
    const write = await failure(
      admin().send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'new' })),
    );
    expect(write.name).toBe('EncryptionFailure');
    expect(write.message).toMatch(/^Secrets Manager can't encrypt the protected secret text/);
    expect(sb.sandbox.logs).toContain(`secretsmanager: ${arn} cannot encrypt: its key ${keyArn} is disabled`);
    await kms('EnableKey', { KeyId: keyArn });
    expect(await current(arn)).toBe('kept');
  });

  it('fails while the key is pending deletion; cancelling leaves it disabled until enabled', async () => {
    const keyArn = await key();
    const arn = await secret('doomed-key', keyArn, 'kept');
    const scheduled = await kms('ScheduleKeyDeletion', { KeyId: keyArn, PendingWindowInDays: 7 });
    expect(scheduled.KeyState).toBe('PendingDeletion');
    expect((await failure(admin().send(new GetSecretValueCommand({ SecretId: arn })))).name).toBe(
      'DecryptionFailure',
    );
    await expect(kms('EnableKey', { KeyId: keyArn })).rejects.toMatchObject({
      code: 'KMSInvalidStateException',
    });
    await kms('CancelKeyDeletion', { KeyId: keyArn });
    const described = await kms('DescribeKey', { KeyId: keyArn });
    expect(described.KeyMetadata).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    await kms('EnableKey', { KeyId: keyArn });
    expect(await current(arn)).toBe('kept');
  });

  it('refuses UpdateSecret onto a disabled key, changing neither the key nor the value', async () => {
    const good = await key();
    const bad = await key();
    const arn = await secret('rekey', good, 'v1');
    await kms('DisableKey', { KeyId: bad });
    const refused = await failure(
      admin().send(new UpdateSecretCommand({ SecretId: arn, KmsKeyId: bad, SecretString: 'v2' })),
    );
    expect(refused.name).toBe('EncryptionFailure');
    const described = await admin().send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.KmsKeyId).toBe(good);
    expect(await current(arn)).toBe('v1');
    const updated = await admin().send(new UpdateSecretCommand({ SecretId: arn, SecretString: 'v2' }));
    expect(updated.VersionId).toBeDefined();
    expect(await current(arn)).toBe('v2');
  });
});
