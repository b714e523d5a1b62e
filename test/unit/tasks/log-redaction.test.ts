/**
 * Secrets never reach a log line: every task's Powertools Logger at DEBUG, with POWERTOOLS_LOGGER_LOG_EVENT
 * set (Powertools then logs the raw event), is captured from stdout/stderr while
 *   - the real notify handler delivers an `approval.requested` message (its review link is signed: whoever
 *     holds it may read the request) to a signed webhook on loopback, and
 *   - a task handler's core logs and fails with a Slack webhook URL, a decision link, a task token and a
 *     signing secret in its fields, its error message and its error's cause,
 * and no line may hold any of them (tasks/shared/redact.ts, applied by the Logger itself).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { handler as notifyHandler } from '../../../tasks/notify/handler';
import { reviewUrl, signLink } from '../../../tasks/shared/approvals/signing';
import { resetClients } from '../../../tasks/shared/clients';
import { taskHandler } from '../../../tasks/shared/handler';
import { approvalRequestedNotification } from '../../../tasks/shared/notifications-approval';
import { resetPolicyCache } from '../../../tasks/shared/policy-env';
import { logger } from '../../../tasks/shared/powertools';
import { redact, scrubSecrets } from '../../../tasks/shared/redact';
import { KEYS, pendingItem, TASK_TOKEN } from '../../approvals/support/fixtures';
import { type LocalDynamo, startLocalDynamo } from './fixtures/late-stages';

// As in Lambda, the Logger reads these when the module loads: set them before it does.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';
});

const APPROVAL_ID = `apr-${'0123456789abcdef'.repeat(3).slice(0, 40)}`;
const REVIEW_URL = reviewUrl('https://abc.lambda-url.eu-west-1.on.aws', KEYS, {
  approvalId: APPROVAL_ID,
  exp: 1_900_000_000,
});
const REVIEW_SIG = new URL(REVIEW_URL).searchParams.get('sig') ?? '';
const DECISION_SIG = signLink(KEYS, {
  approvalId: APPROVAL_ID,
  approver: 'ceo@example.com',
  exp: 1_900_000_000,
});
const DECISION_URL = `https://abc.lambda-url.eu-west-1.on.aws/approvals/${APPROVAL_ID}?approver=ceo%40example.com&exp=1900000000&sig=${DECISION_SIG}`;
const SLACK_PATH = 'services/T0SECRET1/B0SECRET2/q1w2e3r4t5y6u7i8o9p0AbCd';
const SLACK_URL = `https://hooks.slack.com/${SLACK_PATH}`;
const WEBHOOK_SECRET = 'whsec-0123456789abcdef0123456789abcdef-SECRET';

/** Values no log line may contain (each distinctive on its own). */
const SECRETS = {
  reviewSig: REVIEW_SIG,
  decisionSig: DECISION_SIG,
  slackPath: 'q1w2e3r4t5y6u7i8o9p0AbCd',
  taskToken: TASK_TOKEN,
  tokenFragment: TASK_TOKEN.slice(20, 60),
  webhookSecret: WEBHOOK_SECRET,
};

const secrets = mockClient(SecretsManagerClient);
const saved = { ...process.env };
const lines: string[] = [];
let restoreWrites: () => void = () => {};
let dynamo: LocalDynamo;
let server: Server;
let posted: string[] = [];

function capture(): () => void {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const grab = (chunk: string | Uint8Array): boolean => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  return () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
}

function leaks(): string[] {
  const text = lines.join('');
  return Object.entries(SECRETS)
    .filter(([, s]) => text.includes(s) || text.includes(encodeURIComponent(s)))
    .map(([name]) => name);
}

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.createTable('outcomes', 'resourceKey', 'sk');
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      posted.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const policy = {
    ...(parse(readFileSync('runbooks/policy.yaml', 'utf8')) as object),
    notifications: {
      channels: [{ name: 'hook', type: 'webhook', url: hook, secret: 'drift/hook', outcomes: ['FAILED'] }],
    },
  };
  const dir = mkdtempSync(join(tmpdir(), 'log-redaction-'));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    OUTCOMES_TABLE: 'outcomes',
    POLICY_FILE: join(dir, 'policy.json'),
  });
  resetClients();
  resetPolicyCache();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: WEBHOOK_SECRET });
  logger.setLogLevel('DEBUG');
  restoreWrites = capture();
});

afterAll(async () => {
  restoreWrites();
  logger.setLogLevel('SILENT');
  await new Promise((r) => server.close(r));
  await dynamo?.close();
  process.env = { ...saved };
  resetClients();
  resetPolicyCache();
});

describe('log lines hold no secret (DEBUG, POWERTOOLS_LOGGER_LOG_EVENT=true)', () => {
  it('notify delivers an approval request with its review link; its logs never hold the signature', async () => {
    lines.length = 0;
    posted = [];
    const item = pendingItem({ approvalId: APPROVAL_ID });
    const message = approvalRequestedNotification(item, REVIEW_URL, scrubSecrets);
    const res = await notifyHandler({
      Records: [
        {
          messageId: 'm1',
          body: JSON.stringify(message),
          attributes: { ApproximateReceiveCount: '1' },
        },
      ],
    });
    expect(res, lines.join('')).toEqual({ batchItemFailures: [] });
    // The channel itself gets the link (what it is for) …
    expect(posted.map((b) => (JSON.parse(b) as { reviewUrl: string }).reviewUrl)).toEqual([REVIEW_URL]);
    // … and the log lines show the input and the event, without the signature.
    const text = lines.join('');
    expect(text).toContain('Lambda invocation event');
    expect(text).toContain('"message":"input"');
    expect(text).toContain(`/approvals/${APPROVAL_ID}/review?[redacted]`);
    expect(leaks()).toEqual([]);
  });

  it('a task logging and failing with secrets in its fields, message and cause logs none of them', async () => {
    lines.length = 0;
    const h = taskHandler('leaky', v.object({ taskToken: v.string(), note: v.string() }), async (input) => {
      logger.warn('posting', { url: SLACK_URL, link: DECISION_URL, hmacKey: input.note });
      logger.debug(`token ${input.taskToken} review ${REVIEW_URL}`);
      throw new Error(`could not post to ${SLACK_URL}`, {
        cause: new Error(`signing secret=${WEBHOOK_SECRET} link ${DECISION_URL} token ${TASK_TOKEN}`),
      });
    });
    await expect(h({ taskToken: TASK_TOKEN, note: `secret: ${WEBHOOK_SECRET}` })).rejects.toThrow(
      /could not post/,
    );
    const text = lines.join('');
    expect(text).toContain('task failed');
    expect(text).toContain('https://hooks.slack.com/[redacted]');
    expect(leaks()).toEqual([]);
  });

  it('redact (the console’s view) applies the same rules', () => {
    const out = JSON.stringify(
      redact({
        taskToken: TASK_TOKEN,
        nested: [{ body: JSON.stringify({ reviewUrl: REVIEW_URL }) }],
        SLACK_URL,
      }),
    );
    expect(out).toContain('"taskToken":"[redacted]"');
    expect(out).not.toContain(REVIEW_SIG);
    expect(out).not.toContain(SECRETS.slackPath);
  });
});
