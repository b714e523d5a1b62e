/**
 * Check runbook: one poll of GetAutomationExecution for the current attempt.
 *
 * Input  { plan: PlanResult, runbook: RunbookState (automationExecutionId required), execution?: { id, name, startTime } }
 * Output RunbookState ($.runbook):
 *   Success                                              → phase succeeded
 *   Failed | TimedOut | Cancelled | CompletedWithFailure | Rejected | Exited | ChangeCalendarOverrideRejected
 *                                                        → phase failed, failureMessage, retryable = attempt < plan.attempts.max,
 *                                                          waitSeconds = plan.attempts.retryAfterSeconds when retryable
 *   anything else (Pending, InProgress, Waiting, …)      → phase running, polls + 1, adaptive waitSeconds
 * Errors: RunbookPollTimeoutError once polls reach maxPolls (the automation is stopped first, so it
 *         cannot change the resource after the workflow gave up); InvalidInputError; TransientServiceError.
 */
import {
  GetAutomationExecutionCommand,
  type SSMClient,
  StopAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { PlanResult, RunbookState } from '../shared/contracts';
import { awsCall, InvalidInputError, RunbookPollTimeoutError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { nextWaitSeconds } from '../shared/polling';
import { RUNBOOK_BACKOFF } from '../shared/runbook-polling';

export const CheckRunbookInput = z.object({
  plan: PlanResult,
  runbook: RunbookState.extend({ automationExecutionId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/) }),
  execution: ExecutionRef.optional(),
});
export type CheckRunbookInput = z.infer<typeof CheckRunbookInput>;

export interface CheckRunbookDeps {
  ssm: SSMClient;
}

export const SUCCEEDED_STATUSES: readonly string[] = ['Success', 'CompletedWithSuccess'];
export const FAILED_STATUSES: readonly string[] = [
  'Failed',
  'TimedOut',
  'Cancelled',
  'CompletedWithFailure',
  'Rejected',
  'Exited',
  'ChangeCalendarOverrideRejected',
];

export async function checkRunbook(input: CheckRunbookInput, deps: CheckRunbookDeps): Promise<RunbookState> {
  const { plan, runbook } = input;
  if (runbook.phase !== 'running') {
    throw new InvalidInputError('check-runbook: no automation is running', [
      `runbook.phase: ${runbook.phase}`,
    ]);
  }
  const id = runbook.automationExecutionId;
  const res = await awsCall('GetAutomationExecution', () =>
    deps.ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId: id })),
  );
  const execution = res.AutomationExecution;
  const status = execution?.AutomationExecutionStatus ?? 'Unknown';

  if (SUCCEEDED_STATUSES.includes(status)) {
    return {
      ...runbook,
      status,
      phase: 'succeeded',
      retryable: false,
      polls: runbook.polls + 1,
      waitSeconds: 1,
    };
  }
  if (FAILED_STATUSES.includes(status)) {
    const retryable = runbook.attempt < plan.attempts.max;
    const failedStep = execution?.StepExecutions?.find(
      (s) => s.StepStatus === 'Failed' || s.StepStatus === 'TimedOut',
    );
    const message = execution?.FailureMessage ?? failedStep?.FailureMessage ?? `automation ended ${status}`;
    return {
      ...runbook,
      status,
      phase: 'failed',
      retryable,
      failureMessage:
        `${runbook.documentName ?? 'runbook'} attempt ${runbook.attempt}: ${status}: ${message}`.slice(
          0,
          1000,
        ),
      polls: runbook.polls + 1,
      waitSeconds: retryable ? plan.attempts.retryAfterSeconds : 1,
    };
  }

  const polls = runbook.polls + 1;
  if (polls >= runbook.maxPolls) {
    await awsCall('StopAutomationExecution', () =>
      deps.ssm.send(new StopAutomationExecutionCommand({ AutomationExecutionId: id, Type: 'Cancel' })),
    ).catch((err: unknown) => {
      // Already finished between the two calls: nothing to stop.
      if (!(err instanceof Error && err.name === 'InvalidAutomationStatusUpdateException')) throw err;
    });
    throw new RunbookPollTimeoutError(`automation ${id} still ${status} after ${polls} polls; stopped`, {
      automationExecutionId: id,
      status,
      polls,
    });
  }
  return {
    ...runbook,
    status,
    phase: 'running',
    polls,
    waitSeconds: nextWaitSeconds(polls, RUNBOOK_BACKOFF),
  };
}
