/**
 * What a StartExecution caller can forge: keys of the execution input beside `event`. Anyone allowed
 * states:StartExecution (intake, the fast path, manual starts, an operator) can put `approval`, `runbook`,
 * `verification`, `drift`, `plan`, `slot`, … in the input; they must never reach the audit record (OUTCOMES
 * item) or a notice as if the workflow had produced them. Two executions started directly on the sandbox's
 * Step Functions (real SDK client), each with the same forged keys:
 *   - Plan runs (no policy entry → SKIPPED): Plan's result replaces the state with { event, plan };
 *   - Plan itself fails (a malformed resource id → FAILED): the failure is recorded from the event and the
 *     error alone, and its notice on the outcomes topic says nothing forged either.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { finished, outbox, scanAll } from './support/harness';
import { sandboxPerFile } from './support/per-file';

const e = sandboxPerFile({ timeScale: 0.01 });

const FORGED_APPROVER = 'ceo@forged.example.com';
const FORGED_DOCUMENT = 'DriftRemediation-ForgedRunbook';
const FORGED_AUTOMATION = 'forged-automation-0000000000000001';
const FORGED_MARKS = [
  FORGED_APPROVER,
  FORGED_DOCUMENT,
  FORGED_AUTOMATION,
  'ForgedProperty',
  'forged approval',
  'forged verification',
];

/** Every slice a step writes, as if that step had run and succeeded. */
const FORGED = {
  approval: {
    approvalId: `apr-${'f'.repeat(40)}`,
    decision: 'approved',
    approver: FORGED_APPROVER,
    comment: 'forged approval',
    decidedAt: '2026-12-01T00:00:00.000Z',
  },
  runbook: {
    attempt: 1,
    automationExecutionId: FORGED_AUTOMATION,
    documentName: FORGED_DOCUMENT,
    status: 'Success',
    phase: 'succeeded',
    waitSeconds: 1,
  },
  verification: {
    status: 'verified',
    compliance: 'COMPLIANT',
    polls: 1,
    maxPolls: 1,
    waitSeconds: 1,
    reason: 'forged verification',
  },
  drift: {
    inStack: true,
    mode: 'resource',
    detectionStatus: 'DETECTION_COMPLETE',
    polls: 0,
    maxPolls: 1,
    waitSeconds: 1,
    propertyDifferences: [
      { PropertyPath: 'ForgedProperty', ExpectedValue: 'a', ActualValue: 'b', DifferenceType: 'NOT_EQUAL' },
    ],
  },
  slot: { acquired: true, scopes: ['global'], grantedAt: '2026-12-01T00:00:00.000Z' },
};

function event(id: string, resourceId: string) {
  return {
    eventId: `forged-input-${id}`,
    source: 'manual',
    // No policy entry names this rule: Plan decides skip.
    configRuleName: 'no-policy-entry-names-this-rule',
    resourceType: 'AWS::EC2::SecurityGroup',
    resourceId,
    awsAccountId: e.sb.accountId,
    awsRegion: e.sb.region,
    complianceType: 'NON_COMPLIANT',
    orderingTimestamp: new Date().toISOString(),
  };
}

async function startForged(name: string, ev: Record<string, unknown>) {
  const res = await e.c.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: e.stack.stateMachineArn,
      name,
      input: JSON.stringify({ event: ev, ...FORGED }),
    }),
  );
  return finished(e, res.executionArn ?? '', 60_000);
}

async function auditItemOf(executionName: string) {
  const items = (await scanAll(e, e.env('OUTCOMES_TABLE'))).filter((i) => i.executionName === executionName);
  expect(items).toHaveLength(1);
  return items[0] as Record<string, unknown>;
}

function expectNothingForged(text: string) {
  for (const mark of FORGED_MARKS) expect(text, mark).not.toContain(mark);
}

describe('forged execution input keys', () => {
  it('Plan runs: the state after it is { event, plan }; the SKIPPED audit item holds nothing forged', async () => {
    const name = 'forged-input-plan-runs';
    const done = await startForged(name, event('1', 'sg-0f0a0000000000001'));
    expect(done.outcome).toBe('SKIPPED');
    expect(Object.keys(done.output).sort()).toEqual(['confirmation', 'event', 'outcome', 'plan']);

    const item = await auditItemOf(name);
    expect(item).toMatchObject({ outcome: 'SKIPPED', remediated: false, attempts: 0, decision: 'skip' });
    expect(item.approval).toBeUndefined();
    expect(item.runbook).toBeUndefined();
    expect(item.automationExecutionId).toBeUndefined();
    expectNothingForged(JSON.stringify(item));
  }, 90_000);

  it('Plan fails: FAILED is recorded from the event and the error alone, and its notice says nothing forged', async () => {
    const name = 'forged-input-plan-fails';
    const done = await startForged(name, event('2', 'not-a-security-group'));
    expect(done.status).toBe('FAILED');
    expect(done.describe.error).toBe('RemediationNotSucceeded');

    const item = await auditItemOf(name);
    expect(item).toMatchObject({ outcome: 'FAILED', remediated: false, attempts: 0 });
    expect(String(item.reason)).toMatch(/InvalidResourceIdError/);
    expect(item.approval).toBeUndefined();
    expect(item.runbook).toBeUndefined();
    expectNothingForged(JSON.stringify(item));

    const notices = (await outbox(e)).filter((m) => m.message.includes(name));
    expect(notices).toHaveLength(1);
    expect(notices[0]?.message).toContain('Remediated: no');
    expectNothingForged(JSON.stringify(notices));
  }, 90_000);
});
