/**
 * detect-drift ("Detect drift"): start CloudFormation drift detection for the resource (or stack).
 *
 * Input (DetectDriftInput): `{ event: RemediationEvent, plan?: PlanResult, confirmation?: ConfirmationResult,
 *   execution?: { id, name, startTime } }`.
 * Output: DriftState (stored at `$.drift`):
 *   - resourceType AWS::CloudFormation::Stack → stack mode: DescribeStackResources (what is detected sizes the
 *     waits), DetectStackDrift (asynchronous) → `{ mode: 'stack', inStack: true, detectionId, detectionStatus:
 *     'DETECTION_IN_PROGRESS', detectionStartedAt, polls: 0, maxPolls, waitSeconds: driftFirstWaitSeconds(resources) }`;
 *     the workflow then waits `waitSeconds` and runs check-drift until DETECTION_COMPLETE.
 *   - any other type → find its stack (event.stackName + logicalResourceId, else
 *     DescribeStackResources({ PhysicalResourceId })); not in a stack → `{ mode: 'none', inStack: false,
 *     detectionStatus: 'DETECTION_COMPLETE', resourceDriftStatus: 'NOT_CHECKED' }`; in a stack →
 *     DetectStackResourceDrift (synchronous) → `{ mode: 'resource', detectionStatus: 'DETECTION_COMPLETE',
 *     resourceDriftStatus, expected, actual, propertyDifferences, added, removed, templateViolatesRule }`,
 *     described from the result itself (tasks/shared/drift-details.ts); describe-drift reads nothing more.
 * Errors: CloudFormation refusing detection (stack busy, type without drift support) → DriftDetectionFailedError;
 * throttling/5xx → TransientServiceError.
 */
import {
  type CloudFormationClient,
  DescribeStackResourcesCommand,
  DetectStackDriftCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import * as v from 'valibot';
import { ConfirmationResult, type DriftState, PlanResult, RemediationEvent } from '../shared/contracts';
import { describeResource, templateViolatesRule } from '../shared/drift-details';
import { awsCall, DriftDetectionFailedError, DriftRemediationError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { proportionalPollsWithin } from '../shared/polling';
import { assertResourceId } from '../shared/resource-ids';
import { isStackMissing } from '../shared/resource-lookup';

export const DetectDriftInput = v.object({
  event: RemediationEvent,
  plan: v.optional(PlanResult),
  confirmation: v.optional(ConfirmationResult),
  execution: v.optional(ExecutionRef),
});
export type DetectDriftInput = v.InferOutput<typeof DetectDriftInput>;

/** Longest a stack drift detection is followed (then DriftDetectionTimeoutError). */
export const DRIFT_TIMEOUT_SECONDS = 900;
/** Low estimate of a stack drift detection: a fixed part plus a part per resource checked. */
export const DRIFT_BASE_SECONDS = 1;
export const DRIFT_SECONDS_PER_RESOURCE = 0.25;

/** The first wait for a detection over `resources` resources (a low estimate: never much after it ends). */
export function driftFirstWaitSeconds(resources: number): number {
  return Math.max(1, Math.floor(DRIFT_BASE_SECONDS + DRIFT_SECONDS_PER_RESOURCE * Math.max(0, resources)));
}

/** Polls that cover DRIFT_TIMEOUT_SECONDS from the first wait, 10 % of the elapsed time apart. */
export function driftMaxPolls(firstWaitSeconds: number): number {
  return proportionalPollsWithin(DRIFT_TIMEOUT_SECONDS, { firstWaitSeconds });
}

/** The most polls any detection gets (the shortest first wait, 1 s): the history bound uses it. */
export const DRIFT_MAX_POLLS = driftMaxPolls(1);

export interface DetectDriftDeps {
  cloudFormation: CloudFormationClient;
  now: () => Date;
  /** Override the poll bound (default: driftMaxPolls of the first wait). */
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
  const maxPolls = deps.maxPolls ?? 1;
  const waitSeconds = 1;

  if (event.resourceType === STACK_TYPE) {
    const stackName = event.stackName ?? event.resourceId;
    const StackName = event.stackId ?? stackName;
    // What is detected sizes the waits: the stack's resources.
    const listed = await detecting('DescribeStackResources', () =>
      deps.cloudFormation.send(new DescribeStackResourcesCommand({ StackName })),
    );
    const startedAt = deps.now();
    const r = await detecting('DetectStackDrift', () =>
      deps.cloudFormation.send(new DetectStackDriftCommand({ StackName })),
    );
    const firstWait = driftFirstWaitSeconds(listed?.StackResources?.length ?? 0);
    if (!r.StackDriftDetectionId)
      throw new DriftDetectionFailedError('DetectStackDrift returned no detection id');
    return {
      inStack: true,
      mode: 'stack',
      stackName,
      detectionId: r.StackDriftDetectionId,
      detectionStatus: 'DETECTION_IN_PROGRESS',
      detectionStartedAt: startedAt.toISOString(),
      polls: 0,
      maxPolls: deps.maxPolls ?? driftMaxPolls(firstWait),
      waitSeconds: firstWait,
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
  const detected: DriftState = {
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
  // The result names the resource's expected (and actual) properties: described here, not read again.
  // Without them (not as AWS answers) Describe drift reads them (the Choice after this state sends it there).
  if (r.StackResourceDrift?.ExpectedProperties === undefined) return detected;
  const described = describeResource(detected, [
    { ...r.StackResourceDrift, LogicalResourceId: where.logicalResourceId },
  ]);
  return {
    ...described,
    templateViolatesRule: templateViolatesRule(described.resourceDriftStatus, event, input.confirmation),
  };
}
