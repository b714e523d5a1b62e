/**
 * #15 end to end: an approval request reaches the channels with a read-only review link, and only that.
 * The shipped policy plus a Slack channel (its secret is the URL of a local incoming-webhook receiver) and a
 * signed webhook, both on loopback; the demo's admin-role case (approval required), time scale 0.02.
 *   - While the execution waits at Request approval, Slack gets one Block Kit message (what approving will
 *     do, the risk, the deadline, the diff, a Review button) and the webhook one signed `approval.requested`
 *     payload whose deadline is the approval's, on the task clock.
 *   - The Review button opens the read-only page (no form, no button); with a decision link's signature or an
 *     extra approver parameter it is a 403 page. No posted payload holds the task token or a decision link.
 *   - The approver decides from the personal (SNS) link → VERIFIED; the outcome message follows in Slack and
 *     the review page then says who approved.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalLinks, decideViaForm } from '../../sandbox/demo/approve';
import { CASES, surfaceDrift } from '../../sandbox/demo/cases';
import { ApprovalRequestedNotification } from '../../tasks/shared/notifications';
import { verifyWebhook } from '../../tasks/shared/notifications-sign';
import {
  awaitExecutionFor,
  currentState,
  deployCase,
  type E2E,
  E2E_CREDENTIALS,
  finished,
  outbox,
  shippedPolicyWith,
  startE2E,
  until,
  waitCompliant,
} from './support/harness';

const HOOK_SECRET = 'h'.repeat(48);
const TTL_SECONDS = 3600; // the shipped policy's iam-role-policies entry
interface Post {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
interface SlackBody {
  text: string;
  blocks: Array<{
    type: string;
    text?: { text: string };
    elements?: Array<{ url?: string; text?: unknown }>;
  }>;
}

const adminRole = CASES.find((c) => c.id === 'admin-role');
if (!adminRole) throw new Error('the admin-role demo case is missing');
const dc = adminRole;

let server: Server;
const posts: Post[] = [];
let e: E2E;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      posts.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const policyFile = shippedPolicyWith((doc) => {
    (doc as Record<string, unknown>).notifications = {
      channels: [
        { name: 'ops-slack', type: 'slack', secret: 'drift/slack-ops', outcomes: ['VERIFIED'] },
        {
          name: 'bridge',
          type: 'webhook',
          url: `${base}/hook`,
          secret: 'drift/bridge',
          outcomes: ['FAILED'],
        },
      ],
    };
  });
  e = await startE2E({ timeScale: 0.02, policyFile });
  const secrets = new SecretsManagerClient({
    endpoint: e.sb.endpoint,
    region: e.sb.region,
    credentials: E2E_CREDENTIALS,
  });
  await secrets.send(new CreateSecretCommand({ Name: 'drift/slack-ops', SecretString: `${base}/slack` }));
  await secrets.send(new CreateSecretCommand({ Name: 'drift/bridge', SecretString: HOOK_SECRET }));
}, 120_000);
afterAll(async () => {
  await e?.stop();
  await new Promise((r) => server.close(r));
});

const slackPosts = () => posts.filter((p) => p.path === '/slack').map((p) => JSON.parse(p.body) as SlackBody);

describe('approval requested → Slack and webhook, with a view-only review link', () => {
  it('channels get the request with a Review link that cannot decide; the approver decides by mail link → VERIFIED', async () => {
    const roleName = await deployCase(e, dc);
    await waitCompliant(e, dc, roleName);
    await dc.inject(e.c, roleName);
    await surfaceDrift(e.c, dc);
    const run = await awaitExecutionFor(e, roleName, { resourceType: dc.resourceType });

    // Slack's message and the webhook's payload arrive while the execution waits.
    const slack = await until('the Slack approval request', 30_000, async () =>
      slackPosts().find((b) => b.blocks[0]?.text?.text === `Approval requested: AWS::IAM::Role ${roleName}`),
    );
    const hook = await until('the webhook approval request', 30_000, async () =>
      posts.find((p) => p.path === '/hook'),
    );
    expect(await currentState(e, run.arn)).toBe('Request approval');
    const text = JSON.stringify(slack);
    expect(text).toContain(`*Approving will:* Detach AdministratorAccess from role ${roleName}.`);
    expect(text).toContain('Risk: this drift grants privilege');
    expect(text).toContain('*Decide by*');
    const reviewUrl = slack.blocks.flatMap((b) => b.elements ?? []).find((x) => x.url)?.url ?? '';
    expect(reviewUrl).toMatch(/\/approvals\/apr-[0-9a-f]{40}\/review\?exp=\d+&sig=/);

    // The webhook: signed, kind approval.requested, the approval's deadline on the task clock.
    expect(
      verifyWebhook(
        HOOK_SECRET,
        hook.body,
        String(hook.headers['x-drift-remediation-timestamp']),
        String(hook.headers['x-drift-remediation-signature']),
        Date.now() / 1000,
      ),
    ).toEqual({ ok: true });
    const m = v.parse(ApprovalRequestedNotification, JSON.parse(hook.body));
    expect(m).toMatchObject({ kind: 'approval.requested', reviewUrl, execution: { arn: run.arn } });
    const item = (
      await e.c.ddb.send(
        new GetCommand({ TableName: e.env('APPROVALS_TABLE'), Key: { approvalId: m.approvalId } }),
      )
    ).Item as { taskToken: string; createdAt: string; expiresAt: number };
    expect(m.requestedAt).toBe(item.createdAt);
    expect(Date.parse(m.expiresAt)).toBe(item.expiresAt * 1000);
    expect(Date.parse(m.expiresAt) / 1000).toBe(Math.floor(Date.parse(m.requestedAt) / 1000) + TTL_SECONDS);
    // On the emulated clock (time scale 0.02: 50x the system clock's pace), after the execution started.
    const started = (await e.c.sfn.send(new DescribeExecutionCommand({ executionArn: run.arn }))).startDate;
    expect(Date.parse(m.requestedAt)).toBeGreaterThanOrEqual(started?.getTime() ?? Number.NaN);

    // The personal decision link went to the approver by SNS only: no channel payload holds it or the token.
    const link = await until('the approver’s link', 10_000, async () => {
      const mail = (await outbox(e)).find(
        (x) => x.message.includes(roleName) && approvalLinks(x.message).length,
      );
      return mail ? approvalLinks(mail.message)[0] : undefined;
    });
    const decisionSig = new URL(link).searchParams.get('sig') ?? '';
    for (const p of posts) {
      expect(p.body).not.toContain(item.taskToken);
      expect(p.body).not.toContain(decisionSig);
      expect(p.body).not.toContain('approver=');
    }

    // Review opens the read-only page; a decision signature there, or an approver parameter, is refused.
    const view = await fetch(reviewUrl);
    const html = await view.text();
    expect(view.status).toBe(200);
    expect(html).toContain(`Detach AdministratorAccess from role ${roleName}`);
    expect(html).toContain('Decisions are made from the personal link sent to each approver');
    expect(html).not.toMatch(/<form|<button|name="csrf"/);
    const withDecisionSig = new URL(reviewUrl);
    withDecisionSig.searchParams.set('sig', decisionSig);
    expect((await fetch(withDecisionSig)).status).toBe(403);
    expect(
      (await fetch(`${reviewUrl}&approver=${encodeURIComponent('security-oncall@example.com')}`)).status,
    ).toBe(403);
    expect(await currentState(e, run.arn)).toBe('Request approval');

    // The approver decides from their own link; the outcome follows in Slack; the review page says who approved.
    expect((await decideViaForm(link, 'approve', 'e2e: reviewed in Slack')).status).toBe(200);
    expect((await finished(e, run.arn)).outcome).toBe('VERIFIED');
    await until('the VERIFIED message in Slack', 30_000, async () =>
      slackPosts().find((b) => b.blocks[0]?.text?.text === `VERIFIED: AWS::IAM::Role ${roleName}`),
    );
    expect(await (await fetch(reviewUrl)).text()).toContain(
      'Approved by <strong>security-oncall@example.com</strong>',
    );
    expect(posts.filter((p) => p.path === '/hook')).toHaveLength(1); // bridge hears FAILED only
  }, 120_000);
});
