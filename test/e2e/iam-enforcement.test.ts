/**
 * IAM is enforced in the sandbox as in AWS: each task runs as its execution role from the synthesized
 * template. With one permission removed from one task role (ssm:StartAutomationExecution from the
 * start-runbook function's role), the execution fails at that step with AccessDenied, the sandbox log
 * names the role and the missing action, and the denied call changed nothing: no automation ran and the
 * drift is still there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES } from '../../sandbox/demo/cases';
import { synthesizeRemediationTemplate } from '../../sandbox/install/synth';
import { deniedRun } from './support/denied-run';
import { automationsFor, type E2E, startE2E } from './support/harness';
import { withoutPermission } from './support/template-edits';

const REMOVED = 'ssm:StartAutomationExecution';
const TASK = 'start-runbook';

const sshOpen = CASES.find((c) => c.id === 'ssh-open');
if (!sshOpen) throw new Error('the ssh-open demo case is missing');
const dc = sshOpen;

let e: E2E;
let roleLogicalId: string;

beforeAll(async () => {
  const { template } = await synthesizeRemediationTemplate({ policyFile: 'runbooks/policy.yaml' });
  roleLogicalId = withoutPermission(template, TASK, REMOVED);
  e = await startE2E({ timeScale: 0.01, template });
}, 120_000);
afterAll(async () => {
  await e?.stop();
});

describe('IAM enforcement', () => {
  it('a task role without one permission fails the execution at that step with AccessDenied; nothing changes', async () => {
    const { resourceId, failed, roleName, denial } = await deniedRun(e, dc, {
      text: 'AccessDenied',
      action: REMOVED,
      roleLogicalId,
    });
    expect(failed?.state).toBe('Start runbook');
    expect(failed?.error).toContain(`is not authorized to perform: ${REMOVED}`);

    expect(roleName).toBeDefined();
    expect(denial).toContain(`assumed-role/${roleName}/`);

    // The denied call changed nothing: no automation started, the drift is still there.
    expect(await automationsFor(e, resourceId)).toEqual([]);
    expect(await dc.stillWrong(e.c, resourceId)).not.toBeNull();
  }, 90_000);
});
