/**
 * confirm-compliance ("Confirm non-compliance"): is the event still true right now?
 *
 * Input (ConfirmComplianceInput): `{ event: RemediationEvent, plan?: PlanResult, execution?: { id, name, startTime } }`.
 * Output: ConfirmationResult (stored at `$.confirmation`).
 *
 * Config-sourced events (the event names a Config rule): GetComplianceDetailsByResource → the rule's
 * current result. COMPLIANT or NOT_APPLICABLE recorded *after* the event → stillNonCompliant false (the
 * event is stale). A result no newer than the event, or none at all, does not override the event.
 * CloudFormation-sourced events (no rule): no Config call, currentCompliance NOT_APPLICABLE, stillNonCompliant true.
 * A plan that does not remediate (skip / escalate): no call at all; stillNonCompliant false, currentCompliance
 * NOT_CHECKED, reason = the plan's reason (the workflow runs Confirm after every plan, then one Choice).
 * Then (only while still non-compliant) existence via Cloud Control GetResource (DescribeStacks for stacks):
 * not found → resourceExists false. A type Cloud Control cannot read is assumed to exist. With a plan that
 * remediates, no lookup: plan read the resource a moment before (its exception-tag check; a resource gone,
 * or one it cannot read, never gets `remediate`).
 */
import {
  type ConfigServiceClient,
  type EvaluationResult,
  GetComplianceDetailsByResourceCommand,
} from '@aws-sdk/client-config-service';
import * as v from 'valibot';
import { type ConfirmationResult, configSubjectOf, PlanResult, RemediationEvent } from '../shared/contracts';
import { awsCall } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { logger } from '../shared/powertools';
import { assertResourceId } from '../shared/resource-ids';
import { lookupResource, type ResourceLookupDeps } from '../shared/resource-lookup';

export const ConfirmComplianceInput = v.object({
  event: RemediationEvent,
  plan: v.optional(PlanResult),
  execution: v.optional(ExecutionRef),
});
export type ConfirmComplianceInput = v.InferOutput<typeof ConfirmComplianceInput>;

export interface ConfirmComplianceDeps extends ResourceLookupDeps {
  config: ConfigServiceClient;
  now: () => Date;
}

/** Cloud Control errors that mean "this type cannot be read this way", not "the resource is gone". */
const UNREADABLE_TYPE = new Set(['UnsupportedActionException', 'TypeNotFoundException']);

async function currentResult(deps: ConfirmComplianceDeps, event: RemediationEvent, rule: string) {
  let token: string | undefined;
  const found: EvaluationResult[] = [];
  do {
    const r = await awsCall('GetComplianceDetailsByResource', () =>
      deps.config.send(
        new GetComplianceDetailsByResourceCommand({
          ResourceType: event.resourceType,
          ResourceId: configSubjectOf(event).resourceId,
          NextToken: token,
        }),
      ),
    );
    for (const e of r.EvaluationResults ?? []) {
      if (e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === rule) found.push(e);
    }
    token = r.NextToken;
  } while (token);
  // Several results for one rule (e.g. detective and proactive): the most recent one counts.
  const time = (e: EvaluationResult) =>
    (e.EvaluationResultIdentifier?.OrderingTimestamp ?? e.ResultRecordedTime)?.getTime() ?? 0;
  return found.sort((a, b) => time(b) - time(a))[0];
}

export async function confirmCompliance(
  input: ConfirmComplianceInput,
  deps: ConfirmComplianceDeps,
): Promise<ConfirmationResult> {
  const { event, plan } = input;
  assertResourceId(event.resourceType, event.resourceId);
  if (plan && plan.decision !== 'remediate') {
    // The workflow runs Confirm after every plan (one Choice decides after it): nothing to confirm.
    return {
      stillNonCompliant: false,
      resourceExists: true,
      currentCompliance: 'NOT_CHECKED',
      reason: plan.reason,
    };
  }
  const rule = event.configRuleName;
  let currentCompliance = 'NOT_APPLICABLE';
  let reason: string;
  if (rule) {
    const result = await currentResult(deps, event, rule);
    currentCompliance = result?.ComplianceType ?? 'INSUFFICIENT_DATA';
    const at = result?.EvaluationResultIdentifier?.OrderingTimestamp ?? result?.ResultRecordedTime;
    const newer = !!at && at.getTime() > Date.parse(event.orderingTimestamp);
    if (result && newer && (currentCompliance === 'COMPLIANT' || currentCompliance === 'NOT_APPLICABLE')) {
      return {
        stillNonCompliant: false,
        resourceExists: true,
        currentCompliance,
        reason: `stale event: ${rule} reports ${currentCompliance} since ${at.toISOString()} (event ${event.orderingTimestamp})`,
      };
    }
    reason = result
      ? `${rule} reports ${currentCompliance}${newer ? '' : ' (not newer than the event; the event stands)'}`
      : `${rule} has no current result for the resource; acting on the event`;
  } else {
    reason = 'CloudFormation drift event: no Config rule to re-check';
  }
  // Plan just read the resource (GetResource / DescribeStacks) and found it: not read again.
  if (plan?.decision === 'remediate')
    return { stillNonCompliant: true, resourceExists: true, currentCompliance, reason };
  try {
    const state = await lookupResource(deps, event.resourceType, event.resourceId);
    if (!state.exists) {
      return {
        stillNonCompliant: true,
        resourceExists: false,
        currentCompliance,
        reason: 'resource no longer exists',
      };
    }
  } catch (err) {
    if (!(err instanceof Error && UNREADABLE_TYPE.has(err.name))) throw err;
    logger.info('resource existence not checkable through Cloud Control; assuming it exists', {
      resourceType: event.resourceType,
      errorName: err.name,
    });
  }
  return { stillNonCompliant: true, resourceExists: true, currentCompliance, reason };
}
