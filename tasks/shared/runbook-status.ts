/**
 * An automation's status → the runbook attempt's result, the same wherever the end is learned (Start
 * runbook's own check, the SSM status-change event, the reconciler's GetAutomationExecution).
 *
 *   Success | CompletedWithSuccess                         → phase succeeded
 *   Failed | TimedOut | Cancelled | CompletedWithFailure | Rejected | Exited | ChangeCalendarOverrideRejected
 *                                                          → phase failed, failureMessage (the failing step's),
 *                                                            retryable = transient failure && attempt < maxAttempts,
 *                                                            waitSeconds = backoff with full jitter when retryable
 *
 * Only transient failures are re-run (isTransientFailure): throttling, 5xx / internal errors, timeouts and
 * concurrency limits, read from the failing step's message and failure details. Anything else (a refused
 * replacement, a validation error, access denied, a missing resource) fails the same way again: the
 * execution ends FAILED at once with the failing step's message. The wait before attempt n+1 is
 * "full jitter" (AWS Architecture Blog, Exponential Backoff And Jitter): a uniform random whole number of
 * seconds in [1, min(RETRY_CAP_SECONDS, retryAfterSeconds × 2^(n−1))].
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

/** The longest wait before a re-attempt (seconds). */
export const RETRY_CAP_SECONDS = 3600;

/** Failure texts that say "try again": throttling, server-side errors, timeouts, concurrency limits. */
const TRANSIENT_FAILURE = [
  /throttl/i,
  /rate exceeded/i,
  /too ?many ?requests/i,
  /request ?limit ?exceeded/i,
  /slow ?down/i,
  /service ?unavailable/i,
  /internal ?(server ?)?(error|failure)/i,
  /status ?code:? ?5\d\d\b/i,
  /\b50[0234]\b/,
  /timed? ?out/i,
  /\btimeout/i,
  /concurren/i,
  /AutomationExecutionLimitExceeded/i,
  /try again/i,
];

/** Automation ends that never deserve another attempt: a person or a calendar stopped it. */
const NEVER_RETRIED = ['Cancelled', 'Rejected', 'ChangeCalendarOverrideRejected'];

/** True when a failed automation is worth re-running (see the file comment). */
export function isTransientFailure(status: string, failureText: string | undefined): boolean {
  if (NEVER_RETRIED.includes(status)) return false;
  if (status === 'TimedOut') return true;
  return failureText !== undefined && TRANSIENT_FAILURE.some((p) => p.test(failureText));
}

/** Full-jitter backoff before attempt `attempt + 1`: a whole number of seconds, at least 1. */
export function retryWaitSeconds(attempt: number, retryAfterSeconds: number, random: () => number): number {
  const ceiling = Math.min(RETRY_CAP_SECONDS, retryAfterSeconds * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.ceil(random() * ceiling));
}

export interface AttemptBudget {
  maxAttempts: number;
  retryAfterSeconds: number;
}

function failedStepOf(execution: AutomationExecution | undefined) {
  return execution?.StepExecutions?.find((s) => s.StepStatus === 'Failed' || s.StepStatus === 'TimedOut');
}

/** The failing step's message (or the execution's), for the outcome and the operator. */
export function failureMessageOf(execution: AutomationExecution | undefined): string | undefined {
  return failedStepOf(execution)?.FailureMessage ?? execution?.FailureMessage;
}

/** The failing step's failure details (type, stage, error details), for classifying the failure. */
export function failureDetailsOf(execution: AutomationExecution | undefined): string | undefined {
  const d = failedStepOf(execution)?.FailureDetails;
  return d ? JSON.stringify(d) : undefined;
}

/**
 * The attempt's result for a terminal `status`; undefined while the automation still runs.
 * `failureDetails` (the failing step's FailureDetails) only helps classify; `random` draws the jitter.
 */
export function runbookResult(
  runbook: RunbookState,
  status: string,
  failureMessage: string | undefined,
  budget: AttemptBudget,
  failureDetails?: string,
  random: () => number = Math.random,
): RunbookState | undefined {
  if (SUCCEEDED_STATUSES.includes(status)) {
    const { failureMessage: _f, ...rest } = runbook;
    return { ...rest, status, phase: 'succeeded', retryable: false, waitSeconds: 1 };
  }
  if (!FAILED_STATUSES.includes(status)) return undefined;
  const transient = isTransientFailure(status, [failureMessage, failureDetails].filter(Boolean).join(' '));
  const retryable = transient && runbook.attempt < budget.maxAttempts;
  const message = failureMessage ?? `automation ended ${status}`;
  const kind = transient ? '' : ' (not a transient failure: not re-run)';
  return {
    ...runbook,
    status,
    phase: 'failed',
    retryable,
    failureMessage:
      `${runbook.documentName ?? 'runbook'} attempt ${runbook.attempt}: ${status}: ${message}${kind}`.slice(
        0,
        1000,
      ),
    waitSeconds: retryable ? retryWaitSeconds(runbook.attempt, budget.retryAfterSeconds, random) : 1,
  };
}

/** GetAutomationExecution: the status and, when it failed, the failing step's message. */
export async function automationStatus(
  ssm: SSMClient,
  automationExecutionId: string,
): Promise<{ status: string; failureMessage?: string | undefined; failureDetails?: string | undefined }> {
  const res = await awsCall('GetAutomationExecution', () =>
    ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId: automationExecutionId })),
  );
  const execution = res.AutomationExecution;
  return {
    status: execution?.AutomationExecutionStatus ?? 'Unknown',
    failureMessage: failureMessageOf(execution),
    failureDetails: failureDetailsOf(execution),
  };
}
