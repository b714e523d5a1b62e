/**
 * A Lambda Function URL with AuthType AWS_IAM, as Lambda serves it (the manual-start entry): the request
 * must be SigV4-signed for service `lambda`; a key the sandbox minted (a role session) must carry the
 * signature its secret makes, and its principal needs `lambda:InvokeFunctionUrl` on the function (with
 * `lambda:FunctionUrlAuthType` = AWS_IAM) through IAM enforcement; then the function runs with the caller
 * in `requestContext.authorizer.iam` (userArn, accountId, accessKey, callerId). Keys the sandbox did not
 * mint are its administrator's (any secret, as everywhere in the sandbox). Refusals are Lambda's 403
 * `{"Message":"Forbidden"}` and run nothing.
 */
import { randomUUID } from 'node:crypto';
import { accountOf, authorizeAction, credentialsFor, principalForKey } from '../core/authz';
import type { Sandbox } from '../core/sandbox';
import { serviceModule } from '../core/sandbox';
import type { RawHttpRequest, RawHttpResponse } from '../core/types';
import { AwsError } from '../core/types';
import { authorizationOf, signatureMatches } from '../sigv4';

const FORBIDDEN: RawHttpResponse = {
  status: 403,
  headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException' },
  body: JSON.stringify({ Message: 'Forbidden' }),
};

/** The caller of a signed request, or undefined when the request is not signed as Lambda takes it. */
async function authenticate(sb: Sandbox, req: RawHttpRequest) {
  const auth = authorizationOf(req.headers.authorization);
  if (auth?.service !== 'lambda') return undefined;
  const principal = principalForKey(sb.context, auth.accessKeyId);
  if (principal.roleArn) {
    const session = principal.arn.split('/').pop() ?? '';
    const creds = credentialsFor(sb.context, principal.roleArn, session);
    if (creds.accessKeyId !== auth.accessKeyId || !(await signatureMatches(req, creds))) return undefined;
  }
  return { principal, accessKeyId: auth.accessKeyId, region: auth.region };
}

/** The Function URL event (payload 2.0) with the IAM caller. */
function functionUrlEvent(
  req: RawHttpRequest,
  caller: { arn: string; accessKeyId: string },
  fnAccount: string,
) {
  const body = req.body.toString('utf8');
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: req.path,
    rawQueryString: req.query.toString(),
    headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'authorization')),
    requestContext: {
      accountId: fnAccount,
      apiId: 'sandbox',
      domainName: req.headers.host ?? '127.0.0.1',
      domainPrefix: 'sandbox',
      http: {
        method: req.method,
        path: req.path,
        protocol: 'HTTP/1.1',
        sourceIp: req.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? '',
      },
      authorizer: {
        iam: {
          accessKey: caller.accessKeyId,
          accountId: accountOf({ arn: caller.arn }),
          callerId: caller.arn.split(':').pop() ?? '',
          userArn: caller.arn,
          userId: caller.arn.split(':').pop() ?? '',
        },
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body,
    isBase64Encoded: false,
  };
}

/** Serves one request to an AWS_IAM Function URL of `functionArn`. */
export async function invokeIamFunctionUrl(
  sb: Sandbox,
  functionArn: string,
  req: RawHttpRequest,
): Promise<RawHttpResponse> {
  const caller = await authenticate(sb, req);
  if (!caller) return FORBIDDEN;
  const lambda = serviceModule(sb.context, 'lambda');
  if (!lambda) throw new AwsError('ServiceException', 'the sandbox has no Lambda module', 500);
  try {
    await authorizeAction(
      sb.context,
      caller.principal,
      lambda,
      'lambda:InvokeFunctionUrl',
      functionArn,
      caller.region,
      {
        'lambda:FunctionUrlAuthType': 'AWS_IAM',
      },
    );
  } catch (err) {
    if (err instanceof AwsError && err.statusCode === 403) return FORBIDDEN;
    throw err;
  }
  const fnAccount = functionArn.split(':')[4] ?? '';
  const event = functionUrlEvent(
    req,
    { arn: caller.principal.arn, accessKeyId: caller.accessKeyId },
    fnAccount,
  );
  const result = (await sb.functions.invoke(functionArn, event)) as {
    statusCode?: number;
    headers?: Record<string, string | number | boolean>;
    body?: string;
  };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  return { status: result.statusCode ?? 200, headers, body: result.body ?? '' };
}
