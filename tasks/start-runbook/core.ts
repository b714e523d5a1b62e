/**
 * Start runbook: StartAutomationExecution of the plan's runbook for attempt n = previous attempt + 1.
 *
 * Input  { event: RemediationEvent, plan: PlanResult (decision remediate, runbook required),
 *          drift?: DriftState, runbook?: RunbookState (the previous attempt), execution: { id, name, startTime } }
 * Output RunbookState ($.runbook): { attempt, automationExecutionId, documentName, status: 'Pending',
 *          phase: 'running', polls: 0, maxPolls, waitSeconds: first adaptive wait }
 *
 * Safety: the resource id is re-validated for its type (assertResourceId) and the parameters are
 * resolved (resolveParameters, AutomationAssumeRole from AUTOMATION_ASSUME_ROLE_ARN) before any call.
 * ClientToken is a UUID derived from sha256(executionId + '#' + attempt): a retried invocation of the
 * same attempt is absorbed by SSM instead of starting a second automation.
 * Errors: InvalidInputError / InvalidResourceIdError (nothing started); RunbookStartThrottledError
 *         (throttling, concurrency quota, 5xx: retried by the workflow); RunbookStartRejectedError
 *         (missing document, invalid parameters, IdempotentParameterMismatch, any other refusal).
 */
import { createHash } from 'node:crypto';
import { type SSMClient, StartAutomationExecutionCommand } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { DriftState, PlanResult, RemediationEvent, RunbookState } from '../shared/contracts';
import {
  DriftRemediationError,
  InvalidInputError,
  isTransient,
  RunbookStartRejectedError,
  RunbookStartThrottledError,
} from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { resolveParameters } from '../shared/parameters';
import { nextWaitSeconds } from '../shared/polling';
import { assertResourceId } from '../shared/resource-ids';
import { DEFAULT_RUNBOOK_MAX_POLLS, RUNBOOK_BACKOFF } from '../shared/runbook-polling';

export { DEFAULT_RUNBOOK_MAX_POLLS, RUNBOOK_BACKOFF } from '../shared/runbook-polling';

export const StartRunbookInput = z.object({
  event: RemediationEvent,
  plan: PlanResult,
  drift: DriftState.optional(),
  runbook: RunbookState.optional(),
  execution: ExecutionRef,
});
export type StartRunbookInput = z.infer<typeof StartRunbookInput>;

export interface StartRunbookDeps {
  ssm: SSMClient;
  /** AUTOMATION_ASSUME_ROLE_ARN: the role every runbook runs as. */
  automationAssumeRoleArn: string;
  /** Polls allowed per attempt (default DEFAULT_RUNBOOK_MAX_POLLS). */
  maxPolls?: number;
}

/** SSM requires a UUID ClientToken: sha256(executionId#attempt) laid out as an RFC 4122 version-5-style UUID. */
export function clientTokenFor(executionId: string, attempt: number): string {
  const h = createHash('sha256').update(`${executionId}#${attempt}`).digest('hex');
  const variant = ((Number.parseInt(h.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const THROTTLED = new Set(['AutomationExecutionLimitExceededException']);

function mapStartError(err: unknown, documentName: string, attempt: number): Error {
  if (err instanceof DriftRemediationError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const details = { errorName: e.name, documentName, attempt, cause: err };
  if (THROTTLED.has(e.name) || isTransient(e)) {
    return new RunbookStartThrottledError(
      `StartAutomationExecution(${documentName}) throttled: ${e.name}: ${e.message}`,
      details,
    );
  }
  return new RunbookStartRejectedError(
    `StartAutomationExecution(${documentName}) rejected: ${e.name}: ${e.message}`,
    details,
  );
}

export async function startRunbook(input: StartRunbookInput, deps: StartRunbookDeps): Promise<RunbookState> {
  const { event, plan, execution } = input;
  if (plan.decision !== 'remediate' || !plan.runbook) {
    throw new InvalidInputError('start-runbook: the plan does not remediate with a runbook', [
      `plan.decision: ${plan.decision}`,
    ]);
  }
  const attempt = (input.runbook?.attempt ?? 0) + 1;
  if (attempt > plan.attempts.max) {
    throw new InvalidInputError('start-runbook: no attempts left', [
      `attempt ${attempt} > plan.attempts.max ${plan.attempts.max}`,
    ]);
  }
  if (!deps.automationAssumeRoleArn)
    throw new InvalidInputError('start-runbook: AUTOMATION_ASSUME_ROLE_ARN is not set');
  assertResourceId(event.resourceType, event.resourceId);
  const documentName = plan.runbook.documentName;
  const parameters = resolveParameters(
    plan.runbook.parameters,
    { event, drift: input.drift, plan },
    deps.automationAssumeRoleArn,
  );

  let automationExecutionId: string | undefined;
  try {
    const res = await deps.ssm.send(
      new StartAutomationExecutionCommand({
        DocumentName: documentName,
        Parameters: parameters,
        ClientToken: clientTokenFor(execution.id, attempt),
      }),
    );
    automationExecutionId = res.AutomationExecutionId;
  } catch (err) {
    throw mapStartError(err, documentName, attempt);
  }
  if (!automationExecutionId) {
    throw new RunbookStartRejectedError(
      `StartAutomationExecution(${documentName}) returned no AutomationExecutionId`,
      {
        documentName,
        attempt,
      },
    );
  }
  return {
    attempt,
    automationExecutionId,
    documentName,
    status: 'Pending',
    phase: 'running',
    polls: 0,
    maxPolls: deps.maxPolls ?? DEFAULT_RUNBOOK_MAX_POLLS,
    waitSeconds: nextWaitSeconds(0, RUNBOOK_BACKOFF),
  };
}
