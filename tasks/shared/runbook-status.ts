/**
 * An automation's status → the runbook attempt's result, the same wherever the end is learned (Start
 * runbook's own check, the SSM status-change event, the reconciler's GetAutomationExecution).
 *
 *   Success | CompletedWithSuccess                         → phase succeeded
 *   Failed | TimedOut | Cancelled | CompletedWithFailure | Rejected | Exited | ChangeCalendarOverrideRejected
 *                                                          → phase failed, failureMessage (the failing step's),
 *                                                            retryable = attempt < maxAttempts,
 *                                                            waitSeconds = retryAfterSeconds when retryable
 *   anything else (Pending, InProgress, Waiting, …)        → not terminal (undefined)
 */
import { type AutomationExecution, GetAutomationExecutionCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { RunbookState } from './contracts';
import { awsCall } from './errors';

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
export const TERMINAL_STATUSES: readonly string[] = [...SUCCEEDED_STATUSES, ...FAILED_STATUSES];

/**
 * Longest a runbook attempt may run (the reconciler stops it after this; Start runbook's task timeout is
 * this plus two reconcile periods, a backstop should the reconciler not run).
 */
export const RUNBOOK_ATTEMPT_TIMEOUT_SECONDS = 3600;

export interface AttemptBudget {
  maxAttempts: number;
  retryAfterSeconds: number;
}

/** The failing step's message (or the execution's), for the outcome and the operator. */
export function failureMessageOf(execution: AutomationExecution | undefined): string | undefined {
  const failedStep = execution?.StepExecutions?.find(
    (s) => s.StepStatus === 'Failed' || s.StepStatus === 'TimedOut',
  );
  return failedStep?.FailureMessage ?? execution?.FailureMessage;
}

/** The attempt's result for a terminal `status`; undefined while the automation still runs. */
export function runbookResult(
  runbook: RunbookState,
  status: string,
  failureMessage: string | undefined,
  budget: AttemptBudget,
): RunbookState | undefined {
  if (SUCCEEDED_STATUSES.includes(status)) {
    const { failureMessage: _f, ...rest } = runbook;
    return { ...rest, status, phase: 'succeeded', retryable: false, waitSeconds: 1 };
  }
  if (!FAILED_STATUSES.includes(status)) return undefined;
  const retryable = runbook.attempt < budget.maxAttempts;
  const message = failureMessage ?? `automation ended ${status}`;
  return {
    ...runbook,
    status,
    phase: 'failed',
    retryable,
    failureMessage:
      `${runbook.documentName ?? 'runbook'} attempt ${runbook.attempt}: ${status}: ${message}`.slice(0, 1000),
    waitSeconds: retryable ? budget.retryAfterSeconds : 1,
  };
}

/** GetAutomationExecution: the status and, when it failed, the failing step's message. */
export async function automationStatus(
  ssm: SSMClient,
  automationExecutionId: string,
): Promise<{ status: string; failureMessage?: string | undefined }> {
  const res = await awsCall('GetAutomationExecution', () =>
    ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId: automationExecutionId })),
  );
  const execution = res.AutomationExecution;
  return {
    status: execution?.AutomationExecutionStatus ?? 'Unknown',
    failureMessage: failureMessageOf(execution),
  };
}
