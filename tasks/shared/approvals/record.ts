/**
 * The APPROVALS item (tables.ts) and the review summary it carries. Written by Request approval,
 * decided by the approval endpoint, closed as EXPIRED by Record outcome. The task token lives in this
 * item and nowhere else: it is never logged, put in a link, a message or a page.
 */

import type { DriftState, PlanResult, RemediationEvent } from '../contracts';
import type { ExecutionRef } from '../execution-ref';
import * as z from '../zod';

export const ApprovalStatus = z.enum(['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED']);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

/** Longest value shown per field; longer ones are cut and marked. Keeps the item far below 400 KB. */
export const MAX_VALUE_CHARS = 4000;
export const MAX_DIFFERENCES = 100;

export const DiffEntry = z.object({
  path: z.string(),
  type: z.string(),
  expected: z.string(),
  actual: z.string(),
});
export type DiffEntry = z.infer<typeof DiffEntry>;

export const ListChange = z.object({ property: z.string(), values: z.array(z.string()) });
export type ListChange = z.infer<typeof ListChange>;

/** What the approver reviews. Everything the page and the message show comes from here. */
export const ApprovalSummary = z.object({
  ruleName: z.optional(z.string()),
  source: z.string(),
  eventId: z.string(),
  resourceType: z.string(),
  resourceId: z.string(),
  accountId: z.string(),
  region: z.string(),
  stackName: z.optional(z.string()),
  logicalResourceId: z.optional(z.string()),
  complianceType: z.string(),
  detectedAt: z.string(),
  requestedBy: z.optional(z.string()),
  policyEntryId: z.optional(z.string()),
  planReason: z.string(),
  runbook: z.optional(
    z.object({
      documentName: z.string(),
      firstParty: z.boolean(),
      /** Exactly what Start runbook will pass (resolveParameters, AutomationAssumeRole included). */
      parameters: z.record(z.string(), z.array(z.string())),
    }),
  ),
  drift: z.object({
    status: z.optional(z.string()),
    differences: z.array(DiffEntry),
    added: z.array(ListChange),
    removed: z.array(ListChange),
    truncated: z.boolean(),
  }),
  executionName: z.string(),
  requestedAt: z.string(),
});
export type ApprovalSummary = z.infer<typeof ApprovalSummary>;

export const DecisionRecord = z.object({
  decision: z.enum(['approved', 'rejected']),
  approver: z.string(),
  decidedAt: z.string(),
  comment: z.optional(z.string()),
  sourceIp: z.optional(z.string()),
  userAgent: z.optional(z.string()),
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;

export const ApprovalItem = z.object({
  approvalId: z.string(),
  executionArn: z.string(),
  executionName: z.string(),
  /** Present while the workflow waits; removed once the request is decided and delivered, or closed (record-outcome). */
  taskToken: z.optional(z.string().check(z.minLength(1))),
  /** Set by record-outcome when it closes the request as EXPIRED. */
  expiredAt: z.optional(z.string()),
  status: ApprovalStatus,
  approvers: z.array(z.string()),
  requestedBy: z.optional(z.string()),
  /** Epoch seconds; the endpoint refuses decisions from then on. */
  expiresAt: z.number().check(z.int()),
  createdAt: z.string(),
  resourceKey: z.string(),
  summary: ApprovalSummary,
  notifiedAt: z.optional(z.string()),
  decision: z.optional(DecisionRecord),
  /** Why a request closed without its decision reaching the workflow (e.g. the execution had ended). */
  closedReason: z.optional(z.string()),
});
export type ApprovalItem = z.infer<typeof ApprovalItem>;

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
