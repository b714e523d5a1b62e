/**
 * Organization scope end to end (#13), real SDK clients through the sandbox:
 * - an account of the organization that the policy does not list (333333333333, with the member stack, so
 *   its events do reach the central bus): its drift changes nothing and is recorded SKIPPED with the reason;
 *   no role is assumed, no execution or automation starts;
 * - a member whose execution role does not trust the central stack's roles: the case ends FAILED with
 *   MemberAccessDenied naming the role and STS's AccessDenied (FAILED, not ESCALATED: nothing was read or
 *   changed in the member, and the fix is the member stack's trust, docs/operations.md); the resource is left
 *   as it is.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ORGANIZATION } from '../../sandbox/demo/organization';
import { synthesizeRemediationTemplate } from '../../sandbox/install/synth';
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
  until,
  waitCompliant,
} from './support/harness';

const { member } = ORGANIZATION;
const OUTSIDER = '333333333333';
const ssh = demoCase('ssh-open');
const assumeRoleCalls = (e: E2E) =>
  [...e.sb.callCounts()].filter(([k]) => k.startsWith('sts:AssumeRole')).reduce((n, [, v]) => n + v, 0);

const started: E2E[] = [];
afterAll(async () => {
  for (const e of started) await e.stop();
});

describe('an event from an account outside the policy’s organization', () => {
  it('changes nothing and is recorded SKIPPED with the reason; nothing is assumed or run', async () => {
    const e = await startE2E({
      timeScale: 0.01,
      organization: { accounts: [OUTSIDER] },
      members: [member, { accountId: OUTSIDER, region: member.region }],
    });
    started.push(e);
    const o = e.in(OUTSIDER, member.region);
    const group = await deployCase(o, ssh);
    await waitCompliant(o, ssh, group);
    const assumedBefore = assumeRoleCalls(e);

    await ssh.inject(o.c, group);
    const skipped = await until('the SKIPPED outcome', 20_000, async () =>
      (await scanAll(e, e.env('OUTCOMES_TABLE'))).find(
        (i) => i.resourceId === group && i.outcome === 'SKIPPED',
      ),
    );
    expect(skipped).toMatchObject({ accountId: OUTSIDER, region: member.region });
    expect(String(skipped.reason)).toContain(`account ${OUTSIDER} is not a member of organization`);
    expect(await executionsFor(e, group)).toEqual([]);
    expect(await automationsFor(o, group)).toEqual([]);
    expect(assumeRoleCalls(e)).toBe(assumedBefore);
    expect(await ssh.stillWrong(o.c, group)).toBe('SSH is still open to the world');
  });
});

describe('a member whose execution role does not trust the central account', () => {
  it('ends FAILED with MemberAccessDenied naming the role; the resource is left as it is', async () => {
    const { member: synthesized } = await synthesizeRemediationTemplate({
      policyFile: (await import('../../sandbox/demo/organization')).organizationPolicyFile(),
    });
    // The trust names another central stack's roles: the central tasks' sessions are not admitted.
    const untrusting = JSON.parse(
      JSON.stringify(synthesized.template).replaceAll(':role/DriftRemediation-*', ':role/SomeOtherStack-*'),
    ) as typeof synthesized.template;
    const e = await startE2E({
      timeScale: 0.01,
      organization: {},
      members: [{ ...member, template: untrusting }],
    });
    started.push(e);
    const m = e.in(member.accountId, member.region);
    const group = await deployCase(m, ssh);
    await waitCompliant(m, ssh, group);

    await ssh.inject(m.c, group);
    const x = await awaitExecutionFor(e, group);
    const r = await finished(e, x.arn);
    // A failed execution has no output: the cause names the error, the outcome item records it.
    expect(r.status).toBe('FAILED');
    expect(r.describe.cause).toMatch(/^MemberAccessDenied: cannot assume .*AccessDenied.*sts:AssumeRole/);
    const [item] = (await scanAll(e, e.env('OUTCOMES_TABLE'))).filter((i) => i.executionName === x.name);
    expect(item).toMatchObject({
      outcome: 'FAILED',
      errorName: 'MemberAccessDenied',
      accountId: member.accountId,
    });
    expect(String(item?.reason)).toContain(`arn:aws:iam::${member.accountId}:role/DriftRemediationMember`);
    expect(String(item?.reason)).toContain('AccessDenied');
    expect(await automationsFor(m, group)).toEqual([]);
    expect(await ssh.stillWrong(m.c, group)).toBe('SSH is still open to the world');
  });
});
