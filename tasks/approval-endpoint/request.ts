/**
 * What every approval request must prove before anything is read or written, in order: a valid link
 * signature over (approvalId, approver, exp) and its expiry; for a POST, a form-encoded body carrying
 * the CSRF token of that link; then an open record that this approver may decide.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as v from 'valibot';
import { ApprovalItem } from '../shared/approvals/record';
import { isRequester } from '../shared/approvals/requester';
import { type SigningKeys, verifyCsrf, verifyLink, verifyReview } from '../shared/approvals/signing';
import type { ApprovalEndpointDeps, EndpointResult } from './core';
import { decidedPage, expiredPage, PAGES, type PageResult } from './pages';

export const MAX_BODY_BYTES = 16 * 1024;

/** How a request ended: why (logged, used by tests), and the page that says so. */
export interface Answer {
  result: EndpointResult;
  page: PageResult;
}

export interface VerifiedLink {
  approvalId: string;
  approver: string;
  exp: number;
  sig: string;
  keys: SigningKeys;
}

export function isAnswer(x: object): x is Answer {
  return 'result' in x && 'page' in x;
}

export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
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

/** The link: its signature over (approvalId, approver, exp), then its expiry. */
export async function verifyRequestLink(
  deps: ApprovalEndpointDeps,
  event: APIGatewayProxyEventV2,
  approvalId: string,
  nowS: number,
  head: boolean,
): Promise<VerifiedLink | Answer> {
  const q = singleParams(event.rawQueryString ?? '');
  const approver = q?.get('approver') ?? '';
  const expRaw = q?.get('exp') ?? '';
  const sig = q?.get('sig') ?? '';
  const exp = /^\d{1,12}$/.test(expRaw) ? Number(expRaw) : Number.NaN;
  const keys = await deps.signingKeys();
  if (!approver || !sig || !verifyLink(keys, { approvalId, approver, exp }, sig)) {
    return { result: 'bad-link', page: PAGES.badLink(head) };
  }
  if (exp <= nowS) return { result: 'link-expired', page: PAGES.linkExpired(head, approvalId) };
  return { approvalId, approver, exp, sig, keys };
}

/**
 * A review link: exactly `exp` and `sig`, the signature a review signature (never a decision link's) over
 * (approvalId, exp), then its expiry. Any other parameter (an `approver`) makes it invalid.
 */
export async function verifyReviewLink(
  deps: ApprovalEndpointDeps,
  event: APIGatewayProxyEventV2,
  approvalId: string,
  nowS: number,
  head: boolean,
): Promise<{ exp: number } | Answer> {
  const q = singleParams(event.rawQueryString ?? '');
  const expRaw = q?.get('exp') ?? '';
  const sig = q?.get('sig') ?? '';
  const exp = /^\d{1,12}$/.test(expRaw) ? Number(expRaw) : Number.NaN;
  const keys = await deps.signingKeys();
  if (q?.size !== 2 || !sig || !verifyReview(keys, { approvalId, exp }, sig)) {
    return { result: 'bad-review-link', page: PAGES.badReviewLink(head) };
  }
  if (exp <= nowS) return { result: 'review-link-expired', page: PAGES.reviewLinkExpired(head, approvalId) };
  return { exp };
}

function readForm(event: APIGatewayProxyEventV2): URLSearchParams | undefined {
  const type = (header(event, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) return undefined;
  return new URLSearchParams(text);
}

/** A POST must carry the review page's form with the CSRF token of a recent load of this link's page. */
export function verifiedForm(
  event: APIGatewayProxyEventV2,
  link: VerifiedLink,
  nowS: number,
): URLSearchParams | Answer {
  const form = readForm(event);
  if (!form) return { result: 'bad-request', page: PAGES.badForm(link.approvalId) };
  if (!verifyCsrf(link.keys, link.approvalId, link.approver, form.get('csrf') ?? '', nowS)) {
    return { result: 'bad-csrf', page: PAGES.badCsrf(link.approvalId) };
  }
  return form;
}

export async function loadItem(
  deps: ApprovalEndpointDeps,
  approvalId: string,
): Promise<ApprovalItem | undefined> {
  const res = await deps.ddb.send(
    new GetCommand({ TableName: deps.approvalsTable, Key: { approvalId }, ConsistentRead: true }),
  );
  if (!res.Item) return undefined;
  const parsed = v.safeParse(ApprovalItem, res.Item);
  if (!parsed.success) throw new Error(`approval record ${approvalId} is malformed`);
  return parsed.output;
}

/** The record: it exists, this approver may decide it, and it is still open (PENDING, not expired). */
export async function openItem(
  deps: ApprovalEndpointDeps,
  link: VerifiedLink,
  nowS: number,
  head: boolean,
): Promise<(ApprovalItem & { taskToken: string }) | Answer> {
  const { approvalId, approver } = link;
  const item = await loadItem(deps, approvalId);
  if (!item) return { result: 'not-found', page: PAGES.notFound(head, approvalId) };
  if (!item.approvers.includes(approver)) {
    return { result: 'not-an-approver', page: PAGES.notAnApprover(head, approvalId, approver) };
  }
  if (
    (item.requestedBy && item.requestedBy === approver) ||
    isRequester(approver, item.requesterIdentities ?? [])
  ) {
    return { result: 'own-request', page: PAGES.ownRequest(head, approvalId, approver) };
  }
  if (item.status !== 'PENDING')
    return { result: 'already-decided', page: decidedPage(item, approver, head) };
  const { taskToken } = item;
  if (item.expiresAt <= nowS || !taskToken) return { result: 'expired', page: expiredPage(item, head) };
  return { ...item, taskToken };
}
