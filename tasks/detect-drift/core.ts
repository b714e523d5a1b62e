/**
 * detect-drift ("Detect drift"): start CloudFormation drift detection for the resource (or stack).
 *
 * Input (DetectDriftInput): `{ event: RemediationEvent, plan?: PlanResult, confirmation?: ConfirmationResult,
 *   execution?: { id, name, startTime } }`.
 * Output: DriftState (stored at `$.drift`):
 *   - resourceType AWS::CloudFormation::Stack → stack mode: DetectStackDrift (asynchronous) →
 *     `{ mode: 'stack', inStack: true, detectionId, detectionStatus: 'DETECTION_IN_PROGRESS', polls: 0, waitSeconds }`;
 *     the workflow then waits `waitSeconds` and runs check-drift until DETECTION_COMPLETE.
 *   - any other type → find its stack (event.stackName + logicalResourceId, else
 *     DescribeStackResources({ PhysicalResourceId })); not in a stack → `{ mode: 'none', inStack: false,
 *     detectionStatus: 'DETECTION_COMPLETE', resourceDriftStatus: 'NOT_CHECKED' }`; in a stack →
 *     DetectStackResourceDrift (synchronous) → `{ mode: 'resource', detectionStatus: 'DETECTION_COMPLETE',
 *     resourceDriftStatus }`; describe-drift then reads the details.
 * Errors: CloudFormation refusing detection (stack busy, type without drift support) → DriftDetectionFailedError;
 * throttling/5xx → TransientServiceError.
 */
import {
  type CloudFormationClient,
  DescribeStackResourcesCommand,
  DetectStackDriftCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import * as z from 'zod';
import { ConfirmationResult, type DriftState, PlanResult, RemediationEvent } from '../shared/contracts';
import { awsCall, DriftDetectionFailedError, DriftRemediationError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { nextWaitSeconds } from '../shared/polling';
import { assertResourceId } from '../shared/resource-ids';
import { isStackMissing } from '../shared/resource-lookup';

export const DetectDriftInput = z.object({
  event: RemediationEvent,
  plan: PlanResult.optional(),
  confirmation: ConfirmationResult.optional(),
  execution: ExecutionRef.optional(),
});
export type DetectDriftInput = z.infer<typeof DetectDriftInput>;

/** Drift-detection polls allowed: with waits 2, 4, 8, 16, 30, 30, … this is about 13 minutes. */
export const DRIFT_MAX_POLLS = 30;

export interface DetectDriftDeps {
  cloudFormation: CloudFormationClient;
  now: () => Date;
  /** Override DRIFT_MAX_POLLS. */
  maxPolls?: number;
}

const STACK_TYPE = 'AWS::CloudFormation::Stack';

/** A CloudFormation ValidationError (stack busy, unsupported type, …) means detection cannot run. */
async function detecting<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await awsCall(what, call);
  } catch (err) {
    if (err instanceof DriftRemediationError) throw err;
    const e = err as Error;
    if (e.name === 'ValidationError') {
      throw new DriftDetectionFailedError(`${what}: ${e.message}`, { cause: err });
    }
    throw err;
  }
}

async function findStack(
  deps: DetectDriftDeps,
  event: RemediationEvent,
): Promise<{ stackName: string; logicalResourceId: string } | undefined> {
  if (event.stackName && event.logicalResourceId) {
    return { stackName: event.stackName, logicalResourceId: event.logicalResourceId };
  }
  try {
    const r = await awsCall('DescribeStackResources', () =>
      deps.cloudFormation.send(new DescribeStackResourcesCommand({ PhysicalResourceId: event.resourceId })),
    );
    const match = (r.StackResources ?? []).find(
      (s) =>
        s.PhysicalResourceId === event.resourceId &&
        (!s.ResourceType || s.ResourceType === event.resourceType),
    );
    if (!match?.StackName || !match.LogicalResourceId) return undefined;
    return { stackName: match.StackName, logicalResourceId: match.LogicalResourceId };
  } catch (err) {
    if (isStackMissing(err)) return undefined;
    throw err;
  }
}

export async function detectDrift(input: DetectDriftInput, deps: DetectDriftDeps): Promise<DriftState> {
  const { event } = input;
  assertResourceId(event.resourceType, event.resourceId);
  const maxPolls = deps.maxPolls ?? DRIFT_MAX_POLLS;
  const waitSeconds = nextWaitSeconds(0);

  if (event.resourceType === STACK_TYPE) {
    const stackName = event.stackName ?? event.resourceId;
    const r = await detecting('DetectStackDrift', () =>
      deps.cloudFormation.send(new DetectStackDriftCommand({ StackName: event.stackId ?? stackName })),
    );
    if (!r.StackDriftDetectionId)
      throw new DriftDetectionFailedError('DetectStackDrift returned no detection id');
    return {
      inStack: true,
      mode: 'stack',
      stackName,
      detectionId: r.StackDriftDetectionId,
      detectionStatus: 'DETECTION_IN_PROGRESS',
      polls: 0,
      maxPolls,
      waitSeconds,
    };
  }

  const where = await findStack(deps, event);
  if (!where) {
    return {
      inStack: false,
      mode: 'none',
      detectionStatus: 'DETECTION_COMPLETE',
      resourceDriftStatus: 'NOT_CHECKED',
      polls: 0,
      maxPolls,
      waitSeconds,
    };
  }
  const r = await detecting('DetectStackResourceDrift', () =>
    deps.cloudFormation.send(
      new DetectStackResourceDriftCommand({
        StackName: where.stackName,
        LogicalResourceId: where.logicalResourceId,
      }),
    ),
  );
  return {
    inStack: true,
    mode: 'resource',
    stackName: where.stackName,
    logicalResourceId: where.logicalResourceId,
    detectionStatus: 'DETECTION_COMPLETE',
    resourceDriftStatus: r.StackResourceDrift?.StackResourceDriftStatus ?? 'UNKNOWN',
    polls: 0,
    maxPolls,
    waitSeconds,
  };
}
