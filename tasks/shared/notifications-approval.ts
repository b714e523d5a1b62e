/**
 * The `approval.requested` notification (tasks/shared/notifications.ts) of a stored approval request: what
 * approving will do, the risk cue, the diff, the deadline on the task clock and the read-only review link.
 * Its own module so only Request approval bundles the approval wording (describe.ts) with it.
 */
import { approvalSentence, riskCues } from './approvals/describe';
import type { ApprovalItem } from './approvals/record';
import {
  APPROVAL_REQUESTED,
  type ApprovalRequestedNotification,
  type Difference,
  deliveryIdFor,
  MAX_RISKS,
  MAX_VALUE_CHARS,
  notifiedDiff,
  PAYLOAD_VERSION,
} from './notifications';

const DIFFERENCE_TYPES: readonly string[] = ['ADD', 'REMOVE', 'NOT_EQUAL'];

/** The summary's differences, then each list element present but not in the template (ADD) or missing (REMOVE). */
function differencesOf(s: ApprovalItem['summary']): Difference[] {
  const type = (t: string) =>
    (DIFFERENCE_TYPES.includes(t) ? t : 'NOT_EQUAL') as Difference['DifferenceType'];
  return [
    ...s.drift.differences.map((d) => ({
      PropertyPath: d.path,
      DifferenceType: type(d.type),
      ExpectedValue: d.expected,
      ActualValue: d.actual,
    })),
    ...s.drift.added.flatMap((c) =>
      c.values.map((v) => ({
        PropertyPath: c.property,
        DifferenceType: 'ADD' as const,
        ExpectedValue: '',
        ActualValue: v,
      })),
    ),
    ...s.drift.removed.flatMap((c) =>
      c.values.map((v) => ({
        PropertyPath: c.property,
        DifferenceType: 'REMOVE' as const,
        ExpectedValue: v,
        ActualValue: '',
      })),
    ),
  ];
}

/**
 * The notification of `item` (as stored: its createdAt makes the delivery id, so a retried Request approval
 * sends the same one). `scrub` (tasks/shared/redact.ts) cleans every text; the review URL is passed as is.
 */
export function approvalRequestedNotification(
  item: ApprovalItem,
  reviewUrl: string,
  scrub: (text: string) => string,
): ApprovalRequestedNotification {
  const s = item.summary;
  const cut = (text: string, n: number) => scrub(text).slice(0, n);
  const { diff, diffTruncated } = notifiedDiff(differencesOf(s), scrub);
  return {
    version: PAYLOAD_VERSION,
    deliveryId: deliveryIdFor(item.executionArn, APPROVAL_REQUESTED, item.createdAt),
    kind: APPROVAL_REQUESTED,
    approvalId: item.approvalId,
    summary: cut(approvalSentence(s), MAX_VALUE_CHARS),
    risks: riskCues(s)
      .slice(0, MAX_RISKS)
      .map((c) => ({ kind: c.kind, text: cut(c.text, MAX_VALUE_CHARS) })),
    requestedAt: item.createdAt,
    expiresAt: new Date(item.expiresAt * 1000).toISOString(),
    ...(item.requestedBy ? { requestedBy: cut(item.requestedBy, 256) } : {}),
    resource: {
      key: cut(item.resourceKey, 1100),
      type: s.resourceType.slice(0, 256),
      id: cut(s.resourceId, 2048),
      account: s.accountId.slice(0, 12),
      region: s.region.slice(0, 32),
    },
    ...(s.ruleName ? { rule: s.ruleName.slice(0, 128) } : {}),
    ...(s.runbook ? { runbook: { documentName: s.runbook.documentName.slice(0, 256) } } : {}),
    execution: { arn: item.executionArn.slice(0, 2048), name: item.executionName.slice(0, 80) },
    diff,
    diffTruncated,
    reviewUrl,
  };
}
