import 'aws-sdk-client-mock-vitest/extend';
import {
  AutomationExecutionNotFoundException,
  type AutomationExecutionStatus,
  GetAutomationExecutionCommand,
  InvalidAutomationStatusUpdateException,
  SSMClient,
  StopAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkRunbook } from '../../../tasks/check-runbook/core';
import { handler } from '../../../tasks/check-runbook/handler';
import type { RunbookState } from '../../../tasks/shared/contracts';
import {
  InvalidInputError,
  RunbookPollTimeoutError,
  TransientServiceError,
} from '../../../tasks/shared/errors';
import { nextWaitSeconds } from '../../../tasks/shared/polling';
import { RUNBOOK_BACKOFF } from '../../../tasks/shared/runbook-polling';
import { awsError, DOC, plan } from './fixtures/late-stages';

const ssm = new SSMClient({ region: 'eu-west-1' });
let mock: AwsClientStub<SSMClient>;
beforeAll(() => {
  mock = mockClient(SSMClient);
});
beforeEach(() => mock.reset());
afterAll(() => mock.restore());

const running = (over: Partial<RunbookState> = {}) => ({
  attempt: 1,
  automationExecutionId: 'a1b2c3d4-0000-4000-8000-000000000001',
  documentName: DOC,
  status: 'Pending',
  phase: 'running' as const,
  polls: 0,
  maxPolls: 10,
  waitSeconds: 2,
  ...over,
});
const status = (AutomationExecutionStatus: AutomationExecutionStatus, extra: Record<string, unknown> = {}) =>
  mock
    .on(GetAutomationExecutionCommand)
    .resolves({ AutomationExecution: { AutomationExecutionStatus, ...extra } });

describe('check-runbook', () => {
  it('Success → succeeded', async () => {
    status('Success');
    const out = await checkRunbook({ plan: plan(), runbook: running() }, { ssm });
    expect(out).toMatchObject({ phase: 'succeeded', status: 'Success', attempt: 1, polls: 1 });
    expect(mock).toHaveReceivedCommandWith(GetAutomationExecutionCommand, {
      AutomationExecutionId: running().automationExecutionId,
    });
    expect(mock).not.toHaveReceivedCommand(StopAutomationExecutionCommand);
  });

  it.each(['Pending', 'InProgress', 'Waiting'] as const)(
    '%s → still running, polls + 1, adaptive wait',
    async (s) => {
      status(s);
      const out = await checkRunbook({ plan: plan(), runbook: running({ polls: 2 }) }, { ssm });
      expect(out).toMatchObject({
        phase: 'running',
        status: s,
        polls: 3,
        waitSeconds: nextWaitSeconds(3, RUNBOOK_BACKOFF),
      });
      expect(out.waitSeconds).toBe(16);
    },
  );

  it.each(['Failed', 'TimedOut', 'Cancelled', 'CompletedWithFailure'] as const)(
    '%s with attempts left → failed, retryable, retry spacing',
    async (s) => {
      status(s, { FailureMessage: 'Step revokeIngress failed: InvalidPermission.NotFound' });
      const out = await checkRunbook({ plan: plan(), runbook: running({ attempt: 1 }) }, { ssm });
      expect(out).toMatchObject({ phase: 'failed', status: s, retryable: true, waitSeconds: 60 });
      expect(out.failureMessage).toBe(
        `${DOC} attempt 1: ${s}: Step revokeIngress failed: InvalidPermission.NotFound`,
      );
    },
  );

  it('a failure on the last attempt is not retryable', async () => {
    status('Failed', {
      StepExecutions: [
        { StepName: 'a', StepStatus: 'Success' },
        { StepName: 'b', StepStatus: 'Failed', FailureMessage: 'boom in b' },
      ],
    });
    const out = await checkRunbook({ plan: plan(), runbook: running({ attempt: 3 }) }, { ssm });
    expect(out).toMatchObject({ phase: 'failed', retryable: false, waitSeconds: 1 });
    expect(out.failureMessage).toContain('boom in b');
  });

  it('stops the automation and throws RunbookPollTimeoutError when the poll budget is spent', async () => {
    status('InProgress');
    mock.on(StopAutomationExecutionCommand).resolves({});
    const err = await checkRunbook(
      { plan: plan(), runbook: running({ polls: 9, maxPolls: 10 }) },
      { ssm },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunbookPollTimeoutError);
    expect((err as Error).name).toBe('RunbookPollTimeoutError');
    expect(mock).toHaveReceivedCommandWith(StopAutomationExecutionCommand, {
      AutomationExecutionId: running().automationExecutionId,
      Type: 'Cancel',
    });
  });

  it('still times out when the automation ended between the poll and the stop', async () => {
    status('InProgress');
    mock
      .on(StopAutomationExecutionCommand)
      .rejects(new InvalidAutomationStatusUpdateException({ message: 'already done', $metadata: {} }));
    await expect(
      checkRunbook({ plan: plan(), runbook: running({ polls: 9, maxPolls: 10 }) }, { ssm }),
    ).rejects.toBeInstanceOf(RunbookPollTimeoutError);
  });

  it('maps throttling to TransientServiceError and lets a missing automation surface as itself', async () => {
    mock.on(GetAutomationExecutionCommand).rejects(awsError('ThrottlingException'));
    await expect(checkRunbook({ plan: plan(), runbook: running() }, { ssm })).rejects.toBeInstanceOf(
      TransientServiceError,
    );
    mock.reset();
    mock
      .on(GetAutomationExecutionCommand)
      .rejects(new AutomationExecutionNotFoundException({ message: 'nope', $metadata: {} }));
    const err = await checkRunbook({ plan: plan(), runbook: running() }, { ssm }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AutomationExecutionNotFoundException');
  });

  it('refuses to poll when no automation is running (InvalidInputError, no call)', async () => {
    await expect(
      checkRunbook({ plan: plan(), runbook: running({ phase: 'failed' }) }, { ssm }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(mock).not.toHaveReceivedAnyCommand();
  });
});

describe('check-runbook handler', () => {
  it('rejects a missing or malformed automation id with InvalidInputError and no SSM call', async () => {
    const { automationExecutionId: _omit, ...noId } = running();
    await expect(handler({ plan: plan(), runbook: noId })).rejects.toThrow(/runbook\.automationExecutionId/);
    await expect(
      handler({ plan: plan(), runbook: running({ automationExecutionId: '../../x' }) }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(mock).not.toHaveReceivedAnyCommand();
  });
});
