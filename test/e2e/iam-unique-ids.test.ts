/**
 * IAM unique ids end to end (#11 item 3, #12): the Config rule iam-role-no-blacklisted-policies reports a
 * role by its unique id (AROA…), exactly as AWS Config does; intake resolves it to the role's name
 * (ListDiscoveredResources), the runbook works on the name, verification reads Config under the id, and
 * the remediation VERIFIES.
 */
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalLinks, decideViaForm } from '../../sandbox/demo/approve';
import { CASES } from '../../sandbox/demo/cases';
import {
  awaitExecutionFor,
  captureNonCompliance,
  deployCase,
  type E2E,
  finished,
  outbox,
  startE2E,
  until,
} from './support/harness';

const RULE = 'iam-role-no-blacklisted-policies';
const STACK = 'drift-e2e-aroa';
// Named inside the policy's runbookScope (iamRoles: drift-demo-*): the automation role may change it.
const ROLE = 'drift-demo-aroa-role';
const adminRole = CASES.find((c) => c.id === 'admin-role');
if (!adminRole) throw new Error('the admin-role demo case is missing');
const dc = adminRole;

let e: E2E;
let roleId: string;
beforeAll(async () => {
  e = await startE2E({ timeScale: 0.01 });
  await deployCase(e, dc, {
    stackName: STACK,
    // The rule's own scope value (runbooks/policy.yaml): not the stack-drift rule's.
    tags: [{ Key: 'drift-remediation:scope', Value: 'iam-config' }],
    edit: (t) => t.replace('RoleName: drift-demo-reporting', `RoleName: ${ROLE}`),
  });
  roleId = (await e.c.iam.send(new GetRoleCommand({ RoleName: ROLE }))).Role?.RoleId ?? '';
});
afterAll(async () => {
  await e?.stop();
});

describe('a Config event for an IAM role', () => {
  it('carries the role’s AROA id; the remediation resolves it to the name and VERIFIES', async () => {
    expect(roleId).toMatch(/^AROA[A-Z0-9]{17}$/);
    const nextEvent = await captureNonCompliance(e, RULE, roleId);
    await dc.inject(e.c, ROLE);
    const event = JSON.parse(await nextEvent()) as {
      detail?: { resourceId?: string; resourceType?: string };
    };
    expect(event.detail).toMatchObject({ resourceType: 'AWS::IAM::Role', resourceId: roleId });

    const run = await awaitExecutionFor(e, ROLE, { resourceType: dc.resourceType });
    const link = await until(`the approval message for ${ROLE}`, 20_000, async () => {
      const m = (await outbox(e)).find(
        (o) => o.message.includes(ROLE) && approvalLinks(o.message).length > 0,
      );
      return m ? approvalLinks(m.message)[0] : undefined;
    });
    await decideViaForm(link, 'approve', 'e2e: AROA');
    const done = await finished(e, run.arn, 60_000);
    expect(done.outcome).toBe('VERIFIED');
    const input = JSON.parse(done.describe.input ?? '{}') as { event?: Record<string, unknown> };
    expect(input.event).toMatchObject({
      source: 'config',
      configRuleName: RULE,
      resourceId: ROLE,
      configResourceId: roleId,
    });
    expect(await dc.stillWrong(e.c, ROLE)).toBeNull();
  });
});
