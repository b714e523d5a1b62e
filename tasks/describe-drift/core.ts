/**
 * describe-drift ("Describe drift"): what exactly drifted, in a form runbook parameters can use.
 *
 * Input (DescribeDriftInput): `{ event: RemediationEvent, drift: DriftState (from detect-drift / check-drift),
 *   confirmation?: ConfirmationResult, execution?: { id, name, startTime } }`.
 * Output: DriftState (stored at `$.drift`) with resourceDriftStatus, expected, actual, propertyDifferences,
 * added/removed and templateViolatesRule:
 *   - resource mode: DescribeStackResourceDrifts for the stack → that logical id's latest result;
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
import {
  ConfirmationResult,
  DriftState,
  type PropertyDifference,
  RemediationEvent,
} from '../shared/contracts';
import {
  awsCall,
  DriftDetectionFailedError,
  DriftRemediationError,
  InvalidInputError,
} from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { logger } from '../shared/powertools';
import * as z from '../shared/zod';

export const DescribeDriftInput = z.object({
  event: RemediationEvent,
  drift: DriftState,
  confirmation: z.optional(ConfirmationResult),
  execution: z.optional(ExecutionRef),
});
export type DescribeDriftInput = z.infer<typeof DescribeDriftInput>;

export interface DescribeDriftDeps {
  cloudFormation: CloudFormationClient;
  now: () => Date;
}

/** Step Functions state is limited to 256 KiB; stack-mode property documents beyond this are left out. */
export const STACK_PROPERTIES_BUDGET_BYTES = 96 * 1024;

type Json = Record<string, unknown>;

/** JSON with object keys sorted, so deep-equal values have equal text. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Json)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Per top-level list property: elements of `actual` not in `expected` (added) and the reverse (removed). */
export function listDifferences(
  expected: Json | undefined,
  actual: Json | undefined,
): { added: Record<string, unknown[]>; removed: Record<string, unknown[]> } {
  const added: Record<string, unknown[]> = {};
  const removed: Record<string, unknown[]> = {};
  const keys = new Set([...Object.keys(expected ?? {}), ...Object.keys(actual ?? {})]);
  for (const k of keys) {
    const e = expected?.[k];
    const a = actual?.[k];
    if (!Array.isArray(e) && !Array.isArray(a)) continue;
    const ea = Array.isArray(e) ? e : [];
    const aa = Array.isArray(a) ? a : [];
    const eSet = new Set(ea.map(canonical));
    const aSet = new Set(aa.map(canonical));
    const plus = aa.filter((x) => !eSet.has(canonical(x)));
    const minus = ea.filter((x) => !aSet.has(canonical(x)));
    if (plus.length) added[k] = plus;
    if (minus.length) removed[k] = minus;
  }
  return { added, removed };
}

function parseProps(text: string | undefined, what: string): Json | undefined {
  if (!text) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    logger.warn('drift property document is not JSON', { what });
    return undefined;
  }
}

function differences(r: StackResourceDrift, prefix = ''): PropertyDifference[] {
  return (r.PropertyDifferences ?? []).map((d) => ({
    PropertyPath: `${prefix}${d.PropertyPath ?? ''}`,
    ExpectedValue: d.ExpectedValue ?? '',
    ActualValue: d.ActualValue ?? '',
    DifferenceType: d.DifferenceType ?? 'NOT_EQUAL',
  }));
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

const DRIFTED = new Set(['MODIFIED', 'DELETED']);

function describeResource(drift: DriftState, drifts: StackResourceDrift[]): DriftState {
  const mine = drifts
    .filter((d) => d.LogicalResourceId === drift.logicalResourceId)
    .sort((a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0))[0];
  if (!mine) return { ...drift, resourceDriftStatus: drift.resourceDriftStatus ?? 'UNKNOWN' };
  const expected = parseProps(mine.ExpectedProperties, 'ExpectedProperties');
  const actual = parseProps(mine.ActualProperties, 'ActualProperties');
  const { added, removed } = listDifferences(expected, actual);
  return {
    ...drift,
    resourceDriftStatus: mine.StackResourceDriftStatus ?? 'UNKNOWN',
    ...(expected ? { expected } : {}),
    ...(actual ? { actual } : {}),
    propertyDifferences: differences(mine),
    added,
    removed,
  };
}

function describeStack(drift: DriftState, drifts: StackResourceDrift[]): DriftState {
  const drifted = drifts.filter((d) => DRIFTED.has(d.StackResourceDriftStatus ?? ''));
  const anyInSync = drifts.some((d) => d.StackResourceDriftStatus === 'IN_SYNC');
  const status = drifted.length ? 'MODIFIED' : anyInSync ? 'IN_SYNC' : 'NOT_CHECKED';
  const expected: Json = {};
  const actual: Json = {};
  const added: Record<string, unknown[]> = {};
  const removed: Record<string, unknown[]> = {};
  const propertyDifferences: PropertyDifference[] = [];
  for (const d of drifted) {
    const id = d.LogicalResourceId ?? 'Unknown';
    const e = parseProps(d.ExpectedProperties, `${id}.ExpectedProperties`);
    const a = parseProps(d.ActualProperties, `${id}.ActualProperties`);
    if (e) expected[id] = e;
    if (a) actual[id] = a;
    const diff = listDifferences(e, a);
    for (const [k, v] of Object.entries(diff.added)) added[`${id}/${k}`] = v;
    for (const [k, v] of Object.entries(diff.removed)) removed[`${id}/${k}`] = v;
    propertyDifferences.push(...differences(d, `/${id}`));
    if (d.StackResourceDriftStatus === 'DELETED' && !d.PropertyDifferences?.length) {
      propertyDifferences.push({
        PropertyPath: `/${id}`,
        ExpectedValue: d.ResourceType ?? '',
        ActualValue: '',
        DifferenceType: 'REMOVE',
      });
    }
  }
  const fits = canonical(expected).length + canonical(actual).length <= STACK_PROPERTIES_BUDGET_BYTES;
  if (!fits) logger.warn('stack property documents too large for the execution state; kept differences only');
  return {
    ...drift,
    resourceDriftStatus: status,
    ...(fits ? { expected, actual } : {}),
    propertyDifferences,
    added,
    removed,
  };
}

export async function describeDrift(input: DescribeDriftInput, deps: DescribeDriftDeps): Promise<DriftState> {
  const { event, drift, confirmation } = input;
  const violates = (status: string | undefined) =>
    status === 'IN_SYNC' && !!event.configRuleName && confirmation?.stillNonCompliant === true;
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
  const drifts = await allDrifts(deps, drift.stackName);
  const out = drift.mode === 'resource' ? describeResource(drift, drifts) : describeStack(drift, drifts);
  return { ...out, templateViolatesRule: violates(out.resourceDriftStatus) };
}
