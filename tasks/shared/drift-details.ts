/**
 * What a stack resource drift result says, in the form runbook parameters use (DriftState's expected,
 * actual, propertyDifferences, added, removed): from DescribeStackResourceDrifts (describe-drift) or from
 * the result DetectStackResourceDrift returns itself (detect-drift, resource mode: no second read).
 */
import type { StackResourceDrift } from '@aws-sdk/client-cloudformation';
import type { ConfirmationResult, DriftState, PropertyDifference, RemediationEvent } from './contracts';
import { logger } from './powertools';

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

const DRIFTED = new Set(['MODIFIED', 'DELETED']);

/** Resource mode: the latest result for the drift's logical id among `drifts`. */
export function describeResource(drift: DriftState, drifts: StackResourceDrift[]): DriftState {
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

/** Stack mode: every MODIFIED/DELETED resource, keyed by logical id. */
export function describeStack(drift: DriftState, drifts: StackResourceDrift[]): DriftState {
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

/**
 * IN_SYNC with the template, yet the event names a Config rule and confirmation says the resource is still
 * non-compliant: the template itself violates the rule (the workflow escalates).
 */
export function templateViolatesRule(
  status: string | undefined,
  event: Pick<RemediationEvent, 'configRuleName'>,
  confirmation: Pick<ConfirmationResult, 'stillNonCompliant'> | undefined,
): boolean {
  return status === 'IN_SYNC' && !!event.configRuleName && confirmation?.stillNonCompliant === true;
}
