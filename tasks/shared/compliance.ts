/**
 * Config's verdict on (rule, resource) for verification: COMPLIANT recorded at or after the
 * verification's start verifies; anything else (NON_COMPLIANT, an older COMPLIANT, no evaluation yet)
 * does not, with a reason naming what was seen (for the human reading the outcome). A COMPLIANT result
 * recorded before verification started proves nothing about the fix.
 * Used by Wait for compliance (its own first look) and the reconciler (tasks/reconcile-waits).
 */
import {
  type ConfigServiceClient,
  type EvaluationResult,
  GetComplianceDetailsByResourceCommand,
} from '@aws-sdk/client-config-service';
import { awsCall } from './errors';

export interface ComplianceDeps {
  config: ConfigServiceClient;
}

/** What is checked: the rule and the resource. */
export interface ComplianceSubject {
  configRuleName: string;
  resourceType: string;
  resourceId: string;
}

const MAX_PAGES = 20;

function ruleOf(r: EvaluationResult): string | undefined {
  return r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName;
}

function recordedMs(r: EvaluationResult): number {
  const t = r.ResultRecordedTime;
  const ms =
    t instanceof Date
      ? t.getTime()
      : typeof t === 'string' || typeof t === 'number'
        ? new Date(t).getTime()
        : Number.NaN;
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/** The rule's latest evaluation of the resource, or undefined when Config has none. */
async function latestEvaluation(
  deps: ComplianceDeps,
  subject: ComplianceSubject,
): Promise<EvaluationResult | undefined> {
  let latest: EvaluationResult | undefined;
  let token: string | undefined;
  let pages = 0;
  do {
    const res = await awsCall('GetComplianceDetailsByResource', () =>
      deps.config.send(
        new GetComplianceDetailsByResourceCommand({
          ResourceType: subject.resourceType,
          ResourceId: subject.resourceId,
          NextToken: token,
        }),
      ),
    );
    for (const r of res.EvaluationResults ?? []) {
      if (ruleOf(r) === subject.configRuleName && (!latest || recordedMs(r) > recordedMs(latest))) latest = r;
    }
    token = res.NextToken;
    pages++;
  } while (token && pages < MAX_PAGES);
  return latest;
}

export interface ComplianceVerdict {
  verified: boolean;
  /** The latest ComplianceType seen (NO_EVALUATION when none). */
  compliance: string;
  reason: string;
}

/** Whether Config's latest result for (rule, resource) is COMPLIANT and recorded at or after `startedAt`. */
export async function complianceVerdict(
  deps: ComplianceDeps,
  subject: ComplianceSubject,
  startedAt: string,
): Promise<ComplianceVerdict> {
  const rule = subject.configRuleName;
  const latest = await latestEvaluation(deps, subject);
  const compliance = latest?.ComplianceType ?? 'NO_EVALUATION';
  const at = latest ? recordedMs(latest) : Number.NEGATIVE_INFINITY;
  const atIso = Number.isFinite(at) ? new Date(at).toISOString() : 'an unknown time';
  const startedMs = Date.parse(startedAt);
  if (compliance === 'COMPLIANT' && at >= startedMs) {
    return {
      verified: true,
      compliance,
      reason: `Config rule ${rule} reports COMPLIANT (recorded ${atIso})`,
    };
  }
  const reason = !latest
    ? `no evaluation by ${rule} of ${subject.resourceType} ${subject.resourceId}`
    : at < startedMs
      ? `latest ${rule} result ${compliance} was recorded ${atIso}, before verification started ${startedAt}`
      : `${rule} reports ${compliance} (recorded ${atIso})`;
  return { verified: false, compliance, reason };
}
