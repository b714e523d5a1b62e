/**
 * The approval endpoint (Lambda Function URL; the sandbox mounts the same handler at /approvals/).
 *
 *   GET/HEAD /approvals/<approvalId>?approver=&exp=&sig=   review page; never changes anything
 *   POST     same URL, form-encoded { csrf, decision: approve|reject, comment? }   decides once
 *
 * A POST is accepted only with a valid link signature and CSRF token, from an allowed approver who
 * is not the requester, while the record is PENDING and not expired. The decision is written with a
 * conditional UpdateItem (single use: of two concurrent clicks exactly one wins), then sent to the
 * waiting execution with SendTaskSuccess (ApprovalDecision) or SendTaskFailure (ApprovalRejected,
 * ApprovalRejection). If the execution has already ended (TaskTimedOut, InvalidToken,
 * TaskDoesNotExist) the record is closed as EXPIRED; if Step Functions is unavailable the decision is
 * rolled back so the approver can try again. Every other case gets a page saying what happened.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { APPROVAL_ID_PATTERN } from '../shared/approval-id';
import { renderResultPage, renderReviewPage, securityHeaders } from '../shared/approvals/page';
import { ApprovalItem, type DecisionRecord } from '../shared/approvals/record';
import { csrfToken, type SigningKeys, verifyCsrf, verifyLink } from '../shared/approvals/signing';
import type { ApprovalDecision, ApprovalRejection } from '../shared/contracts';
import { errorName, StatesErrors } from '../shared/errors';

export const MAX_COMMENT_CHARS = 1000;
export const MAX_BODY_BYTES = 16 * 1024;
/** Step Functions errors meaning the execution no longer waits for this token. */
export const ENDED_ERRORS = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

/** What the endpoint logs: never a token, signature, CSRF token or query string. */
export interface EndpointLog {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

export interface ApprovalEndpointDeps {
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  approvalsTable: string;
  signingKeys: () => Promise<SigningKeys>;
  now?: () => Date;
  log?: EndpointLog;
}

/** Why a request did or did not decide; logged and used by tests. */
export type EndpointResult =
  | 'review'
  | 'approved'
  | 'rejected'
  | 'not-found'
  | 'method-not-allowed'
  | 'bad-link'
  | 'link-expired'
  | 'bad-request'
  | 'bad-csrf'
  | 'not-an-approver'
  | 'own-request'
  | 'already-decided'
  | 'expired'
  | 'execution-ended'
  | 'unavailable';

type Response = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

function page(status: number, html: string, head: boolean, extra: Record<string, string> = {}): Response {
  return { statusCode: status, headers: { ...securityHeaders(), ...extra }, body: head ? '' : html };
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** Single-valued query parameters; a repeated parameter makes the link invalid. */
function singleParams(raw: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(raw)) {
    if (out.has(k)) return undefined;
    out.set(k, v);
  }
  return out;
}

function readForm(event: APIGatewayProxyEventV2): URLSearchParams | undefined {
  const type = (header(event, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) return undefined;
  return new URLSearchParams(text);
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

const PAGES = {
  badLink: () =>
    renderResultPage({
      title: 'This approval link is not valid',
      message:
        'The link is incomplete or has been changed. Open the link exactly as it arrived in your message; approval links cannot be edited or forwarded to someone else.',
      kind: 'bad',
    }),
  notFound: (approvalId?: string) =>
    renderResultPage({
      title: 'Approval request not found',
      message: 'There is no approval request at this address. It may have been removed after it closed.',
      kind: 'bad',
      ...(approvalId ? { approvalId } : {}),
    }),
  linkExpired: (approvalId: string) =>
    renderResultPage({
      title: 'This approval link has expired',
      message:
        'The time to decide on this request is over. Nothing was changed. The remediation did not run on this approval.',
      kind: 'info',
      approvalId,
    }),
};

function decidedPage(item: ApprovalItem, approver: string, head: boolean): Response {
  const d = item.decision;
  if (item.status === 'EXPIRED') {
    return page(
      410,
      renderResultPage({
        title: 'This approval request has closed',
        message:
          item.closedReason ??
          'The request expired before anyone decided, so the remediation did not run. No decision can be made any more.',
        kind: 'info',
        details: d
          ? [['Decision that arrived too late', `${d.decision} by ${d.approver} at ${d.decidedAt}`]]
          : [],
        approvalId: item.approvalId,
      }),
      head,
    );
  }
  const by = d ? (d.approver === approver ? `you (${d.approver})` : d.approver) : 'another approver';
  const verb = item.status === 'APPROVED' ? 'approved' : 'rejected';
  return page(
    409,
    renderResultPage({
      title: `Already ${verb}`,
      message: `This request was already ${verb} by ${by}. Only the first decision counts; yours was not recorded.`,
      kind: 'info',
      details: [
        ['Decided at', d?.decidedAt],
        ['Comment', d?.comment],
      ],
      approvalId: item.approvalId,
    }),
    head,
  );
}

function expiredPage(item: ApprovalItem, head: boolean): Response {
  return page(
    410,
    renderResultPage({
      title: 'This approval request has expired',
      message:
        'The time to decide is over, so the remediation will not run on this request. Nothing was changed.',
      kind: 'info',
      details: [['Expired at', new Date(item.expiresAt * 1000).toISOString()]],
      approvalId: item.approvalId,
    }),
    head,
  );
}

async function loadItem(deps: ApprovalEndpointDeps, approvalId: string): Promise<ApprovalItem | undefined> {
  const res = await deps.ddb.send(
    new GetCommand({ TableName: deps.approvalsTable, Key: { approvalId }, ConsistentRead: true }),
  );
  if (!res.Item) return undefined;
  const parsed = ApprovalItem.safeParse(res.Item);
  if (!parsed.success) throw new Error(`approval record ${approvalId} is malformed`);
  return parsed.data;
}

export async function handleApprovalRequest(
  event: APIGatewayProxyEventV2,
  deps: ApprovalEndpointDeps,
): Promise<Response> {
  const now = (deps.now ?? (() => new Date()))();
  const nowS = Math.floor(now.getTime() / 1000);
  const method = (event.requestContext?.http?.method ?? 'GET').toUpperCase();
  const head = method === 'HEAD';
  const sourceIp = event.requestContext?.http?.sourceIp;
  const userAgent = (event.requestContext?.http?.userAgent ?? header(event, 'user-agent') ?? '').slice(
    0,
    512,
  );
  const logFields: Record<string, unknown> = { method, sourceIp, userAgent };
  const done = (result: EndpointResult, res: Response): Response => {
    const level = res.statusCode >= 500 ? 'error' : 'info';
    deps.log?.[level]('approval request', { ...logFields, result, status: res.statusCode });
    return res;
  };

  const m = /\/approvals\/([^/]+)\/?$/.exec(event.rawPath ?? '');
  const approvalId = m?.[1] ? decodeURIComponent(m[1]) : undefined;
  if (!approvalId || !APPROVAL_ID_PATTERN.test(approvalId))
    return done('not-found', page(404, PAGES.notFound(), head));
  logFields.approvalId = approvalId;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
    return done(
      'method-not-allowed',
      page(
        405,
        renderResultPage({
          title: 'Method not allowed',
          message: 'Use the link and the buttons on the page.',
          kind: 'bad',
        }),
        false,
        { allow: 'GET, HEAD, POST' },
      ),
    );
  }

  // 1. The link: signature over (approvalId, approver, exp), then its expiry.
  const q = singleParams(event.rawQueryString ?? '');
  const approver = q?.get('approver') ?? '';
  const expRaw = q?.get('exp') ?? '';
  const sig = q?.get('sig') ?? '';
  const exp = /^\d{1,12}$/.test(expRaw) ? Number(expRaw) : Number.NaN;
  const keys = await deps.signingKeys();
  if (!approver || !sig || !verifyLink(keys, { approvalId, approver, exp }, sig)) {
    return done('bad-link', page(403, PAGES.badLink(), head));
  }
  logFields.approver = approver;
  if (exp <= nowS) return done('link-expired', page(410, PAGES.linkExpired(approvalId), head));

  // 2. A POST must carry the form's CSRF token before anything is read or written.
  let form: URLSearchParams | undefined;
  if (method === 'POST') {
    form = readForm(event);
    if (!form) {
      return done(
        'bad-request',
        page(
          400,
          renderResultPage({
            title: 'Bad request',
            message: 'Submit the form on the review page.',
            kind: 'bad',
            approvalId,
          }),
          false,
        ),
      );
    }
    if (!verifyCsrf(keys, approvalId, approver, form.get('csrf') ?? '')) {
      return done(
        'bad-csrf',
        page(
          403,
          renderResultPage({
            title: 'The form could not be verified',
            message: 'Nothing was decided. Open your approval link again and use the buttons on that page.',
            kind: 'bad',
            approvalId,
          }),
          false,
        ),
      );
    }
  }

  // 3. The record: who may decide, and whether it is still open.
  const item = await loadItem(deps, approvalId);
  if (!item) return done('not-found', page(404, PAGES.notFound(approvalId), head));
  if (!item.approvers.includes(approver)) {
    return done(
      'not-an-approver',
      page(
        403,
        renderResultPage({
          title: 'You are not an approver of this request',
          message: `${approver} is not on the approver list for this remediation. Nothing was changed.`,
          kind: 'bad',
          approvalId,
        }),
        head,
      ),
    );
  }
  if (item.requestedBy && item.requestedBy === approver) {
    return done(
      'own-request',
      page(
        403,
        renderResultPage({
          title: 'You cannot approve your own request',
          message: `This remediation was requested by ${approver}. Another approver has to decide. Nothing was changed.`,
          kind: 'bad',
          approvalId,
        }),
        head,
      ),
    );
  }
  if (item.status !== 'PENDING') return done('already-decided', decidedPage(item, approver, head));
  if (item.expiresAt <= nowS || !item.taskToken) return done('expired', expiredPage(item, head));
  const taskToken = item.taskToken;

  if (method !== 'POST' || !form) {
    const html = renderReviewPage({
      summary: item.summary,
      approvalId,
      approver,
      expiresAt: item.expiresAt,
      now,
      csrf: csrfToken(keys, approvalId, approver),
      action: `?${new URLSearchParams({ approver, exp: String(exp), sig }).toString()}`,
    });
    return done('review', page(200, html, head));
  }

  // 4. The decision: one conditional write, then the workflow.
  const choice = form.get('decision');
  if (choice !== 'approve' && choice !== 'reject') {
    return done(
      'bad-request',
      page(
        400,
        renderResultPage({
          title: 'Choose Approve or Reject',
          message: 'Nothing was decided.',
          kind: 'bad',
          approvalId,
        }),
        false,
      ),
    );
  }
  const decision: DecisionRecord = {
    decision: choice === 'approve' ? 'approved' : 'rejected',
    approver,
    decidedAt: now.toISOString(),
  };
  const comment = cleanComment(form.get('comment'));
  if (comment) decision.comment = comment;
  if (sourceIp) decision.sourceIp = sourceIp;
  if (userAgent) decision.userAgent = userAgent;
  const status = choice === 'approve' ? 'APPROVED' : 'REJECTED';

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
          ':s': status,
          ':d': decision,
          ':pending': 'PENDING',
          ':now': nowS,
          ':approver': approver,
        },
      }),
    );
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ConditionalCheckFailedException') throw err;
    const latest = await loadItem(deps, approvalId);
    if (!latest) return done('not-found', page(404, PAGES.notFound(approvalId), false));
    if (latest.status !== 'PENDING') return done('already-decided', decidedPage(latest, approver, false));
    return done('expired', expiredPage(latest, false));
  }

  const base = { approvalId, approver, decidedAt: decision.decidedAt, ...(comment ? { comment } : {}) };
  try {
    if (status === 'APPROVED') {
      const output: ApprovalDecision = { ...base, decision: 'approved' };
      await deps.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    } else {
      const cause: ApprovalRejection = { ...base, decision: 'rejected' };
      await deps.sfn.send(
        new SendTaskFailureCommand({
          taskToken,
          error: StatesErrors.ApprovalRejected,
          cause: JSON.stringify(cause),
        }),
      );
    }
  } catch (err) {
    const name = err instanceof Error ? err.name : 'Error';
    if (ENDED_ERRORS.has(name)) {
      const reason = `The workflow stopped waiting before the decision arrived (${name}); the decision was not applied.`;
      await closeAsEnded(deps, approvalId, status, decision, reason);
      return done(
        'execution-ended',
        page(
          410,
          renderResultPage({
            title: 'This request is no longer waiting',
            message: `${reason} The remediation did not run on this approval.`,
            kind: 'info',
            approvalId,
          }),
          false,
        ),
      );
    }
    deps.log?.error('sending the decision failed; rolling back', { ...logFields, errorName: name });
    await rollBack(deps, approvalId, status, decision);
    return done(
      'unavailable',
      page(
        503,
        renderResultPage({
          title: 'Your decision could not be delivered',
          message: 'The workflow service did not answer. Nothing was decided; please try again in a minute.',
          kind: 'bad',
          approvalId,
        }),
        false,
        { 'retry-after': '60' },
      ),
    );
  }

  await forgetToken(deps, approvalId, status, logFields);
  const approved = status === 'APPROVED';
  return done(
    approved ? 'approved' : 'rejected',
    page(
      200,
      renderResultPage({
        title: approved ? 'Approved' : 'Rejected',
        message: approved
          ? 'Thank you. The remediation will now run; the outcome is reported when it is verified.'
          : 'Thank you. The remediation will not run; the rejection is recorded.',
        kind: approved ? 'ok' : 'info',
        details: [
          ['Decided by', approver],
          ['Decided at', decision.decidedAt],
          ['Comment', comment],
        ],
        approvalId,
      }),
      false,
    ),
  );
}

/**
 * Updates the approval only while it still holds *this* decision (same status, time and approver), so a
 * follow-up write never touches a record that moved on. Losing that race is not an error.
 */
async function updateOwnDecision(
  deps: ApprovalEndpointDeps,
  approvalId: string,
  status: string,
  decision: DecisionRecord,
  update: { expression: string; values: Record<string, string> },
): Promise<void> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.approvalsTable,
        Key: { approvalId },
        UpdateExpression: update.expression,
        ConditionExpression: '#s = :decided AND #d.decidedAt = :at AND #d.approver = :approver',
        ExpressionAttributeNames: { '#s': 'status', '#d': 'decision' },
        ExpressionAttributeValues: {
          ...update.values,
          ':decided': status,
          ':at': decision.decidedAt,
          ':approver': decision.approver,
        },
      }),
    );
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ConditionalCheckFailedException') throw err;
  }
}

/** The execution had already ended: close the request as EXPIRED with why, and drop the token. */
function closeAsEnded(
  deps: ApprovalEndpointDeps,
  approvalId: string,
  status: string,
  decision: DecisionRecord,
  reason: string,
): Promise<void> {
  return updateOwnDecision(deps, approvalId, status, decision, {
    expression: 'SET #s = :expired, closedReason = :r REMOVE taskToken',
    values: { ':expired': 'EXPIRED', ':r': reason },
  });
}

/** Step Functions could not be told: undo the decision so the approver can try again. */
function rollBack(
  deps: ApprovalEndpointDeps,
  approvalId: string,
  status: string,
  decision: DecisionRecord,
): Promise<void> {
  return updateOwnDecision(deps, approvalId, status, decision, {
    expression: 'SET #s = :pending REMOVE #d',
    values: { ':pending': 'PENDING' },
  });
}

/** The decision reached the workflow: the token is of no further use, so it is not kept. Best effort. */
async function forgetToken(
  deps: ApprovalEndpointDeps,
  approvalId: string,
  status: string,
  logFields: Record<string, unknown>,
): Promise<void> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.approvalsTable,
        Key: { approvalId },
        UpdateExpression: 'REMOVE taskToken',
        ConditionExpression: '#s = :decided',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':decided': status },
      }),
    );
  } catch (err) {
    deps.log?.warn('could not remove the delivered task token', { ...logFields, errorName: errorName(err) });
  }
}
