/**
 * The decision, once the request passed every check (request.ts): one conditional write (single use:
 * of two concurrent clicks exactly one wins), then SendTaskSuccess (ApprovalDecision) or
 * SendTaskFailure (ApprovalRejected, ApprovalRejection). An execution that already ended closes the
 * record as EXPIRED; an unavailable Step Functions rolls the decision back so the approver can retry.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DecisionRecord } from '../shared/approvals/record';
import type { ApprovalDecision, ApprovalRejection } from '../shared/contracts';
import { errorName, StatesErrors } from '../shared/errors';
import type { ApprovalEndpointDeps } from './core';
import { decidedNowPage, decidedPage, expiredPage, PAGES } from './pages';
import { type Answer, loadItem } from './request';

export const MAX_COMMENT_CHARS = 1000;
/** Step Functions errors meaning the execution no longer waits for this token. */
export const ENDED_ERRORS = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

type DecidedStatus = 'APPROVED' | 'REJECTED';

/** One decision by one approver on one open request. */
export interface Decision {
  approvalId: string;
  taskToken: string;
  status: DecidedStatus;
  record: DecisionRecord;
  logFields: Record<string, unknown>;
}

/** Comment as recorded: trimmed, control characters (except line breaks and tabs) removed, bounded. */
export function cleanComment(raw: string | null | undefined): string | undefined {
  if (!raw) return undefined;
  const s = [...raw.replace(/\r\n?/g, '\n')]
    .filter((c) => {
      const code = c.charCodeAt(0);
      return c === '\n' || c === '\t' || (code >= 0x20 && code !== 0x7f);
    })
    .join('')
    .trim();
  return s ? s.slice(0, MAX_COMMENT_CHARS) : undefined;
}

/** The decision the form asks for, with the audit fields; undefined when it names none. */
export function decisionFromForm(
  form: URLSearchParams,
  who: { approver: string; now: Date; sourceIp?: string | undefined; userAgent: string },
): { status: DecidedStatus; record: DecisionRecord } | undefined {
  const choice = form.get('decision');
  if (choice !== 'approve' && choice !== 'reject') return undefined;
  const record: DecisionRecord = {
    decision: choice === 'approve' ? 'approved' : 'rejected',
    approver: who.approver,
    decidedAt: who.now.toISOString(),
  };
  const comment = cleanComment(form.get('comment'));
  if (comment) record.comment = comment;
  if (who.sourceIp) record.sourceIp = who.sourceIp;
  if (who.userAgent) record.userAgent = who.userAgent;
  return { status: choice === 'approve' ? 'APPROVED' : 'REJECTED', record };
}

/** The single-use conditional write; a lost race answers with the record as it now stands. */
async function recordDecision(
  deps: ApprovalEndpointDeps,
  d: Decision,
  nowS: number,
): Promise<Answer | undefined> {
  const { approvalId, record } = d;
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.approvalsTable,
        Key: { approvalId },
        UpdateExpression: 'SET #s = :s, #d = :d',
        ConditionExpression:
          '#s = :pending AND expiresAt > :now AND contains(approvers, :approver) AND (attribute_not_exists(requestedBy) OR requestedBy <> :approver)',
        ExpressionAttributeNames: { '#s': 'status', '#d': 'decision' },
        ExpressionAttributeValues: {
          ':s': d.status,
          ':d': record,
          ':pending': 'PENDING',
          ':now': nowS,
          ':approver': record.approver,
        },
      }),
    );
    return undefined;
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ConditionalCheckFailedException') throw err;
    const latest = await loadItem(deps, approvalId);
    if (!latest) return { result: 'not-found', page: PAGES.notFound(false, approvalId) };
    if (latest.status !== 'PENDING') {
      return { result: 'already-decided', page: decidedPage(latest, record.approver, false) };
    }
    return { result: 'expired', page: expiredPage(latest, false) };
  }
}

/** Tells the waiting execution. */
async function sendToWorkflow(deps: ApprovalEndpointDeps, d: Decision): Promise<void> {
  const { record } = d;
  const base = {
    approvalId: d.approvalId,
    approver: record.approver,
    decidedAt: record.decidedAt,
    ...(record.comment ? { comment: record.comment } : {}),
  };
  if (d.status === 'APPROVED') {
    const output: ApprovalDecision = { ...base, decision: 'approved' };
    await deps.sfn.send(
      new SendTaskSuccessCommand({ taskToken: d.taskToken, output: JSON.stringify(output) }),
    );
    return;
  }
  const cause: ApprovalRejection = { ...base, decision: 'rejected' };
  await deps.sfn.send(
    new SendTaskFailureCommand({
      taskToken: d.taskToken,
      error: StatesErrors.ApprovalRejected,
      cause: JSON.stringify(cause),
    }),
  );
}

/** Records the decision, delivers it to the workflow, and says what happened. */
export async function decide(deps: ApprovalEndpointDeps, d: Decision, nowS: number): Promise<Answer> {
  const lost = await recordDecision(deps, d, nowS);
  if (lost) return lost;
  try {
    await sendToWorkflow(deps, d);
  } catch (err) {
    const name = err instanceof Error ? err.name : 'Error';
    if (ENDED_ERRORS.has(name)) {
      const reason = `The workflow stopped waiting before the decision arrived (${name}); the decision was not applied.`;
      await closeAsEnded(deps, d, reason);
      return { result: 'execution-ended', page: PAGES.executionEnded(d.approvalId, reason) };
    }
    deps.log?.error('sending the decision failed; rolling back', { ...d.logFields, errorName: name });
    await rollBack(deps, d);
    return { result: 'unavailable', page: PAGES.unavailable(d.approvalId) };
  }
  await forgetToken(deps, d);
  const approved = d.status === 'APPROVED';
  return {
    result: approved ? 'approved' : 'rejected',
    page: decidedNowPage(approved, d.approvalId, d.record),
  };
}

/**
 * Updates the approval only while it still holds *this* decision (same status, time and approver), so a
 * follow-up write never touches a record that moved on. Losing that race is not an error.
 */
async function updateOwnDecision(
  deps: ApprovalEndpointDeps,
  d: Decision,
  update: { expression: string; values: Record<string, string> },
): Promise<void> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.approvalsTable,
        Key: { approvalId: d.approvalId },
        UpdateExpression: update.expression,
        ConditionExpression: '#s = :decided AND #d.decidedAt = :at AND #d.approver = :approver',
        ExpressionAttributeNames: { '#s': 'status', '#d': 'decision' },
        ExpressionAttributeValues: {
          ...update.values,
          ':decided': d.status,
          ':at': d.record.decidedAt,
          ':approver': d.record.approver,
        },
      }),
    );
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ConditionalCheckFailedException') throw err;
  }
}

/** The execution had already ended: close the request as EXPIRED with why, and drop the token. */
function closeAsEnded(deps: ApprovalEndpointDeps, d: Decision, reason: string): Promise<void> {
  return updateOwnDecision(deps, d, {
    expression: 'SET #s = :expired, closedReason = :r REMOVE taskToken',
    values: { ':expired': 'EXPIRED', ':r': reason },
  });
}

/** Step Functions could not be told: undo the decision so the approver can try again. */
function rollBack(deps: ApprovalEndpointDeps, d: Decision): Promise<void> {
  return updateOwnDecision(deps, d, {
    expression: 'SET #s = :pending REMOVE #d',
    values: { ':pending': 'PENDING' },
  });
}

/** The decision reached the workflow: the token is of no further use, so it is not kept. Best effort. */
async function forgetToken(deps: ApprovalEndpointDeps, d: Decision): Promise<void> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.approvalsTable,
        Key: { approvalId: d.approvalId },
        UpdateExpression: 'REMOVE taskToken',
        ConditionExpression: '#s = :decided',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':decided': d.status },
      }),
    );
  } catch (err) {
    deps.log?.warn('could not remove the delivered task token', {
      ...d.logFields,
      errorName: errorName(err),
    });
  }
}
