import 'aws-sdk-client-mock-vitest/extend';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AccountsConfig,
  accountsConfigFromEnv,
  clientIn,
  forPlace,
  isMemberPlace,
  memberRoleArn,
} from '../../../tasks/shared/accounts';
import { cached, resetClients } from '../../../tasks/shared/clients';
import { TransientServiceError } from '../../../tasks/shared/errors';
import { awsError } from './fixtures/core-tasks';

const sts = mockClient(STSClient);
const CENTRAL = '111111111111';
const MEMBER = '222222222222';
const ORG: AccountsConfig = {
  centralAccountId: CENTRAL,
  centralRegion: 'us-east-1',
  memberRoleName: 'DriftRemediationMember',
  partition: 'aws',
};
const makeSsm = (c: ConstructorParameters<typeof SSMClient>[0]) => new SSMClient(c ?? {});
const EXPIRES = new Date(Date.now() + 3600_000);

beforeEach(() => {
  sts.reset();
  resetClients();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: 'ASIAMEMBER', SecretAccessKey: 's', SessionToken: 't', Expiration: EXPIRES },
  });
});
afterEach(() => resetClients());

describe('per account-region clients', () => {
  it('use the plain client in the central account and region, a regional one elsewhere in it', async () => {
    const here = clientIn(ORG, 'ssm', { awsAccountId: CENTRAL, awsRegion: 'us-east-1' }, makeSsm);
    expect(here).toBe(cached('ssm', makeSsm));
    const west = clientIn(ORG, 'ssm', { awsAccountId: CENTRAL, awsRegion: 'us-west-2' }, makeSsm);
    expect(west).not.toBe(here);
    expect(await west.config.region()).toBe('us-west-2');
    expect(sts).not.toHaveReceivedCommand(AssumeRoleCommand);
  });

  it('assume the member execution role for a member account, in the resource region, once per session', async () => {
    const place = { awsAccountId: MEMBER, awsRegion: 'us-west-2' };
    const c = clientIn(ORG, 'ssm', place, makeSsm);
    expect(clientIn(ORG, 'ssm', place, makeSsm)).toBe(c);
    expect(await c.config.region()).toBe('us-west-2');
    const creds = await c.config.credentials();
    expect(creds.accessKeyId).toBe('ASIAMEMBER');
    await c.config.credentials();
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: `arn:aws:iam::${MEMBER}:role/DriftRemediationMember`,
      RoleSessionName: 'drift-remediation',
    });
  });

  it('refresh the session before it expires', async () => {
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'ASIASOON',
        SecretAccessKey: 's',
        SessionToken: 't',
        Expiration: new Date(Date.now() + 60_000),
      },
    });
    const c = clientIn(ORG, 'ssm', { awsAccountId: MEMBER, awsRegion: 'us-west-2' }, makeSsm);
    await c.config.credentials();
    const first = sts.commandCalls(AssumeRoleCommand).length;
    await c.config.credentials();
    // Within five minutes of its end a session is never reused: each use assumes the role anew.
    expect(sts.commandCalls(AssumeRoleCommand).length).toBeGreaterThan(first);
  });

  it('turn a refused AssumeRole into MemberAccessDenied, a throttled one into a retried error', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejects(awsError('AccessDenied', 'not authorized to perform sts:AssumeRole', 403));
    const c = clientIn(ORG, 'ssm', { awsAccountId: MEMBER, awsRegion: 'us-west-2' }, makeSsm);
    const err = await c.config.credentials().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'MemberAccessDenied', retryable: false });
    expect((err as Error).message).toContain(`arn:aws:iam::${MEMBER}:role/DriftRemediationMember`);
    expect((err as Error).message).toContain('AccessDenied');
    expect((err as Error).cause).toMatchObject({ name: 'AccessDenied' });

    resetClients();
    sts.on(AssumeRoleCommand).rejects(awsError('Throttling', 'Rate exceeded', 400));
    const d = clientIn(ORG, 'ssm', { awsAccountId: MEMBER, awsRegion: 'us-west-2' }, makeSsm);
    await expect(d.config.credentials()).rejects.toBeInstanceOf(TransientServiceError);
  });

  it('never assume anything without an organization (single account)', async () => {
    const single = { ...ORG, memberRoleName: undefined };
    const place = { awsAccountId: MEMBER, awsRegion: 'us-east-1' };
    expect(isMemberPlace(single, place)).toBe(false);
    expect(clientIn(single, 'ssm', place, makeSsm)).toBe(cached('ssm', makeSsm));
    expect(sts).not.toHaveReceivedCommand(AssumeRoleCommand);
  });

  it('read their configuration from the environment', () => {
    const cfg = accountsConfigFromEnv({
      AWS_REGION: 'cn-north-1',
      CENTRAL_ACCOUNT_ID: CENTRAL,
      MEMBER_ROLE_NAME: 'Member',
    });
    expect(cfg).toEqual({
      centralAccountId: CENTRAL,
      centralRegion: 'cn-north-1',
      memberRoleName: 'Member',
      partition: 'aws-cn',
    });
    expect(memberRoleArn(cfg, MEMBER)).toBe(`arn:aws-cn:iam::${MEMBER}:role/Member`);
    expect(accountsConfigFromEnv({ AWS_REGION: 'us-east-1', MEMBER_ROLE_NAME: '' }).memberRoleName).toBe(
      undefined,
    );
  });

  it('forPlace gives one client for every place, or the function’s for that place', () => {
    const one = new SSMClient({});
    const place = { awsAccountId: MEMBER, awsRegion: 'us-west-2' };
    expect(forPlace(one, place)).toBe(one);
    expect(forPlace((p) => clientIn(ORG, 'ssm', p, makeSsm), place)).toBe(
      clientIn(ORG, 'ssm', place, makeSsm),
    );
  });
});
