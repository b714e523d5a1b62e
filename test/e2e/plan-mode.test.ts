/**
 * Plan mode end to end: the shipped policy with its `sg-ingress` entry set to `mode: plan`. SSH opened to
 * the world → restricted-ssh → drift detected and described → Outcome: PLANNED, with the runbook, its
 * resolved parameters and the diff on the audit item; no automation ran and the port is still open.
 */
import { spawnSync } from 'node:child_process';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateTagsCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureCloudTrail } from '../../sandbox/core/cloudtrail';
import { type PlannedResource, plan } from '../../sandbox/plan';
import {
  automationsFor,
  awaitExecutionFor,
  demoCase,
  deployCase,
  type E2E,
  entryOf,
  finished,
  scanAll,
  shippedPolicyWith,
  startE2E,
  subscribeToEvents,
  until,
  waitCompliant,
} from './support/harness';

const SG = 'AWS::EC2::SecurityGroup';
const RUNBOOK = 'DriftRemediation-RevertSecurityGroupIngress';
let policyFile = '';
let groupId = '';
const stackName = 'drift-e2e-plan-mode';

let e: E2E;
beforeAll(async () => {
  policyFile = shippedPolicyWith((doc) => {
    entryOf(doc, 'sg-ingress').mode = 'plan';
  });
  e = await startE2E({ timeScale: 0.01, policyFile });
});
afterAll(async () => {
  await e?.stop();
});

describe('a policy entry in plan mode', () => {
  it('SSH from the world → PLANNED with runbook, parameters and diff recorded; nothing changed', async () => {
    const dc = demoCase('ssh-open');
    const id = await deployCase(e, dc, { stackName });
    groupId = id;
    await waitCompliant(e, dc, id, 20_000, stackName);
    const world22 = {
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    };
    await e.c.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [world22] }));

    const execution = await awaitExecutionFor(e, id, { resourceType: SG });
    const result = await finished(e, execution.arn);
    expect({ status: result.status, outcome: result.outcome }).toEqual({
      status: 'SUCCEEDED',
      outcome: 'PLANNED',
    });
    expect(result.output.plan).toMatchObject({ decision: 'remediate', mode: 'plan' });
    expect(result.output).not.toHaveProperty('slot');
    expect(result.output).not.toHaveProperty('runbook');

    const items = (await scanAll(e, e.env('OUTCOMES_TABLE'))).filter((i) => i.executionArn === execution.arn);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      outcome: 'PLANNED',
      remediated: false,
      runbook: RUNBOOK,
      policyEntryId: 'sg-ingress',
      planned: {
        documentName: RUNBOOK,
        parameters: {
          GroupId: [id],
          StackName: [stackName],
          RevokeIngress: [
            JSON.stringify({
              IpProtocol: 'tcp',
              FromPort: 22,
              ToPort: 22,
              IpRanges: [{ CidrIp: '0.0.0.0/0' }],
            }),
          ],
          AuthorizeIngress: [],
        },
        diff: {
          driftStatus: 'MODIFIED',
          added: { SecurityGroupIngress: [expect.objectContaining({ FromPort: 22, CidrIp: '0.0.0.0/0' })] },
        },
      },
    });

    // Nothing ran and the drift is still there.
    expect(await automationsFor(e, id)).toEqual([]);
    const group = (await e.c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })))
      .SecurityGroups?.[0];
    expect(
      group?.IpPermissions?.some((p) => p.FromPort === 22 && p.IpRanges?.[0]?.CidrIp === '0.0.0.0/0'),
    ).toBe(true);
  }, 120_000);
});

/** The CLI's key (sandbox/remediate.ts SANDBOX_CREDENTIALS): CloudTrail names it in userIdentity. */
const CLI_KEY = 'test';

describe('drift-remediation plan', () => {
  it('lists the drifted resource with its entry, runbook + parameters and diff, and makes zero mutating calls', async () => {
    expect(groupId).not.toBe('');
    // CloudTrail for every service, delivered at once: each mutating call becomes an event on the bus.
    configureCloudTrail(e.sb.context, {
      enabled: true,
      services: [...e.sb.services.keys()],
      deliverySeconds: 0,
    });
    const queueUrl = await subscribeToEvents(e, 'e2e-plan-cli-trail', {
      'detail-type': ['AWS API Call via CloudTrail'],
    });

    const lines: string[] = [];
    await plan(
      {
        json: true,
        rule: 'restricted-ssh',
        policy: policyFile,
        endpoint: e.sb.endpoint,
        region: e.sb.region,
      },
      (l) => lines.push(l),
    );
    const listed = JSON.parse(lines.join('\n')) as PlannedResource[];
    const mine = listed.find((p) => p.resourceId === groupId);
    expect(mine).toMatchObject({
      rule: 'restricted-ssh',
      resourceType: SG,
      account: e.sb.accountId,
      policyEntryId: 'sg-ingress',
      mode: 'plan',
      stack: { name: stackName },
      planned: {
        documentName: RUNBOOK,
        parameters: { GroupId: [groupId], StackName: [stackName] },
        diff: {
          driftStatus: 'MODIFIED',
          added: { SecurityGroupIngress: [expect.objectContaining({ FromPort: 22 })] },
        },
      },
    });

    // Control: one mutating call with the CLI's key is seen; it must be the only CLI-key call on the trail.
    const ec2 = new EC2Client({
      endpoint: e.sb.endpoint,
      region: e.sb.region,
      credentials: { accessKeyId: CLI_KEY, secretAccessKey: 'test' },
    });
    await ec2.send(
      new CreateTagsCommand({ Resources: [groupId], Tags: [{ Key: 'plan-cli-control', Value: '1' }] }),
    );
    ec2.destroy();
    // Calls by the CLI's key on the trail (delivery order is not guaranteed: keep reading after the control).
    // A message not deleted comes back after its visibility timeout (emulated time, fast here): count each
    // trail record once, by its eventID.
    const byCli: string[] = [];
    const seen = new Set<string>();
    let roundsAfterControl = 0;
    await until('the control call on the trail, then one more read', 15_000, async () => {
      const r = await e.c.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of r.Messages ?? []) {
        const detail = (
          JSON.parse(m.Body ?? '{}') as {
            detail?: { eventID?: string; eventName?: string; userIdentity?: { accessKeyId?: string } };
          }
        ).detail;
        const id = detail?.eventID ?? m.MessageId ?? '';
        if (seen.has(id)) continue;
        seen.add(id);
        if (detail?.userIdentity?.accessKeyId === CLI_KEY) byCli.push(String(detail.eventName));
      }
      if (byCli.includes('CreateTags')) roundsAfterControl++;
      return roundsAfterControl > 1 ? true : undefined;
    });
    expect(byCli).toEqual(['CreateTags']);
  }, 60_000);

  it('`drift-remediation plan --help` (the real CLI) shows the options, the read-only note and examples', () => {
    const r = spawnSync(process.execPath, ['sandbox/bin/drift-remediation.mjs', 'plan', '--help'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    for (const text of ['--rule <rule>', '--account <account>', '--json', '--endpoint <url>', '--profile'])
      expect(r.stdout).toContain(text);
    expect(r.stdout).toContain('It starts no drift detection');
    expect(r.stdout).toMatch(/\nExamples:\n {2}drift-remediation plan\n/);
  });
});
