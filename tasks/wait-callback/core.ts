/**
 * Event callback: completes the waits an AWS event resolves (EventBridge → this function).
 *
 *   "EC2 Automation Execution Status-change Notification" (source aws.ssm), detail { ExecutionId, Definition,
 *     DefinitionVersion, Status, StartTime, EndTime, Time, ExecutedBy }: a terminal Status completes the
 *     runbook wait of `runbook#<ExecutionId>` with the attempt's result (tasks/shared/runbook-status.ts),
 *     after releasing the execution's slot and handing it to the oldest live waiter when the attempt ends
 *     its runbook work (succeeded, or failed with no re-attempt: tasks/shared/leases-release.ts); for a
 *     failure the failing step's message is read with GetAutomationExecution (the event does not carry it)
 *     in the account-region the automation ran in (the wait's place: a member's, through its role).
 *     A member's events reach this function through its forwarding rule and the central bus.
 *   "Config Rules Compliance Change" (source aws.config), COMPLIANT: completes the verification waits of
 *     `compliance#<rule>#<resourceKey>` begun at or before the result's resultRecordedTime.
 *   Anything else (a non-terminal status, NON_COMPLIANT, another event) changes nothing.
 * Output { completed, ended, ignored? } — counts only: the token never leaves tasks/shared/waits.ts.
 * Errors: InvalidInputError (not an EventBridge event of these kinds: nothing changed); TransientServiceError
 *   (EventBridge retries the delivery; completing twice is harmless).
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import * as v from 'valibot';
import { forPlace, type PerPlace, type Place } from '../shared/accounts';
import { ACCOUNT_ID, REGION, resourceKeyOf } from '../shared/contracts';
import type { QueueDeps } from '../shared/leases-queue';
import { completeRunbookWait } from '../shared/leases-release';
import {
  automationStatus,
  FAILED_STATUSES,
  runbookResult,
  TERMINAL_STATUSES,
} from '../shared/runbook-status';
import { complianceWaitTarget, runbookWaitTarget } from '../shared/tables';
import {
  type Completion,
  completeWait,
  verifiedState,
  type WaitsDeps,
  waitPlace,
  waitsFor,
} from '../shared/waits';

export const AUTOMATION_STATUS_CHANGE = 'EC2 Automation Execution Status-change Notification';
export const COMPLIANCE_CHANGE = 'Config Rules Compliance Change';

const AutomationStatusChange = v.object({
  source: v.literal('aws.ssm'),
  'detail-type': v.literal(AUTOMATION_STATUS_CHANGE),
  detail: v.object({
    ExecutionId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9-]{1,64}$/)),
    Definition: v.optional(v.string()),
    Status: v.pipe(v.string(), v.minLength(1)),
  }),
});

const ComplianceChange = v.object({
  source: v.literal('aws.config'),
  'detail-type': v.literal(COMPLIANCE_CHANGE),
  detail: v.object({
    configRuleName: v.pipe(v.string(), v.minLength(1)),
    resourceType: v.pipe(v.string(), v.minLength(1)),
    resourceId: v.pipe(v.string(), v.minLength(1)),
    awsAccountId: v.pipe(v.string(), v.regex(ACCOUNT_ID)),
    awsRegion: v.pipe(v.string(), v.regex(REGION)),
    newEvaluationResult: v.object({
      complianceType: v.string(),
      resultRecordedTime: v.optional(v.string()),
    }),
  }),
});

export const WaitCallbackInput = v.union([AutomationStatusChange, ComplianceChange]);
export type WaitCallbackInput = v.InferOutput<typeof WaitCallbackInput>;

export interface WaitCallbackDeps extends WaitsDeps, QueueDeps {
  /** SSM of the automation's account-region (one client: every place). */
  ssm: PerPlace<SSMClient>;
  /** The central account-region (waits written before they named their place). */
  central: Place;
}

export interface WaitCallbackResult {
  completed: number;
  /** Waits whose execution no longer waited (timed out, stopped, completed by the reconciler). */
  ended: number;
  ignored?: string;
}

function tally(completions: readonly Completion[]): WaitCallbackResult {
  return {
    completed: completions.filter((c) => c === 'sent').length,
    ended: completions.filter((c) => c === 'ended').length,
  };
}

async function onAutomationStatus(
  event: v.InferOutput<typeof AutomationStatusChange>,
  deps: WaitCallbackDeps,
): Promise<WaitCallbackResult> {
  const { ExecutionId: id, Status: status } = event.detail;
  if (!TERMINAL_STATUSES.includes(status)) return { completed: 0, ended: 0, ignored: `status ${status}` };
  const waits = await waitsFor(deps, runbookWaitTarget(id));
  if (waits.length === 0)
    return { completed: 0, ended: 0, ignored: 'no execution waits for this automation' };
  const [first] = waits;
  const { failureMessage, failureDetails } =
    first && FAILED_STATUSES.includes(status)
      ? await automationStatus(forPlace(deps.ssm, waitPlace(first, deps.central)), id)
      : { failureMessage: undefined, failureDetails: undefined };
  const completions: Completion[] = [];
  for (const wait of waits) {
    if (wait.kind !== 'runbook') continue;
    const result = runbookResult(wait.runbook, status, failureMessage, wait, failureDetails);
    if (result) completions.push(await completeRunbookWait(deps, wait, result));
  }
  return tally(completions);
}

async function onComplianceChange(
  event: v.InferOutput<typeof ComplianceChange>,
  deps: WaitCallbackDeps,
): Promise<WaitCallbackResult> {
  const d = event.detail;
  const compliance = d.newEvaluationResult.complianceType;
  if (compliance !== 'COMPLIANT') return { completed: 0, ended: 0, ignored: compliance };
  const recorded = d.newEvaluationResult.resultRecordedTime;
  const recordedMs = recorded ? Date.parse(recorded) : Number.NaN;
  const target = complianceWaitTarget(d.configRuleName, resourceKeyOf(d));
  const completions: Completion[] = [];
  for (const wait of await waitsFor(deps, target)) {
    if (wait.kind !== 'compliance') continue;
    // A result recorded before the verification began proves nothing about the fix.
    if (!(recordedMs >= Date.parse(wait.startedAt))) continue;
    const reason = `Config rule ${d.configRuleName} reports COMPLIANT (recorded ${recorded})`;
    completions.push(await completeWait(deps, wait, { output: verifiedState(wait, reason) }));
  }
  return tally(completions);
}

export async function waitCallback(
  input: WaitCallbackInput,
  deps: WaitCallbackDeps,
): Promise<WaitCallbackResult> {
  return input.source === 'aws.ssm' ? onAutomationStatus(input, deps) : onComplianceChange(input, deps);
}
