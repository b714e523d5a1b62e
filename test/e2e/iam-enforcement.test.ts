/**
 * IAM is enforced in the sandbox as in AWS: each task runs as its execution role from the synthesized
 * template. With one permission removed from one task role (ssm:StartAutomationExecution from the
 * start-runbook function's role), the execution fails at that step with AccessDenied, the sandbox log
 * names the role and the missing action, and the denied call changed nothing: no automation ran and the
 * drift is still there.
 */
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES } from '../../sandbox/demo/cases';
import { synthesizeRemediationTemplate } from '../../sandbox/install/synth';
import {
  automationsFor,
  awaitExecutionFor,
  deployCase,
  type E2E,
  finished,
  startE2E,
  waitCompliant,
} from './support/harness';
import { failedStateOf, withoutPermission } from './support/template-edits';

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
    const resourceId = await deployCase(e, dc);
    await waitCompliant(e, dc, resourceId);
    await dc.inject(e.c, resourceId);

    const execution = await awaitExecutionFor(e, resourceId, { resourceType: dc.resourceType });
    const result = await finished(e, execution.arn);
    expect(result.outcome).not.toBe('VERIFIED');

    const history = await e.c.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: execution.arn, maxResults: 1000 }),
    );
    const failed = failedStateOf(history.events ?? [], 'AccessDenied');
    expect(failed?.state).toBe('Start runbook');
    expect(failed?.error).toContain(`is not authorized to perform: ${REMOVED}`);

    const roleName = e.stack.resources.get(roleLogicalId)?.physicalId;
    expect(roleName).toBeDefined();
    const denial = e.sb.logs.find((l) => l.startsWith('iam: AccessDenied:') && l.includes(REMOVED));
    expect(denial).toContain(`assumed-role/${roleName}/`);

    // The denied call changed nothing: no automation started, the drift is still there.
    expect(await automationsFor(e, resourceId)).toEqual([]);
    expect(await dc.stillWrong(e.c, resourceId)).not.toBeNull();
  }, 90_000);
});
