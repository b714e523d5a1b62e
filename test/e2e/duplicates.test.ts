/**
 * Duplicates end to end: the Config compliance-change event that a real drift produces is captured
 * (an EventBridge rule of our own with an SQS target, as any subscriber would) and delivered 20 more
 * times, concurrently, to the intake queue — EventBridge's at-least-once delivery at its worst. The
 * resource still gets exactly one execution and exactly one SSM automation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES } from '../../sandbox/demo/cases';
import {
  automationsFor,
  awaitExecutionFor,
  captureNonCompliance,
  deployCase,
  type E2E,
  executionsFor,
  finished,
  intakeDrained,
  sendToIntake,
  startE2E,
  waitCompliant,
} from './support/harness';

let e: E2E;

beforeAll(async () => {
  e = await startE2E({ timeScale: 0.01 });
});
afterAll(async () => {
  await e?.stop();
});

const ssh = CASES.find((c) => c.id === 'ssh-open');

describe('duplicate events', () => {
  it('the same compliance-change event 20× concurrently → one execution, one automation', async () => {
    if (!ssh?.rule) throw new Error('the ssh-open demo case is missing');
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
});
