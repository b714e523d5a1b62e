/**
 * check-drift ("Check drift detection"): one poll of a stack drift detection started by detect-drift.
 *
 * Input (CheckDriftInput): `{ drift: DriftState (mode 'stack', detectionId set), event?: RemediationEvent,
 *   execution?: { id, name, startTime } }`.
 * Output: DriftState (stored at `$.drift`), polls + 1:
 *   - DETECTION_COMPLETE → detectionStatus DETECTION_COMPLETE (describe-drift next)
 *   - DETECTION_IN_PROGRESS → next `waitSeconds` = 10 % of the time since drift.detectionStartedAt (≥ 1 s), so the
 *     detection is seen at most max(1 s, 10 %) after it ends;
 *     once polls reaches maxPolls → DriftDetectionTimeoutError
 *   - DETECTION_FAILED → DriftDetectionFailedError (with CloudFormation's reason)
 */
import {
  type CloudFormationClient,
  DescribeStackDriftDetectionStatusCommand,
  type DescribeStackDriftDetectionStatusCommandOutput,
} from '@aws-sdk/client-cloudformation';
import * as v from 'valibot';
import { DriftState, RemediationEvent } from '../shared/contracts';
import {
  awsCall,
  DriftDetectionFailedError,
  DriftDetectionTimeoutError,
  DriftRemediationError,
  InvalidInputError,
} from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { proportionalWaitSeconds } from '../shared/polling';

export const CheckDriftInput = v.object({
  drift: DriftState,
  event: v.optional(RemediationEvent),
  execution: v.optional(ExecutionRef),
});
export type CheckDriftInput = v.InferOutput<typeof CheckDriftInput>;

export interface CheckDriftDeps {
  cloudFormation: CloudFormationClient;
  now: () => Date;
}

export async function checkDrift(input: CheckDriftInput, deps: CheckDriftDeps): Promise<DriftState> {
  const { drift } = input;
  if (drift.mode !== 'stack' || !drift.detectionId) {
    throw new InvalidInputError('check-drift: invalid input', [
      'drift: needs mode "stack" and a detectionId',
    ]);
  }
  const detectionId = drift.detectionId;
  let r: DescribeStackDriftDetectionStatusCommandOutput;
  try {
    r = await awsCall('DescribeStackDriftDetectionStatus', () =>
      deps.cloudFormation.send(
        new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: detectionId }),
      ),
    );
  } catch (err) {
    if (err instanceof DriftRemediationError) throw err;
    const e = err as Error;
    // An unknown or expired detection id: the detection cannot be followed any further.
    if (e.name === 'ValidationError')
      throw new DriftDetectionFailedError(`DescribeStackDriftDetectionStatus: ${e.message}`, {
        cause: err,
      });
    throw err;
  }
  const polls = drift.polls + 1;
  const status = r.DetectionStatus ?? 'UNKNOWN';
  if (status === 'DETECTION_FAILED') {
    throw new DriftDetectionFailedError(
      `drift detection ${detectionId} failed: ${r.DetectionStatusReason ?? 'no reason given'}`,
      { detectionId, stackName: drift.stackName },
    );
  }
  if (status === 'DETECTION_COMPLETE') {
    return { ...drift, detectionStatus: status, polls };
  }
  if (polls >= drift.maxPolls) {
    throw new DriftDetectionTimeoutError(
      `drift detection ${detectionId} still ${status} after ${polls} polls (max ${drift.maxPolls})`,
      { detectionId, polls },
    );
  }
  // 10 % of the time the detection has taken so far: it is seen at most that late.
  const started = drift.detectionStartedAt ? Date.parse(drift.detectionStartedAt) : Number.NaN;
  const elapsedSeconds = Number.isNaN(started) ? 0 : (deps.now().getTime() - started) / 1000;
  return { ...drift, detectionStatus: status, polls, waitSeconds: proportionalWaitSeconds(elapsedSeconds) };
}
