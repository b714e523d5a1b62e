/**
 * Resources are isolated per account-region in every service: the same name in two accounts or regions
 * is two resources, each with its own account-region in its ARN or URL, and account B's credentials
 * cannot see or change account A's resource (AWS's not-found or access-denied error) unless A's resource
 * policy admits B — and then B's own policies must allow it too (the cross-account rule).
 */
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { withSandbox } from '../helpers';

const A = '111111111111';
const B = '222222222222';
const sb = withSandbox({ services: allServices(), accountId: A, region: 'us-east-1' });

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
/** A 12-digit access key is that account's administrator. */
const adminOf = (account: string): Creds => ({ accessKeyId: account, secretAccessKey: 'x' });
const config = (credentials: Creds, region = 'us-east-1') => ({
  endpoint: sb.endpoint,
  region,
  credentials,
  maxAttempts: 1,
});

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!err) throw new Error('expected the call to fail');
  return { name: err.name, message: err.message };
}

/** A session of a role in `account` whose inline policy allows `actions` on everything. */
async function roleSession(account: string, name: string, actions: string[]): Promise<Creds> {
  const { CreateRoleCommand } = await import('@aws-sdk/client-iam');
  const iam = new IAMClient(config(adminOf(account)));
  const trust = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' },
    ],
  };
  await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }));
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: name,
      PolicyName: 'p',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }],
      }),
    }),
  );
  const out = await new STSClient(config(adminOf(account))).send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/${name}`, RoleSessionName: 's1' }),
  );
  const c = out.Credentials;
  return {
    accessKeyId: c?.AccessKeyId ?? '',
    secretAccessKey: c?.SecretAccessKey ?? '',
    sessionToken: c?.SessionToken ?? '',
  };
}

describe('SQS per account-region', () => {
  it('makes the same queue name in two accounts and two regions three queues, URLs and ARNs their own', async () => {
    const aEast = new SQSClient(config(adminOf(A)));
    const aWest = new SQSClient(config(adminOf(A), 'us-west-2'));
    const bEast = new SQSClient(config(adminOf(B)));
    const urls = await Promise.all(
      [aEast, aWest, bEast].map(
        async (c) => (await c.send(new CreateQueueCommand({ QueueName: 'work' }))).QueueUrl,
      ),
    );
    expect(urls).toEqual([
      `${sb.endpoint}/queue/us-east-1/${A}/work`,
      `${sb.endpoint}/queue/us-west-2/${A}/work`,
      `${sb.endpoint}/queue/us-east-1/${B}/work`,
    ]);
    await aEast.send(new SendMessageCommand({ QueueUrl: urls[0], MessageBody: 'for A east' }));
    const got = await bEast.send(new ReceiveMessageCommand({ QueueUrl: urls[2], WaitTimeSeconds: 0 }));
    expect(got.Messages ?? []).toEqual([]);
    expect((await aWest.send(new ListQueuesCommand({}))).QueueUrls).toEqual([urls[1]]);
    expect((await bEast.send(new GetQueueUrlCommand({ QueueName: 'work' }))).QueueUrl).toBe(urls[2]);
  });

  it("refuses B's administrator A's queue (access denied, nothing sent) until A's queue policy admits B", async () => {
    const a = new SQSClient(config(adminOf(A)));
    const b = new SQSClient(config(adminOf(B)));
    const url = (await a.send(new CreateQueueCommand({ QueueName: 'private' }))).QueueUrl ?? '';
    const denied = await errorOf(b.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'intruder' })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`arn:aws:iam::${B}:user/sandbox-admin`);
    expect(denied.message).toContain(`arn:aws:sqs:us-east-1:${A}:private`);
    const none = await a.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }));
    expect(none.Messages ?? []).toEqual([]);

    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${B}:root` },
          Action: 'sqs:SendMessage',
          Resource: `arn:aws:sqs:us-east-1:${A}:private`,
        },
      ],
    };
    await a.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: JSON.stringify(policy) } }),
    );
    await b.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'admitted' }));
    const got = await a.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['admitted']);
    // The policy grants SendMessage only: B still cannot read A's queue.
    expect((await errorOf(b.send(new ReceiveMessageCommand({ QueueUrl: url })))).name).toBe(
      'AccessDeniedException',
    );
  });

  it("needs both B's identity policy and A's queue policy for B's role; in its own account either suffices", async () => {
    const a = new SQSClient(config(adminOf(A)));
    const url = (await a.send(new CreateQueueCommand({ QueueName: 'shared' }))).QueueUrl ?? '';
    const admitB = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${B}:root` },
          Action: 'sqs:SendMessage',
          Resource: `arn:aws:sqs:us-east-1:${A}:shared`,
        },
      ],
    };
    await a.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: JSON.stringify(admitB) } }),
    );
    // B's role allowed by A's queue policy, but its own policy allows only sqs:ReceiveMessage: denied.
    const narrow = new SQSClient(config(await roleSession(B, 'narrow', ['sqs:ReceiveMessage'])));
    const err = await errorOf(narrow.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })));
    expect(err.name).toBe('AccessDeniedException');
    // Both allow: sent.
    const sender = new SQSClient(config(await roleSession(B, 'sender', ['sqs:SendMessage'])));
    await sender.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'from B role' }));
    // A role in A with an identity policy alone reaches A's queue (same account: either suffices).
    const local = new SQSClient(config(await roleSession(A, 'local', ['sqs:ReceiveMessage'])));
    const got = await local.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['from B role']);
  });
});
