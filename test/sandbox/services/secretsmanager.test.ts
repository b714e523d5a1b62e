import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { generateSecretString, secretsManagerService } from '../../../sandbox/services/secretsmanager';
import { withSandbox } from '../helpers';

const sb = withSandbox({ services: [secretsManagerService()] });
const sm = (): SecretsManagerClient => new SecretsManagerClient(sb.clientConfig);

describe('Secrets Manager', () => {
  it('creates a secret and reads it by name and by ARN', async () => {
    const created = await sm().send(
      new CreateSecretCommand({ Name: 'approval-signing-key', SecretString: 's3cret' }),
    );
    expect(created.ARN).toMatch(
      /^arn:aws:secretsmanager:us-east-1:000000000000:secret:approval-signing-key-[A-Za-z0-9]{6}$/,
    );
    const byName = await sm().send(new GetSecretValueCommand({ SecretId: 'approval-signing-key' }));
    expect(byName).toMatchObject({
      SecretString: 's3cret',
      VersionStages: ['AWSCURRENT'],
      VersionId: created.VersionId,
    });
    const byArn = await sm().send(new GetSecretValueCommand({ SecretId: created.ARN }));
    expect(byArn.SecretString).toBe('s3cret');
  });

  it('rotates versions with PutSecretValue (AWSCURRENT / AWSPREVIOUS)', async () => {
    await sm().send(new CreateSecretCommand({ Name: 'rotating', SecretString: 'v1' }));
    const put = await sm().send(new PutSecretValueCommand({ SecretId: 'rotating', SecretString: 'v2' }));
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    expect((await sm().send(new GetSecretValueCommand({ SecretId: 'rotating' }))).SecretString).toBe('v2');
    const previous = await sm().send(
      new GetSecretValueCommand({ SecretId: 'rotating', VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous.SecretString).toBe('v1');
    const described = await sm().send(new DescribeSecretCommand({ SecretId: 'rotating' }));
    expect(
      Object.values(described.VersionIdsToStages ?? {})
        .flat()
        .sort(),
    ).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
    expect(described.CreatedDate).toBeInstanceOf(Date);
  });

  it('is idempotent on ClientRequestToken and refuses a changed value for the same token', async () => {
    const token = 'a'.repeat(32);
    await sm().send(new CreateSecretCommand({ Name: 'idem', SecretString: 'x' }));
    const a = await sm().send(
      new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'y', ClientRequestToken: token }),
    );
    const b = await sm().send(
      new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'y', ClientRequestToken: token }),
    );
    expect(b.VersionId).toBe(a.VersionId);
    await expect(
      sm().send(
        new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'z', ClientRequestToken: token }),
      ),
    ).rejects.toBeInstanceOf(ResourceExistsException);
  });

  it('answers the documented errors, typed', async () => {
    await expect(sm().send(new GetSecretValueCommand({ SecretId: 'missing' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await sm().send(new CreateSecretCommand({ Name: 'dup', SecretString: 'x' }));
    await expect(
      sm().send(new CreateSecretCommand({ Name: 'dup', SecretString: 'x' })),
    ).rejects.toBeInstanceOf(ResourceExistsException);
    await expect(
      sm().send(
        new CreateSecretCommand({ Name: 'both', SecretString: 'x', SecretBinary: new Uint8Array([1]) }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(sm().send(new CreateSecretCommand({ Name: 'bad name!' }))).rejects.toBeInstanceOf(
      InvalidParameterException,
    );
  });

  it('generates passwords (GetRandomPassword, GenerateSecretString)', async () => {
    const out = await sm().send(
      new GetRandomPasswordCommand({ PasswordLength: 40, ExcludePunctuation: true }),
    );
    expect(out.RandomPassword).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(out.RandomPassword).toMatch(/[a-z]/);
    expect(out.RandomPassword).toMatch(/[A-Z]/);
    expect(out.RandomPassword).toMatch(/[0-9]/);
    const generated = JSON.parse(
      generateSecretString({
        SecretStringTemplate: '{"user":"app"}',
        GenerateStringKey: 'password',
        PasswordLength: 16,
      }),
    ) as Record<string, string>;
    expect(generated.user).toBe('app');
    expect(generated.password).toHaveLength(16);
  });
});
