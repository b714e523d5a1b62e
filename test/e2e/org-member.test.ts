/**
 * Organization scale end to end (#13): central 111111111111 (us-east-1) remediates a drift in member
 * 222222222222 (us-west-2). The member stack is installed in the member account-region from the same
 * synthesized app; the member's Config result reaches the central bus through its forwarding rule and the
 * bus policy; the central tasks assume the member execution role; the runbook runs in the member account
 * as the member automation role. The same stack deployed in the central account is left untouched.
 */
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORGANIZATION } from '../../sandbox/demo/organization';
import {
  automationsFor,
  awaitExecutionFor,
  demoCase,
  deployCase,
  type E2E,
  executionsFor,
  finished,
  scanAll,
  startE2E,
  waitCompliant,
} from './support/harness';

const { member } = ORGANIZATION;
const ssh = demoCase('ssh-open');

let e: E2E;
let m: E2E;
beforeAll(async () => {
  e = await startE2E({ timeScale: 0.01, organization: {} });
  m = e.in(member.accountId, member.region);
});
afterAll(async () => {
  await e?.stop();
});

const ingress = async (x: E2E, groupId: string) =>
  (await x.c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))).SecurityGroups?.[0]
    ?.IpPermissions;

describe('a drift in a member account', () => {
  it('is remediated from the central account, in the member account-region, and VERIFIED', async () => {
    const centralGroup = await deployCase(e, ssh);
    const memberGroup = await deployCase(m, ssh);
    await waitCompliant(m, ssh, memberGroup);
    const centralBefore = await ingress(e, centralGroup);

    await ssh.inject(m.c, memberGroup);
    const x = await awaitExecutionFor(e, memberGroup);
    expect(x.name).toContain(member.accountId);
    const r = await finished(e, x.arn);
    expect(r.outcome).toBe('VERIFIED');
    expect(await ssh.stillWrong(m.c, memberGroup)).toBeNull();

    // The automation ran in the member account, as the member stack's automation role.
    const [automation, ...more] = await automationsFor(m, memberGroup);
    expect(more).toEqual([]);
    expect(automation?.ExecutedBy).toContain(`::${member.accountId}:`);
    expect(automation?.Parameters?.AutomationAssumeRole?.[0]).toBe(
      `arn:aws:iam::${member.accountId}:role/drift-remediation/DriftRemediationMember-Automation`,
    );

    // The central account's copy of the stack: not drifted, not touched, no execution.
    expect(await ingress(e, centralGroup)).toEqual(centralBefore);
    expect(await executionsFor(e, centralGroup)).toEqual([]);

    // The outcome record names the account and region (VERIFIED is quiet: no notice).
    const items = (await scanAll(e, e.env('OUTCOMES_TABLE'))).filter((i) => i.executionName === x.name);
    expect(items.map((i) => [i.outcome, i.accountId, i.region])).toEqual([
      ['VERIFIED', member.accountId, member.region],
    ]);
  });
});
