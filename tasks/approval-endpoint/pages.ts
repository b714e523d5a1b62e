/**
 * Every page the approval endpoint answers with: the HTTP result (status, security headers, HTML) and
 * the words a person reads. HEAD requests get the headers and an empty body.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { renderResultPage, securityHeaders } from '../shared/approvals/page';
import type { ApprovalItem } from '../shared/approvals/record';

export type PageResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

export function page(
  status: number,
  html: string,
  head: boolean,
  extra: Record<string, string> = {},
): PageResult {
  return { statusCode: status, headers: { ...securityHeaders(), ...extra }, body: head ? '' : html };
}

/** A refusal or notice: a result page with a title, a message and the approval id when known. */
function notice(
  status: number,
  head: boolean,
  text: { title: string; message: string; kind?: 'bad' | 'info'; approvalId?: string | undefined },
  extra: Record<string, string> = {},
): PageResult {
  const { approvalId, kind = 'bad', ...rest } = text;
  return page(
    status,
    renderResultPage({ ...rest, kind, ...(approvalId ? { approvalId } : {}) }),
    head,
    extra,
  );
}

export const PAGES = {
  notFound: (head: boolean, approvalId?: string) =>
    notice(404, head, {
      title: 'Approval request not found',
      message: 'There is no approval request at this address. It may have been removed after it closed.',
      approvalId,
    }),
  methodNotAllowed: (allow = 'GET, HEAD, POST') =>
    notice(
      405,
      false,
      { title: 'Method not allowed', message: 'Use the link and the buttons on the page.' },
      { allow },
    ),
  badLink: (head: boolean) =>
    notice(403, head, {
      title: 'This approval link is not valid',
      message:
        'The link is incomplete or has been changed. Open the link exactly as it arrived in your message; approval links cannot be edited or forwarded to someone else.',
    }),
  /** A review link that is forged, changed, or a decision link's signature on the review address. */
  badReviewLink: (head: boolean) =>
    notice(403, head, {
      title: 'This review link is not valid',
      message:
        'The link is incomplete or has been changed. Open the Review button of the notification exactly as it arrived. This page only shows a request; approvers decide from the personal link they received.',
    }),
  reviewLinkExpired: (head: boolean, approvalId: string) =>
    notice(403, head, {
      title: 'This review link has expired',
      message:
        'The approval request it shows has expired, so there is nothing left to review. The outcome was reported in the channel.',
      kind: 'info',
      approvalId,
    }),
  linkExpired: (head: boolean, approvalId: string) =>
    notice(410, head, {
      title: 'This approval link has expired',
      message:
        'The time to decide on this request is over. Nothing was changed. The remediation did not run on this approval.',
      kind: 'info',
      approvalId,
    }),
  badForm: (approvalId: string) =>
    notice(400, false, { title: 'Bad request', message: 'Submit the form on the review page.', approvalId }),
  badCsrf: (approvalId: string) =>
    notice(403, false, {
      title: 'The form could not be verified',
      message: 'Nothing was decided. Open your approval link again and use the buttons on that page.',
      approvalId,
    }),
  noChoice: (approvalId: string) =>
    notice(400, false, { title: 'Choose Approve or Reject', message: 'Nothing was decided.', approvalId }),
  notAnApprover: (head: boolean, approvalId: string, approver: string) =>
    notice(403, head, {
      title: 'You are not an approver of this request',
      message: `${approver} is not on the approver list for this remediation. Nothing was changed.`,
      approvalId,
    }),
  ownRequest: (head: boolean, approvalId: string, approver: string) =>
    notice(403, head, {
      title: 'You cannot approve your own request',
      message: `This remediation was requested by ${approver}. Another approver has to decide. Nothing was changed.`,
      approvalId,
    }),
  unauthenticatedRequester: (approvalId: string) =>
    notice(403, false, {
      title: 'This request cannot be approved',
      message:
        'It is a manual request whose requester is not authenticated, so nobody can tell whether you asked for it yourself. You can reject it; to have it run, the requester starts it again with drift-remediation remediate. Nothing was changed.',
      approvalId,
    }),
  executionEnded: (approvalId: string, reason: string) =>
    notice(410, false, {
      title: 'This request is no longer waiting',
      message: `${reason} The remediation did not run on this approval.`,
      kind: 'info',
      approvalId,
    }),
  unavailable: (approvalId: string) =>
    notice(
      503,
      false,
      {
        title: 'Your decision could not be delivered',
        message: 'The workflow service did not answer. Nothing was decided; please try again in a minute.',
        approvalId,
      },
      { 'retry-after': '60' },
    ),
  /** Something unexpected failed: nothing was decided, and nothing about the failure is shown. */
  failure: (head: boolean) =>
    notice(500, head, {
      title: 'Something went wrong',
      message: 'Nothing was decided. Please try again in a minute.',
    }),
};

/** The request was decided already (or closed as EXPIRED): who decided, and that this click did not count. */
export function decidedPage(item: ApprovalItem, approver: string, head: boolean): PageResult {
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

export function expiredPage(item: ApprovalItem, head: boolean): PageResult {
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

/** The decision reached the workflow. */
export function decidedNowPage(
  approved: boolean,
  approvalId: string,
  decision: { approver: string; decidedAt: string; comment?: string | undefined },
): PageResult {
  return page(
    200,
    renderResultPage({
      title: approved ? 'Approved' : 'Rejected',
      message: approved
        ? 'Thank you. The remediation will now run; the outcome is reported when it is verified.'
        : 'Thank you. The remediation will not run; the rejection is recorded.',
      kind: approved ? 'ok' : 'info',
      details: [
        ['Decided by', decision.approver],
        ['Decided at', decision.decidedAt],
        ['Comment', decision.comment],
      ],
      approvalId,
    }),
    false,
  );
}
