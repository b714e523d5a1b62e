/**
 * Organization scope end to end (#13), real SDK clients through the sandbox:
 * - an account of the organization that the policy does not list (333333333333, with the member stack, so
 *   its events do reach the central bus): its drift changes nothing and is recorded SKIPPED with the reason;
 *   no role is assumed, no execution or automation starts;
 * - an account outside the organization (444444444444, not in the sandbox's organization model, with the
 *   member stack all the same): its forwarding rule's delivery to the central bus is refused by the bus
 *   policy (aws:PrincipalOrgID), so its drift starts nothing and records nothing; an event naming it that
 *   reaches intake anyway (sent straight to the intake queue by a central principal) is recorded SKIPPED
 *   with the reason, nothing assumed, nothing run, the resource left drifted;
 * - a member whose execution role does not trust the central stack's roles: the case ends FAILED with
 *   MemberAccessDenied naming the role and STS's AccessDenied (FAILED, not ESCALATED: nothing was read or
 *   changed in the member, and the fix is the member stack's trust, docs/operations.md); the resource is left
 *   as it is.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ORGANIZATION } from '../../sandbox/demo/organization';
import { synthesizeRemediationTemplate } from '../../sandbox/install/synth';
import type { EventsService } from '../../sandbox/services/events';
import {
  automationsFor,
  awaitExecutionFor,
  compliance,
  complianceChangeEvent,
  demoCase,
  deployCase,
  type E2E,
  executionsFor,
  finished,
  intakeDrained,
  scanAll,
  sendToIntake,
  startE2E,
  until,
  waitCompliant,
} from './support/harness';
import { sandboxPerFile } from './support/per-file';

const { central, member } = ORGANIZATION;
/** In the organization, not in the policy. */
const NON_MEMBER = '333333333333';
/** Not in the organization at all. */
const OUTSIDER = '444444444444';
const CENTRAL_BUS = `arn:aws:events:${central.region}:${central.accountId}:event-bus/default`;
const ssh = demoCase('ssh-open');
const SSH_RULE = ssh.rule;
if (!SSH_RULE) throw new Error('the ssh-open demo case has no Config rule');
const assumeRoleCalls = (e: E2E) =>
  [...e.sb.callCounts()].filter(([k]) => k.startsWith('sts:AssumeRole')).reduce((n, [, v]) => n + v, 0);
const outcomesOf = async (e: E2E, resourceId: string) =>
  (await scanAll(e, e.env('OUTCOMES_TABLE'))).filter((i) => i.resourceId === resourceId);

const started: E2E[] = [];
afterAll(async () => {
  for (const e of started) await e.stop();
});

describe('events from accounts outside the policy’s organization', () => {
  // One sandbox: the member, an organization account the policy does not list, and an account outside the
  // organization, each with the member stack (its forwarding rules target the central bus).
  const e = sandboxPerFile({
    timeScale: 0.01,
    organization: { accounts: [NON_MEMBER] },
    members: [member, ...[NON_MEMBER, OUTSIDER].map((accountId) => ({ accountId, region: member.region }))],
  });

  it('an organization account the policy does not list: recorded SKIPPED with the reason; nothing is assumed or run', async () => {
    const o = e.in(NON_MEMBER, member.region);
    const group = await deployCase(o, ssh);
    await waitCompliant(o, ssh, group);
    const assumedBefore = assumeRoleCalls(e);

    await ssh.inject(o.c, group);
    const skipped = await until('the SKIPPED outcome', 20_000, async () =>
      (await outcomesOf(e, group)).find((i) => i.outcome === 'SKIPPED'),
    );
    expect(skipped).toMatchObject({ accountId: NON_MEMBER, region: member.region });
    expect(String(skipped.reason)).toContain(`account ${NON_MEMBER} is not a member of organization`);
    expect(await executionsFor(e, group)).toEqual([]);
    expect(await automationsFor(o, group)).toEqual([]);
    expect(assumeRoleCalls(e)).toBe(assumedBefore);
    expect(await ssh.stillWrong(o.c, group)).toBe('SSH is still open to the world');
  });

  it('an account outside the organization: the bus refuses its events; one reaching intake anyway is SKIPPED; nothing changes', async () => {
    const o = e.in(OUTSIDER, member.region);
    const events = e.sb.services.get('events') as EventsService;
    const refusedFromOutsider = () =>
      events.deliveries.filter(
        (d) => d.arn === CENTRAL_BUS && !d.ok && d.error?.includes(`account ${OUTSIDER} to put events`),
      ).length;
    const group = await deployCase(o, ssh);
    await waitCompliant(o, ssh, group);
    const assumedBefore = assumeRoleCalls(e);
    const refusedBefore = refusedFromOutsider();

    // 1. The drift in that account: Config there flags it, its forwarding rule's delivery is refused by
    //    the central bus's policy, and nothing starts or is recorded centrally.
    await ssh.inject(o.c, group);
    const rule = SSH_RULE;
    await until(`${rule} to report ${group} NON_COMPLIANT in ${OUTSIDER}`, 20_000, async () =>
      (await compliance(o, rule, ssh.resourceType, group))?.ComplianceType === 'NON_COMPLIANT'
        ? true
        : undefined,
    );
    await until('the central bus to refuse the outsider’s event', 20_000, async () =>
      refusedFromOutsider() > refusedBefore ? true : undefined,
    );
    await events.idle();
    await intakeDrained(e);
    expect(await outcomesOf(e, group)).toEqual([]);
    expect(await executionsFor(e, group)).toEqual([]);
    expect(await automationsFor(o, group)).toEqual([]);
    expect(assumeRoleCalls(e)).toBe(assumedBefore);

    // 2. An event naming that account that reaches intake anyway (a central principal with SendMessage on
    //    the intake queue forges Config's event): recorded SKIPPED with the reason, nothing assumed or run.
    const forged = complianceChangeEvent({
      rule,
      resourceType: ssh.resourceType,
      resourceId: group,
      complianceType: 'NON_COMPLIANT',
      at: new Date(e.sb.clock.now()).toISOString(),
      account: OUTSIDER,
      region: member.region,
    });
    await sendToIntake(e, JSON.stringify(forged));
    const skipped = await until('the SKIPPED outcome', 20_000, async () =>
      (await outcomesOf(e, group)).find((i) => i.outcome === 'SKIPPED'),
    );
    expect(skipped).toMatchObject({ accountId: OUTSIDER, region: member.region });
    expect(String(skipped.reason)).toContain(`account ${OUTSIDER} is not a member of organization`);
    await intakeDrained(e);
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
