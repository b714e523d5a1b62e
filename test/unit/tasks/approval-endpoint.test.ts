import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ApprovalEndpointDeps,
  cleanComment,
  handleApprovalRequest,
} from '../../../tasks/approval-endpoint/core';
import { approvalIdFor } from '../../../tasks/shared/approval-id';
import { CONTENT_SECURITY_POLICY, escapeHtml, renderReviewPage } from '../../../tasks/shared/approvals/page';
import type { ApprovalItem } from '../../../tasks/shared/approvals/record';
import { requesterIdentities } from '../../../tasks/shared/approvals/requester';
import {
  CSRF_PURPOSE_DECIDE,
  CSRF_TTL_SECONDS,
  csrfToken,
  deriveKeys,
  linkUrl,
  newPageLoad,
  safeEqual,
  signLink,
  verifyCsrf,
  verifyLink,
} from '../../../tasks/shared/approvals/signing';
import { ApprovalDecision, ApprovalRejection } from '../../../tasks/shared/contracts';
import {
  APPROVER,
  execution,
  KEYS,
  NOW,
  pendingItem,
  REGION,
  SECOND_APPROVER,
  TASK_TOKEN,
  urlEvent,
} from '../../approvals/support/fixtures';

/** An Identity Center session whose user is the approver (Identity Center sets the session name). */
const SSO_REQUESTER = `arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_SecurityOps_0a1b2c3d/${APPROVER}`;

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const ID = approvalIdFor(execution().id);
const NOW_S = Math.floor(NOW.getTime() / 1000);
const EXP = NOW_S + 3600;
/** The page load whose CSRF token the tests' forms carry. */
const LOAD = newPageLoad(NOW_S);
const PATH = `/approvals/${ID}`;

function deps(overrides: Partial<ApprovalEndpointDeps> = {}): ApprovalEndpointDeps {
  return {
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION })),
    sfn: new SFNClient({ region: REGION }),
    approvalsTable: 'approvals',
    signingKeys: async () => KEYS,
    now: () => NOW,
    ...overrides,
  };
}

function query(
  c: { approvalId?: string; approver?: string; exp?: number } = {},
  sigOverride?: string,
): string {
  const claims = { approvalId: c.approvalId ?? ID, approver: c.approver ?? APPROVER, exp: c.exp ?? EXP };
  const q = new URLSearchParams({
    approver: claims.approver,
    exp: String(claims.exp),
    sig: sigOverride ?? signLink(KEYS, claims),
  });
  return q.toString();
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function post(
  opts: { q?: string; body?: string; approver?: string; contentType?: string; base64?: boolean } = {},
) {
  const approver = opts.approver ?? APPROVER;
  return urlEvent({
    method: 'POST',
    path: PATH,
    query: opts.q ?? query({ approver }),
    body:
      opts.body ??
      form({ csrf: csrfToken(KEYS, ID, approver, LOAD), decision: 'approve', comment: 'looks right' }),
    contentType: opts.contentType ?? 'application/x-www-form-urlencoded',
    ...(opts.base64 ? { base64: true } : {}),
  });
}

function storeItem(item: ApprovalItem | undefined) {
  ddb.on(GetCommand).resolves(item ? { Item: item } : {});
}

function expectNothingDecided() {
  expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
}

function sfnError(name: string, status = 400): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  storeItem(pendingItem());
  ddb.on(UpdateCommand).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
});

describe('link signatures', () => {
  const claims = { approvalId: ID, approver: APPROVER, exp: EXP };
  const sig = signLink(KEYS, claims);

  it('verifies the signed claims', () => {
    expect(verifyLink(KEYS, claims, sig)).toBe(true);
  });
  it.each([
    ['approval id', { ...claims, approvalId: approvalIdFor('another execution') }],
    ['approver', { ...claims, approver: SECOND_APPROVER }],
    ['approver (case)', { ...claims, approver: APPROVER.toUpperCase() }],
    ['expiry', { ...claims, exp: EXP + 1 }],
  ])('refuses a tampered %s', (_what, tampered) => {
    expect(verifyLink(KEYS, tampered, sig)).toBe(false);
  });
  it('refuses a tampered, truncated or empty signature and another key', () => {
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`;
    expect(verifyLink(KEYS, claims, flipped)).toBe(false);
    expect(verifyLink(KEYS, claims, sig.slice(0, 20))).toBe(false);
    expect(verifyLink(KEYS, claims, '')).toBe(false);
    expect(verifyLink(deriveKeys('another-secret-0123456789abcdef0123456789'), claims, sig)).toBe(false);
  });
  it('does not confuse field boundaries', () => {
    const a = signLink(KEYS, { approvalId: ID, approver: 'a,b', exp: EXP });
    expect(verifyLink(KEYS, { approvalId: `${ID},a`, approver: 'b', exp: EXP }, a)).toBe(false);
  });
  it('refuses secrets shorter than 32 bytes', () => {
    expect(() => deriveKeys('short')).toThrow(RangeError);
  });
  it('builds links without the task token', () => {
    const url = linkUrl('https://x.example/', KEYS, claims);
    expect(url).toBe(
      `https://x.example/approvals/${ID}?approver=security-oncall%40example.com&exp=${EXP}&sig=${sig}`,
    );
  });
  it('safeEqual compares content and length', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});

describe('CSRF tokens', () => {
  const t = csrfToken(KEYS, ID, APPROVER, LOAD);
  it('is bound to approval, approver and purpose', () => {
    expect(verifyCsrf(KEYS, ID, APPROVER, t, NOW_S)).toBe(true);
    expect(verifyCsrf(KEYS, ID, SECOND_APPROVER, t, NOW_S)).toBe(false);
    expect(verifyCsrf(KEYS, approvalIdFor('x'), APPROVER, t, NOW_S)).toBe(false);
    expect(verifyCsrf(KEYS, ID, APPROVER, t, NOW_S, 'other-purpose')).toBe(false);
    expect(CSRF_PURPOSE_DECIDE).toBe('decide');
  });
  it('is new on every page load and bound to that load’s nonce and time', () => {
    const other = csrfToken(KEYS, ID, APPROVER, newPageLoad(NOW_S));
    expect(other).not.toBe(t);
    expect(verifyCsrf(KEYS, ID, APPROVER, other, NOW_S)).toBe(true);
    const [nonce, issued, mac] = t.split('.');
    const otherNonce = other.split('.')[0];
    // The MAC of one load does not verify with another nonce or another time.
    expect(verifyCsrf(KEYS, ID, APPROVER, `${otherNonce}.${issued}.${mac}`, NOW_S)).toBe(false);
    expect(verifyCsrf(KEYS, ID, APPROVER, `${nonce}.${NOW_S + 1}.${mac}`, NOW_S)).toBe(false);
  });
  it('is short-lived: accepted for CSRF_TTL_SECONDS after the load, then refused', () => {
    expect(verifyCsrf(KEYS, ID, APPROVER, t, NOW_S + CSRF_TTL_SECONDS)).toBe(true);
    expect(verifyCsrf(KEYS, ID, APPROVER, t, NOW_S + CSRF_TTL_SECONDS + 1)).toBe(false);
    // …and never before it was issued (beyond a minute of clock skew).
    expect(verifyCsrf(KEYS, ID, APPROVER, t, NOW_S - 61)).toBe(false);
  });
  it('a link signature is not a CSRF token', () => {
    expect(
      verifyCsrf(KEYS, ID, APPROVER, signLink(KEYS, { approvalId: ID, approver: APPROVER, exp: EXP }), NOW_S),
    ).toBe(false);
  });
});

describe('pages escape everything', () => {
  it('escapeHtml', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\`</a>`)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;',
    );
  });
  it('renders hostile drift values, parameters and approvers as text', () => {
    const evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';
    const item = pendingItem();
    item.summary.resourceId = evil;
    item.summary.planReason = evil;
    item.summary.drift.differences = [
      { path: evil, type: 'NOT_EQUAL', expected: evil, actual: `{"a":"${evil}"}` },
    ];
    item.summary.drift.added = [{ property: evil, values: [evil] }];
    if (item.summary.runbook) item.summary.runbook.parameters = { [evil]: [evil] };
    const html = renderReviewPage({
      summary: item.summary,
      approvalId: ID,
      approver: evil,
      expiresAt: EXP,
      now: NOW,
      csrf: 'c',
      action: `?approver=${encodeURIComponent(evil)}`,
    });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toMatch(/onerror=alert\(2\)>/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
  it('drops control characters from comments and bounds them', () => {
    expect(cleanComment('  ok\u0000\u0007 then\r\nnext\t ')).toBe('ok then\nnext');
    expect(cleanComment('x'.repeat(5000))?.length).toBe(1000);
    expect(cleanComment('   ')).toBeUndefined();
  });
});

describe('GET / HEAD: the review page, never a decision', () => {
  it('renders the review page with the diff, runbook, parameters, time left and the form', async () => {
    const res = await handleApprovalRequest(urlEvent({ path: PATH, query: query() }), deps());
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'content-type': 'text/html; charset=utf-8',
    });
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'none'/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline/);
    const html = res.body;
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('name="viewport"');
    expect(html).toContain('/ManagedPolicyArns/1');
    expect(html).toContain('arn:aws:iam::aws:policy/AdministratorAccess');
    expect(html).toContain('DriftRemediation-RestoreIamRolePolicies');
    expect(html).toContain('AutomationAssumeRole');
    expect(html).toContain('123456789012');
    expect(html).toContain('eu-west-1');
    expect(html).toContain('Time left to decide: <strong>1 hour</strong>');
    const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(verifyCsrf(KEYS, ID, APPROVER, token, NOW_S)).toBe(true);
    expect(html).toContain('<label for="comment">');
    expect(html).toMatch(/<button type="submit" class="approve" name="decision" value="approve">/);
    expect(html).not.toContain(TASK_TOKEN);
    expect(html).not.toMatch(/<script|https?:\/\//);
    expectNothingDecided();
  });

  it('HEAD returns the headers and no body', async () => {
    const res = await handleApprovalRequest(urlEvent({ method: 'HEAD', path: PATH, query: query() }), deps());
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expectNothingDecided();
  });
});

describe('refusals: a clear page, nothing decided', () => {
  const cases: Array<[string, () => ReturnType<typeof urlEvent>, number, RegExp, (() => void)?]> = [
    ['forged signature', () => urlEvent({ path: PATH, query: query({}, 'A'.repeat(43)) }), 403, /not valid/],
    [
      'tampered approver',
      () => urlEvent({ path: PATH, query: query().replace('security-oncall', 'mallory') }),
      403,
      /not valid/,
    ],
    [
      'tampered expiry',
      () => urlEvent({ path: PATH, query: query().replace(`exp=${EXP}`, `exp=${EXP + 86400}`) }),
      403,
      /not valid/,
    ],
    [
      'another approval id',
      () => urlEvent({ path: `/approvals/${approvalIdFor('other')}`, query: query() }),
      403,
      /not valid/,
    ],
    [
      'a repeated parameter',
      () => urlEvent({ path: PATH, query: `${query()}&approver=${encodeURIComponent(SECOND_APPROVER)}` }),
      403,
      /not valid/,
    ],
    ['no query at all', () => urlEvent({ path: PATH }), 403, /not valid/],
    ['a malformed id', () => urlEvent({ path: '/approvals/../../etc', query: query() }), 404, /not found/],
    [
      'an expired link',
      () => urlEvent({ path: PATH, query: query({ exp: Math.floor(NOW.getTime() / 1000) - 1 }) }),
      410,
      /expired/,
    ],
    [
      'a POST without CSRF token',
      () => post({ body: form({ decision: 'approve' }) }),
      403,
      /could not be verified/,
    ],
    [
      'a POST with another approver’s CSRF token',
      () => post({ body: form({ csrf: csrfToken(KEYS, ID, SECOND_APPROVER, LOAD), decision: 'approve' }) }),
      403,
      /could not be verified/,
    ],
    [
      'a POST with the link signature as CSRF',
      () =>
        post({
          body: form({
            csrf: signLink(KEYS, { approvalId: ID, approver: APPROVER, exp: EXP }),
            decision: 'approve',
          }),
        }),
      403,
      /could not be verified/,
    ],
    [
      'a POST that is not form-encoded',
      () => post({ contentType: 'application/json', body: '{"decision":"approve"}' }),
      400,
      /Bad request/,
    ],
    [
      'a POST with no decision',
      () => post({ body: form({ csrf: csrfToken(KEYS, ID, APPROVER, LOAD) }) }),
      400,
      /Choose Approve or Reject/,
    ],
    [
      'a POST with an unknown decision',
      () => post({ body: form({ csrf: csrfToken(KEYS, ID, APPROVER, LOAD), decision: 'maybe' }) }),
      400,
      /Choose/,
    ],
    [
      'a PUT',
      () => ({
        ...post(),
        requestContext: { ...post().requestContext, http: { ...post().requestContext.http, method: 'PUT' } },
      }),
      405,
      /not allowed/,
    ],
    [
      'a signed link for someone not on the approver list',
      () => post({ approver: 'mallory@example.com' }),
      403,
      /not an approver/,
    ],
    [
      'the requester approving their own request',
      () => post(),
      403,
      /cannot approve your own request/,
      () => storeItem(pendingItem({ requestedBy: APPROVER })),
    ],
    [
      'an authenticated requester approving as their IAM Identity Center name',
      () => post(),
      403,
      /cannot approve your own request/,
      () =>
        storeItem(
          pendingItem({
            requestedBy: SSO_REQUESTER,
            requesterAuthenticated: true,
            requesterIdentities: requesterIdentities(SSO_REQUESTER),
          }),
        ),
    ],
    [
      'approving a manual request whose requester is not authenticated (names someone else)',
      () => post(),
      403,
      /This request cannot be approved/,
      () =>
        storeItem(pendingItem({ requestedBy: 'someone-else@example.com', requesterAuthenticated: false })),
    ],
    [
      'an already decided request (second click)',
      () => post(),
      409,
      /Already approved/,
      () =>
        storeItem(
          pendingItem({
            status: 'APPROVED',
            decision: { decision: 'approved', approver: SECOND_APPROVER, decidedAt: NOW.toISOString() },
          }),
        ),
    ],
    [
      'an expired request (record)',
      () => post(),
      410,
      /expired/,
      () => storeItem(pendingItem({ expiresAt: Math.floor(NOW.getTime() / 1000) - 5 })),
    ],
    [
      'a request closed as EXPIRED',
      () => post(),
      410,
      /closed/,
      () => storeItem(pendingItem({ status: 'EXPIRED' })),
    ],
    ['an unknown approval', () => post(), 404, /not found/, () => storeItem(undefined)],
    [
      'a request record-outcome closed (EXPIRED, token removed)',
      () => urlEvent({ path: PATH, query: query() }),
      410,
      /has closed/,
      () => {
        const { taskToken: _t, ...rest } = pendingItem({ status: 'EXPIRED', expiredAt: NOW.toISOString() });
        storeItem(rest);
      },
    ],
  ];

  it.each(cases)('%s', async (_what, make, status, text, arrange) => {
    arrange?.();
    const res = await handleApprovalRequest(make(), deps());
    expect(res.statusCode).toBe(status);
    expect(res.body).toMatch(text);
    expect(res.headers).toMatchObject({ 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
    expect(res.body).not.toContain(TASK_TOKEN);
    expectNothingDecided();
  });

  it('a lost race (conditional write fails) shows who won and sends nothing', async () => {
    const decided = pendingItem({
      status: 'REJECTED',
      decision: { decision: 'rejected', approver: SECOND_APPROVER, decidedAt: NOW.toISOString() },
    });
    ddb.on(GetCommand).resolvesOnce({ Item: pendingItem() }).resolves({ Item: decided });
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('conditional'), { name: 'ConditionalCheckFailedException' }));
    const res = await handleApprovalRequest(post(), deps());
    expect(res.statusCode).toBe(409);
    expect(res.body).toMatch(/already rejected by platform-lead@example.com/);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  });
});

describe('POST decides once', () => {
  it('approve: conditional write with the audit fields, then SendTaskSuccess(ApprovalDecision)', async () => {
    const res = await handleApprovalRequest(post(), deps());
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/Approved/);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 2);
    const upd = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(upd?.ConditionExpression).toContain('#s = :pending AND expiresAt > :now');
    expect(upd?.ExpressionAttributeValues).toMatchObject({
      ':s': 'APPROVED',
      ':pending': 'PENDING',
      ':now': Math.floor(NOW.getTime() / 1000),
      ':d': {
        decision: 'approved',
        approver: APPROVER,
        decidedAt: NOW.toISOString(),
        comment: 'looks right',
        sourceIp: '203.0.113.7',
        userAgent: 'Mozilla/5.0 test',
      },
    });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    const call = sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input;
    expect(call?.taskToken).toBe(TASK_TOKEN);
    expect(v.parse(ApprovalDecision, JSON.parse(call?.output ?? ''))).toEqual({
      approvalId: ID,
      decision: 'approved',
      approver: APPROVER,
      comment: 'looks right',
      decidedAt: NOW.toISOString(),
    });
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
    // Once delivered, the token is not kept.
    expect(ddb.commandCalls(UpdateCommand)[1]?.args[0].input).toMatchObject({
      UpdateExpression: 'REMOVE taskToken',
      ConditionExpression: '#s = :decided',
      ExpressionAttributeValues: { ':decided': 'APPROVED' },
    });
  });

  it('reject (base64 body): SendTaskFailure(ApprovalRejected, ApprovalRejection)', async () => {
    const body = form({
      csrf: csrfToken(KEYS, ID, SECOND_APPROVER, LOAD),
      decision: 'reject',
      comment: 'not during the freeze',
    });
    const res = await handleApprovalRequest(post({ approver: SECOND_APPROVER, body, base64: true }), deps());
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/Rejected/);
    const call = sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input;
    expect(call?.error).toBe('ApprovalRejected');
    expect(v.parse(ApprovalRejection, JSON.parse(call?.cause ?? ''))).toMatchObject({
      decision: 'rejected',
      approver: SECOND_APPROVER,
      comment: 'not during the freeze',
    });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it.each(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist'])(
    'the execution already ended (%s): record closed as EXPIRED, clear page',
    async (name) => {
      sfn.on(SendTaskSuccessCommand).rejects(sfnError(name));
      const res = await handleApprovalRequest(post(), deps());
      expect(res.statusCode).toBe(410);
      expect(res.body).toContain('no longer waiting');
      expect(res.body).toContain(name);
      expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 2);
      expect(ddb.commandCalls(UpdateCommand)[1]?.args[0].input.ExpressionAttributeValues).toMatchObject({
        ':expired': 'EXPIRED',
        ':decided': 'APPROVED',
      });
    },
  );

  it('Step Functions unavailable: the decision is rolled back so the approver can retry', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(sfnError('ThrottlingException'));
    const res = await handleApprovalRequest(post(), deps());
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe('60');
    const rollback = ddb.commandCalls(UpdateCommand)[1]?.args[0].input;
    expect(rollback?.UpdateExpression).toBe('SET #s = :pending REMOVE #d');
    expect(rollback?.ConditionExpression).toContain('#d.approver = :approver');
  });
});

describe('approval-endpoint handler', () => {
  it('an unexpected failure gives a generic 500 page with the security headers and decides nothing', async () => {
    const saved = process.env.APPROVALS_TABLE;
    delete process.env.APPROVALS_TABLE;
    try {
      const { handler } = await import('../../../tasks/approval-endpoint/handler');
      const res = await handler(urlEvent({ path: PATH, query: query() }));
      expect(res.statusCode).toBe(500);
      expect(res.body).toContain('Nothing was decided');
      expect(res.body).not.toContain('APPROVALS_TABLE');
      expect(res.headers).toMatchObject({ 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
      const head = await handler(urlEvent({ method: 'HEAD', path: PATH, query: query() }));
      expect(head.body).toBe('');
      expectNothingDecided();
    } finally {
      if (saved !== undefined) process.env.APPROVALS_TABLE = saved;
    }
  });
});
