/**
 * Start runbook (a `.waitForTaskToken` task): StartAutomationExecution of the plan's runbook for attempt
 * n = previous attempt + 1, then park the execution until the automation ends.
 *
 * Input  { taskToken, state: { event: RemediationEvent, plan: PlanResult (decision remediate, runbook required),
 *          drift?: DriftState, runbook?: RunbookState (the previous attempt), slot?: the lease { scopes } },
 *          execution: { id, name, startTime } }
 *        (the whole state, as `$.runbook` exists only on re-attempts; lifted to the top level by liftState)
 * Effect the token is registered in WAITS under `runbook#<automationExecutionId>` (tasks/shared/waits.ts), then the
 *        automation's status is read once: if it already ended, the wait is completed here (the slot released
 *        first when the attempt ends the runbook work, as every resolver does: tasks/shared/leases-release.ts). Otherwise the SSM
 *        status-change event (tasks/wait-callback) or the reconciler (tasks/reconcile-waits) completes it.
 * Returns the registered attempt (for the log; Step Functions takes the callback's output instead).
 * Callback output RunbookState ($.runbook): tasks/shared/runbook-status.ts (succeeded, or failed with the failing
 *        step's message; retryable only for a transient failure (throttling, 5xx, timeouts, concurrency limits)
 *        with attempts left, waitSeconds = full-jitter backoff from plan.attempts.retryAfterSeconds).
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
import * as v from 'valibot';
import { DriftState, liftState, PlanResult, RemediationEvent, RunbookState } from '../shared/contracts';
import {
  DriftRemediationError,
  InvalidInputError,
  isTransient,
  RunbookStartRejectedError,
  RunbookStartThrottledError,
} from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import type { QueueDeps } from '../shared/leases-queue';
import { completeRunbookWait } from '../shared/leases-release';
import { resolveParameters } from '../shared/parameters';
import { assertResourceId } from '../shared/resource-ids';
import { automationStatus, RUNBOOK_ATTEMPT_TIMEOUT_SECONDS, runbookResult } from '../shared/runbook-status';
import { runbookWaitTarget } from '../shared/tables';
import { expiresAtFor, type RunbookWait, registerWait, type WaitsDeps } from '../shared/waits';

const StartRunbookState = v.object({
  event: RemediationEvent,
  plan: PlanResult,
  drift: v.optional(DriftState),
  runbook: v.optional(RunbookState),
  /** The slot lease (Acquire's `$.slot`): its scopes go on the wait, for the release where the runbook ends. */
  slot: v.fallback(
    v.optional(
      v.object({ scopes: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.maxLength(10))) }),
    ),
    undefined,
  ),
  execution: ExecutionRef,
});
export type StartRunbookState = v.InferOutput<typeof StartRunbookState>;

export const StartRunbookInput = v.pipe(
  v.unknown(),
  v.transform(liftState),
  v.object({ ...StartRunbookState.entries, taskToken: v.pipe(v.string(), v.minLength(1)) }),
);
export type StartRunbookInput = v.InferOutput<typeof StartRunbookInput>;

export interface StartRunbookDeps extends WaitsDeps, QueueDeps {
  ssm: SSMClient;
  /** AUTOMATION_ASSUME_ROLE_ARN: the role every runbook runs as. */
  automationAssumeRoleArn: string;
  /** Longest an attempt may run (default RUNBOOK_ATTEMPT_TIMEOUT_SECONDS). */
  attemptTimeoutSeconds?: number;
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

/** Starts the attempt's automation (idempotent per execution and attempt) and returns the running attempt. */
export async function startAutomation(
  input: StartRunbookState,
  deps: Pick<StartRunbookDeps, 'ssm' | 'automationAssumeRoleArn'>,
): Promise<RunbookState & { automationExecutionId: string }> {
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
    waitSeconds: plan.attempts.retryAfterSeconds,
  };
}

/** Starts the attempt, registers the task token for its end, and completes at once if it already ended. */
export async function startRunbook(input: StartRunbookInput, deps: StartRunbookDeps): Promise<RunbookState> {
  const runbook = await startAutomation(input, deps);
  const now = deps.now();
  const deadline = new Date(
    now.getTime() + (deps.attemptTimeoutSeconds ?? RUNBOOK_ATTEMPT_TIMEOUT_SECONDS) * 1000,
  );
  const wait: RunbookWait = {
    kind: 'runbook',
    target: runbookWaitTarget(runbook.automationExecutionId),
    waiter: input.execution.name,
    taskToken: input.taskToken,
    executionArn: input.execution.id,
    registeredAt: now.toISOString(),
    deadline: deadline.toISOString(),
    expiresAt: expiresAtFor(deadline),
    automationExecutionId: runbook.automationExecutionId,
    awsAccountId: input.event.awsAccountId,
    awsRegion: input.event.awsRegion,
    runbook,
    maxAttempts: input.plan.attempts.max,
    retryAfterSeconds: input.plan.attempts.retryAfterSeconds,
    ...(input.slot?.scopes?.length ? { slotScopes: input.slot.scopes } : {}),
  };
  await registerWait(deps, wait);
  // An automation that ended before the registration sent its event to nobody: look once. Only an
  // optimisation: if the look fails, the event or the reconciler completes the wait.
  const done = await automationStatus(deps.ssm, runbook.automationExecutionId).then(
    ({ status, failureMessage, failureDetails }) =>
      runbookResult(runbook, status, failureMessage, wait, failureDetails),
    () => undefined,
  );
  if (done) {
    await completeRunbookWait(deps, wait, done);
    return done;
  }
  return runbook;
}
