/**
 * Approval-required remediation end to end (AdministratorAccess attached to a role the template keeps
 * read-only; policy entry iam-role-policies, approval required). The execution waits at "Request
 * approval" until a person decides on the review page; link scanners (GET/HEAD with their user agents)
 * decide nothing. Approve → the runbook runs and the outcome is VERIFIED; reject → REJECTED, nothing
 * changed, and the approver is recorded with the outcome.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalLinks, decideViaForm } from '../../sandbox/demo/approve';
import { CASES, surfaceDrift } from '../../sandbox/demo/cases';
import { SCANNER_USER_AGENTS } from '../approvals/support/fixtures';
import {
  automationsFor,
  awaitExecutionFor,
  currentState,
  deployCase,
  type E2E,
  type ExecutionInfo,
  executionsFor,
  finished,
  outbox,
  scanAll,
  sleep,
  stackDriftStatus,
  startE2E,
  until,
  waitCompliant,
} from './support/harness';

const APPROVER = 'security-oncall@example.com';
const REQUEST_APPROVAL = 'Request approval';
const REJECT_STACK = 'drift-e2e-reject';
const REJECT_ROLE = 'drift-e2e-reporting-reject';

const adminRole = CASES.find((c) => c.id === 'admin-role');
if (!adminRole) throw new Error('the admin-role demo case is missing');
const dc = adminRole;

let e: E2E;
let approveRole: string;
let rejectRole: string;

beforeAll(async () => {
  e = await startE2E({ timeScale: 0.01 });
  approveRole = await deployCase(e, dc);
  rejectRole = await deployCase(e, dc, {
    stackName: REJECT_STACK,
    edit: (t) => t.replace('RoleName: drift-demo-reporting', `RoleName: ${REJECT_ROLE}`),
  });
  await waitCompliant(e, dc, approveRole);
  await waitCompliant(e, dc, rejectRole, 20_000, REJECT_STACK);
});
afterAll(async () => {
  await e?.stop();
});

/** Injects the drift and returns the execution once it waits at Request approval, with the approver's link. */
async function driftAwaitingApproval(
  roleName: string,
  stackName = dc.stackName,
): Promise<{ run: ExecutionInfo; link: string }> {
  await dc.inject(e.c, roleName);
  await surfaceDrift(e.c, dc, stackName);
  const run = await awaitExecutionFor(e, roleName, { resourceType: dc.resourceType });
  await until(`${run.name} to reach ${REQUEST_APPROVAL}`, 20_000, async () =>
    (await currentState(e, run.arn)) === REQUEST_APPROVAL ? true : undefined,
  );
  const link = await until(`the approval message for ${roleName}`, 10_000, async () => {
    const m = (await outbox(e)).find(
      (x) => x.message.includes(roleName) && approvalLinks(x.message).length > 0,
    );
    return m ? approvalLinks(m.message)[0] : undefined;
  });
  expect(new URL(link).searchParams.get('approver')).toBe(APPROVER);
  return { run, link };
}

async function approvalItem(link: string): Promise<Record<string, unknown> | undefined> {
  const approvalId = decodeURIComponent(new URL(link).pathname.split('/').pop() ?? '');
  const r = await e.c.ddb.send(
    new GetCommand({ TableName: e.env('APPROVALS_TABLE'), Key: { approvalId }, ConsistentRead: true }),
  );
  return r.Item as Record<string, unknown> | undefined;
}

/** Outcome items recorded for the role by this execution (other events about the role may add SKIPPED items). */
async function outcomeItems(roleName: string, run: ExecutionInfo) {
  return (await scanAll(e, e.env('OUTCOMES_TABLE'))).filter(
    (i) => String(i.resourceKey).endsWith(`/AWS::IAM::Role/${roleName}`) && i.executionName === run.name,
  );
}

describe('approval-required remediation', () => {
  it('waits at Request approval; scanners change nothing; approval through the page → VERIFIED', async () => {
    const { run, link } = await driftAwaitingApproval(approveRole);

    // Time passes (~100 emulated seconds): still waiting, nothing remediated.
    await sleep(1_000);
    expect((await executionsFor(e, approveRole, dc.resourceType)).map((x) => [x.arn, x.status])).toEqual([
      [run.arn, 'RUNNING'],
    ]);
    expect(await currentState(e, run.arn)).toBe(REQUEST_APPROVAL);

    // Mail and chat scanners open the link: GET and HEAD, ten user agents each.
    expect(SCANNER_USER_AGENTS).toHaveLength(10);
    for (const ua of SCANNER_USER_AGENTS) {
      const get = await fetch(link, { headers: { 'user-agent': ua }, redirect: 'manual' });
      await get.arrayBuffer();
      const head = await fetch(link, { method: 'HEAD', headers: { 'user-agent': ua }, redirect: 'manual' });
      expect(get.status).toBe(200);
      expect(head.status).toBe(200);
    }
    await sleep(300);
    expect((await executionsFor(e, approveRole, dc.resourceType)).map((x) => [x.arn, x.status])).toEqual([
      [run.arn, 'RUNNING'],
    ]);
    expect(await currentState(e, run.arn)).toBe(REQUEST_APPROVAL);
    const pending = await approvalItem(link);
    expect(pending?.status).toBe('PENDING');
    expect(pending?.decision).toBeUndefined();
    expect(await automationsFor(e, approveRole)).toEqual([]);
    expect(await dc.stillWrong(e.c, approveRole)).toBe('AdministratorAccess is still attached');

    // The approver opens the review page and approves through its form.
    const decision = await decideViaForm(link, 'approve', 'e2e: reviewed the diff');
    expect(decision.status).toBe(200);
    const result = await finished(e, run.arn);
    expect({ status: result.status, outcome: result.outcome }).toEqual({
      status: 'SUCCEEDED',
      outcome: 'VERIFIED',
    });
    expect(await dc.stillWrong(e.c, approveRole)).toBeNull();
    expect(await stackDriftStatus(e, dc.stackName)).toBe('IN_SYNC');
    expect(await automationsFor(e, approveRole)).toHaveLength(1);
    expect((await approvalItem(link))?.status).toBe('APPROVED');
    const recorded = await outcomeItems(approveRole, run);
    expect(recorded.map((i) => i.outcome)).toEqual(['VERIFIED']);
    expect(recorded[0]?.approval).toMatchObject({ decision: 'approved', approver: APPROVER });

    // One clock (#15): at time scale 0.01 the emulated clock runs 100x ahead of the system clock, and the
    // request, the decision and the outcome are all stamped on it, in order. On the system clock the outcome
    // (recorded ~100 emulated seconds after the request) would read before the decision.
    const item = await approvalItem(link);
    const requestedAt = Date.parse(String(item?.createdAt));
    const decidedAt = Date.parse(String((item?.decision as { decidedAt?: string } | undefined)?.decidedAt));
    const recordedAt = Date.parse(String(recorded[0]?.recordedAt));
    expect(decidedAt - requestedAt).toBeGreaterThanOrEqual(100_000);
    expect(recordedAt).toBeGreaterThanOrEqual(decidedAt);
    expect(recordedAt).toBeLessThanOrEqual(e.sb.clock.now().getTime());
  }, 60_000);

  it('a rejected request ends REJECTED with the approver recorded, and nothing changes', async () => {
    const { run, link } = await driftAwaitingApproval(rejectRole, REJECT_STACK);
    const decision = await decideViaForm(link, 'reject', 'e2e: not during the change freeze');
    expect(decision.status).toBe(200);

    const result = await finished(e, run.arn);
    expect(result.outcome).toBe('REJECTED');
    expect((await approvalItem(link))?.status).toBe('REJECTED');
    const recorded = await outcomeItems(rejectRole, run);
    expect(recorded.map((i) => i.outcome)).toEqual(['REJECTED']);
    expect(recorded[0]?.approval).toMatchObject({ decision: 'rejected', approver: APPROVER });
    expect(recorded[0]?.remediated).toBe(false);
    // Rejected means untouched: no automation ran and the drift is still there.
    expect(await automationsFor(e, rejectRole)).toEqual([]);
    expect(await dc.stillWrong(e.c, rejectRole)).toBe('AdministratorAccess is still attached');
  }, 60_000);
});
