/**
 * Wait for compliance (a `.waitForTaskToken` task, after Re-check drift for a Config rule): park the
 * execution until Config reports the resource COMPLIANT under the event's rule.
 *
 * Input  { taskToken, event: RemediationEvent (configRuleName required), plan: PlanResult,
 *          verification: VerificationState (startedAt set by Re-check drift), execution: { id, name, startTime } }
 * Effects, in order:
 *   1. asks Config to re-evaluate the rule (coalesced: ≤ 1 StartConfigRulesEvaluation per rule per minute);
 *   2. registers the token in WAITS under `compliance#<rule>#<resourceKey>` (tasks/shared/waits.ts), with
 *      deadline = startedAt + plan.verification.timeoutSeconds;
 *   3. reads Config's latest result once: COMPLIANT recorded since startedAt completes the wait here.
 *   Otherwise the COMPLIANT "Config Rules Compliance Change" event (tasks/wait-callback) or the reconciler
 *   (tasks/reconcile-waits) completes it; the state's TimeoutSecondsPath (the policy's verification timeout)
 *   ends it NOT_VERIFIED.
 * Callback output VerificationState ($.verification): status verified, compliance COMPLIANT, reason.
 * Errors: InvalidInputError (no Config rule / no startedAt: nothing written); VerificationUnavailableError (the rule
 *   does not exist: NOT_VERIFIED); TransientServiceError.
 */
import type { ConfigServiceClient } from '@aws-sdk/client-config-service';
import * as v from 'valibot';
import { complianceVerdict } from '../shared/compliance';
import {
  configSubjectOf,
  PlanResult,
  RemediationEvent,
  resourceKeyOf,
  type VerificationState,
  VerificationState as VerificationStateSchema,
} from '../shared/contracts';
import { InvalidInputError, VerificationUnavailableError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { requestReevaluation } from '../shared/reevaluation';
import { complianceWaitTarget } from '../shared/tables';
import { isoDateTime } from '../shared/validation';
import {
  type ComplianceWait,
  completeWait,
  expiresAtFor,
  registerWait,
  verifiedState,
  type WaitsDeps,
} from '../shared/waits';

export const AwaitComplianceInput = v.object({
  taskToken: v.pipe(v.string(), v.minLength(1)),
  event: RemediationEvent,
  plan: PlanResult,
  verification: v.object({
    ...VerificationStateSchema.entries,
    startedAt: isoDateTime(),
  }),
  execution: ExecutionRef,
});
export type AwaitComplianceInput = v.InferOutput<typeof AwaitComplianceInput>;

export interface AwaitComplianceDeps extends WaitsDeps {
  config: ConfigServiceClient;
  orderingTable: string;
  now: () => Date;
}

export async function awaitCompliance(
  input: AwaitComplianceInput,
  deps: AwaitComplianceDeps,
): Promise<VerificationState> {
  const { event, plan, verification, execution } = input;
  const rule = event.configRuleName;
  if (!rule) {
    throw new InvalidInputError('await-compliance: the event has no Config rule to wait for', [
      'event.configRuleName: missing',
    ]);
  }
  const requested = await requestReevaluation(deps, rule, event);
  if (requested === 'no-such-rule') {
    throw new VerificationUnavailableError(`Config rule ${rule} does not exist; cannot verify`, { rule });
  }
  const pending: VerificationState = {
    ...verification,
    status: 'pending',
    reevaluationRequested: true,
    reason: `waiting for Config rule ${rule} to report COMPLIANT (re-evaluation ${requested})`,
  };
  const deadline = new Date(Date.parse(verification.startedAt) + plan.verification.timeoutSeconds * 1000);
  const wait: ComplianceWait = {
    kind: 'compliance',
    // Config's id (a role's AROA…): the compliance-change event and the reconciler's reads carry it.
    target: complianceWaitTarget(rule, resourceKeyOf(configSubjectOf(event))),
    waiter: execution.name,
    taskToken: input.taskToken,
    executionArn: execution.id,
    registeredAt: deps.now().toISOString(),
    deadline: deadline.toISOString(),
    expiresAt: expiresAtFor(deadline),
    configRuleName: rule,
    awsAccountId: event.awsAccountId,
    awsRegion: event.awsRegion,
    resourceType: event.resourceType,
    resourceId: configSubjectOf(event).resourceId,
    startedAt: verification.startedAt,
    verification: pending,
  };
  await registerWait(deps, wait);
  // A result recorded before the registration sent its event to nobody: look once (an optimisation:
  // if the look fails, the event or the reconciler completes the wait).
  const verdict = await complianceVerdict(deps, wait, wait.startedAt).catch(() => undefined);
  if (verdict?.verified) {
    const done = verifiedState(wait, verdict.reason);
    await completeWait(deps, wait, { output: done });
    return done;
  }
  return { ...pending, ...(verdict ? { compliance: verdict.compliance } : {}) };
}
