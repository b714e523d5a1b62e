/**
 * AWS delivers the SSM and Config events best effort; the reconciler (an EventBridge schedule on the
 * sandbox clock, every 2 emulated minutes) completes what a lost event would have. With the sandbox's
 * fault injection dropping every "EC2 Automation Execution Status-change Notification" (and, in the
 * second case, every "Config Rules Compliance Change" once the execution has started), a drifted
 * security group still ends VERIFIED — end to end through real SDK clients.
 */
import { describe, expect, it } from 'vitest';
import type { DriftCase } from '../../sandbox/demo/cases';
import { awaitExecutionFor, demoCase, deployCase, finished, scanAll, waitCompliant } from './support/harness';
import { sandboxPerFile } from './support/per-file';

const SSM_EVENT = 'aws.ssm:EC2 Automation Execution Status-change Notification';
const CONFIG_EVENT = 'aws.config:Config Rules Compliance Change';

const e = sandboxPerFile({ timeScale: 0.01 });

const ssh = (): DriftCase => demoCase('ssh-open');

const waits = () => scanAll(e, e.env('WAITS_TABLE'));

describe('a lost event costs at most one reconcile period, never the remediation', () => {
  it('the runbook-end event is dropped: the reconciler completes the runbook wait → VERIFIED', async () => {
    const dc = ssh();
    const groupId = await deployCase(e, dc, { stackName: 'lost-ssm-event' });
    await waitCompliant(e, { ...dc, stackName: 'lost-ssm-event' }, groupId);
    e.sb.faults.setRules({
      [SSM_EVENT]: { dropRate: 1 },
      // The runbook takes 20 emulated seconds: Start runbook's own first look sees it still running.
      'ec2:RevokeSecurityGroupIngress': { latencySeconds: 20 },
    });
    try {
      await dc.inject(e.c, groupId);
      const execution = await awaitExecutionFor(e, groupId, { resourceType: dc.resourceType });
      const result = await finished(e, execution.arn, 60_000);
      expect({ status: result.status, outcome: result.outcome }).toEqual({
        status: 'SUCCEEDED',
        outcome: 'VERIFIED',
      });
      expect(e.sb.faults.injected.get(SSM_EVENT) ?? 0).toBeGreaterThanOrEqual(1);
      expect(await dc.stillWrong(e.c, groupId)).toBeNull();
      expect(await waits()).toEqual([]);
    } finally {
      e.sb.faults.setRules({});
    }
  }, 120_000);

  it('the COMPLIANT compliance-change event is dropped: the reconciler reads Config → VERIFIED', async () => {
    const dc = ssh();
    const groupId = await deployCase(e, dc, { stackName: 'lost-config-event' });
    await waitCompliant(e, { ...dc, stackName: 'lost-config-event' }, groupId);
    // The runbook's revoke takes 300 emulated seconds (3 real), so Config cannot re-evaluate the group
    // COMPLIANT before the drop below is in place, however slowly this test sees the execution start.
    const slowRevoke = { 'ec2:RevokeSecurityGroupIngress': { latencySeconds: 300 } };
    e.sb.faults.setRules(slowRevoke);
    await dc.inject(e.c, groupId);
    const execution = await awaitExecutionFor(e, groupId, { resourceType: dc.resourceType });
    // Intake has its NON_COMPLIANT event; from now on Config's events are lost.
    e.sb.faults.setRules({ ...slowRevoke, [CONFIG_EVENT]: { dropRate: 1 } });
    try {
      const result = await finished(e, execution.arn, 60_000);
      expect({ status: result.status, outcome: result.outcome }).toEqual({
        status: 'SUCCEEDED',
        outcome: 'VERIFIED',
      });
      expect(e.sb.faults.injected.get(CONFIG_EVENT) ?? 0).toBeGreaterThanOrEqual(1);
      expect(await waits()).toEqual([]);
    } finally {
      e.sb.faults.setRules({});
    }
  }, 120_000);
});
