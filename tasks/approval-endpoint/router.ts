/**
 * The approval endpoint's routes on the Powertools event handler's HTTP router:
 *
 *   GET/HEAD /approvals/:approvalId?approver=&exp=&sig=   review page; never changes anything
 *   POST     same URL, form-encoded { csrf, decision, comment? }   decides once
 *   GET/HEAD /approvals/:approvalId/review?exp=&sig=   read-only review page (review link: no decision)
 *   PUT/PATCH/DELETE/OPTIONS on the approval path, anything but GET/HEAD on the review path: 405; any other path: 404; an unexpected error: a generic 500
 *
 * Each route is one small handler over the checks in request.ts and the decision in decide.ts; every
 * request's outcome is logged (never a token, signature, CSRF token or query string).
 */
import { Router } from '@aws-lambda-powertools/event-handler/http';
import type { RequestContext } from '@aws-lambda-powertools/event-handler/types';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { APPROVAL_ID_PATTERN } from '../shared/approval-id';
import { renderReviewPage, renderViewOnlyPage } from '../shared/approvals/page';
import { csrfToken, newPageLoad } from '../shared/approvals/signing';
import type { ApprovalEndpointDeps } from './core';
import { decide, decisionFromForm } from './decide';
import { PAGES, type PageResult, page } from './pages';
import {
  type Answer,
  header,
  isAnswer,
  loadItem,
  openItem,
  verifiedForm,
  verifyRequestLink,
  verifyReviewLink,
} from './request';

export const APPROVAL_PATH = '/approvals/:approvalId';
export const REVIEW_PATH = '/approvals/:approvalId/review';

/** What every handler knows about its request. */
interface Incoming {
  deps: ApprovalEndpointDeps;
  event: APIGatewayProxyEventV2;
  head: boolean;
  now: Date;
  nowS: number;
  /**
   * The CSRF token's issue and check time (deps.csrfNow, else deps.now): the handler gives it the system
   * clock, not the task clock. The token's age is an
   * anti-replay interval of real seconds (a link scanner's copy is worthless minutes later) and is never
   * shown; on the sandbox's scaled clock 15 minutes would pass in seconds.
   */
  csrfNowS: number;
  sourceIp: string | undefined;
  userAgent: string;
  fields: Record<string, unknown>;
}

function incoming(deps: ApprovalEndpointDeps, reqCtx: RequestContext): Incoming {
  if (reqCtx.responseType !== 'ApiGatewayV2')
    throw new TypeError('the approval endpoint takes Function URL events');
  const { event } = reqCtx;
  const now = (deps.now ?? (() => new Date()))();
  const method = (event.requestContext?.http?.method ?? 'GET').toUpperCase();
  const sourceIp = event.requestContext?.http?.sourceIp;
  const userAgent = (event.requestContext?.http?.userAgent ?? header(event, 'user-agent') ?? '').slice(
    0,
    512,
  );
  const fields: Record<string, unknown> = { method, sourceIp, userAgent };
  return {
    deps,
    event,
    head: method === 'HEAD',
    now,
    nowS: Math.floor(now.getTime() / 1000),
    csrfNowS: Math.floor((deps.csrfNow ?? deps.now ?? (() => new Date()))().getTime() / 1000),
    sourceIp,
    userAgent,
    fields,
  };
}

/** Logs how the request ended (5xx as errors) and answers with its page. */
function reply(inc: Incoming, answer: Answer): PageResult {
  const status = answer.page.statusCode;
  const level = status >= 500 ? 'error' : 'info';
  inc.deps.log?.[level]('approval request', { ...inc.fields, result: answer.result, status });
  return answer.page;
}

/** The approval id from the path, when it has the shape of one. */
function approvalIdOf(reqCtx: RequestContext, inc: Incoming): string | undefined {
  const id = reqCtx.params.approvalId;
  if (!id || !APPROVAL_ID_PATTERN.test(id)) return undefined;
  inc.fields.approvalId = id;
  return id;
}

/** GET/HEAD: the review page for a valid link on an open request. */
async function review(deps: ApprovalEndpointDeps, reqCtx: RequestContext): Promise<PageResult> {
  const inc = incoming(deps, reqCtx);
  const approvalId = approvalIdOf(reqCtx, inc);
  if (!approvalId) return reply(inc, { result: 'not-found', page: PAGES.notFound(inc.head) });
  const link = await verifyRequestLink(deps, inc.event, approvalId, inc.nowS, inc.head);
  if (isAnswer(link)) return reply(inc, link);
  inc.fields.approver = link.approver;
  const item = await openItem(deps, link, inc.nowS, inc.head);
  if (isAnswer(item)) return reply(inc, item);
  const { approver, exp, sig, keys } = link;
  const html = renderReviewPage({
    summary: item.summary,
    approvalId,
    approver,
    expiresAt: item.expiresAt,
    now: inc.now,
    csrf: csrfToken(keys, approvalId, approver, newPageLoad(inc.csrfNowS)),
    action: `?${new URLSearchParams({ approver, exp: String(exp), sig }).toString()}`,
  });
  return reply(inc, { result: 'review', page: page(200, html, inc.head) });
}

/** GET/HEAD on a review link: the read-only page, whatever state the request is in, until it expires. */
async function viewOnly(deps: ApprovalEndpointDeps, reqCtx: RequestContext): Promise<PageResult> {
  const inc = incoming(deps, reqCtx);
  inc.fields.view = true;
  const approvalId = approvalIdOf(reqCtx, inc);
  if (!approvalId) return reply(inc, { result: 'not-found', page: PAGES.notFound(inc.head) });
  const link = await verifyReviewLink(deps, inc.event, approvalId, inc.nowS, inc.head);
  if (isAnswer(link)) return reply(inc, link);
  const item = await loadItem(deps, approvalId);
  if (!item) return reply(inc, { result: 'not-found', page: PAGES.notFound(inc.head, approvalId) });
  const html = renderViewOnlyPage({
    summary: item.summary,
    approvalId,
    status: item.status,
    decision: item.decision,
    expiresAt: item.expiresAt,
    now: inc.now,
  });
  return reply(inc, { result: 'view', page: page(200, html, inc.head) });
}

/** POST: a valid link, its CSRF token and an open request, then the decision. */
async function post(deps: ApprovalEndpointDeps, reqCtx: RequestContext): Promise<PageResult> {
  const inc = incoming(deps, reqCtx);
  const approvalId = approvalIdOf(reqCtx, inc);
  if (!approvalId) return reply(inc, { result: 'not-found', page: PAGES.notFound(false) });
  const link = await verifyRequestLink(deps, inc.event, approvalId, inc.nowS, false);
  if (isAnswer(link)) return reply(inc, link);
  inc.fields.approver = link.approver;
  const form = verifiedForm(inc.event, link, inc.csrfNowS);
  if (isAnswer(form)) return reply(inc, form);
  const item = await openItem(deps, link, inc.nowS, false);
  if (isAnswer(item)) return reply(inc, item);
  const decision = decisionFromForm(form, { ...inc, approver: link.approver });
  if (!decision) return reply(inc, { result: 'bad-request', page: PAGES.noChoice(approvalId) });
  if (decision.status === 'APPROVED' && item.requesterAuthenticated === false)
    return reply(inc, {
      result: 'unauthenticated-requester',
      page: PAGES.unauthenticatedRequester(approvalId),
    });
  const { taskToken } = item;
  return reply(
    inc,
    await decide(deps, { ...decision, approvalId, taskToken, logFields: inc.fields }, inc.nowS),
  );
}

/** Any other method on an approval URL. */
function notAllowed(deps: ApprovalEndpointDeps, reqCtx: RequestContext, allow?: string): PageResult {
  const inc = incoming(deps, reqCtx);
  if (!approvalIdOf(reqCtx, inc)) return reply(inc, { result: 'not-found', page: PAGES.notFound(inc.head) });
  return reply(inc, { result: 'method-not-allowed', page: PAGES.methodNotAllowed(allow) });
}

export function approvalRouter(deps: ApprovalEndpointDeps): Router {
  const router = new Router();
  router.get(APPROVAL_PATH, (reqCtx) => review(deps, reqCtx));
  router.head(APPROVAL_PATH, (reqCtx) => review(deps, reqCtx));
  router.post(APPROVAL_PATH, (reqCtx) => post(deps, reqCtx));
  router.route((reqCtx) => notAllowed(deps, reqCtx), {
    method: ['PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    path: APPROVAL_PATH,
  });
  router.get(REVIEW_PATH, (reqCtx) => viewOnly(deps, reqCtx));
  router.head(REVIEW_PATH, (reqCtx) => viewOnly(deps, reqCtx));
  router.route((reqCtx) => notAllowed(deps, reqCtx, 'GET, HEAD'), {
    method: ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    path: REVIEW_PATH,
  });
  router.notFound(async (_err, reqCtx) => {
    const inc = incoming(deps, reqCtx);
    return reply(inc, { result: 'not-found', page: PAGES.notFound(inc.head) });
  });
  router.errorHandler(Error, async (err, reqCtx) => {
    deps.log?.error('approval endpoint failed', { errorName: err.name, errorMessage: err.message });
    return PAGES.failure(reqCtx.req.method === 'HEAD');
  });
  return router;
}
