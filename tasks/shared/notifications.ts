/**
 * Notifications beyond SNS (docs/operations.md "Notifications"): the policy's `notifications` section (which
 * channels hear which outcomes) and the one message every channel is built from — the queue message Record
 * outcome and Abort cleanup (kind `outcome`) and Request approval (kind `approval.requested`) send, and, as
 * it is, the generic webhook's JSON payload (version 1).
 *
 * Delivery is off the remediation's path: the message goes on the notifications queue; tasks/notify delivers
 * it (Slack: tasks/shared/notifications-slack.ts; signed webhook: notifications-sign.ts).
 * Nothing here carries a task token, a decision link or a secret: values are scrubbed and bounded. The one
 * link an approval request carries is its *review* link (read-only page, signed for that purpose only).
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { APPROVAL_REQUESTED, NOTIFIABLE_OUTCOMES, type NotifiableOutcome } from './notifications-policy';
import { isoDateTime } from './validation';

/** SQS receives of one message before it moves to the notifications DLQ (infra uses the same number). */
export const NOTIFY_MAX_RECEIVE_COUNT = 5;
/** Partition key of the failed-delivery records in the outcomes table (tasks/notify writes, the console reads). */
export const FAILED_DELIVERIES_KEY = 'notification#failed';
/** The payload's schema version; a breaking change to NotificationMessage gets a new one. */
export const PAYLOAD_VERSION = '1';
/** Property differences a message carries (the rest: `diffTruncated`), and the characters of each value. */
export const MAX_DIFFERENCES = 20;
export const MAX_VALUE_CHARS = 1000;

const Bounded = (max: number) => v.pipe(v.string(), v.maxLength(max));

/** One expected-vs-actual difference, values as CloudFormation reports them (JSON text), bounded. */
export const NotifiedDifference = v.object({
  path: Bounded(512),
  type: v.picklist(['ADD', 'REMOVE', 'NOT_EQUAL']),
  expected: Bounded(MAX_VALUE_CHARS + 1),
  actual: Bounded(MAX_VALUE_CHARS + 1),
});
export type NotifiedDifference = v.InferOutput<typeof NotifiedDifference>;

/** An outcome's notification (queue body) = the webhook payload, version 1. docs/operations.md documents it. */
export const OutcomeNotification = v.object({
  version: v.literal(PAYLOAD_VERSION),
  /** Stable per (execution, outcome, recordedAt): a retried Record outcome produces the same id. */
  deliveryId: v.pipe(v.string(), v.regex(/^[a-f0-9]{32}$/)),
  kind: v.literal('outcome'),
  outcome: v.picklist(NOTIFIABLE_OUTCOMES),
  reason: Bounded(1000),
  recordedAt: isoDateTime(),
  resource: v.object({
    key: Bounded(1100),
    type: v.optional(Bounded(256)),
    id: v.optional(Bounded(2048)),
    account: v.optional(Bounded(12)),
    region: v.optional(Bounded(32)),
  }),
  rule: v.optional(Bounded(128)),
  runbook: v.optional(
    v.object({
      documentName: Bounded(256),
      attempts: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
      automationExecutionId: v.optional(Bounded(64)),
    }),
  ),
  remediated: v.boolean(),
  execution: v.object({ arn: Bounded(2048), name: Bounded(80) }),
  approval: v.optional(
    v.object({
      decision: Bounded(16),
      approver: v.optional(Bounded(256)),
      decidedAt: v.optional(Bounded(40)),
    }),
  ),
  diff: v.pipe(v.array(NotifiedDifference), v.maxLength(MAX_DIFFERENCES)),
  diffTruncated: v.boolean(),
});
export type OutcomeNotification = v.InferOutput<typeof OutcomeNotification>;

export { APPROVAL_REQUESTED };
/** Risk cues a message carries (tasks/shared/approvals/describe.ts). */
export const MAX_RISKS = 10;

/**
 * An approval request's notification (queue body) = the webhook payload, version 1: what approving will
 * do, the risk, the diff, the deadline, and the read-only review link. Never a decision link: approvers
 * decide from the personal link the approval topic sent each of them.
 */
export const ApprovalRequestedNotification = v.object({
  version: v.literal(PAYLOAD_VERSION),
  /** Stable per approval request: a retried Request approval produces the same id. */
  deliveryId: v.pipe(v.string(), v.regex(/^[a-f0-9]{32}$/)),
  kind: v.literal(APPROVAL_REQUESTED),
  approvalId: Bounded(64),
  /** One sentence: what approving will do ("Detach AdministratorAccess from role …"). */
  summary: Bounded(MAX_VALUE_CHARS),
  risks: v.pipe(
    v.array(v.object({ kind: Bounded(32), text: Bounded(MAX_VALUE_CHARS) })),
    v.maxLength(MAX_RISKS),
  ),
  /** Both on the task clock, like the approval page. */
  requestedAt: isoDateTime(),
  expiresAt: isoDateTime(),
  requestedBy: v.optional(Bounded(256)),
  resource: v.object({
    key: Bounded(1100),
    type: Bounded(256),
    id: Bounded(2048),
    account: Bounded(12),
    region: Bounded(32),
  }),
  rule: v.optional(Bounded(128)),
  runbook: v.optional(v.object({ documentName: Bounded(256) })),
  execution: v.object({ arn: Bounded(2048), name: Bounded(80) }),
  diff: v.pipe(v.array(NotifiedDifference), v.maxLength(MAX_DIFFERENCES)),
  diffTruncated: v.boolean(),
  /** The read-only review page (GET /approvals/<id>/review?exp=&sig=); it cannot decide. */
  reviewUrl: v.pipe(v.string(), v.maxLength(2048), v.regex(/^https?:\/\/\S+\/review\?exp=\d+&sig=[\w-]+$/)),
});
export type ApprovalRequestedNotification = v.InferOutput<typeof ApprovalRequestedNotification>;

/** Every message on the notifications queue, by `kind`. */
export const NotificationMessage = v.variant('kind', [OutcomeNotification, ApprovalRequestedNotification]);
export type NotificationMessage = v.InferOutput<typeof NotificationMessage>;

/** What a channel filter and NOTIFY_OUTCOMES match a message by: its outcome, or `approval.requested`. */
export function notificationTopic(m: NotificationMessage): string {
  return m.kind === 'outcome' ? m.outcome : APPROVAL_REQUESTED;
}

/** The stable delivery id: 32 hex characters of SHA-256 over the execution, the outcome and its time. */
export function deliveryIdFor(executionArn: string, outcome: string, recordedAt: string): string {
  return createHash('sha256')
    .update(JSON.stringify([executionArn, outcome, recordedAt]))
    .digest('hex')
    .slice(0, 32);
}

function clip(text: string): string {
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

export interface Difference {
  PropertyPath: string;
  DifferenceType: 'ADD' | 'REMOVE' | 'NOT_EQUAL';
  ExpectedValue: string;
  ActualValue: string;
}

/** The first MAX_DIFFERENCES differences, each value clipped, with `scrub` applied to every text. */
export function notifiedDiff(
  differences: readonly Difference[] | undefined,
  scrub: (text: string) => string,
): { diff: NotifiedDifference[]; diffTruncated: boolean } {
  const all = differences ?? [];
  return {
    diff: all.slice(0, MAX_DIFFERENCES).map((d) => ({
      path: scrub(d.PropertyPath).slice(0, 512),
      type: d.DifferenceType,
      expected: clip(scrub(d.ExpectedValue)),
      actual: clip(scrub(d.ActualValue)),
    })),
    diffTruncated: all.length > MAX_DIFFERENCES,
  };
}

/** Where the "Open in console" button goes: the ops console's execution view, else AWS's console. */
export function executionLink(
  consoleUrl: string | undefined,
  execution: { arn: string; name: string },
): string {
  if (consoleUrl)
    return `${consoleUrl.replace(/#.*$/, '').replace(/\/+$/, '')}#/x/${encodeURIComponent(execution.name)}`;
  const region = execution.arn.split(':')[3] || 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(execution.arn)}`;
}

/** What Record outcome (or Abort cleanup) knows when it records an outcome. */
export interface OutcomeFacts {
  outcome: NotifiableOutcome;
  reason: string;
  recordedAt: string;
  resourceKey: string;
  execution: { arn: string; name: string };
  event?: {
    resourceType: string;
    resourceId: string;
    awsAccountId: string;
    awsRegion: string;
    configRuleName?: string | undefined;
  };
  runbook?: { documentName: string; attempts: number; automationExecutionId?: string | undefined };
  remediated?: boolean;
  approval?: { decision: string; approver?: string | undefined; decidedAt?: string | undefined };
  differences?: readonly Difference[];
}

/** The notification message of an outcome; `scrub` (Record outcome's) removes token- and secret-like text. */
export function outcomeNotification(f: OutcomeFacts, scrub: (text: string) => string): OutcomeNotification {
  const e = f.event;
  const cutTo = (s: string, n: number) => scrub(s).slice(0, n);
  return {
    version: PAYLOAD_VERSION,
    deliveryId: deliveryIdFor(f.execution.arn, f.outcome, f.recordedAt),
    kind: 'outcome',
    outcome: f.outcome,
    reason: cutTo(f.reason, 1000),
    recordedAt: f.recordedAt,
    resource: {
      key: cutTo(f.resourceKey, 1100),
      ...(e
        ? {
            type: e.resourceType,
            id: cutTo(e.resourceId, 2048),
            account: e.awsAccountId,
            region: e.awsRegion,
          }
        : {}),
    },
    ...(e?.configRuleName ? { rule: e.configRuleName } : {}),
    ...(f.runbook
      ? {
          runbook: {
            documentName: f.runbook.documentName.slice(0, 256),
            attempts: f.runbook.attempts,
            ...(f.runbook.automationExecutionId
              ? { automationExecutionId: f.runbook.automationExecutionId.slice(0, 64) }
              : {}),
          },
        }
      : {}),
    remediated: f.remediated ?? false,
    execution: { arn: f.execution.arn.slice(0, 2048), name: f.execution.name.slice(0, 80) },
    ...(f.approval
      ? {
          approval: {
            decision: f.approval.decision.slice(0, 16),
            ...(f.approval.approver ? { approver: cutTo(f.approval.approver, 256) } : {}),
            ...(f.approval.decidedAt ? { decidedAt: f.approval.decidedAt.slice(0, 40) } : {}),
          },
        }
      : {}),
    ...notifiedDiff(f.differences, scrub),
  };
}
