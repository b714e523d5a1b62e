/**
 * describe-drift ("Describe drift"): what exactly drifted, in a form runbook parameters can use.
 *
 * Input (DescribeDriftInput): `{ event: RemediationEvent, drift: DriftState (from detect-drift / check-drift),
 *   confirmation?: ConfirmationResult, execution?: { id, name, startTime } }`.
 * Output: DriftState (stored at `$.drift`) with resourceDriftStatus, expected, actual, propertyDifferences,
 * added/removed and templateViolatesRule:
 *   - resource mode, already described by detect-drift (propertyDifferences present): no call, passed on;
 *   - resource mode otherwise: DescribeStackResourceDrifts for the stack → that logical id's latest result;
 *     expected/actual = parsed ExpectedProperties/ActualProperties; `added`/`removed` per top-level list
 *     property = deep-equal set difference (actual − expected / expected − actual), non-empty ones only.
 *   - stack mode: every MODIFIED/DELETED resource; differences combined with `/<LogicalId>` prefixed paths;
 *     expected/actual/added/removed keyed by logical id (`<LogicalId>/<Property>` for lists).
 *   - mode none: nothing to describe (NOT_CHECKED).
 *   - stack mode with the detection still DETECTION_IN_PROGRESS: returned unchanged, no call (the workflow's
 *     Choice after Describe drift waits, runs Check drift detection and comes back here).
 * templateViolatesRule = IN_SYNC with the template, yet the event names a Config rule and confirmation says
 * the resource is still non-compliant: the template itself violates the rule (the workflow escalates).
 */
import {
  type CloudFormationClient,
  DescribeStackResourceDriftsCommand,
  type StackResourceDrift,
} from '@aws-sdk/client-cloudformation';
import * as v from 'valibot';
import { ConfirmationResult, DriftState, RemediationEvent } from '../shared/contracts';
import { describeResource, describeStack, templateViolatesRule } from '../shared/drift-details';
import {
  awsCall,
  DriftDetectionFailedError,
  DriftRemediationError,
  InvalidInputError,
} from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';

export const DescribeDriftInput = v.object({
  event: RemediationEvent,
  drift: DriftState,
  confirmation: v.optional(ConfirmationResult),
  execution: v.optional(ExecutionRef),
});
export type DescribeDriftInput = v.InferOutput<typeof DescribeDriftInput>;

export { canonical, listDifferences, STACK_PROPERTIES_BUDGET_BYTES } from '../shared/drift-details';

export interface DescribeDriftDeps {
  cloudFormation: CloudFormationClient;
  now: () => Date;
}

async function allDrifts(deps: DescribeDriftDeps, stackName: string): Promise<StackResourceDrift[]> {
  const out: StackResourceDrift[] = [];
  let token: string | undefined;
  try {
    do {
      const r = await awsCall('DescribeStackResourceDrifts', () =>
        deps.cloudFormation.send(
          new DescribeStackResourceDriftsCommand({ StackName: stackName, NextToken: token, MaxResults: 100 }),
        ),
      );
      out.push(...(r.StackResourceDrifts ?? []));
      token = r.NextToken;
    } while (token);
  } catch (err) {
    if (err instanceof DriftRemediationError) throw err;
    const e = err as Error;
    if (e.name === 'ValidationError')
      throw new DriftDetectionFailedError(`DescribeStackResourceDrifts: ${e.message}`, { cause: err });
    throw err;
  }
  return out;
}

export async function describeDrift(input: DescribeDriftInput, deps: DescribeDriftDeps): Promise<DriftState> {
  const { event, drift, confirmation } = input;
  const violates = (status: string | undefined) => templateViolatesRule(status, event, confirmation);
  if (drift.mode === 'none') {
    return {
      ...drift,
      resourceDriftStatus: drift.resourceDriftStatus ?? 'NOT_CHECKED',
      templateViolatesRule: false,
    };
  }
  if (!drift.stackName || (drift.mode === 'resource' && !drift.logicalResourceId)) {
    throw new InvalidInputError('describe-drift: invalid input', [
      `drift: mode ${drift.mode} needs stackName${drift.mode === 'resource' ? ' and logicalResourceId' : ''}`,
    ]);
  }
  // Stack detection still running: nothing to describe yet; the Choice after this state waits and checks.
  if (drift.mode === 'stack' && drift.detectionStatus === 'DETECTION_IN_PROGRESS') return drift;
  if (drift.detectionStatus !== 'DETECTION_COMPLETE') {
    throw new InvalidInputError('describe-drift: invalid input', [
      `drift.detectionStatus: ${drift.detectionStatus}, expected DETECTION_COMPLETE`,
    ]);
  }
  // Resource mode: Detect drift already described the result DetectStackResourceDrift returned (the
  // same detection DescribeStackResourceDrifts would read back): nothing to read again.
  if (drift.mode === 'resource' && drift.propertyDifferences !== undefined) {
    return { ...drift, templateViolatesRule: violates(drift.resourceDriftStatus) };
  }
  const drifts = await allDrifts(deps, drift.stackName);
  const out = drift.mode === 'resource' ? describeResource(drift, drifts) : describeStack(drift, drifts);
  return { ...out, templateViolatesRule: violates(out.resourceDriftStatus) };
}
