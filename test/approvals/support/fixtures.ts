/**
 * Fixtures of the approval tests (unit, HTTP, browser): a drifted IAM role that needs approval, the
 * signing secret, and the Request approval input Step Functions would send.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RequestApprovalInput } from '../../../tasks/request-approval/core';
import { approvalIdFor } from '../../../tasks/shared/approval-id';
import { type ApprovalItem, buildSummary } from '../../../tasks/shared/approvals/record';
import { deriveKeys } from '../../../tasks/shared/approvals/signing';
import type { DriftState, PlanResult, RemediationEvent } from '../../../tasks/shared/contracts';
import { resolveParameters } from '../../../tasks/shared/parameters';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const SECRET = 'test-signing-secret-0123456789abcdef0123456789';
export const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:drift-remediation/approval-signing-AbCdEf`;
export const KEYS = deriveKeys(SECRET);
export const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:drift-remediation-approvals`;
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/drift-remediation-automation`;
export const APPROVER = 'security-oncall@example.com';
export const SECOND_APPROVER = 'platform-lead@example.com';
/** A realistic-looking Step Functions task token (opaque, long, base64-ish). Must never leave the table. */
export const TASK_TOKEN =
  'AQCEAAAAKgAAAAMAAAAAAAAAAU7t0kVn1Fv+Y3m5Tq0Wj5yF0Q2a8p0tKjDcZc9oV4n8r0Ti8X1y2z3TOKENTOKEN+/abcXYZ987654321==';

export const NOW = new Date('2026-11-23T12:00:00.000Z');

export function execution(name = 'exec-approval-1') {
  return {
    id: `arn:aws:states:${REGION}:${ACCOUNT}:execution:drift-remediation:${name}`,
    name,
    startTime: '2026-11-23T11:59:00.000Z',
  };
}

export function roleEvent(overrides: Partial<RemediationEvent> = {}): RemediationEvent {
  return {
    eventId: 'ev-role-1/AppRole',
    source: 'cloudformation',
    resourceType: 'AWS::IAM::Role',
    resourceId: 'app-role',
    awsAccountId: ACCOUNT,
    awsRegion: REGION,
    complianceType: 'DRIFTED',
    orderingTimestamp: '2026-11-23T11:58:00.000Z',
    stackName: 'app-stack',
    stackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/app-stack/0b5e1c80-1111-2222-3333-444455556666`,
    logicalResourceId: 'AppRole',
    ...overrides,
  };
}

export function rolePlan(overrides: Partial<PlanResult> = {}): PlanResult {
  return {
    decision: 'remediate',
    reason: 'policy entry iam-role-policies matches AWS::IAM::Role drift',
    resourceKey: `${ACCOUNT}/${REGION}/AWS::IAM::Role/app-role`,
    policyEntryId: 'iam-role-policies',
    runbook: {
      documentName: 'DriftRemediation-RestoreIamRolePolicies',
      firstParty: true,
      parameters: {
        RoleName: { from: 'event.resourceId', as: 'string' },
        ExpectedManagedPolicyArns: { from: 'drift.expected.ManagedPolicyArns', as: 'json', default: '[]' },
        DetachPolicyArns: { from: 'drift.added.ManagedPolicyArns', as: 'json', default: '[]' },
      },
    },
    approval: { mode: 'required', required: true, approvers: [APPROVER, SECOND_APPROVER], ttlSeconds: 3600 },
    concurrency: { perRunbook: 5, global: 20 },
    attempts: { max: 3, retryAfterSeconds: 60 },
    verification: { timeoutSeconds: 900, intervalSeconds: 30, maxPolls: 30 },
    ...overrides,
  };
}

export function roleDrift(): DriftState {
  return {
    inStack: true,
    mode: 'resource',
    stackName: 'app-stack',
    logicalResourceId: 'AppRole',
    detectionStatus: 'DETECTION_COMPLETE',
    polls: 1,
    maxPolls: 10,
    waitSeconds: 2,
    resourceDriftStatus: 'MODIFIED',
    expected: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
    actual: {
      ManagedPolicyArns: [
        'arn:aws:iam::aws:policy/ReadOnlyAccess',
        'arn:aws:iam::aws:policy/AdministratorAccess',
      ],
    },
    propertyDifferences: [
      {
        PropertyPath: '/ManagedPolicyArns/1',
        ExpectedValue: '',
        ActualValue: 'arn:aws:iam::aws:policy/AdministratorAccess',
        DifferenceType: 'ADD',
      },
    ],
    added: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
  };
}

export function requestInput(overrides: Partial<RequestApprovalInput> = {}): RequestApprovalInput {
  return {
    taskToken: TASK_TOKEN,
    event: roleEvent(),
    plan: rolePlan(),
    drift: roleDrift(),
    execution: execution(),
    ...overrides,
  };
}

/** The PENDING item Request approval writes for requestInput() at `now`. */
export function pendingItem(overrides: Partial<ApprovalItem> = {}, now = NOW): ApprovalItem {
  const input = requestInput();
  const plan = input.plan;
  const parameters = plan.runbook
    ? resolveParameters(plan.runbook.parameters, { event: input.event, drift: input.drift, plan }, ROLE_ARN)
    : undefined;
  return {
    approvalId: approvalIdFor(input.execution.id),
    executionArn: input.execution.id,
    executionName: input.execution.name,
    taskToken: TASK_TOKEN,
    status: 'PENDING',
    approvers: [APPROVER, SECOND_APPROVER],
    expiresAt: Math.floor(now.getTime() / 1000) + 3600,
    createdAt: now.toISOString(),
    resourceKey: plan.resourceKey,
    summary: buildSummary({
      event: input.event,
      plan,
      drift: input.drift,
      execution: input.execution,
      parameters,
      now,
    }),
    notifiedAt: now.toISOString(),
    ...overrides,
  };
}

/** A Function URL event as AWS delivers it. */
export function urlEvent(opts: {
  method?: string;
  path: string;
  query?: string;
  body?: string;
  contentType?: string;
  userAgent?: string;
  base64?: boolean;
}): APIGatewayProxyEventV2 {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = {
    host: 'abc.lambda-url.eu-west-1.on.aws',
    'user-agent': opts.userAgent ?? 'Mozilla/5.0 test',
  };
  if (opts.contentType) headers['content-type'] = opts.contentType;
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath: opts.path,
    rawQueryString: opts.query ?? '',
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc',
      domainName: 'abc.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc',
      http: {
        method,
        path: opts.path,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: NOW.toUTCString(),
      timeEpoch: NOW.getTime(),
    },
    isBase64Encoded: opts.base64 ?? false,
  };
  if (opts.body !== undefined)
    event.body = opts.base64 ? Buffer.from(opts.body).toString('base64') : opts.body;
  return event;
}

/** Scanner and preview-bot user agents that open links in messages. */
export const SCANNER_USER_AGENTS = [
  'Mozilla/5.0 (compatible; Microsoft Office Protocol Discovery)',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 (Proofpoint URL Defense)',
  'Mimecast-URL-Protect/1.0',
  'Barracuda Sentinel (EE)',
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)',
  'SafeLinks/1.0 (Microsoft Defender for Office 365)',
  'curl/8.5.0',
  'python-requests/2.31.0',
];
