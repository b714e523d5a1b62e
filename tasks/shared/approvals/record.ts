/**
 * The APPROVALS item (tables.ts) and the review summary it carries. Written by Request approval,
 * decided by the approval endpoint, closed as EXPIRED by Record outcome. The task token lives in this
 * item and nowhere else: it is never logged, put in a link, a message or a page.
 */

import * as v from 'valibot';
import type { DriftState, PlanResult, RemediationEvent } from '../contracts';
import type { ExecutionRef } from '../execution-ref';

export const ApprovalStatus = v.picklist(['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED']);
export type ApprovalStatus = v.InferOutput<typeof ApprovalStatus>;

/** Longest value shown per field; longer ones are cut and marked. Keeps the item far below 400 KB. */
export const MAX_VALUE_CHARS = 4000;
export const MAX_DIFFERENCES = 100;

export const DiffEntry = v.object({
  path: v.string(),
  type: v.string(),
  expected: v.string(),
  actual: v.string(),
});
export type DiffEntry = v.InferOutput<typeof DiffEntry>;

export const ListChange = v.object({ property: v.string(), values: v.array(v.string()) });
export type ListChange = v.InferOutput<typeof ListChange>;

/** What the approver reviews. Everything the page and the message show comes from here. */
export const ApprovalSummary = v.object({
  ruleName: v.optional(v.string()),
  source: v.string(),
  eventId: v.string(),
  resourceType: v.string(),
  resourceId: v.string(),
  accountId: v.string(),
  region: v.string(),
  stackName: v.optional(v.string()),
  logicalResourceId: v.optional(v.string()),
  complianceType: v.string(),
  detectedAt: v.string(),
  requestedBy: v.optional(v.string()),
  /** Manual starts: whether the manual-start entry proved who asked (absent: not a manual start). */
  requesterAuthenticated: v.optional(v.boolean()),
  policyEntryId: v.optional(v.string()),
  planReason: v.string(),
  runbook: v.optional(
    v.object({
      documentName: v.string(),
      firstParty: v.boolean(),
      /** Exactly what Start runbook will pass (resolveParameters, AutomationAssumeRole included). */
      parameters: v.record(v.string(), v.array(v.string())),
    }),
  ),
  drift: v.object({
    status: v.optional(v.string()),
    differences: v.array(DiffEntry),
    added: v.array(ListChange),
    removed: v.array(ListChange),
    truncated: v.boolean(),
  }),
  executionName: v.string(),
  requestedAt: v.string(),
});
export type ApprovalSummary = v.InferOutput<typeof ApprovalSummary>;

export const DecisionRecord = v.object({
  decision: v.picklist(['approved', 'rejected']),
  approver: v.string(),
  decidedAt: v.string(),
  comment: v.optional(v.string()),
  sourceIp: v.optional(v.string()),
  userAgent: v.optional(v.string()),
});
export type DecisionRecord = v.InferOutput<typeof DecisionRecord>;

export const ApprovalItem = v.object({
  approvalId: v.string(),
  executionArn: v.string(),
  executionName: v.string(),
  /** Present while the workflow waits; removed once the request is decided and delivered, or closed (record-outcome). */
  taskToken: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Set by record-outcome when it closes the request as EXPIRED. */
  expiredAt: v.optional(v.string()),
  status: ApprovalStatus,
  approvers: v.array(v.string()),
  requestedBy: v.optional(v.string()),
  /**
   * Manual starts: true when the manual-start entry proved `requestedBy` (tasks/shared/approvals/requester.ts);
   * false for any other manual start, which can be rejected but never approved (nobody knows who asked).
   */
  requesterAuthenticated: v.optional(v.boolean()),
  /** An authenticated requester's ids (lower case): an approver named by one of them may not decide. */
  requesterIdentities: v.optional(v.array(v.string())),
  /** Epoch seconds; the endpoint refuses decisions from then on. */
  expiresAt: v.pipe(v.number(), v.safeInteger()),
  createdAt: v.string(),
  resourceKey: v.string(),
  summary: ApprovalSummary,
  notifiedAt: v.optional(v.string()),
  decision: v.optional(DecisionRecord),
  /** Why a request closed without its decision reaching the workflow (e.g. the execution had ended). */
  closedReason: v.optional(v.string()),
});
export type ApprovalItem = v.InferOutput<typeof ApprovalItem>;

function clip(s: string): string {
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS)}… [cut, ${s.length} characters]` : s;
}
function show(v: unknown): string {
  return clip(typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));
}

function listChanges(m: Record<string, unknown[]> | undefined): ListChange[] {
  return Object.entries(m ?? {}).map(([property, values]) => ({ property, values: values.map(show) }));
}

/** Builds the review summary from the execution state (pure). */
export function buildSummary(args: {
  event: RemediationEvent;
  plan: PlanResult;
  drift?: DriftState | undefined;
  execution: ExecutionRef;
  parameters?: Record<string, string[]> | undefined;
  now: Date;
}): ApprovalSummary {
  const { event, plan, drift, execution } = args;
  const diffs = drift?.propertyDifferences ?? [];
  const summary: ApprovalSummary = {
    source: event.source,
    eventId: event.eventId,
    resourceType: event.resourceType,
    resourceId: event.resourceId,
    accountId: event.awsAccountId,
    region: event.awsRegion,
    complianceType: event.complianceType,
    detectedAt: event.orderingTimestamp,
    planReason: clip(plan.reason),
    drift: {
      differences: diffs.slice(0, MAX_DIFFERENCES).map((d) => ({
        path: clip(d.PropertyPath),
        type: d.DifferenceType,
        expected: clip(d.ExpectedValue),
        actual: clip(d.ActualValue),
      })),
      added: listChanges(drift?.added),
      removed: listChanges(drift?.removed),
      truncated: diffs.length > MAX_DIFFERENCES,
    },
    executionName: execution.name,
    requestedAt: args.now.toISOString(),
  };
  if (event.configRuleName) summary.ruleName = event.configRuleName;
  const stackName = event.stackName ?? drift?.stackName;
  if (stackName) summary.stackName = stackName;
  const logical = event.logicalResourceId ?? drift?.logicalResourceId;
  if (logical) summary.logicalResourceId = logical;
  if (event.requestedBy) summary.requestedBy = event.requestedBy;
  if (plan.policyEntryId) summary.policyEntryId = plan.policyEntryId;
  if (drift?.resourceDriftStatus) summary.drift.status = drift.resourceDriftStatus;
  if (plan.runbook) {
    summary.runbook = {
      documentName: plan.runbook.documentName,
      firstParty: plan.runbook.firstParty,
      parameters: Object.fromEntries(
        Object.entries(args.parameters ?? {}).map(([k, vs]) => [k, vs.map((v) => clip(v))]),
      ),
    };
  }
  return summary;
}

/** "in 42 minutes", "in 1 hour 5 minutes", "expired" — for pages and messages. */
export function timeLeft(expiresAtEpochS: number, now: Date): string {
  const s = expiresAtEpochS - Math.floor(now.getTime() / 1000);
  if (s <= 0) return 'expired';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  const plural = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'}`;
  if (d > 0) return h % 24 ? `${plural(d, 'day')} ${plural(h % 24, 'hour')}` : plural(d, 'day');
  if (h > 0) return m % 60 ? `${plural(h, 'hour')} ${plural(m % 60, 'minute')}` : plural(h, 'hour');
  return plural(m, 'minute');
}

/** A resource's display name: "AWS::IAM::Role app-role (stack app-stack, AppRole)". */
export function resourceLabel(s: ApprovalSummary): string {
  const where = [s.stackName && `stack ${s.stackName}`, s.logicalResourceId].filter(Boolean).join(', ');
  return `${s.resourceType} ${s.resourceId}${where ? ` (${where})` : ''}`;
}

/** Rule or drift source, for headings: "Config rule restricted-ssh" / "CloudFormation drift". */
export function ruleLabel(s: ApprovalSummary): string {
  if (s.ruleName) return `Config rule ${s.ruleName}`;
  return s.source === 'cloudformation' ? 'CloudFormation drift' : `${s.source} request`;
}

/**
 * Who asked, as pages and messages say it: an authenticated requester's principal, or a manual start whose
 * requester is not authenticated (it can be rejected, never approved); undefined for an automatic event.
 */
export function requesterLabel(
  s: Pick<ApprovalSummary, 'requestedBy' | 'requesterAuthenticated' | 'source'>,
): string | undefined {
  if (s.requesterAuthenticated === true) return `${s.requestedBy ?? ''} (manual request, authenticated)`;
  if (s.requesterAuthenticated === false || s.requestedBy || s.source === 'manual')
    return `${s.requestedBy ? `${s.requestedBy}, as claimed` : 'unknown'} (manual request, requester NOT authenticated: it can be rejected but not approved; start it with drift-remediation remediate)`;
  return undefined;
}
