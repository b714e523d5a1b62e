/**
 * Config's configuration recorder, through real SDK v3 clients: an account without a recorder has rules that
 * evaluate nothing; the recorder's API refuses what Config refuses (no role, a role that does not trust Config,
 * a bad recording group, a second recorder, starting without a delivery channel, a delivery channel to a
 * missing bucket or before the recorder, deleting the channel of a running recorder); a started recorder records
 * as its role, so a role refused a read leaves the resource unrecorded (status Failure with the denial, the
 * sandbox log naming the action) and unevaluated; a stopped recorder records nothing new, so a change evaluates
 * nothing and rules keep their results, and starting it records every resource, which change-triggered rules
 * evaluate. A sandbox left to its default has the recorder a Config-enabled account has (service-linked role).
 */
import {
  ConfigServiceClient,
  DeleteDeliveryChannelCommand,
  DescribeConfigurationRecorderStatusCommand,
  DescribeConfigurationRecordersCommand,
  GetComplianceDetailsByConfigRuleCommand,
  ListDiscoveredResourcesCommand,
  PutConfigRuleCommand,
  PutConfigurationRecorderCommand,
  PutDeliveryChannelCommand,
  StartConfigRulesEvaluationCommand,
  StartConfigurationRecorderCommand,
  StopConfigurationRecorderCommand,
} from '@aws-sdk/client-config-service';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../sandbox/services';
import { role } from './core/iam-support';
import { type SandboxHandle, withSandbox } from './helpers';

const logs: string[] = [];
const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: allServices({
    config: { defaultRecorder: false, evaluationDelaySeconds: 1, startEvaluationIntervalSeconds: 0 },
  }),
  onLog: (line: string) => logs.push(line),
}));
const byDefault = withSandbox(() => ({ timeScale: 0.01, services: allServices() }));

const CONFIG_ROLE_POLICY = 'arn:aws:iam::aws:policy/service-role/AWS_ConfigRole';

async function errorOf(p: Promise<unknown>): Promise<Error & { name: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { name: string };
  }
  throw new Error('expected the call to fail');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Emulated seconds pass (evaluations scheduled by a change have run). */
const settle = (h: SandboxHandle, seconds = 20) => h.sandbox.context.clock.sleep(seconds);

/** A role Config may assume, with AWS_ConfigRole attached and `deny` denied. */
async function recorderRoleArn(name: string, deny: string[] = []): Promise<string> {
  const statements = deny.length > 0 ? [{ Effect: 'Deny', Action: deny, Resource: '*' }] : [];
  const arn = await role(sb, name, statements, 'config.amazonaws.com');
  await new IAMClient(sb.clientConfig).send(
    new AttachRolePolicyCommand({ RoleName: name, PolicyArn: CONFIG_ROLE_POLICY }),
  );
  return arn;
}

async function openGroup(name: string): Promise<string> {
  const ec2 = new EC2Client(sb.clientConfig);
  const { GroupId = '' } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: name, Description: name }),
  );
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId,
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    }),
  );
  return GroupId;
}

async function results(config: ConfigServiceClient, rule: string) {
  const out = await config.send(new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: rule }));
  return (out.EvaluationResults ?? []).map((r) => ({
    id: r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId,
    compliance: r.ComplianceType,
    recordedAt: r.ResultRecordedTime?.getTime(),
  }));
}

async function discoveredGroups(config: ConfigServiceClient): Promise<string[]> {
  const out = await config.send(
    new ListDiscoveredResourcesCommand({ resourceType: 'AWS::EC2::SecurityGroup' }),
  );
  return (out.resourceIdentifiers ?? []).map((r) => r.resourceId ?? '');
}

async function status(config: ConfigServiceClient) {
  return (await config.send(new DescribeConfigurationRecorderStatusCommand({})))
    .ConfigurationRecordersStatus?.[0];
}

describe('Config configuration recorder', () => {
  it('without a recorder, rules exist but evaluate nothing; the recorder API refuses what Config refuses', async () => {
    const config = new ConfigServiceClient(sb.clientConfig);
    expect((await config.send(new DescribeConfigurationRecordersCommand({}))).ConfigurationRecorders).toEqual(
      [],
    );
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: 'ssh',
          Source: { Owner: 'AWS', SourceIdentifier: 'INCOMING_SSH_DISABLED' },
        },
      }),
    );
    const before = await openGroup('before-recorder');
    await settle(sb);
    expect(await results(config, 'ssh')).toEqual([]);
    expect(await discoveredGroups(config)).toEqual([]);

    const channel = { name: 'default', s3BucketName: 'config-delivery' };
    expect(
      (await errorOf(config.send(new PutDeliveryChannelCommand({ DeliveryChannel: channel })))).name,
    ).toBe('NoAvailableConfigurationRecorderException');
    const put = (recorder: object) =>
      config.send(new PutConfigurationRecorderCommand({ ConfigurationRecorder: recorder }));
    expect((await errorOf(put({ name: 'default' }))).name).toBe('InvalidRoleException');
    const lambdaRole = await role(sb, 'not-for-config', [], 'lambda.amazonaws.com');
    expect((await errorOf(put({ name: 'default', roleARN: lambdaRole }))).name).toBe('InvalidRoleException');
    const roleARN = await recorderRoleArn('config-recorder');
    const badGroup = { allSupported: true, resourceTypes: ['AWS::S3::Bucket'] };
    expect((await errorOf(put({ name: 'default', roleARN, recordingGroup: badGroup }))).name).toBe(
      'InvalidRecordingGroupException',
    );
    expect((await config.send(new DescribeConfigurationRecordersCommand({}))).ConfigurationRecorders).toEqual(
      [],
    );

    await put({
      name: 'default',
      roleARN,
      recordingGroup: { allSupported: true, includeGlobalResourceTypes: true },
    });
    expect((await errorOf(put({ name: 'second', roleARN }))).name).toBe(
      'MaxNumberOfConfigurationRecordersExceededException',
    );
    const start = (name: string) =>
      config.send(new StartConfigurationRecorderCommand({ ConfigurationRecorderName: name }));
    expect((await errorOf(start('nope'))).name).toBe('NoSuchConfigurationRecorderException');
    expect((await errorOf(start('default'))).name).toBe('NoAvailableDeliveryChannelException');
    expect(
      (await errorOf(config.send(new PutDeliveryChannelCommand({ DeliveryChannel: channel })))).name,
    ).toBe('NoSuchBucketException');
    await new S3Client({ ...sb.clientConfig, forcePathStyle: true }).send(
      new CreateBucketCommand({ Bucket: 'config-delivery' }),
    );
    await config.send(new PutDeliveryChannelCommand({ DeliveryChannel: channel }));
    expect(await status(config)).toMatchObject({ name: 'default', recording: false });

    await start('default');
    await until('the recorder to record', async () =>
      (await status(config))?.lastStatus === 'Success' ? true : undefined,
    );
    expect(await status(config)).toMatchObject({ recording: true, lastStatus: 'Success' });
    expect(await discoveredGroups(config)).toContain(before);
    await config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: ['ssh'] }));
    await until('the recorded group evaluated', async () =>
      (await results(config, 'ssh')).find((r) => r.id === before && r.compliance === 'NON_COMPLIANT'),
    );
    const del = await errorOf(
      config.send(new DeleteDeliveryChannelCommand({ DeliveryChannelName: 'default' })),
    );
    expect(del.name).toBe('LastDeliveryChannelDeleteFailedException');
  });

  it('a stopped recorder records nothing new, so rules keep their results; started, its items are evaluated', async () => {
    const config = new ConfigServiceClient(sb.clientConfig);
    const ec2 = new EC2Client(sb.clientConfig);
    const { GroupId = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'stopped', Description: 'stopped' }),
    );
    const compliant = await until('the new group COMPLIANT', async () =>
      (await results(config, 'ssh')).find((r) => r.id === GroupId && r.compliance === 'COMPLIANT'),
    );
    await config.send(new StopConfigurationRecorderCommand({ ConfigurationRecorderName: 'default' }));
    expect(await status(config)).toMatchObject({ recording: false });
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    const later = await openGroup('while-stopped');
    await settle(sb);
    // Nothing recorded, so no configuration change to evaluate: the result is still the one from before.
    expect((await results(config, 'ssh')).find((r) => r.id === GroupId)?.recordedAt).toBe(
      compliant.recordedAt,
    );
    await config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: ['ssh'] }));
    await settle(sb);
    const now = await results(config, 'ssh');
    expect(now.find((r) => r.id === GroupId)?.compliance).toBe('COMPLIANT');
    expect(now.find((r) => r.id === later)).toBeUndefined();
    expect(await discoveredGroups(config)).not.toContain(later);

    // Starting records every resource: configuration changes the rule evaluates, nothing else asked.
    await config.send(new StartConfigurationRecorderCommand({ ConfigurationRecorderName: 'default' }));
    await until('both groups NON_COMPLIANT', async () => {
      const r = await results(config, 'ssh');
      return [GroupId, later].every((id) => r.some((x) => x.id === id && x.compliance === 'NON_COMPLIANT'))
        ? true
        : undefined;
    });
  });

  it("a role refused a read leaves the resource unrecorded and unevaluated, the denial in the recorder's status", async () => {
    const config = new ConfigServiceClient(sb.clientConfig);
    const roleARN = await recorderRoleArn('config-no-sg-reads', ['ec2:DescribeSecurityGroups']);
    await config.send(
      new PutConfigurationRecorderCommand({
        ConfigurationRecorder: { name: 'default', roleARN, recordingGroup: { allSupported: true } },
      }),
    );
    const denied = await openGroup('unreadable');
    const failed = await until('the recorder to fail', async () => {
      const s = await status(config);
      return s?.lastStatus === 'Failure' ? s : undefined;
    });
    expect(failed.lastErrorCode).toBe('UnauthorizedOperation');
    expect(failed.lastErrorMessage).toContain('ec2:DescribeSecurityGroups');
    await until('the log line naming the refused read', async () =>
      logs.find((l) => l.includes(denied) && l.includes('ec2:DescribeSecurityGroups')),
    );
    await settle(sb);
    expect(await discoveredGroups(config)).not.toContain(denied);
    expect((await results(config, 'ssh')).find((r) => r.id === denied)).toBeUndefined();
  });

  it('records only the types its recording group covers, IAM ones only with global resource types', async () => {
    const config = new ConfigServiceClient(sb.clientConfig);
    const put = (recordingGroup: object) =>
      config.send(
        new PutConfigurationRecorderCommand({
          ConfigurationRecorder: { name: 'default', roleARN, recordingGroup },
        }),
      );
    const roleARN = await recorderRoleArn('config-some-types');
    await put({ allSupported: false, resourceTypes: ['AWS::S3::Bucket'] });
    const unrecorded = await openGroup('type-not-recorded');
    await settle(sb);
    expect(await discoveredGroups(config)).not.toContain(unrecorded);
    expect((await results(config, 'ssh')).find((r) => r.id === unrecorded)).toBeUndefined();

    const roles = async () =>
      (
        await config.send(new ListDiscoveredResourcesCommand({ resourceType: 'AWS::IAM::Role' }))
      ).resourceIdentifiers?.map((r) => r.resourceName);
    await put({ allSupported: true });
    await role(sb, 'a-global-resource');
    await settle(sb);
    expect(await roles()).not.toContain('a-global-resource');
    await put({ allSupported: true, includeGlobalResourceTypes: true });
    await until('the role recorded', async () =>
      (await roles())?.includes('a-global-resource') ? true : undefined,
    );
  });

  it("a sandbox left to its default has a Config-enabled account's recorder, as the service-linked role", async () => {
    const config = new ConfigServiceClient(byDefault.clientConfig);
    const recorders = (await config.send(new DescribeConfigurationRecordersCommand({})))
      .ConfigurationRecorders;
    expect(recorders).toEqual([
      expect.objectContaining({
        name: 'default',
        roleARN: `arn:aws:iam::${byDefault.sandbox.context.accountId}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig`,
        recordingGroup: expect.objectContaining({ allSupported: true, includeGlobalResourceTypes: true }),
      }),
    ]);
    expect(
      (await config.send(new DescribeConfigurationRecorderStatusCommand({})))
        .ConfigurationRecordersStatus?.[0],
    ).toMatchObject({ recording: true });
    const iam = new IAMClient(byDefault.clientConfig);
    const slr = await iam.send(new GetRoleCommand({ RoleName: 'AWSServiceRoleForConfig' }));
    expect(slr.Role?.Path).toBe('/aws-service-role/config.amazonaws.com/');
    const attached = await iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: 'AWSServiceRoleForConfig' }),
    );
    expect(attached.AttachedPolicies?.map((p) => p.PolicyName)).toEqual(['AWSConfigServiceRolePolicy']);
  });
});
