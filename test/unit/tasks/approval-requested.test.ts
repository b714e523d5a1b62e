/**
 * #15: the `approval.requested` notification and its read-only review link.
 *   - Request approval enqueues one message per request (kind approval.requested): summary, risk, diff,
 *     deadline on the task clock, and a review link — never the task token or a decision link; a failed
 *     enqueue never fails the step; a retry sends the same delivery id.
 *   - The Slack message: a Review button opening that link, nothing that can decide.
 *   - Review signatures have their own purpose: a decision signature never opens the review page and a review
 *     signature never verifies as a decision link.
 *   - The review route: read-only page (no form), 403 for forged / expired / decision-purpose signatures,
 *     405 for anything but GET/HEAD; nothing is ever written or sent to Step Functions.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { type ApprovalEndpointDeps, handleApprovalRequest } from '../../../tasks/approval-endpoint/core';
import { deliverMessage, type NotifyDeps } from '../../../tasks/notify/core';
import { type RequestApprovalDeps, requestApproval } from '../../../tasks/request-approval/core';
import { approvalIdFor } from '../../../tasks/shared/approval-id';
import type { ApprovalItem } from '../../../tasks/shared/approvals/record';
import {
  deriveKeys,
  linkUrl,
  reviewUrl,
  signLink,
  signReview,
  verifyLink,
  verifyReview,
} from '../../../tasks/shared/approvals/signing';
import { ApprovalRequestedNotification, NotificationMessage } from '../../../tasks/shared/notifications';
import { slackMessage } from '../../../tasks/shared/notifications-slack';
import {
  APPROVER,
  execution,
  KEYS,
  NOW,
  pendingItem,
  REGION,
  ROLE_ARN,
  requestInput,
  SECOND_APPROVER,
  SECRET,
  TASK_TOKEN,
  TOPIC_ARN,
  urlEvent,
} from '../../approvals/support/fixtures';

const BASE = 'https://abc.lambda-url.eu-west-1.on.aws';
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/notifications';
const ddb = mockClient(DynamoDBDocumentClient);
const sns = mockClient(SNSClient);
const sqs = mockClient(SQSClient);
const sfn = mockClient(SFNClient);
const ddbDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION }));
const approvalId = approvalIdFor(execution().id);
const EXP = Math.floor(NOW.getTime() / 1000) + 3600;

let enqueueFailures = 0;
function deps(outcomes = 'FAILED,approval.requested'): RequestApprovalDeps {
  return {
    ddb: ddbDoc,
    sns: new SNSClient({ region: REGION }),
    approvalsTable: 'approvals',
    topicArn: TOPIC_ARN,
    baseUrl: BASE,
    signingKeys: async () => KEYS,
    automationAssumeRoleArn: ROLE_ARN,
    notify: {
      sqs: () => new SQSClient({ region: REGION }),
      queueUrl: QUEUE,
      outcomes,
      countFailure: () => {
        enqueueFailures++;
      },
    },
    now: () => NOW,
  };
}

const sentBodies = () => sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageBody ?? '');

/** Every decision link (and its signature) Request approval made: none may appear in a channel's payload. */
const decisionSecrets = () =>
  [APPROVER, SECOND_APPROVER].flatMap((approver) => {
    const claims = { approvalId, approver, exp: EXP };
    return [linkUrl(BASE, KEYS, claims), signLink(KEYS, claims), `approver=${encodeURIComponent(approver)}`];
  });

beforeEach(() => {
  for (const m of [ddb, sns, sqs, sfn]) m.reset();
  enqueueFailures = 0;
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'q-1' });
});

describe('Request approval → approval.requested on the notifications queue', () => {
  it('one message: summary, risk, diff, deadline and a review link; no task token, no decision link', async () => {
    expect(await requestApproval(requestInput(), deps())).toMatchObject({ notified: 2 });
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: QUEUE,
      MessageAttributes: { outcome: { DataType: 'String', StringValue: 'approval.requested' } },
    });
    const [body = ''] = sentBodies();
    const m = v.parse(ApprovalRequestedNotification, JSON.parse(body));
    expect(m).toMatchObject({
      kind: 'approval.requested',
      approvalId,
      summary: 'Detach AdministratorAccess from role app-role',
      risks: [expect.objectContaining({ kind: 'grants privilege' })],
      requestedAt: NOW.toISOString(),
      expiresAt: new Date(EXP * 1000).toISOString(),
      resource: { type: 'AWS::IAM::Role', id: 'app-role', account: '123456789012', region: REGION },
      runbook: { documentName: 'DriftRemediation-RestoreIamRolePolicies' },
      execution: { arn: execution().id, name: execution().name },
      diff: [
        {
          path: '/ManagedPolicyArns/1',
          type: 'ADD',
          expected: '',
          actual: 'arn:aws:iam::aws:policy/AdministratorAccess',
        },
        expect.objectContaining({ path: 'ManagedPolicyArns', type: 'ADD' }),
      ],
      diffTruncated: false,
    });
    const review = new URL(m.reviewUrl);
    expect(`${review.origin}${review.pathname}`).toBe(`${BASE}/approvals/${approvalId}/review`);
    expect([...review.searchParams.keys()]).toEqual(['exp', 'sig']);
    expect(verifyReview(KEYS, { approvalId, exp: EXP }, review.searchParams.get('sig') ?? '')).toBe(true);
    expect(body).not.toContain(TASK_TOKEN);
    for (const secret of decisionSecrets()) expect(body).not.toContain(secret);
  });

  it('is not sent when no channel hears approval requests', async () => {
    await requestApproval(requestInput(), deps('FAILED,VERIFIED'));
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 2);
  });

  it('a failing queue never fails the step: the approvers are still told and notifiedAt is set', async () => {
    sqs
      .on(SendMessageCommand)
      .rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    expect(await requestApproval(requestInput(), deps())).toMatchObject({ mode: 'required', notified: 2 });
    expect(enqueueFailures).toBe(1);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: 'SET notifiedAt = :n' });
  });

  it('a retry that finds its record not yet notified sends the same delivery id', async () => {
    await requestApproval(requestInput(), deps());
    const first = v.parse(NotificationMessage, JSON.parse(sentBodies()[0] ?? ''));
    sqs.resetHistory();
    ddb
      .on(PutCommand)
      .rejects(Object.assign(new Error('conditional'), { name: 'ConditionalCheckFailedException' }));
    ddb.on(GetCommand).resolves({ Item: pendingItem({ notifiedAt: undefined }) });
    // Later on the clock, a new token: the stored request (and so the message) is the same.
    const later = { ...deps(), now: () => new Date(NOW.getTime() + 30_000) };
    await requestApproval(requestInput({ taskToken: `${TASK_TOKEN}2` }), later);
    const again = v.parse(NotificationMessage, JSON.parse(sentBodies()[0] ?? ''));
    expect(again.deliveryId).toBe(first.deliveryId);
    expect(again).toEqual(first);
  });
});

describe('the Slack message of an approval request', () => {
  it('summary, risk, deadline, diff and one Review button to the read-only page', () => {
    const item = pendingItem();
    const url = reviewUrl(BASE, KEYS, { approvalId, exp: item.expiresAt });
    const m = v.parse(
      ApprovalRequestedNotification,
      JSON.parse(JSON.stringify({ ...baseMessage(item), reviewUrl: url })),
    );
    const s = slackMessage(m, 'https://ops.example.com/console');
    const text = JSON.stringify(s);
    expect(s.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Approval requested: AWS::IAM::Role app-role', emoji: true },
    });
    expect(text).toContain('*Approving will:* Detach AdministratorAccess from role app-role.');
    expect(text).toContain(':warning: *Risk: this drift grants privilege*');
    expect(text).toContain(`*Decide by*\\n<!date^${item.expiresAt}^{date_short_pretty} at {time}|`);
    expect(text).toContain('/ManagedPolicyArns/1 (ADD)');
    const buttons = s.blocks.flatMap((b) => (b.type === 'actions' ? b.elements : []));
    expect(buttons).toEqual([
      {
        type: 'button',
        text: { type: 'plain_text', text: 'Review' },
        url,
        action_id: 'open-review',
        style: 'primary',
      },
    ]);
    expect(text).toContain('Approvers decide from the personal link each was sent by mail');
    expect(text).not.toContain(TASK_TOKEN);
    for (const secret of decisionSecrets()) expect(text).not.toContain(secret);
  });
});

function baseMessage(item: ApprovalItem) {
  return {
    version: '1',
    deliveryId: 'a'.repeat(32),
    kind: 'approval.requested',
    approvalId: item.approvalId,
    summary: 'Detach AdministratorAccess from role app-role',
    risks: [{ kind: 'grants privilege', text: 'AdministratorAccess is attached but not in the template.' }],
    requestedAt: item.createdAt,
    expiresAt: new Date(item.expiresAt * 1000).toISOString(),
    resource: {
      key: item.resourceKey,
      type: 'AWS::IAM::Role',
      id: 'app-role',
      account: '123456789012',
      region: REGION,
    },
    execution: { arn: item.executionArn, name: item.executionName },
    diff: [
      {
        path: '/ManagedPolicyArns/1',
        type: 'ADD',
        expected: '',
        actual: 'arn:aws:iam::aws:policy/AdministratorAccess',
      },
    ],
    diffTruncated: false,
  };
}

describe('notify delivers approval requests to the channels that hear them', () => {
  it('a channel with approvalRequests: false gets nothing; the Slack channel gets the Block Kit message', async () => {
    const posts: Array<{ url: string; body: string }> = [];
    ddb.on(GetCommand).resolves({});
    const item = pendingItem();
    const body = JSON.stringify({
      ...baseMessage(item),
      reviewUrl: reviewUrl(BASE, KEYS, { approvalId, exp: item.expiresAt }),
    });
    const notifyDeps: NotifyDeps = {
      ddb: ddbDoc,
      table: 'outcomes',
      policy: {
        channels: [
          {
            name: 'jira',
            type: 'webhook',
            url: 'https://bridge.example.com/x',
            secret: 'drift/jira',
            outcomes: ['FAILED'],
            approvalRequests: false,
          },
          { name: 'ops', type: 'slack', secret: 'drift/slack', outcomes: ['FAILED'], approvalRequests: true },
        ],
      },
      secret: async () => 'https://hooks.slack.example/T/B/x',
      post: async (url, b) => {
        posts.push({ url, body: b });
        return { status: 200 };
      },
      metrics: { singleMetric: () => ({ addDimension: () => undefined, addMetric: () => undefined }) },
      sleep: async () => undefined,
      random: () => 0,
      now: () => NOW,
    };
    expect(await deliverMessage(body, 1, notifyDeps)).toBe(1);
    expect(posts.map((p) => p.url)).toEqual(['https://hooks.slack.example/T/B/x']);
    expect(JSON.parse(posts[0]?.body ?? '{}').blocks[0].text.text).toBe(
      'Approval requested: AWS::IAM::Role app-role',
    );
  });
});

describe('review signatures have their own purpose', () => {
  const claims = { approvalId, exp: EXP };
  it('verifies exactly its claims under the same secret', () => {
    const sig = signReview(KEYS, claims);
    expect(verifyReview(KEYS, claims, sig)).toBe(true);
    expect(verifyReview(KEYS, { ...claims, exp: EXP + 1 }, sig)).toBe(false);
    const other = approvalIdFor(execution('another').id);
    expect(verifyReview(KEYS, { approvalId: other, exp: EXP }, sig)).toBe(false);
    expect(verifyReview(deriveKeys(`${SECRET}x`), claims, sig)).toBe(false);
  });
  it('a decision signature is never a review signature, nor the other way round', () => {
    const decision = signLink(KEYS, { approvalId, approver: APPROVER, exp: EXP });
    const review = signReview(KEYS, claims);
    expect(review).not.toBe(decision);
    expect(verifyReview(KEYS, claims, decision)).toBe(false);
    expect(verifyLink(KEYS, { approvalId, approver: APPROVER, exp: EXP }, review)).toBe(false);
    // Not even an approver named "review" or an empty one turns one into the other.
    for (const approver of ['review', ''])
      expect(verifyLink(KEYS, { approvalId, approver, exp: EXP }, review)).toBe(false);
  });
});

describe('GET /approvals/<id>/review', () => {
  const PATH = `/approvals/${approvalId}/review`;
  const now = new Date(NOW.getTime() + 60_000);
  const endpointDeps = (): ApprovalEndpointDeps => ({
    ddb: ddbDoc,
    sfn: new SFNClient({ region: REGION }),
    approvalsTable: 'approvals',
    signingKeys: async () => KEYS,
    now: () => now,
  });
  const query = (sig = signReview(KEYS, { approvalId, exp: EXP }), exp = EXP) =>
    new URLSearchParams({ exp: String(exp), sig }).toString();
  const get = (q: string, method = 'GET', path = PATH) =>
    handleApprovalRequest(urlEvent({ method, path, query: q }), endpointDeps());
  const nothingChanged = () => {
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
  };
  beforeEach(() => {
    ddb.on(GetCommand).resolves({ Item: pendingItem() });
  });

  it('shows the request read-only: summary, risk, diff, deadline, no form, and how approvers decide', async () => {
    const res = await get(query());
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-security-policy']).toContain("default-src 'none'");
    const html = res.body;
    expect(html).toContain('awaits approval');
    expect(html).toContain(
      '<strong>Approving would:</strong> Detach AdministratorAccess from role app-role.',
    );
    expect(html).toContain('Risk: this drift grants privilege');
    expect(html).toContain('/ManagedPolicyArns/1');
    expect(html).toContain('Waiting for a decision; time left');
    expect(html).toContain('Decisions are made from the personal link sent to each approver');
    expect(html).not.toMatch(/<form|<button|<textarea|name="csrf"/);
    expect(html).not.toContain(TASK_TOKEN);
    expect((await get(query(), 'HEAD')).body).toBe('');
    nothingChanged();
  });

  it('after a decision: who decided and when, still nothing to press', async () => {
    ddb.on(GetCommand).resolves({
      Item: pendingItem({
        status: 'APPROVED',
        taskToken: undefined,
        decision: {
          decision: 'approved',
          approver: APPROVER,
          decidedAt: '2026-11-23T12:00:30.000Z',
          sourceIp: '203.0.113.7',
        },
      }),
    });
    const res = await get(query());
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`Approved by <strong>${APPROVER}</strong> at 2026-11-23T12:00:30.000Z.`);
    expect(res.body).not.toContain('203.0.113.7');
    expect(res.body).not.toMatch(/<form|<button/);
  });

  it.each([
    ['a forged signature', () => query('A'.repeat(43))],
    ['a changed expiry', () => query(undefined, EXP + 60)],
    [
      'a decision link’s signature',
      () => query(signLink(KEYS, { approvalId, approver: APPROVER, exp: EXP })),
    ],
    [
      'a decision link’s query string',
      () =>
        new URLSearchParams({
          approver: APPROVER,
          exp: String(EXP),
          sig: signLink(KEYS, { approvalId, approver: APPROVER, exp: EXP }),
        }).toString(),
    ],
    ['an extra approver parameter', () => `${query()}&approver=${encodeURIComponent(APPROVER)}`],
    ['no signature', () => `exp=${EXP}`],
  ])('%s: 403 "This review link is not valid"', async (_, q) => {
    const res = await get(q());
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('This review link is not valid');
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
    nothingChanged();
  });

  it('an expired review link: 403 "This review link has expired"', async () => {
    const exp = Math.floor(now.getTime() / 1000) - 1;
    const res = await get(query(signReview(KEYS, { approvalId, exp }), exp));
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('This review link has expired');
    nothingChanged();
  });

  it('a review signature on the decision address is refused there (403), so it can never decide', async () => {
    const review = signReview(KEYS, { approvalId, exp: EXP });
    const q = new URLSearchParams({ approver: APPROVER, exp: String(EXP), sig: review }).toString();
    const page = await get(q, 'GET', `/approvals/${approvalId}`);
    expect(page.statusCode).toBe(403);
    const post = await handleApprovalRequest(
      urlEvent({
        method: 'POST',
        path: `/approvals/${approvalId}`,
        query: q,
        contentType: 'application/x-www-form-urlencoded',
        body: 'decision=approve&csrf=x',
      }),
      endpointDeps(),
    );
    expect(post.statusCode).toBe(403);
    nothingChanged();
  });

  it('anything but GET/HEAD on a review link: 405, allowing GET and HEAD', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await get(query(), method);
      expect(res.statusCode).toBe(405);
      expect(res.headers?.allow).toBe('GET, HEAD');
    }
    nothingChanged();
  });
});
