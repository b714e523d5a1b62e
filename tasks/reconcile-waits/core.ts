/**
 * Reconciler (scheduled every RECONCILE_PERIOD_SECONDS): the fallback for lost events. AWS delivers the
 * SSM and Config events best effort, so every waiting token is compared with the source of truth:
 *
 * Each wait is checked in the account-region it names (a member's through its role: tasks/shared/accounts.ts).
 *   runbook wait     GetAutomationExecution: ended → complete with the attempt's result (as the event would:
 *                    the slot released and handed on first, tasks/shared/leases-release.ts);
 *                    still running after its deadline → StopAutomationExecution, then fail the wait with
 *                    RunbookTimeoutError (the automation cannot change the resource after the workflow gave up).
 *   compliance wait  GetComplianceDetailsByResource: COMPLIANT since the verification began → complete verified;
 *                    otherwise ask for re-evaluation again (coalesced, ≤ 1 per rule per minute) so a request
 *                    that ran before the fix landed is followed by one after it. Past its deadline (the policy's
 *                    verification timeout) → fail the wait with VerificationTimeoutError (NOT_VERIFIED); in AWS
 *                    the state's own timeout usually came first and this only removes the item.
 *   malformed item   deleted.
 * A lost event therefore costs at most one period. Input: the schedule's event (ignored).
 * Output { checked, completed, ended, stopped, deleted, failed } — counts only, never a token.
 * One wait failing (e.g. throttled) does not stop the others; it is retried next period.
 */
import type { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { type SSMClient, StopAutomationExecutionCommand } from '@aws-sdk/client-ssm';
import * as v from 'valibot';
import { forPlace, type PerPlace, type Place } from '../shared/accounts';
import { complianceVerdict } from '../shared/compliance';
import { awsCall, RunbookTimeoutError, VerificationTimeoutError } from '../shared/errors';
import type { QueueDeps } from '../shared/leases-queue';
import { completeRunbookWait } from '../shared/leases-release';
import { logger } from '../shared/powertools';
import { requestReevaluation } from '../shared/reevaluation';
import { automationStatus, runbookResult } from '../shared/runbook-status';
import {
  allWaits,
  type Completion,
  type ComplianceWait,
  completeWait,
  deleteWait,
  type RunbookWait,
  verifiedState,
  type WaitsDeps,
  waitPlace,
} from '../shared/waits';

/** How often the reconciler runs (infra schedules it; a lost event costs at most this). */
export const RECONCILE_PERIOD_SECONDS = 120;

export const ReconcileWaitsInput = v.unknown();

export interface ReconcileWaitsDeps extends WaitsDeps, QueueDeps {
  /** SSM and Config of a wait's account-region (one client: every place). */
  ssm: PerPlace<SSMClient>;
  config: PerPlace<ConfigServiceClient>;
  /** The central account-region (waits written before they named their place). */
  central: Place;
  orderingTable: string;
}

export interface ReconcileResult {
  checked: number;
  completed: number;
  ended: number;
  stopped: number;
  deleted: number;
  failed: number;
}

type Step = Completion | 'stopped' | 'deleted' | 'pending';

async function reconcileRunbook(wait: RunbookWait, deps: ReconcileWaitsDeps): Promise<Step> {
  const id = wait.automationExecutionId;
  const ssm = forPlace(deps.ssm, waitPlace(wait, deps.central));
  const { status, failureMessage, failureDetails } = await automationStatus(ssm, id);
  const result = runbookResult(wait.runbook, status, failureMessage, wait, failureDetails);
  if (result) return completeRunbookWait(deps, wait, result);
  if (deps.now().getTime() <= Date.parse(wait.deadline)) return 'pending';
  await awsCall('StopAutomationExecution', () =>
    ssm.send(new StopAutomationExecutionCommand({ AutomationExecutionId: id, Type: 'Cancel' })),
  ).catch((err: unknown) => {
    // Ended between the two calls: nothing to stop.
    if (!(err instanceof Error && err.name === 'InvalidAutomationStatusUpdateException')) throw err;
  });
  const error = new RunbookTimeoutError(
    `automation ${id} still ${status} at its deadline ${wait.deadline}; stopped`,
  );
  await completeWait(deps, wait, { error: error.name, cause: error.message });
  return 'stopped';
}

async function reconcileCompliance(wait: ComplianceWait, deps: ReconcileWaitsDeps): Promise<Step> {
  const place = waitPlace(wait, deps.central);
  const inPlace = { ...deps, config: forPlace(deps.config, place) };
  const verdict = await complianceVerdict(inPlace, wait, wait.startedAt);
  if (verdict.verified) return completeWait(deps, wait, { output: verifiedState(wait, verdict.reason) });
  if (deps.now().getTime() > Date.parse(wait.deadline)) {
    const error = new VerificationTimeoutError(
      `not verified by ${wait.deadline} (the policy's verification timeout): ${verdict.reason}`,
    );
    return completeWait(deps, wait, { error: error.name, cause: error.message });
  }
  await requestReevaluation(inPlace, wait.configRuleName, place);
  return 'pending';
}

export async function reconcileWaits(deps: ReconcileWaitsDeps): Promise<ReconcileResult> {
  const { waits, malformed } = await allWaits(deps);
  const out: ReconcileResult = {
    checked: waits.length,
    completed: 0,
    ended: 0,
    stopped: 0,
    deleted: 0,
    failed: 0,
  };
  for (const key of malformed) {
    await deleteWait(deps, key);
    out.deleted++;
  }
  for (const wait of waits) {
    try {
      const step =
        wait.kind === 'runbook' ? await reconcileRunbook(wait, deps) : await reconcileCompliance(wait, deps);
      if (step === 'sent') out.completed++;
      else if (step === 'ended') out.ended++;
      else if (step === 'stopped') out.stopped++;
      else if (step === 'deleted') out.deleted++;
    } catch (err) {
      out.failed++;
      logger.warn('reconcile: wait not checked; next period retries', {
        kind: wait.kind,
        target: wait.target,
        errorName: err instanceof Error ? err.name : typeof err,
      });
    }
  }
  return out;
}
