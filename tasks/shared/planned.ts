/**
 * What a remediation would do, without doing it (plan mode): the runbook, its parameters resolved exactly
 * as Start runbook would resolve them (AutomationAssumeRole aside: the workflow adds it) and the
 * expected-vs-actual diff. Pure. Record outcome stores it on a PLANNED outcome; the `plan` CLI prints it.
 */
import type { DriftState, PlanResult, PropertyDifference, RemediationEvent } from './contracts';
import { InvalidInputError } from './errors';
import { resolveParameters } from './parameters';

/** Property differences kept (a drifted resource rarely has more; an audit item must stay far below 400 KB). */
export const MAX_PLANNED_DIFFERENCES = 50;

export interface PlannedDiff {
  /** IN_SYNC | MODIFIED | DELETED | NOT_CHECKED | UNKNOWN, or absent when the resource is in no stack. */
  driftStatus?: string;
  propertyDifferences: PropertyDifference[];
  /** Elements present in actual but not in expected, per top-level list property. */
  added?: Record<string, unknown[]>;
  /** Elements expected but missing from actual. */
  removed?: Record<string, unknown[]>;
  /** true when more than MAX_PLANNED_DIFFERENCES differences were found. */
  truncated?: boolean;
}

export interface PlannedChange {
  documentName: string;
  /** SSM Parameters shape; absent when they could not be resolved (then `parametersError` says why). */
  parameters?: Record<string, string[]>;
  parametersError?: string;
  diff: PlannedDiff;
}

/** The diff part of a drift state. */
export function plannedDiff(drift: DriftState | undefined): PlannedDiff {
  const all = drift?.propertyDifferences ?? [];
  return {
    ...(drift?.resourceDriftStatus ? { driftStatus: drift.resourceDriftStatus } : {}),
    propertyDifferences: all.slice(0, MAX_PLANNED_DIFFERENCES),
    ...(drift?.added && Object.keys(drift.added).length ? { added: drift.added } : {}),
    ...(drift?.removed && Object.keys(drift.removed).length ? { removed: drift.removed } : {}),
    ...(all.length > MAX_PLANNED_DIFFERENCES ? { truncated: true } : {}),
  };
}

/** The planned change, or undefined when the plan names no runbook (no policy entry). */
export function plannedChange(ctx: {
  event: RemediationEvent;
  plan: PlanResult | undefined;
  drift: DriftState | undefined;
}): PlannedChange | undefined {
  const runbook = ctx.plan?.runbook;
  if (!runbook) return undefined;
  const diff = plannedDiff(ctx.drift);
  try {
    const parameters = resolveParameters(runbook.parameters, ctx);
    return { documentName: runbook.documentName, parameters, diff };
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    return { documentName: runbook.documentName, parametersError: err.message, diff };
  }
}
