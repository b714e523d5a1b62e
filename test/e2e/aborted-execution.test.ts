/**
 * An execution stopped while its runbook runs (StopExecution) leaves no work behind: Step Functions'
 * "Step Functions Execution Status Change" (ABORTED) reaches abort-cleanup through the stack's EventBridge
 * rule, which stops the automation, frees the slot and records an ABORTED outcome — end to end through the
 * sandbox with real SDK clients.
 */
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { DriftCase } from '../../sandbox/demo/cases';
import { ADMISSION_ID } from '../../tasks/shared/tables';
import {
  automationsFor,
  awaitExecutionFor,
  demoCase,
  deployCase,
  finished,
  until,
  waitCompliant,
} from './support/harness';
import { sandboxPerFile } from './support/per-file';

const e = sandboxPerFile({ timeScale: 0.01 });

const ssh = (): DriftCase => demoCase('ssh-open');

describe('an aborted execution leaves no work behind', () => {
  it('StopExecution while the runbook runs → automation Cancelled, ABORTED outcome, slot free', async () => {
    const dc = ssh();
    const stackName = 'aborted-run';
    const groupId = await deployCase(e, dc, { stackName });
    await waitCompliant(e, { ...dc, stackName }, groupId);
    // The runbook's revoke takes 1000 emulated seconds (10 s here): it is still running when we stop.
    e.sb.faults.setRules({ 'ec2:RevokeSecurityGroupIngress': { latencySeconds: 1000 } });
    try {
      await dc.inject(e.c, groupId);
      const execution = await awaitExecutionFor(e, groupId, { resourceType: dc.resourceType });
      const automation = await until('the runbook running', 30_000, async () =>
        (await automationsFor(e, groupId)).find((a) => a.AutomationExecutionStatus === 'InProgress'),
      );
      await e.c.sfn.send(new StopExecutionCommand({ executionArn: execution.arn, cause: 'operator stop' }));
      expect((await finished(e, execution.arn, 20_000)).status).toBe('ABORTED');

      const outcome = await until('an ABORTED outcome', 20_000, async () => {
        const r = await e.c.ddb.send(
          new ScanCommand({ TableName: e.env('OUTCOMES_TABLE'), ConsistentRead: true }),
        );
        return r.Items?.find((i) => i.executionName === execution.name && i.outcome === 'ABORTED');
      });
      expect(String(outcome.reason)).toContain('execution ABORTED');
      const ended = await until('the automation to end', 40_000, async () => {
        const a = (await automationsFor(e, groupId)).find(
          (x) => x.AutomationExecutionId === automation.AutomationExecutionId,
        );
        return a && !['InProgress', 'Pending', 'Cancelling'].includes(a.AutomationExecutionStatus ?? '')
          ? a.AutomationExecutionStatus
          : undefined;
      });
      expect(ended).toBe('Cancelled');
      const admission = await e.c.ddb.send(
        new GetCommand({
          TableName: e.env('LEASES_TABLE'),
          Key: { lockId: ADMISSION_ID },
          ConsistentRead: true,
        }),
      );
      expect(Object.keys((admission.Item?.holders ?? {}) as object)).not.toContain(execution.name);
      const waits = await e.c.ddb.send(
        new ScanCommand({ TableName: e.env('WAITS_TABLE'), ConsistentRead: true }),
      );
      expect(waits.Items?.filter((w) => w.waiter === execution.name) ?? []).toEqual([]);
    } finally {
      e.sb.faults.setRules({});
    }
  }, 120_000);
});
