/**
 * Re-check drift: the fast path of verification, right after the runbook succeeded.
 *
 * Input  the whole state: { event: RemediationEvent, plan: PlanResult, drift: DriftState,
 *          verification?: VerificationState (previous check) } (other keys ignored)
 * Output VerificationState ($.verification); `startedAt` is set on the first call and kept after.
 *
 * Drift check by drift.mode:
 *   resource → DetectStackResourceDrift (synchronous): driftStatus = IN_SYNC | MODIFIED | DELETED | …
 *   stack    → (no Config rule only) DetectStackDrift, then DescribeStackDriftDetectionStatus on later calls
 *              while the detection id is known: DETECTION_IN_PROGRESS → pending; complete → StackDriftStatus
 *   none     → driftStatus NOT_APPLICABLE, no call
 * Verdict:
 *   no Config rule (CloudFormation drift event): IN_SYNC → verified; otherwise pending with polls + 1,
 *     failed once polls reach maxPolls (the workflow Waits $.verification.waitSeconds and re-checks).
 *   Config rule: the rule decides. Status stays pending (polls unchanged) and the workflow goes on to
 *     Wait for compliance (stack-level detection is not started: nobody would read it).
 * Workflow Choice after this task (Drift resolved?): status verified → VERIFIED; failed → NOT_VERIFIED;
 *   pending with $.event.configRuleName present → Wait for compliance; pending otherwise → Wait before
 *   re-checking drift, Re-check drift.
 * Errors: InvalidInputError (stack/logical id missing for the mode); TransientServiceError.
 */
import {
  type CloudFormationClient,
  DescribeStackDriftDetectionStatusCommand,
  DetectStackDriftCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import * as v from 'valibot';
import { DriftState, PlanResult, RemediationEvent, VerificationState } from '../shared/contracts';
import { awsCall, InvalidInputError } from '../shared/errors';
import { verificationBase, verificationWaitSeconds } from '../shared/verification';

export const RecheckDriftInput = v.object({
  event: RemediationEvent,
  plan: PlanResult,
  drift: DriftState,
  verification: v.optional(VerificationState),
});
export type RecheckDriftInput = v.InferOutput<typeof RecheckDriftInput>;

export interface RecheckDriftDeps {
  cloudFormation: CloudFormationClient;
  now: () => Date;
}

interface DriftCheck {
  driftStatus: string;
  detectionId?: string | undefined;
}

function requireField(value: string | undefined, field: string, mode: string): string {
  if (!value)
    throw new InvalidInputError(`recheck-drift: ${field} is required in ${mode} mode`, [`${field}: missing`]);
  return value;
}

async function checkResource(cfn: CloudFormationClient, drift: DriftState): Promise<DriftCheck> {
  const StackName = requireField(drift.stackName, 'drift.stackName', 'resource');
  const LogicalResourceId = requireField(drift.logicalResourceId, 'drift.logicalResourceId', 'resource');
  const res = await awsCall('DetectStackResourceDrift', () =>
    cfn.send(new DetectStackResourceDriftCommand({ StackName, LogicalResourceId })),
  );
  return { driftStatus: res.StackResourceDrift?.StackResourceDriftStatus ?? 'UNKNOWN' };
}

async function checkStack(
  cfn: CloudFormationClient,
  drift: DriftState,
  detectionId: string | undefined,
): Promise<DriftCheck> {
  const StackName = requireField(drift.stackName, 'drift.stackName', 'stack');
  if (!detectionId) {
    const res = await awsCall('DetectStackDrift', () =>
      cfn.send(
        new DetectStackDriftCommand({
          StackName,
          ...(drift.logicalResourceId ? { LogicalResourceIds: [drift.logicalResourceId] } : {}),
        }),
      ),
    );
    return { driftStatus: 'DETECTION_IN_PROGRESS', detectionId: res.StackDriftDetectionId };
  }
  const res = await awsCall('DescribeStackDriftDetectionStatus', () =>
    cfn.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: detectionId })),
  );
  if (res.DetectionStatus === 'DETECTION_IN_PROGRESS')
    return { driftStatus: 'DETECTION_IN_PROGRESS', detectionId };
  if (res.DetectionStatus === 'DETECTION_COMPLETE') {
    // Forget the id: a DRIFTED result is re-detected afresh on the next check.
    return { driftStatus: res.StackDriftStatus ?? 'UNKNOWN' };
  }
  return { driftStatus: res.DetectionStatus ?? 'UNKNOWN' };
}

export async function recheckDrift(
  input: RecheckDriftInput,
  deps: RecheckDriftDeps,
): Promise<VerificationState> {
  const { event, plan, drift } = input;
  const base = verificationBase(input.verification, plan, deps.now());
  const rule = event.configRuleName;

  let check: DriftCheck;
  if (drift.mode === 'resource') check = await checkResource(deps.cloudFormation, drift);
  else if (drift.mode === 'stack' && !rule)
    check = await checkStack(deps.cloudFormation, drift, base.detectionId);
  else if (drift.mode === 'stack') check = { driftStatus: 'NOT_CHECKED' };
  else check = { driftStatus: 'NOT_APPLICABLE' };

  const { detectionId: _previousDetection, ...rest } = base;
  const next: VerificationState = {
    ...rest,
    driftStatus: check.driftStatus,
    ...(check.detectionId ? { detectionId: check.detectionId } : {}),
  };

  if (rule) {
    return {
      ...next,
      status: 'pending',
      waitSeconds: 1,
      reason: `drift re-check: ${check.driftStatus}; waiting for Config rule ${rule} to re-evaluate`,
    };
  }
  if (drift.mode === 'none') {
    return {
      ...next,
      status: 'failed',
      reason: 'no Config rule and no CloudFormation stack to verify the remediation against',
    };
  }
  if (check.driftStatus === 'IN_SYNC') {
    return {
      ...next,
      status: 'verified',
      polls: base.polls + 1,
      reason: `CloudFormation reports ${drift.logicalResourceId ?? drift.stackName ?? event.resourceId} IN_SYNC with its template`,
    };
  }
  const polls = base.polls + 1;
  if (polls >= base.maxPolls) {
    return {
      ...next,
      status: 'failed',
      polls,
      reason: `still ${check.driftStatus} after ${polls} drift checks since ${base.startedAt}`,
    };
  }
  return {
    ...next,
    status: 'pending',
    polls,
    waitSeconds: verificationWaitSeconds(polls, plan),
    reason: `drift re-check ${polls}/${base.maxPolls}: ${check.driftStatus}`,
  };
}
