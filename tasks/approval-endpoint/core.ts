/**
 * The approval endpoint (Lambda Function URL; the sandbox mounts the same handler at /approvals/).
 *
 *   GET/HEAD /approvals/<approvalId>?approver=&exp=&sig=   review page; never changes anything
 *   POST     same URL, form-encoded { csrf, decision: approve|reject, comment? }   decides once
 *   GET/HEAD /approvals/<approvalId>/review?exp=&sig=   read-only review page (the shared channel's link)
 *
 * A POST is accepted only with a valid link signature and CSRF token, from an allowed approver who
 * is not the requester, while the record is PENDING and not expired. The decision is written with a
 * conditional UpdateItem (single use: of two concurrent clicks exactly one wins), then sent to the
 * waiting execution with SendTaskSuccess (ApprovalDecision) or SendTaskFailure (ApprovalRejected,
 * ApprovalRejection). If the execution has already ended (TaskTimedOut, InvalidToken,
 * TaskDoesNotExist) the record is closed as EXPIRED; if Step Functions is unavailable the decision is
 * rolled back so the approver can try again. Every other case gets a page saying what happened.
 *
 * Layout: router.ts (routes, one handler each, on the Powertools HTTP router), request.ts (link, CSRF
 * and record checks), decide.ts (the single-use decision), pages.ts (every page).
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { SigningKeys } from '../shared/approvals/signing';
import type { PageResult } from './pages';
import { approvalRouter } from './router';

export { cleanComment, ENDED_ERRORS, MAX_COMMENT_CHARS } from './decide';
export { MAX_BODY_BYTES } from './request';

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
  /** Every time the endpoint shows, records or compares with an expiry (the handler: the task clock). */
  now?: () => Date;
  /** The CSRF token's age only (the handler: the system clock; default `now`). */
  csrfNow?: () => Date;
  log?: EndpointLog;
}

/** Why a request did or did not decide; logged and used by tests. */
export type EndpointResult =
  | 'review'
  | 'view'
  | 'bad-review-link'
  | 'review-link-expired'
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
  | 'unauthenticated-requester'
  | 'already-decided'
  | 'expired'
  | 'execution-ended'
  | 'unavailable';

/** For calls that do not come from Lambda (tests, in-process servers): the router only passes it on. */
const DIRECT_CALL: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'approval-endpoint',
  functionVersion: '$LATEST',
  invokedFunctionArn: '',
  memoryLimitInMB: '0',
  awsRequestId: '',
  logGroupName: '',
  logStreamName: '',
  getRemainingTimeInMillis: () => 0,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};

/** Answers one Function URL request. */
export async function handleApprovalRequest(
  event: APIGatewayProxyEventV2,
  deps: ApprovalEndpointDeps,
  context: Context = DIRECT_CALL,
): Promise<PageResult> {
  const res = await approvalRouter(deps).resolve(event, context);
  return { ...res, statusCode: res.statusCode ?? 200, body: res.body ?? '' };
}
