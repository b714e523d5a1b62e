/**
 * The CloudTrail fast path end to end: the sandbox records the caller's API call as CloudTrail does and
 * delivers the "AWS API Call via CloudTrail" event after 5 emulated seconds; the fast-path function checks
 * the suspected drift and sends it to intake, which starts the normal workflow. Intended changes — a trusted
 * deployer's role session, CloudFormation updating a stack of any type — are the sandbox's own records too. Config evaluates a change 3
 * emulated minutes after it, so the fast path's remediation must be done first. Also: a failed call and a group
 * outside the rules' scope are SKIPPED with their reason, and the loop breaker counts fast-path remediations.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeStacksCommand, UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { credentialsFor } from '../../sandbox/core/authz';
import { configureCloudTrail } from '../../sandbox/core/cloudtrail';
import { CASES } from '../../sandbox/demo/cases';
import {
  compliance,
  DEMO_TEMPLATES,
  deployCase,
  type E2E,
  executionsFor,
  finished,
  startE2E,
  subscribeToEvents,
  until,
} from './support/harness';

function demoCase(id: string) {
  const c = CASES.find((x) => x.id === id);
  if (!c) throw new Error(`demo case ${id} is missing`);
  return c;
}
const SSH = demoCase('ssh-open');
/** Config evaluates a change this long after it (AWS: typically minutes). */
const CONFIG_DELAY_SECONDS = 300;
const DEPLOYER_ROLE = 'deploy-pipeline';
const dir = mkdtempSync(join(tmpdir(), 'fast-path-e2e-'));
let e: E2E;

/** The shipped policy plus a trusted deployer, with a loop breaker that allows one remediation per resource a day. */
function policyFile(): string {
  const doc = parse(readFileSync('runbooks/policy.yaml', 'utf8')) as {
    defaults: Record<string, unknown>;
    fastPath?: unknown;
  };
  doc.fastPath = { trustedDeployers: [`arn:aws:iam::*:role/${DEPLOYER_ROLE}`] };
  doc.defaults.loopBreaker = { windowSeconds: 86400, maxRemediations: 1 };
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

async function sshOpen(groupId: string): Promise<boolean> {
  const g = await e.c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
  return (g.SecurityGroups?.[0]?.IpPermissions ?? []).some(
    (p) => p.FromPort === 22 && (p.IpRanges ?? []).some((r) => r.CidrIp === '0.0.0.0/0'),
  );
}

const OPEN_SSH = [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];

/** The SKIPPED outcomes recorded so far whose reason matches. */
async function skipped(reason: RegExp): Promise<Array<Record<string, unknown>>> {
  const items = (await e.c.ddb.send(new ScanCommand({ TableName: e.env('OUTCOMES_TABLE') }))).Items ?? [];
  return items.filter((i) => i.outcome === 'SKIPPED' && reason.test(String(i.reason ?? '')));
}

/** A deployer's role allowed to change security groups, and EC2 clients signed as a session of it. */
async function deployerEc2(session: string): Promise<EC2Client> {
  const trust = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: e.sb.accountId }, Action: 'sts:AssumeRole' }],
  };
  const role = await e.c.iam.send(
    new CreateRoleCommand({ RoleName: DEPLOYER_ROLE, AssumeRolePolicyDocument: JSON.stringify(trust) }),
  );
  await e.c.iam.send(
    new PutRolePolicyCommand({
      RoleName: DEPLOYER_ROLE,
      PolicyName: 'security-groups',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'ec2:AuthorizeSecurityGroupIngress', Resource: '*' }],
      }),
    }),
  );
  const credentials = credentialsFor(e.sb.context, String(role.Role?.Arn), session);
  return new EC2Client({ endpoint: e.sb.endpoint, region: e.sb.region, credentials });
}

/**
 * Captures the CloudTrail records of AuthorizeSecurityGroupIngress on these groups (an EventBridge rule of
 * our own); the returned function waits for the call opening SSH on each and gives its detail by group id.
 */
async function captureCalls(
  groupIds: string[],
): Promise<() => Promise<Map<string, Record<string, unknown>>>> {
  const url = await subscribeToEvents(e, 'fast-path-ssh-calls', {
    source: ['aws.ec2'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: { eventName: ['AuthorizeSecurityGroupIngress'], requestParameters: { groupId: groupIds } },
  });
  const found = new Map<string, Record<string, unknown>>();
  return () =>
    until('the SSH calls recorded by CloudTrail', 30_000, async () => {
      const out = await e.c.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
      for (const m of out.Messages ?? []) {
        const detail = (JSON.parse(String(m.Body)) as { detail: Record<string, unknown> }).detail;
        const request = detail.requestParameters as {
          groupId: string;
          ipPermissions?: Array<{ fromPort?: number }>;
        };
        if ((request.ipPermissions ?? []).some((p) => p.fromPort === 22)) found.set(request.groupId, detail);
      }
      return found.size === groupIds.length ? found : undefined;
    });
}

/** The stack's template with SSH opened to the world next to its HTTPS rule. */
function withOpenSsh(template: string): string {
  const ssh = ['- IpProtocol: tcp', '  FromPort: 22', '  ToPort: 22', '  CidrIp: 0.0.0.0/0']
    .map((l) => `        ${l}`)
    .join('\n');
  return template.replace(/\n {6}Tags:/, `\n${ssh}\n      Tags:`);
}

beforeAll(async () => {
  e = await startE2E({
    // 0.1: the sandbox's own CPU time (real) stays small next to the emulated latencies.
    timeScale: 0.1,
    policyFile: policyFile(),
    serviceOptions: { config: { evaluationDelaySeconds: CONFIG_DELAY_SECONDS } },
  });
  configureCloudTrail(e.sb.context, { enabled: true, deliverySeconds: 5 });
}, 120_000);

afterAll(async () => {
  await e?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('CloudTrail fast path', () => {
  it('revokes SSH opened to the world before Config would evaluate it; the later Config event starts nothing', async () => {
    const id = await deployCase(e, SSH);
    const t0 = e.sb.clock.now().getTime();
    await SSH.inject(e.c, id);
    await until('SSH revoked', 60_000, async () => ((await sshOpen(id)) ? undefined : true), 100);
    const exposure = (e.sb.clock.now().getTime() - t0) / 1000;
    expect(exposure).toBeLessThan(CONFIG_DELAY_SECONDS);
    // Config has not recorded anything for the change yet: the fast path acted alone.
    expect((await compliance(e, 'restricted-ssh', SSH.resourceType, id))?.ComplianceType).not.toBe(
      'NON_COMPLIANT',
    );
    const [run, ...more] = await executionsFor(e, id, SSH.resourceType);
    expect(more).toEqual([]);
    const done = await finished(e, run?.arn ?? '', 60_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(await SSH.stillWrong(e.c, id)).toBeNull();

    // The Config result for the configuration recorded at the change (what AWS Config sends minutes later).
    await e.sb.context.putEvent({
      source: 'aws.config',
      'detail-type': 'Config Rules Compliance Change',
      resources: [],
      detail: {
        configRuleName: 'restricted-ssh',
        resourceType: SSH.resourceType,
        resourceId: id,
        awsAccountId: e.sb.accountId,
        awsRegion: e.sb.region,
        messageType: 'ComplianceChangeNotification',
        newEvaluationResult: {
          complianceType: 'NON_COMPLIANT',
          evaluationResultIdentifier: { orderingTimestamp: new Date(t0 + 1000).toISOString() },
        },
      },
    });
    // Recognised as the drift already handled: the same drift (fast-path execution succeeded before Config
    // recorded it), or older than the COMPLIANT result verification already brought in.
    const recognised = await until('the Config event recorded as SKIPPED', 30_000, async () => {
      const rows = (await skipped(/same drift as the CloudTrail fast path|out of order/)).filter((r) =>
        String(r.resourceKey).endsWith(`/${id}`),
      );
      return rows.length > 0 ? rows : undefined;
    });
    expect(String(recognised[0]?.ruleName ?? recognised[0]?.reason)).toMatch(
      /restricted-ssh|same drift|newer/,
    );
    expect(await executionsFor(e, id, SSH.resourceType)).toHaveLength(1);
  }, 180_000);

  it('a failed call starts nothing and is recorded as SKIPPED', async () => {
    const missing = 'sg-0f00f00f00f00f00f';
    await expect(
      e.c.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: missing, IpPermissions: OPEN_SSH })),
    ).rejects.toThrow();
    await until('the failed call recorded', 30_000, async () =>
      (await skipped(/failed call ec2.amazonaws.com AuthorizeSecurityGroupIngress/)).length > 0
        ? true
        : undefined,
    );
    expect(await executionsFor(e, missing)).toEqual([]);
  }, 60_000);

  it("SSH opened on a group outside the rules' tag scope starts nothing: SKIPPED with the reason", async () => {
    const id = await deployCase(e, SSH, { stackName: 'fast-path-out-of-scope', inScope: false });
    await SSH.inject(e.c, id);
    const rows = await until('the out-of-scope call recorded', 30_000, async () => {
      const found = (await skipped(/^not drifted: ec2.amazonaws.com AuthorizeSecurityGroupIngress/)).filter(
        (r) => String(r.resourceKey).endsWith(`/${id}`),
      );
      return found.length > 0 ? found : undefined;
    });
    expect(String(rows[0]?.reason)).toMatch(/restricted-ssh: outside its scope/);
    expect(await executionsFor(e, id, SSH.resourceType)).toEqual([]);
    expect(await sshOpen(id)).toBe(true);
  }, 60_000);

  it('a change by a trusted deployer or by CloudFormation starts nothing', async () => {
    // The deployer's role session opens SSH on one stack's group; CloudFormation opens it on another's
    // (a stack update with the caller's credentials). The sandbox's CloudTrail records both as AWS does.
    const id = await deployCase(e, SSH, { stackName: 'fast-path-trusted' });
    const byStack = await deployCase(e, SSH, { stackName: 'fast-path-cfn' });
    const sshCalls = await captureCalls([id, byStack]);
    const deployer = await deployerEc2('build-42');
    await deployer.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: OPEN_SSH }));
    const template = readFileSync(join(DEMO_TEMPLATES, SSH.template), 'utf8');
    await e.c.cloudFormation.send(
      new UpdateStackCommand({ StackName: 'fast-path-cfn', TemplateBody: withOpenSsh(template) }),
    );
    const calls = await sshCalls();
    const account = e.sb.accountId;
    expect(calls.get(id)).toMatchObject({
      userIdentity: {
        type: 'AssumedRole',
        arn: `arn:aws:sts::${account}:assumed-role/${DEPLOYER_ROLE}/build-42`,
        sessionContext: { sessionIssuer: { arn: `arn:aws:iam::${account}:role/${DEPLOYER_ROLE}` } },
      },
    });
    expect(calls.get(byStack)).toMatchObject({
      userIdentity: { invokedBy: 'cloudformation.amazonaws.com' },
      sourceIPAddress: 'cloudformation.amazonaws.com',
    });
    await until('both calls recorded as intended', 30_000, async () => {
      const trusted = await skipped(/made by a trusted deployer/);
      const cfn = await skipped(/made by CloudFormation on behalf of a stack/);
      return trusted.length > 0 && cfn.length > 0 ? true : undefined;
    });
    expect(await executionsFor(e, id, SSH.resourceType)).toEqual([]);
    expect(await executionsFor(e, byStack, SSH.resourceType)).toEqual([]);
    expect(await sshOpen(id)).toBe(true);
    expect(await sshOpen(byStack)).toBe(true);
  }, 90_000);

  it('CloudFormation changing a bucket, a role or a function starts nothing either', async () => {
    // Stack updates whose calls the fast path watches (PutBucketVersioning, AttachRolePolicy,
    // UpdateFunctionConfiguration): each is CloudFormation's on behalf of the stack, so each is SKIPPED.
    const updates = [
      {
        id: 'bucket-encryption',
        from: 'Status: Enabled',
        to: 'Status: Suspended',
        call: 's3.amazonaws.com PutBucketVersioning',
      },
      {
        id: 'admin-role',
        from: 'AmazonDynamoDBReadOnlyAccess',
        to: 'AdministratorAccess',
        call: 'iam.amazonaws.com AttachRolePolicy',
      },
      {
        id: 'lambda-memory',
        from: 'MemorySize: 128',
        to: 'MemorySize: 1024',
        call: 'lambda.amazonaws.com UpdateFunctionConfiguration20150331v2',
      },
    ];
    const ids = new Map<string, string>();
    for (const u of updates) {
      const dc = demoCase(u.id);
      ids.set(u.id, await deployCase(e, dc));
      const template = readFileSync(join(DEMO_TEMPLATES, dc.template), 'utf8');
      expect(template).toContain(u.from);
      await e.c.cloudFormation.send(
        new UpdateStackCommand({
          StackName: dc.stackName,
          TemplateBody: template.replace(u.from, u.to),
          Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
        }),
      );
      await until(`${dc.stackName} UPDATE_COMPLETE`, 20_000, async () => {
        const st = await e.c.cloudFormation.send(new DescribeStacksCommand({ StackName: dc.stackName }));
        return st.Stacks?.[0]?.StackStatus === 'UPDATE_COMPLETE' ? true : undefined;
      });
    }
    for (const u of updates) {
      const why = new RegExp(`intended change: ${u.call} made by CloudFormation on behalf of a stack`);
      await until(`${u.call} recorded as intended`, 30_000, async () =>
        (await skipped(why)).length > 0 ? true : undefined,
      );
      expect(await executionsFor(e, ids.get(u.id) ?? '', demoCase(u.id).resourceType)).toEqual([]);
    }
  }, 120_000);

  it('the loop breaker counts fast-path remediations: the same drift again is escalated, not remediated', async () => {
    const id = await deployCase(e, SSH, { stackName: 'fast-path-loop' });
    await SSH.inject(e.c, id);
    await until('SSH revoked', 60_000, async () => ((await sshOpen(id)) ? undefined : true), 100);
    const [first] = await executionsFor(e, id, SSH.resourceType);
    expect((await finished(e, first?.arn ?? '', 60_000)).outcome).toBe('VERIFIED');
    // Someone opens it again: the fast path starts a second execution, which the loop breaker stops.
    await SSH.inject(e.c, id);
    const second = await until('a second execution', 60_000, async () => {
      const runs = await executionsFor(e, id, SSH.resourceType);
      return runs.find((x) => x.arn !== first?.arn);
    });
    const done = await finished(e, second.arn, 60_000);
    // An escalation ends the execution FAILED with the reason (a human is told), after recording ESCALATED.
    expect(done.describe).toMatchObject({
      error: 'RemediationNotSucceeded',
      cause: expect.stringMatching(/^loop breaker: 1 remediations of this resource/),
    });
    const items = (await e.c.ddb.send(new ScanCommand({ TableName: e.env('OUTCOMES_TABLE') }))).Items ?? [];
    const escalated = items.filter(
      (i) => String(i.resourceKey).endsWith(`/${id}`) && i.outcome === 'ESCALATED',
    );
    expect(escalated.map((i) => String(i.reason))).toEqual([expect.stringMatching(/^loop breaker/)]);
    expect(await sshOpen(id)).toBe(true);
  }, 150_000);
});
