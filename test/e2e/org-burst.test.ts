/**
 * Per account-region caps under a burst from two accounts at once (#13), real SDK clients through the
 * sandbox: 6 security groups drift in the central account 111111111111/us-east-1 and 6 in the member
 * 222222222222/us-west-2 at the same moment, with policy `concurrency.perAccountRegion: 2` (8 per runbook,
 * 20 overall: the runbook's cap alone would let one account run 6). The runbook's revoke step is slowed
 * down so the remediations overlap. Every group ends VERIFIED, and — measured from each account-region's
 * own SSM Automation executions (start/end, emulated clock) — never more than 2 ran at once per
 * account-region, while the two account-regions did run side by side (more than 2 at once overall).
 */
import { describe, expect, it } from 'vitest';
import { ORGANIZATION } from '../../sandbox/demo/organization';
import { automations, deployFleet, injectDrift, peakConcurrent, trackExecutions } from '../bench/support';
import { type E2E, scanAll, shippedPolicyWith } from './support/harness';
import { sandboxPerFile } from './support/per-file';

const { central, member } = ORGANIZATION;
const GROUPS_PER_ACCOUNT = 6;
const PER_ACCOUNT_REGION = 2;

const e = sandboxPerFile({
  timeScale: 0.01,
  organization: {},
  policyFile: shippedPolicyWith((doc) => {
    doc.defaults.concurrency = {
      ...doc.defaults.concurrency,
      perRunbook: 8,
      global: 20,
      perAccountRegion: PER_ACCOUNT_REGION,
    };
  }),
  // The revoke step takes 200 emulated seconds (2 s here): a wave of remediations overlaps the next drifts.
  faults: { rules: { 'ec2:RevokeSecurityGroupIngress': { latencySeconds: 200 } } },
});

describe('a burst of drift in two accounts at once', () => {
  it('remediates every resource VERIFIED without exceeding the per account-region cap in either', async () => {
    const m = e.in(member.accountId, member.region);
    const places: Array<{ x: E2E; accountId: string; region: string; ids: string[] }> = [
      { x: e, ...central, ids: [] },
      { x: m, ...member, ids: [] },
    ];
    await Promise.all(
      places.map(async (p) => {
        p.ids = await deployFleet(p.x, `org-burst-${p.accountId}`, GROUPS_PER_ACCOUNT, {
          waitCompliant: true,
          timeoutMs: 30_000,
        });
      }),
    );
    const startedAt = e.sb.clock.now();

    await Promise.all(places.map((p) => injectDrift(p.x, p.ids)));
    const allIds = places.flatMap((p) => p.ids);
    const tracked = await trackExecutions(e, allIds, Date.now() + 60_000);
    expect(tracked.timedOut).toBe(false);

    // Every group was remediated (a later execution for an already fixed group could only record SKIPPED).
    const verified = new Set(
      tracked.executions.filter((x) => x.outcome === 'VERIFIED').map((x) => x.resourceId),
    );
    expect([...verified].sort()).toEqual([...allIds].sort());
    expect(tracked.executions.filter((x) => !['VERIFIED', 'SKIPPED'].includes(x.outcome ?? ''))).toEqual([]);
    // …each recorded under its own account and region.
    const outcomes = await scanAll(e, e.env('OUTCOMES_TABLE'));
    for (const p of places) {
      const recorded = outcomes.filter(
        (i) => i.outcome === 'VERIFIED' && p.ids.some((id) => String(i.resourceKey).endsWith(`/${id}`)),
      );
      expect(recorded.map((i) => [i.accountId, i.region])).toEqual(p.ids.map(() => [p.accountId, p.region]));
    }

    // The automations of each account-region (its own SSM): one per group, at most the cap at once.
    const now = e.sb.clock.now();
    const ran = await Promise.all(
      places.map(async (p) =>
        (await automations(p.x)).filter((a) => (a.ExecutionStartTime?.getTime() ?? 0) >= startedAt.getTime()),
      ),
    );
    for (const list of ran) {
      expect(list.map((a) => a.AutomationExecutionStatus)).toEqual(Array(GROUPS_PER_ACCOUNT).fill('Success'));
      expect(peakConcurrent(list, now)).toBe(PER_ACCOUNT_REGION);
    }
    // The cap is per account-region, not one shared cap: the two ran side by side. (Not always 4 at once:
    // waiters queue per runbook, so a head whose account-region is full holds the other's back for a while.)
    expect(peakConcurrent(ran.flat(), now)).toBeGreaterThan(PER_ACCOUNT_REGION);
  }, 120_000);
});
