/**
 * The raw task token never leaves the approvals table: a full approval flow through the real Lambda
 * handlers (request-approval via taskHandler, approval-endpoint via the Function URL adapter), with
 * Powertools logging at DEBUG captured from stdout/stderr, then every log line, SNS message and page
 * is searched for the token (and for its distinctive fragments).
 */
import 'aws-sdk-client-mock-vitest/extend';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as endpointHandler } from '../../tasks/approval-endpoint/handler';
import { functionUrlListener } from '../../tasks/approval-endpoint/http-adapter';
import { handler as requestHandler } from '../../tasks/request-approval/handler';
import { clearSigningKeyCache } from '../../tasks/shared/approvals/signing';
import { resetClients } from '../../tasks/shared/clients';
import { logger } from '../../tasks/shared/powertools';
import { execution, ROLE_ARN, requestInput, SECRET, SECRET_ARN, TOPIC_ARN } from './support/fixtures';
import { APPROVALS_TABLE, csrfFromPage, type LocalDynamo, startDynalite } from './support/harness';

// As in Lambda, the Logger takes its level from POWERTOOLS_LOG_LEVEL when the module loads, and the
// handlers' middleware (injectLambdaContext) re-applies that level on every invocation: set it first.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
});

const TOKEN =
  'AAAAKgAAAAIAAAAAAAAAAeRAWTASKTOKEN7f3c9b1e2d4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9==';
const FRAGMENTS = [
  TOKEN,
  'RAWTASKTOKEN',
  TOKEN.slice(20, 60),
  encodeURIComponent(TOKEN),
  Buffer.from(TOKEN).toString('base64'),
];

const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);
const saved = { ...process.env };
const logs: string[] = [];
const pages: string[] = [];
let restoreWrites: () => void = () => {};
let dynamo: LocalDynamo;
let server: Server;
let base = '';

function capture(): () => void {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const grab =
    (orig: typeof out) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      // Kept, not echoed: the DEBUG lines would drown the test output.
      void orig;
      void rest;
      logs.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
  process.stdout.write = grab(out) as typeof process.stdout.write;
  process.stderr.write = grab(err) as typeof process.stderr.write;
  return () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
}

beforeAll(async () => {
  dynamo = await startDynalite();
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    APPROVALS_TABLE,
    APPROVAL_TOPIC_ARN: TOPIC_ARN,
    SIGNING_SECRET_ARN: SECRET_ARN,
    AUTOMATION_ASSUME_ROLE_ARN: ROLE_ARN,
  });
  resetClients();
  clearSigningKeyCache();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn
    .on(SendTaskFailureCommand)
    .rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' }));
  server = createServer(functionUrlListener(endpointHandler));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.APPROVAL_BASE_URL = base;
  logger.setLogLevel('DEBUG');
  restoreWrites = capture();
});

afterAll(async () => {
  restoreWrites();
  logger.setLogLevel('SILENT');
  server?.closeAllConnections();
  await new Promise<void>((r) => server?.close(() => r()));
  await dynamo?.close();
  process.env = { ...saved };
  resetClients();
});

async function page(url: string, init?: RequestInit): Promise<{ status: number; html: string }> {
  const res = await fetch(url, init);
  const html = await res.text();
  const headers: string[] = [];
  res.headers.forEach((v, k) => {
    headers.push(`${k}: ${v}`);
  });
  pages.push(html, headers.join('\n'));
  return { status: res.status, html };
}

function post(url: string, fields: Record<string, string>) {
  return page(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('the task token never appears in logs, messages or pages', () => {
  it('full flows: approve, replay, reject after the execution ended, forged links, bad input', async () => {
    // 1. Request approval (real handler, logging input at DEBUG through redact).
    await requestHandler({ ...requestInput(), taskToken: TOKEN });
    const second = execution('exec-token-2');
    await requestHandler({ ...requestInput(), taskToken: `${TOKEN}-2`, execution: second });
    await expect(
      requestHandler({ ...requestInput(), taskToken: TOKEN, execution: undefined }),
    ).rejects.toThrow(/invalid input/);

    const messages = sns
      .commandCalls(PublishCommand)
      .map((c) => `${c.args[0].input.Subject}\n${c.args[0].input.Message}`);
    expect(messages).toHaveLength(4);
    const links = messages.map((m) => m.split('\n').find((l) => l.startsWith(`${base}/approvals/`)) ?? '');
    const [first, , secondFirst] = links;
    expect(first && secondFirst).toBeTruthy();

    // 2. Review, approve, replay.
    const review = await page(first ?? '', { headers: { 'user-agent': 'Mimecast-URL-Protect/1.0' } });
    expect(review.status).toBe(200);
    await page(first ?? '', { method: 'HEAD' });
    const csrf = csrfFromPage(review.html);
    expect((await post(first ?? '', { csrf, decision: 'approve', comment: 'ok' })).status).toBe(200);
    expect((await post(first ?? '', { csrf, decision: 'approve', comment: 'ok' })).status).toBe(409);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: TOKEN });

    // 3. Reject after the execution ended (TaskTimedOut), forged and tampered links.
    const review2 = await page(secondFirst ?? '');
    expect(
      (await post(secondFirst ?? '', { csrf: csrfFromPage(review2.html), decision: 'reject' })).status,
    ).toBe(410);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: `${TOKEN}-2` });
    const forged = new URL(secondFirst ?? '');
    forged.searchParams.set('approver', 'mallory@example.com');
    expect((await page(forged.toString())).status).toBe(403);

    // 4. Search everything produced.
    const logText = logs.join('');
    expect(logText).toMatch(/"task":"request-approval"/);
    expect(logText).toMatch(/"task":"approval-endpoint"/);
    expect(logText).toMatch(/"result":"approved"/);
    expect(logText).toMatch(/"result":"execution-ended"/);
    expect(logText).toContain('[redacted]');
    const haystacks: Array<[string, string]> = [
      ['logs', logText],
      ['messages', messages.join('\n')],
      ['pages', pages.join('\n')],
    ];
    for (const [where, text] of haystacks) {
      expect(text.length, `${where} captured`).toBeGreaterThan(100);
      for (const f of FRAGMENTS)
        expect(text.includes(f), `${where} contains the task token (${f.slice(0, 12)}…)`).toBe(false);
    }
    // Signatures and CSRF tokens stay out of the logs too.
    const sig = new URL(first ?? '').searchParams.get('sig') ?? '';
    expect(sig.length).toBeGreaterThan(20);
    expect(logText.includes(sig)).toBe(false);
    expect(logText.includes(csrf)).toBe(false);
  });
});
