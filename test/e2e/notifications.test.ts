/**
 * Notifications end to end: the shipped policy plus two signed-webhook channels that hear VERIFIED, both
 * real HTTP endpoints on loopback. SSH opened to the world → remediated → VERIFIED; then
 *   - `flaky` fails its first 3 POSTs and accepts the 4th: it accepts the notification exactly once (the
 *     redeliveries after that skip it: delivery marks by delivery id), correctly signed;
 *   - `down` always fails: the remediation is still VERIFIED, the message ends in the notifications DLQ after
 *     its 5 receives, and the failure is recorded and listed by the console's fleet view (/console/api/fleet).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthorizeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetView } from '../../sandbox/console/fleet';
import { NotificationMessage } from '../../tasks/shared/notifications';
import { verifyWebhook } from '../../tasks/shared/notifications-sign';
import { failedDeliveries } from '../../tasks/shared/notifications-status';
import {
  awaitExecutionFor,
  demoCase,
  deployCase,
  type E2E,
  E2E_CREDENTIALS,
  finished,
  shippedPolicyWith,
  startE2E,
  until,
  waitCompliant,
} from './support/harness';

const SECRET = 's'.repeat(48);
interface Post {
  path: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
const posts: Post[] = [];
let e: E2E;

beforeAll(async () => {
  let flakyFailures = 0;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const path = req.url ?? '';
      const status = path === '/down' ? 503 : path === '/flaky' && flakyFailures++ < 3 ? 500 : 200;
      posts.push({ path, status, headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const policyFile = shippedPolicyWith((doc) => {
    (doc as Record<string, unknown>).notifications = {
      channels: [
        {
          name: 'flaky',
          type: 'webhook',
          url: `${base}/flaky`,
          secret: 'drift/flaky',
          outcomes: ['VERIFIED'],
        },
        { name: 'down', type: 'webhook', url: `${base}/down`, secret: 'drift/down', outcomes: ['VERIFIED'] },
      ],
    };
  });
  e = await startE2E({ timeScale: 0.01, policyFile });
  const secrets = new SecretsManagerClient({
    endpoint: e.sb.endpoint,
    region: e.sb.region,
    credentials: E2E_CREDENTIALS,
  });
  for (const name of ['drift/flaky', 'drift/down'])
    await secrets.send(new CreateSecretCommand({ Name: name, SecretString: SECRET }));
}, 120_000);
afterAll(async () => {
  await e?.stop();
  await new Promise((r) => server.close(r));
});

async function dlqDepth(): Promise<number> {
  const urls = (await e.c.sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
  const dlq = urls.find((u) => u.includes('NotificationsDeadLetter'));
  if (!dlq) throw new Error(`no notifications DLQ among ${urls.join(', ')}`);
  const a = await e.c.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(a.Attributes?.ApproximateNumberOfMessages ?? 0);
}

describe('Slack / webhook notifications through the sandbox', () => {
  it('a flaky endpoint gets the VERIFIED notification once; a dead one leaves the remediation VERIFIED and the failure visible', async () => {
    const dc = demoCase('ssh-open');
    const stackName = 'drift-e2e-notifications';
    const id = await deployCase(e, dc, { stackName });
    await waitCompliant(e, dc, id, 20_000, stackName);
    await e.c.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: id,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    const execution = await awaitExecutionFor(e, id, { resourceType: 'AWS::EC2::SecurityGroup' });
    const result = await finished(e, execution.arn);
    expect({ status: result.status, outcome: result.outcome }).toEqual({
      status: 'SUCCEEDED',
      outcome: 'VERIFIED',
    });

    // The dead endpoint's message uses up its receives and lands in the DLQ; by then every redelivery happened.
    await until(
      'the notification in the DLQ',
      60_000,
      async () => ((await dlqDepth()) === 1 ? true : undefined),
      200,
    );
    const flaky = posts.filter((p) => p.path === '/flaky');
    expect(flaky.map((p) => p.status)).toEqual([500, 500, 500, 200]);
    const accepted = flaky[3];
    const now = Date.now() / 1000;
    expect(
      verifyWebhook(
        SECRET,
        accepted?.body ?? '',
        String(accepted?.headers['x-drift-remediation-timestamp']),
        String(accepted?.headers['x-drift-remediation-signature']),
        now,
      ),
    ).toEqual({ ok: true });
    const message = v.parse(NotificationMessage, JSON.parse(accepted?.body ?? ''));
    expect(message).toMatchObject({
      outcome: 'VERIFIED',
      remediated: true,
      rule: 'restricted-ssh',
      execution: { arn: execution.arn },
      resource: { type: 'AWS::EC2::SecurityGroup', id },
    });
    expect(accepted?.headers['x-drift-remediation-delivery']).toBe(message.deliveryId);

    const down = posts.filter((p) => p.path === '/down');
    expect(down).toHaveLength(5 * 3); // 5 receives × 3 tries
    const failed = await failedDeliveries(e.c.ddb, e.env('OUTCOMES_TABLE'), '2000-01-01');
    expect(failed).toEqual([
      expect.objectContaining({
        channel: 'down',
        deliveryId: message.deliveryId,
        outcome: 'VERIFIED',
        error: 'channel down: HTTP 503',
      }),
    ]);
    // The console's fleet view lists it: channel, outcome, resource and when (#15 item 3: "visible").
    const fleet = (await (await fetch(`${e.sb.endpoint}/console/api/fleet`)).json()) as FleetView;
    expect(fleet.failedDeliveries).toEqual([
      {
        failedAt: failed[0]?.failedAt,
        channel: 'down',
        deliveryId: message.deliveryId,
        outcome: 'VERIFIED',
        subject: message.resource.key,
        executionName: execution.name,
        error: 'channel down: HTTP 503',
      },
    ]);
    expect(Date.parse(fleet.failedDeliveries[0]?.failedAt ?? '')).not.toBeNaN();
    // Still VERIFIED afterwards.
    expect((await finished(e, execution.arn)).outcome).toBe('VERIFIED');
  }, 180_000);
});
