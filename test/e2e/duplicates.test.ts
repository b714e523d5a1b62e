/**
 * Duplicates end to end: the Config compliance-change event that a real drift produces is captured
 * (an EventBridge rule of our own with an SQS target, as any subscriber would) and delivered 20 more
 * times, concurrently, to the intake queue — EventBridge's at-least-once delivery at its worst. The
 * resource still gets exactly one execution and exactly one SSM automation.
 */

import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  automationsFor,
  awaitExecutionFor,
  captureNonCompliance,
  complianceChangeEvent,
  demoCase,
  deployCase,
  executionsFor,
  finished,
  intakeDrained,
  sendToIntake,
  waitCompliant,
} from './support/harness';
import { sandboxPerFile } from './support/per-file';

const e = sandboxPerFile({ timeScale: 0.01 });

const ssh = demoCase('ssh-open');

describe('duplicate events', () => {
  it('the same compliance-change event 20× concurrently → one execution, one automation', async () => {
    if (!ssh.rule) throw new Error('the ssh-open demo case has no Config rule');
    const groupId = await deployCase(e, ssh);
    await waitCompliant(e, ssh, groupId);

    const nextEvent = await captureNonCompliance(e, ssh.rule, groupId);
    await ssh.inject(e.c, groupId);
    const body = await nextEvent();
    const event = JSON.parse(body) as {
      detail?: { resourceId?: string; newEvaluationResult?: { complianceType?: string } };
    };
    expect(event.detail?.resourceId).toBe(groupId);
    expect(event.detail?.newEvaluationResult?.complianceType).toBe('NON_COMPLIANT');

    // 20 more deliveries of the very same event, all at once.
    await Promise.all(Array.from({ length: 20 }, () => sendToIntake(e, body)));

    const first = await awaitExecutionFor(e, groupId, { resourceType: ssh.resourceType });
    await intakeDrained(e);
    const result = await finished(e, first.arn);
    expect(result.outcome).toBe('VERIFIED');
    await intakeDrained(e);

    const runs = await executionsFor(e, groupId, ssh.resourceType);
    expect(runs.map((r) => r.arn)).toEqual([first.arn]);
    const automations = await automationsFor(e, groupId);
    expect(automations).toHaveLength(1);
    expect(automations[0]?.AutomationExecutionStatus).toBe('Success');
    expect(await ssh.stillWrong(e.c, groupId)).toBeNull();
  }, 60_000);

  it('different results for one resource arriving together start one execution, not one each', async () => {
    // Three NON_COMPLIANT results (distinct orderingTimestamps, so distinct execution names) in one batch,
    // five times over: the intake pollers handle them concurrently, and at most one may start.
    const now = Date.now();
    for (let round = 0; round < 5; round++) {
      const groupId = `sg-0e2e000000000c${String(round).padStart(3, '0')}`;
      const base = {
        rule: 'restricted-ssh',
        resourceType: 'AWS::EC2::SecurityGroup',
        resourceId: groupId,
        complianceType: 'NON_COMPLIANT' as const,
        account: e.sb.accountId,
        region: e.sb.region,
      };
      await e.c.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: e.env('INTAKE_QUEUE_URL'),
          Entries: [0, 1, 2].map((i) => ({
            Id: `r${i}`,
            MessageBody: JSON.stringify(
              complianceChangeEvent({ ...base, at: new Date(now - i * 1000).toISOString() }),
            ),
          })),
        }),
      );
      await intakeDrained(e);
      expect(await executionsFor(e, groupId, base.resourceType)).toHaveLength(1);
    }
  }, 60_000);
});
