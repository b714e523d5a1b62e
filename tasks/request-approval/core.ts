/**
 * Request approval: invoked by Step Functions with `lambda:invoke.waitForTaskToken`. Stores the
 * approval record (the only place the task token is kept) and sends each approver a message with
 * their own signed links. The execution then waits until the approval endpoint sends the decision or
 * the state's TimeoutSeconds expires it.
 *
 * Input  { taskToken, event, plan, drift?, execution: { id, name, startTime } }
 *        or { notifyOnly: true, event, plan, drift?, execution } (approval mode notify-only: no token,
 *        no record, one informational message, the workflow does not wait).
 * Output { approvalId, mode, notified } (ignored by the waiting state; the decision is the output).
 *
 * Idempotent on Lambda retry: the record is a conditional PutItem (attribute_not_exists); a retry
 * finds its own PENDING record, refreshes the token if Step Functions issued a new one, and sends the
 * messages only if they were not sent yet (`notifiedAt`).
 * Channels (Slack, webhooks) get one `approval.requested` notification on the notifications queue with the
 * read-only review link, never a decision link; a failed enqueue is logged, never an error here.
 * Errors: InvalidInputError (nothing written, nothing sent); TransientServiceError (retried).
 */

import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { approvalIdFor } from '../shared/approval-id';
import { approvalSentence, riskCues } from '../shared/approvals/describe';
import {
  type ApprovalItem,
  type ApprovalSummary,
  buildSummary,
  requesterLabel,
  resourceLabel,
  ruleLabel,
  timeLeft,
} from '../shared/approvals/record';
import { isRequester, requesterAuthenticated, requesterIdentities } from '../shared/approvals/requester';
import { linkUrl, reviewUrl, type SigningKeys } from '../shared/approvals/signing';
import { DriftState, PlanResult, RemediationEvent, resourceKeyOf } from '../shared/contracts';
import { awsCall, InvalidInputError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { approvalRequestedNotification } from '../shared/notifications-approval';
import { enqueueNotification, type NotifyTarget } from '../shared/notifications-enqueue';
import { resolveParameters } from '../shared/parameters';
import { scrubSecrets } from '../shared/redact';

export const RequestApprovalInput = v.pipe(
  v.object({
    taskToken: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(8192))),
    notifyOnly: v.optional(v.boolean()),
    event: RemediationEvent,
    plan: PlanResult,
    drift: v.optional(DriftState),
    execution: ExecutionRef,
  }),
  v.forward(
    v.check((i) => i.notifyOnly === true || !!i.taskToken, 'required unless notifyOnly is true'),
    ['taskToken'],
  ),
  v.forward(
    v.check((i) => !(i.notifyOnly && i.taskToken), 'must be absent in notify-only mode'),
    ['taskToken'],
  ),
);
export type RequestApprovalInput = v.InferOutput<typeof RequestApprovalInput>;

export interface RequestApprovalResult {
  approvalId: string;
  mode: 'required' | 'notify-only';
  /** Messages published by this invocation (0 on a retry that found them already sent). */
  notified: number;
}

export interface RequestApprovalDeps {
  ddb: DynamoDBDocumentClient;
  sns: SNSClient;
  approvalsTable: string;
  topicArn: string;
  /** APPROVAL_BASE_URL, e.g. https://abc.lambda-url.eu-west-1.on.aws or http://127.0.0.1:4566 */
  baseUrl: string;
  signingKeys: () => Promise<SigningKeys>;
  /** Same value Start runbook uses, so the parameters shown are the parameters run. */
  automationAssumeRoleArn?: string | undefined;
  /** The notifications queue: Slack / webhook channels hear `approval.requested` (absent: none). */
  notify?: NotifyTarget;
  now?: () => Date;
}

/** SNS subjects: ASCII, no line breaks, at most 100 characters. */
export function subjectLine(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?').trim();
  return clean.length > 100 ? `${clean.slice(0, 97)}...` : clean;
}

function describe(summary: ApprovalSummary): string[] {
  const lines = [
    `Trigger:  ${ruleLabel(summary)}`,
    `Resource: ${resourceLabel(summary)}`,
    `Account:  ${summary.accountId}  Region: ${summary.region}`,
    `Requested by: ${requesterLabel(summary) ?? `automatic (${summary.source} event ${summary.eventId})`}`,
    '',
    'Drift (expected -> actual):',
  ];
  const d = summary.drift;
  for (const x of d.differences.slice(0, 20)) {
    lines.push(
      `  - ${x.path} [${x.type}]`,
      `      expected: ${x.expected.slice(0, 300)}`,
      `      actual:   ${x.actual.slice(0, 300)}`,
    );
  }
  for (const a of d.added) lines.push(`  - ${a.property}: ${a.values.length} not in the template`);
  for (const r of d.removed) lines.push(`  - ${r.property}: ${r.values.length} missing`);
  if (!d.differences.length && !d.added.length && !d.removed.length)
    lines.push('  (no property-level differences reported)');
  if (d.differences.length > 20 || d.truncated) lines.push('  (more on the review page)');
  lines.push('');
  if (summary.runbook) {
    lines.push(`Runbook: ${summary.runbook.documentName}`);
    for (const [k, vs] of Object.entries(summary.runbook.parameters))
      lines.push(`  ${k} = ${vs.join(', ').slice(0, 300)}`);
  }
  return lines;
}

function approvalMessage(
  summary: ApprovalSummary,
  approver: string,
  link: string,
  expiresAt: number,
  now: Date,
): string {
  return [
    `Approval needed for a drift remediation (you are listed as approver ${approver}).`,
    '',
    `Approving will: ${approvalSentence(summary)}.`,
    ...riskCues(summary).map((c) => `RISK — this drift ${c.kind}: ${c.text}`),
    '',
    ...describe(summary),
    '',
    `Time left: ${timeLeft(expiresAt, now)} (until ${new Date(expiresAt * 1000).toISOString()}).`,
    '',
    'Review and decide (the page shows the full diff; nothing happens until you press Approve or Reject):',
    link,
    '',
    'This link is personal: it records your identity with the decision. Do not forward it.',
  ].join('\n');
}

function noticeMessage(summary: ApprovalSummary): string {
  return [
    'A drift remediation is starting (notify-only: no approval is needed).',
    '',
    ...describe(summary),
    '',
    `Execution: ${summary.executionName}`,
  ].join('\n');
}

function isConditionalFailure(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/** notify-only: one notice on the topic, no approval record. */
async function publishNotice(
  deps: RequestApprovalDeps,
  approvalId: string,
  summary: ApprovalSummary,
  subjectBase: string,
) {
  await awsCall('Publish(remediation notice)', () =>
    deps.sns.send(
      new PublishCommand({
        TopicArn: deps.topicArn,
        Subject: subjectLine(`Remediating ${subjectBase}`),
        Message: noticeMessage(summary),
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'remediation-notice' },
          approvalId: { DataType: 'String', StringValue: approvalId },
        },
      }),
    ),
  );
}

/** The approvers of a required approval; InvalidInputError when nobody but the requester could decide. */
function approversOf(plan: RequestApprovalInput['plan'], requester: RequesterFields): string[] {
  const approvers = [...new Set(plan.approval.approvers)];
  if (!plan.approval.required || approvers.length === 0) {
    throw new InvalidInputError(
      'request-approval: an approval needs mode required and at least one approver',
      [`plan.approval.required: ${plan.approval.required}`, `plan.approval.approvers: ${approvers.length}`],
    );
  }
  const own =
    requester.requesterIdentities ?? (requester.requestedBy ? [requester.requestedBy.toLowerCase()] : []);
  if (own.length > 0 && approvers.every((a) => isRequester(a, own))) {
    throw new InvalidInputError(
      'request-approval: the only approver is the requester, who may not approve their own request',
      ['plan.approval.approvers'],
    );
  }
  return approvers;
}

type RequesterFields = Pick<ApprovalItem, 'requestedBy' | 'requesterAuthenticated' | 'requesterIdentities'>;

/**
 * Who asked, as the record keeps it: a manual start's requester is authenticated only with the
 * manual-start entry's proof (then its identities are what the four-eyes rule compares); any other
 * manual start, or a `requestedBy` without a proof, is marked unauthenticated and cannot be approved.
 */
function requesterOf(keys: SigningKeys, event: RemediationEvent): RequesterFields {
  if (event.source !== 'manual' && !event.requestedBy) return {};
  const authenticated = requesterAuthenticated(keys, event);
  return {
    ...(event.requestedBy ? { requestedBy: event.requestedBy } : {}),
    requesterAuthenticated: authenticated,
    ...(authenticated && event.requestedBy
      ? { requesterIdentities: requesterIdentities(event.requestedBy) }
      : {}),
  };
}

/**
 * A retry of this task found the record: keep it (same links, same expiry), point it at this
 * invocation's task token. Returns the record to notify from, or undefined when there is nothing to send
 * (already decided or closed — the wait ends by its timeout —, or already notified).
 */
async function resumeExisting(
  deps: RequestApprovalDeps,
  approvalId: string,
  executionArn: string,
  taskToken: string,
): Promise<ApprovalItem | undefined> {
  const got = await awsCall('GetItem(approvals)', () =>
    deps.ddb.send(
      new GetCommand({ TableName: deps.approvalsTable, Key: { approvalId }, ConsistentRead: true }),
    ),
  );
  const existing = got.Item as ApprovalItem | undefined;
  if (!existing || existing.executionArn !== executionArn) {
    throw new InvalidInputError(
      'request-approval: an approval record with this id belongs to another execution',
      ['approvalId'],
    );
  }
  if (existing.status !== 'PENDING') return undefined;
  if (existing.taskToken !== taskToken) {
    await awsCall('UpdateItem(approvals token)', () =>
      deps.ddb.send(
        new UpdateCommand({
          TableName: deps.approvalsTable,
          Key: { approvalId },
          UpdateExpression: 'SET taskToken = :t',
          ConditionExpression: '#s = :pending',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':t': taskToken, ':pending': 'PENDING' },
        }),
      ),
    );
  }
  return existing.notifiedAt ? undefined : existing;
}

/** Writes the PENDING record (or, on a retry, resumes the existing one). */
async function storeApproval(
  deps: RequestApprovalDeps,
  item: ApprovalItem,
  taskToken: string,
): Promise<ApprovalItem | undefined> {
  try {
    await awsCall('PutItem(approvals)', () =>
      deps.ddb.send(
        new PutCommand({
          TableName: deps.approvalsTable,
          Item: item,
          ConditionExpression: 'attribute_not_exists(approvalId)',
        }),
      ),
    );
    return item;
  } catch (err) {
    if (!isConditionalFailure(err)) throw err;
    return resumeExisting(deps, item.approvalId, item.executionArn, taskToken);
  }
}

/**
 * One personal link per approver, the channels' notification (review link only), then notifiedAt on the
 * record. Returns how many approver messages were sent.
 */
async function notifyApprovers(
  deps: RequestApprovalDeps,
  keys: SigningKeys,
  current: ApprovalItem,
  subjectBase: string,
  now: Date,
) {
  const { approvalId } = current;
  let notified = 0;
  for (const approver of current.approvers) {
    const link = linkUrl(deps.baseUrl, keys, { approvalId, approver, exp: current.expiresAt });
    await awsCall('Publish(approval request)', () =>
      deps.sns.send(
        new PublishCommand({
          TopicArn: deps.topicArn,
          Subject: subjectLine(`Approval needed: ${subjectBase}`),
          Message: approvalMessage(current.summary, approver, link, current.expiresAt, now),
          MessageAttributes: {
            kind: { DataType: 'String', StringValue: 'approval-request' },
            approver: { DataType: 'String', StringValue: approver },
            approvalId: { DataType: 'String', StringValue: approvalId },
          },
        }),
      ),
    );
    notified++;
  }
  const review = reviewUrl(deps.baseUrl, keys, { approvalId, exp: current.expiresAt });
  await enqueueNotification(deps.notify, approvalRequestedNotification(current, review, scrubSecrets));
  await awsCall('UpdateItem(approvals notifiedAt)', () =>
    deps.ddb.send(
      new UpdateCommand({
        TableName: deps.approvalsTable,
        Key: { approvalId },
        UpdateExpression: 'SET notifiedAt = :n',
        ExpressionAttributeValues: { ':n': now.toISOString() },
      }),
    ),
  );
  return notified;
}

export async function requestApproval(
  input: RequestApprovalInput,
  deps: RequestApprovalDeps,
): Promise<RequestApprovalResult> {
  const now = (deps.now ?? (() => new Date()))();
  const { event, plan, drift, execution } = input;
  const approvalId = approvalIdFor(execution.id);
  if (plan.decision !== 'remediate') {
    throw new InvalidInputError('request-approval: the plan does not remediate', [
      `plan.decision: ${plan.decision}`,
    ]);
  }
  const parameters = plan.runbook
    ? resolveParameters(plan.runbook.parameters, { event, drift, plan }, deps.automationAssumeRoleArn)
    : undefined;
  const summary = buildSummary({ event, plan, drift, execution, parameters, now });
  const subjectBase = `${summary.ruleName ?? summary.resourceType}: ${summary.resourceId}`;
  if (input.notifyOnly) {
    await publishNotice(deps, approvalId, summary, subjectBase);
    return { approvalId, mode: 'notify-only', notified: 1 };
  }

  const taskToken = input.taskToken;
  if (!taskToken) throw new InvalidInputError('request-approval: invalid input', ['taskToken: required']);
  const keys = await deps.signingKeys(); // before anything is written: no key, no record
  const requester = requesterOf(keys, event);
  const item: ApprovalItem = {
    approvalId,
    executionArn: execution.id,
    executionName: execution.name,
    taskToken,
    status: 'PENDING',
    approvers: approversOf(plan, requester),
    expiresAt: Math.floor(now.getTime() / 1000) + plan.approval.ttlSeconds,
    createdAt: now.toISOString(),
    resourceKey: resourceKeyOf(event),
    summary: {
      ...summary,
      ...(requester.requesterAuthenticated === undefined
        ? {}
        : { requesterAuthenticated: requester.requesterAuthenticated }),
    },
    ...requester,
  };
  const current = await storeApproval(deps, item, taskToken);
  if (!current) return { approvalId, mode: 'required', notified: 0 };
  return {
    approvalId,
    mode: 'required',
    notified: await notifyApprovers(deps, keys, current, subjectBase, now),
  };
}
