/**
 * The authenticated entry for manual starts (`drift-remediation remediate`): a Lambda Function URL with
 * AuthType AWS_IAM, so Lambda has checked the caller's SigV4 signature and `lambda:InvokeFunctionUrl`
 * before this runs, and names the caller in `requestContext.authorizer.iam.userArn`.
 *
 * POST a JSON body `{ resourceType, resourceId, configRuleName? }`. The entry builds the manual
 * RemediationEvent with `requestedBy` = the caller's principal ARN and `requesterProof` (an HMAC only this
 * entry and request-approval can make: tasks/shared/approvals/requester.ts), and sends it to the intake
 * queue as a `drift-remediation.manual` event, so intake treats it like every other event (validation,
 * ordering, one execution per resource). A body naming `requestedBy` (or anything else) is refused: who
 * asked is never what the caller says. Bad input: 400 and nothing sent; no IAM caller: 403.
 * Response 202 `{ eventId, requestedBy }`.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2, LambdaFunctionURLEventWithIAMAuthorizer } from 'aws-lambda';
import * as v from 'valibot';
import { requesterProof } from '../shared/approvals/requester';
import type { SigningKeys } from '../shared/approvals/signing';
import { RemediationEvent } from '../shared/contracts';
import { awsCall } from '../shared/errors';
import { formatIssues } from '../shared/handler';
import { MANUAL_DETAIL_TYPE, MANUAL_SOURCE, manualStartEvent } from '../shared/manual-start';
import { isValidResourceId } from '../shared/resource-ids';

export const MAX_BODY_BYTES = 4096;

/** The request body: only what to remediate; never who asks. */
export const ManualStartRequest = v.strictObject({
  resourceType: v.pipe(v.string(), v.regex(/^AWS::[A-Za-z0-9]*::[A-Za-z0-9]+$/)),
  resourceId: v.pipe(v.string(), v.minLength(1), v.maxLength(2048)),
  configRuleName: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_\-.]{1,128}$/))),
});

export interface ManualStartDeps {
  sqs: SQSClient;
  intakeQueueUrl: string;
  signingKeys: () => Promise<SigningKeys>;
  /** The entry's own account and region: the manual event's envelope (as EventBridge would set it). */
  accountId: string;
  region: string;
  now: () => Date;
}

export type ManualStartEvent = Pick<
  LambdaFunctionURLEventWithIAMAuthorizer,
  'body' | 'isBase64Encoded' | 'requestContext'
>;

function json(statusCode: number, body: Record<string, unknown>): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/** The request's body as a checked request, or the 400 answer naming what is wrong. */
function parseBody(
  event: ManualStartEvent,
): { request: v.InferOutput<typeof ManualStartRequest> } | { answer: APIGatewayProxyStructuredResultV2 } {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES)
    return {
      answer: json(400, { error: 'InvalidRequest', message: `the body is over ${MAX_BODY_BYTES} bytes` }),
    };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { answer: json(400, { error: 'InvalidRequest', message: 'the body is not JSON' }) };
  }
  const parsed = v.safeParse(ManualStartRequest, body);
  if (!parsed.success) {
    const issues = formatIssues(parsed);
    return { answer: json(400, { error: 'InvalidRequest', message: issues.join('; '), issues }) };
  }
  const { resourceType, resourceId } = parsed.output;
  if (!isValidResourceId(resourceType, resourceId))
    return {
      answer: json(400, { error: 'InvalidRequest', message: `resourceId is not a valid ${resourceType} id` }),
    };
  return { request: parsed.output };
}

/** Answers one Function URL request. Throws only when the intake queue cannot be reached. */
export async function handleManualStart(
  event: ManualStartEvent,
  deps: ManualStartDeps,
): Promise<APIGatewayProxyStructuredResultV2> {
  const method = event.requestContext?.http?.method?.toUpperCase();
  if (method !== 'POST') return json(405, { error: 'MethodNotAllowed', message: 'POST a JSON body' });
  const caller = event.requestContext?.authorizer?.iam?.userArn;
  if (!caller || !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.{1,200}$/.test(caller))
    return json(403, { error: 'NotAuthenticated', message: 'the request carries no IAM caller' });
  const parsed = parseBody(event);
  if ('answer' in parsed) return parsed.answer;
  const { request } = parsed;
  const base = manualStartEvent({
    resourceType: request.resourceType,
    resourceId: request.resourceId,
    configRuleName: request.configRuleName,
    requestedBy: caller,
    accountId: deps.accountId,
    region: deps.region,
    now: deps.now(),
  });
  const detail = {
    ...base,
    requesterProof: requesterProof(await deps.signingKeys(), { ...base, requestedBy: caller }),
  };
  const checked = v.safeParse(RemediationEvent, detail);
  if (!checked.success)
    return json(400, { error: 'InvalidRequest', message: formatIssues(checked).join('; ') });
  const envelope = {
    version: '0',
    id: detail.eventId,
    source: MANUAL_SOURCE,
    'detail-type': MANUAL_DETAIL_TYPE,
    account: deps.accountId,
    region: deps.region,
    time: detail.orderingTimestamp,
    resources: [],
    detail,
  };
  await awsCall('SendMessage(intake)', () =>
    deps.sqs.send(
      new SendMessageCommand({ QueueUrl: deps.intakeQueueUrl, MessageBody: JSON.stringify(envelope) }),
    ),
  );
  return json(202, { eventId: detail.eventId, requestedBy: caller });
}
