/**
 * Notifications, unit level: the policy section's validation, the Slack Block Kit message (shape, limits, no
 * secrets or tokens), the webhook signature checked by the procedure docs/operations.md documents (its code
 * block is run as it is), and the notify core against dynalite and a real HTTP endpoint on loopback.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BACKOFF_CAP_MS, DELIVERY_ATTEMPTS, type NotifyDeps, notify } from '../../../tasks/notify/core';
import { httpPost } from '../../../tasks/notify/io';
import {
  MAX_DIFFERENCES,
  NOTIFY_MAX_RECEIVE_COUNT,
  type NotificationMessage,
  outcomeNotification,
} from '../../../tasks/shared/notifications';
import { NotificationsPolicy } from '../../../tasks/shared/notifications-policy';
import { signedHeaders, verifyWebhook } from '../../../tasks/shared/notifications-sign';
import { SLACK_LIMITS, slackMessage } from '../../../tasks/shared/notifications-slack';
import { failedDeliveries } from '../../../tasks/shared/notifications-status';
import { normalizeDocument } from '../../../tasks/shared/policy/normalize';
import { scrubSecrets } from '../../../tasks/shared/redact';
import { EXEC_ARN, EXEC_NAME, type LocalDynamo, startLocalDynamo } from './fixtures/late-stages';

const TOKEN = `AAAAKgAAAAIAAAAAAAAAA${'x9Q'.repeat(60)}`;
const WEBHOOK_SECRET = 'k'.repeat(40);

function message(over: Partial<Parameters<typeof outcomeNotification>[0]> = {}): NotificationMessage {
  return outcomeNotification(
    {
      outcome: 'FAILED',
      reason: `RunbookFailed: step failed; taskToken=${TOKEN} see https://approve.example.com/a?sig=abc`,
      recordedAt: '2026-12-07T08:00:00.000Z',
      resourceKey: '123456789012/eu-west-1/AWS::EC2::SecurityGroup/sg-0123456789abcdef0',
      execution: { arn: EXEC_ARN, name: EXEC_NAME },
      event: {
        resourceType: 'AWS::EC2::SecurityGroup',
        resourceId: 'sg-0123456789abcdef0',
        awsAccountId: '123456789012',
        awsRegion: 'eu-west-1',
        configRuleName: 'restricted-ssh',
      },
      runbook: { documentName: 'DriftRemediation-RevertSecurityGroupIngress', attempts: 2 },
      remediated: false,
      differences: Array.from({ length: 30 }, (_, i) => ({
        PropertyPath: `/SecurityGroupIngress/${i}`,
        DifferenceType: 'ADD' as const,
        ExpectedValue: 'null',
        ActualValue: JSON.stringify({ CidrIp: '0.0.0.0/0', FromPort: 22, note: 'y'.repeat(3000) }),
      })),
      ...over,
    },
    scrubSecrets,
  );
}

describe('policy notifications section', () => {
  const policyWith = (notifications: unknown) => {
    const doc = { ...(parse(readFileSync('runbooks/policy.yaml', 'utf8')) as object), notifications };
    return () => normalizeDocument(doc);
  };

  it('accepts channels, defaulting each outcome filter', () => {
    const n = policyWith({
      channels: [
        { name: 'ops', type: 'slack', secret: 'drift/slack' },
        {
          name: 'jira',
          type: 'webhook',
          url: 'https://bridge.example.com/x',
          secret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:drift/jira-AbCdEf',
          outcomes: ['VERIFIED'],
        },
      ],
    })().notifications;
    expect(n?.channels.map((c) => [c.name, c.outcomes])).toEqual([
      ['ops', ['ESCALATED', 'REJECTED', 'EXPIRED', 'FAILED', 'NOT_VERIFIED', 'ABORTED']],
      ['jira', ['VERIFIED']],
    ]);
  });

  it.each([
    [
      { channels: [{ name: 'a', type: 'webhook', url: 'ftp://x', secret: 's' }] },
      /channels\[0\]\.url: must be an http\(s\) URL/,
    ],
    [
      { channels: [{ name: 'a', type: 'slack', secret: 'bad secret!' }] },
      /secret: must be a Secrets Manager secret name or ARN/,
    ],
    [
      { channels: [{ name: 'a', type: 'slack', secret: 's', outcomes: ['DONE'] }] },
      /channels\[0\]\.outcomes\[0\]: Invalid type: Expected \("VERIFIED" \| .+\) but received "DONE"/,
    ],
    [
      {
        channels: [
          { name: 'a', type: 'slack', secret: 's' },
          { name: 'a', type: 'slack', secret: 't' },
        ],
      },
      /channel names must be unique/,
    ],
    [
      { channels: [{ name: 'a', type: 'email', secret: 's' }] },
      /channels\[0\]\.type: Invalid type: Expected \("slack" \| "webhook"\) but received "email"/,
    ],
    [
      { channels: [{ name: 'a', type: 'webhook', secret: 's' }] },
      /channels\[0\]\.url: required for a webhook channel/,
    ],
    [{ channels: [] }, /policy\.notifications\.channels: Invalid length: Expected >=1 but received 0/],
  ])('refuses %j with the field named', (section, error) => {
    expect(policyWith(section)).toThrow(error);
  });

  it('the schema alone refuses an unknown field', () => {
    expect(
      v.safeParse(NotificationsPolicy, {
        channels: [{ name: 'a', type: 'slack', secret: 's', url: 'https://x' }],
      }).success,
    ).toBe(false);
  });
});

describe('Slack message', () => {
  it('is Block Kit within Slack limits, with the diff, the console button and no token, signature or secret', () => {
    const m = message();
    const s = slackMessage(m, 'https://ops.example.com/console');
    expect(s.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(s.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
    const types = s.blocks.map((b) => b.type);
    expect(types).toEqual(['header', 'section', 'section', 'section', 'actions', 'context']);
    for (const b of s.blocks) {
      if (b.type === 'header') {
        expect(b.text.type).toBe('plain_text');
        expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
      }
      if (b.type === 'section') {
        expect(b.text ?? b.fields).toBeDefined();
        if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
        expect((b.fields ?? []).length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
      }
      if (b.type === 'actions') {
        for (const e of b.elements) {
          expect(e.type).toBe('button');
          expect(e.text.type).toBe('plain_text');
          expect(e.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.buttonText);
          expect(e.url.length).toBeLessThanOrEqual(SLACK_LIMITS.buttonUrl);
        }
      }
    }
    const json = JSON.stringify(s);
    expect(json).toContain('Expected vs actual');
    expect(json).toContain('/SecurityGroupIngress/0');
    expect(json).toContain('more differences not shown');
    expect(json).toContain(`https://ops.example.com/console#/x/${EXEC_NAME}`);
    expect(json).not.toContain(TOKEN.slice(0, 60));
    expect(json).not.toContain('sig=abc');
    expect(m.diff).toHaveLength(MAX_DIFFERENCES);
    expect(m.diffTruncated).toBe(true);
  });

  it('without a consoleUrl the button opens the Step Functions console', () => {
    const s = slackMessage(message({ outcome: 'VERIFIED', differences: [] }), undefined);
    const actions = s.blocks.find((b) => b.type === 'actions');
    expect(actions).toMatchObject({
      elements: [
        {
          url: expect.stringMatching(
            /^https:\/\/eu-west-1\.console\.aws\.amazon\.com\/states\/home\?region=eu-west-1#\/v2\/executions\/details\/arn%3Aaws%3Astates/,
          ),
        },
      ],
    });
    expect(s.blocks.some((b) => b.type === 'section' && b.text?.text.includes('Expected vs actual'))).toBe(
      false,
    );
  });
});

describe('webhook signature', () => {
  it('verifies with the procedure docs/operations.md documents (its code block, run as it is)', async () => {
    const doc = readFileSync('docs/operations.md', 'utf8');
    const section = doc.slice(doc.indexOf('**Verifying a webhook.**'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    const file = join(mkdtempSync(join(tmpdir(), 'verify-')), 'verify.mjs');
    writeFileSync(file, code ?? '');
    const { verify } = (await import(pathToFileURL(file).href)) as {
      verify: (s: string, body: string, h: Record<string, string>, now?: number) => boolean;
    };
    const body = JSON.stringify(message());
    const now = 1_800_000_000;
    const headers = Object.fromEntries(
      Object.entries(signedHeaders(WEBHOOK_SECRET, body, 'd'.repeat(32), now)).map(([k, v]) => [
        k.toLowerCase(),
        v,
      ]),
    );
    expect(verify(WEBHOOK_SECRET, body, headers, now + 10)).toBe(true);
    expect(verify(WEBHOOK_SECRET, `${body} `, headers, now)).toBe(false);
    expect(verify('x'.repeat(40), body, headers, now)).toBe(false);
    expect(verify(WEBHOOK_SECRET, body, headers, now + 301)).toBe(false);
    // The shipped verifier agrees.
    const ts = headers['x-drift-remediation-timestamp'];
    const sig = headers['x-drift-remediation-signature'];
    expect(verifyWebhook(WEBHOOK_SECRET, body, ts, sig, now)).toEqual({ ok: true });
    expect(verifyWebhook(WEBHOOK_SECRET, body, ts, sig, now + 301)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyWebhook(WEBHOOK_SECRET, body, ts, 'sha256=zz', now)).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

describe('notify core (dynalite, a real endpoint)', () => {
  let local: LocalDynamo;
  let server: Server;
  let base = '';
  let plan: number[] = [];
  /** Statuses the endpoint answers on /hook, in order (then 200); /slack always 200. */
  let received: Received[] = [];
  let failures: string[] = [];
  let sleeps: number[] = [];

  beforeAll(async () => {
    local = await startLocalDynamo();
    await local.createTable('outcomes', 'resourceKey', 'sk');
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const status = req.url === '/hook' ? (plan.shift() ?? 200) : 200;
        if (status === 200) received.push({ headers: req.headers, body });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await local.close();
  });
  beforeEach(() => {
    plan = [];
    received = [];
    failures = [];
    sleeps = [];
  });

  const deps = (over: Partial<NotifyDeps> = {}): NotifyDeps => ({
    ddb: local.ddb,
    table: 'outcomes',
    policy: {
      consoleUrl: 'https://ops.example.com/console',
      channels: [
        {
          name: 'hook',
          type: 'webhook',
          url: `${base}/hook`,
          secret: 'drift/hook',
          outcomes: ['FAILED', 'VERIFIED'],
          approvalRequests: false,
        },
        {
          name: 'slack',
          type: 'slack',
          secret: 'drift/slack',
          outcomes: ['FAILED'],
          approvalRequests: true,
        },
      ],
    },
    secret: async (ref) => (ref === 'drift/hook' ? WEBHOOK_SECRET : `${base}/slack`),
    post: httpPost,
    metrics: {
      singleMetric: () => {
        let channel = '';
        return {
          addDimension: (_: string, v: string) => {
            channel = v;
          },
          addMetric: (name: string) => {
            if (name === 'NotificationDeliveryFailed') failures.push(channel);
          },
        };
      },
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    now: () => new Date('2026-12-07T08:00:05Z'),
    ...over,
  });
  const event = (m: NotificationMessage, receiveCount = 1, id = 'm1') => ({
    Records: [
      {
        messageId: id,
        body: JSON.stringify(m),
        attributes: { ApproximateReceiveCount: String(receiveCount) },
      },
    ],
  });

  it('retries with capped exponential backoff, then delivers once per channel (signed webhook, Block Kit Slack)', async () => {
    const m = message({ recordedAt: '2026-12-07T08:00:01.000Z' });
    plan = [500, 503]; // the webhook fails twice
    const res = await notify(event(m), deps());
    expect(res.batchItemFailures).toEqual([]);
    expect(received).toHaveLength(2);
    expect(sleeps).toEqual([200, 400]);
    expect(sleeps.every((s) => s <= BACKOFF_CAP_MS)).toBe(true);
    const hook = received.find((r) => r.headers['x-drift-remediation-delivery']);
    expect(
      hook &&
        verifyWebhook(
          WEBHOOK_SECRET,
          hook.body,
          String(hook.headers['x-drift-remediation-timestamp']),
          String(hook.headers['x-drift-remediation-signature']),
          Date.parse('2026-12-07T08:00:05Z') / 1000,
        ),
    ).toEqual({ ok: true });
    expect(JSON.parse(hook?.body ?? '{}')).toEqual(m);
    const slack = received.find((r) => !r.headers['x-drift-remediation-delivery']);
    expect(JSON.parse(slack?.body ?? '{}').blocks[0].type).toBe('header');

    // The same message again (SQS redelivery, or a retried Record outcome): nobody is sent it twice.
    await notify(event(m, 2), deps());
    expect(received).toHaveLength(2);
  });

  it('a transient failure on every attempt hands the message back; on its last receive it is recorded and counted', async () => {
    const m = message({ recordedAt: '2026-12-07T08:00:02.000Z', outcome: 'VERIFIED' });
    plan = Array(DELIVERY_ATTEMPTS).fill(503);
    const first = await notify(event(m, 1, 'again'), deps());
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'again' }]);
    expect(failures).toEqual(['hook']);
    plan = Array(DELIVERY_ATTEMPTS).fill(503);
    const last = await notify(event(m, NOTIFY_MAX_RECEIVE_COUNT, 'again'), deps());
    expect(last.batchItemFailures).toEqual([{ itemIdentifier: 'again' }]); // → the DLQ
    expect(received).toHaveLength(0);
    const failed = await failedDeliveries(local.ddb, 'outcomes', '2026-12-07');
    expect(failed).toEqual([
      expect.objectContaining({
        channel: 'hook',
        deliveryId: m.deliveryId,
        outcome: 'VERIFIED',
        error: 'channel hook: HTTP 503',
      }),
    ]);
  });

  it('a permanent refusal is recorded at once and not retried; a body that is no notification is dropped', async () => {
    const m = message({ recordedAt: '2026-12-07T08:00:03.000Z', outcome: 'VERIFIED' });
    plan = [404];
    const res = await notify(
      {
        Records: [
          ...event(m, 1, 'gone').Records,
          { messageId: 'junk', body: '{"hello":1}', attributes: { ApproximateReceiveCount: '1' } },
        ],
      },
      deps(),
    );
    expect(res.batchItemFailures).toEqual([]);
    expect(sleeps).toEqual([]);
    const failed = await failedDeliveries(local.ddb, 'outcomes', '2026-12-07');
    expect(failed.find((f) => f.deliveryId === m.deliveryId)).toMatchObject({
      channel: 'hook',
      error: 'channel hook: HTTP 404',
    });
  });

  it('a webhook secret shorter than 32 bytes is refused and nothing is sent', async () => {
    const m = message({ recordedAt: '2026-12-07T08:00:04.000Z', outcome: 'VERIFIED' });
    const res = await notify(event(m), deps({ secret: async () => 'short' }));
    expect(res.batchItemFailures).toEqual([]);
    expect(received).toHaveLength(0);
    const marks = await local.ddb.send(
      new QueryCommand({
        TableName: 'outcomes',
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: { ':k': `notification#${m.deliveryId}` },
      }),
    );
    expect(marks.Items).toEqual([]);
  });
});
