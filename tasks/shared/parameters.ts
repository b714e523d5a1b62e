/**
 * Resolves a policy entry's runbook parameter sources against the execution state into SSM's
 * Parameters shape (Record<string, string[]>). Pure; used by Request approval (to show the approver
 * exactly what will run) and by Start runbook (to run it), so both see the same values.
 */
import type { DriftState, ParameterSource, PlanResult, RemediationEvent } from './contracts';
import { InvalidInputError } from './errors';

export interface ParameterContext {
  event: RemediationEvent;
  drift?: DriftState | undefined;
  plan?: PlanResult | undefined;
}

function lookup(ctx: ParameterContext, path: string): unknown {
  let cur: unknown = ctx;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function resolveParameters(
  sources: Record<string, ParameterSource>,
  ctx: ParameterContext,
  automationAssumeRoleArn?: string,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const missing: string[] = [];
  for (const [name, src] of Object.entries(sources)) {
    if ('value' in src) {
      out[name] = Array.isArray(src.value) ? src.value : [src.value];
      continue;
    }
    const found = lookup(ctx, src.from);
    const v = found === undefined || found === null ? src.default : found;
    if (v === undefined) {
      missing.push(`${name} (from ${src.from})`);
      continue;
    }
    if (src.as === 'json') out[name] = [JSON.stringify(v)];
    else if (src.as === 'list') out[name] = (Array.isArray(v) ? v : [v]).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
    else out[name] = [typeof v === 'string' ? v : JSON.stringify(v)];
  }
  if (missing.length) throw new InvalidInputError('runbook parameters could not be resolved', missing);
  if (automationAssumeRoleArn) out.AutomationAssumeRole = [automationAssumeRoleArn];
  return out;
}
