/**
 * Check compliance: one poll of Config's evaluation of (rule, resource type, resource id).
 *
 * Input  { event: RemediationEvent (configRuleName required), plan: PlanResult,
 *          verification: VerificationState (startedAt required), execution?: { id, name, startTime } }
 * Output VerificationState ($.verification), compliance = the latest ComplianceType seen for the rule:
 *   COMPLIANT recorded at/after verification.startedAt → verified
 *   anything else (NON_COMPLIANT, an older COMPLIANT, no evaluation yet) → pending, polls + 1, adaptive waitSeconds
 *   polls reach maxPolls → failed, with a reason naming what was seen (for the human reading the outcome)
 * A COMPLIANT result recorded before verification started proves nothing about the fix, so it does not verify.
 * Workflow Choice after this task: verified → VERIFIED; failed → NOT_VERIFIED; pending → Wait
 *   ($.verification.waitSeconds) → Request re-evaluation (coalesced) → Check compliance.
 * Errors: InvalidInputError (no rule / no startedAt); TransientServiceError.
 */
import {
  type ConfigServiceClient,
  type EvaluationResult,
  GetComplianceDetailsByResourceCommand,
} from '@aws-sdk/client-config-service';
import * as z from 'zod';
import { PlanResult, RemediationEvent, VerificationState } from '../shared/contracts';
import { awsCall, InvalidInputError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { verificationWaitSeconds } from '../shared/verification';

export const CheckComplianceInput = z.object({
  event: RemediationEvent,
  plan: PlanResult,
  verification: VerificationState.extend({ startedAt: z.iso.datetime({ offset: true }) }),
  execution: ExecutionRef.optional(),
});
export type CheckComplianceInput = z.infer<typeof CheckComplianceInput>;

export interface CheckComplianceDeps {
  config: ConfigServiceClient;
}

const MAX_PAGES = 20;

function ruleOf(r: EvaluationResult): string | undefined {
  return r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName;
}

function recordedMs(r: EvaluationResult): number {
  const t = r.ResultRecordedTime;
  const ms =
    t instanceof Date
      ? t.getTime()
      : typeof t === 'string' || typeof t === 'number'
        ? new Date(t).getTime()
        : Number.NaN;
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/** The rule's latest evaluation of the resource, or undefined when Config has none. */
async function latestEvaluation(
  deps: CheckComplianceDeps,
  event: RemediationEvent,
  rule: string,
): Promise<EvaluationResult | undefined> {
  let latest: EvaluationResult | undefined;
  let token: string | undefined;
  let pages = 0;
  do {
    const res = await awsCall('GetComplianceDetailsByResource', () =>
      deps.config.send(
        new GetComplianceDetailsByResourceCommand({
          ResourceType: event.resourceType,
          ResourceId: event.resourceId,
          NextToken: token,
        }),
      ),
    );
    for (const r of res.EvaluationResults ?? []) {
      if (ruleOf(r) === rule && (!latest || recordedMs(r) > recordedMs(latest))) latest = r;
    }
    token = res.NextToken;
    pages++;
  } while (token && pages < MAX_PAGES);
  return latest;
}

export async function checkCompliance(
  input: CheckComplianceInput,
  deps: CheckComplianceDeps,
): Promise<VerificationState> {
  const { event, plan, verification } = input;
  const rule = event.configRuleName;
  if (!rule)
    throw new InvalidInputError('check-compliance: the event has no Config rule', [
      'event.configRuleName: missing',
    ]);
  const startedMs = Date.parse(verification.startedAt);

  const latest = await latestEvaluation(deps, event, rule);
  const compliance = latest?.ComplianceType ?? 'NO_EVALUATION';
  const at = latest ? recordedMs(latest) : Number.NEGATIVE_INFINITY;
  const atIso = Number.isFinite(at) ? new Date(at).toISOString() : 'an unknown time';

  if (compliance === 'COMPLIANT' && at >= startedMs) {
    return {
      ...verification,
      status: 'verified',
      compliance,
      polls: verification.polls + 1,
      reason: `Config rule ${rule} reports COMPLIANT (recorded ${atIso})`,
    };
  }

  const seen = !latest
    ? `no evaluation by ${rule} of ${event.resourceType} ${event.resourceId}`
    : at < startedMs
      ? `latest ${rule} result ${compliance} was recorded ${atIso}, before verification started ${verification.startedAt}`
      : `${rule} reports ${compliance} (recorded ${atIso})`;
  const polls = verification.polls + 1;
  if (polls >= verification.maxPolls) {
    return {
      ...verification,
      status: 'failed',
      compliance,
      polls,
      reason: `not verified after ${polls} checks: ${seen}`,
    };
  }
  return {
    ...verification,
    status: 'pending',
    compliance,
    polls,
    waitSeconds: verificationWaitSeconds(polls, plan),
    reason: `check ${polls}/${verification.maxPolls}: ${seen}`,
  };
}
