/**
 * `aws:PrincipalOrgID` / `aws:PrincipalOrgPaths` in every request a caller of an organization account
 * makes (the sandbox's organization model, SandboxOptions.organization), so org-scoped resource policies
 * decide as in AWS: a queue policy granting the organization admits a member account's role and refuses
 * an outsider's; the usual "deny unless from our organization" guard leaves the organization's own callers
 * alone (without the key, StringNotEquals matched every caller and refused them all). Real SDK v3 clients.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { iamService } from '../../../sandbox/services/iam';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const CENTRAL = '111111111111';
const MEMBER = '222222222222';
const OUTSIDER = '333333333333';
const ORG = 'o-sandbox0001';
const REGION = 'us-east-1';
const sb = withSandbox({
  services: [iamService(), sqsService()],
  accountId: CENTRAL,
  organization: { id: ORG, accounts: [{ id: CENTRAL }, { id: MEMBER, ou: 'ou-sbox-members1' }] },
});
const queueArn = (name: string) => `arn:aws:sqs:${REGION}:${CENTRAL}:${name}`;

/** A central queue with these policy statements; its URL. */
async function queue(name: string, ...statements: object[]): Promise<string> {
  const sqs = new SQSClient(sb.clientConfig);
  const url = String((await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl);
  await sqs.send(
    new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: policy(...statements) } }),
  );
  return url;
}

/** A role in `account` whose own policy allows sending to the queue; an SQS client acting as it. */
async function sender(account: string, name: string, queueName: string): Promise<SQSClient> {
  const arn = await role(
    sb,
    name,
    [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn(queueName) }],
    'lambda.amazonaws.com',
    account === CENTRAL ? undefined : account,
  );
  return new SQSClient(actingAs(sb, arn, 'sender'));
}

async function depth(url: string): Promise<string | undefined> {
  const out = await new SQSClient(sb.clientConfig).send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return out.Attributes?.ApproximateNumberOfMessages;
}

describe('aws:PrincipalOrgID from the organization model', () => {
  it('a queue policy granting the organization admits a member account and refuses an outsider', async () => {
    const url = await queue('org-grant', {
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'sqs:SendMessage',
      Resource: queueArn('org-grant'),
      Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG } },
    });
    const member = await sender(MEMBER, 'org-member-sender', 'org-grant');
    const outsider = await sender(OUTSIDER, 'org-outsider-sender', 'org-grant');

    await member.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'from the member' }));
    const denied = await failure(outsider.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(
      `arn:aws:sts::${OUTSIDER}:assumed-role/org-outsider-sender/sender is not authorized to perform: sqs:SendMessage`,
    );
    expect(await depth(url)).toBe('1');
  });

  it('the path of the member OU is aws:PrincipalOrgPaths', async () => {
    const url = await queue('org-path', {
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'sqs:SendMessage',
      Resource: queueArn('org-path'),
      Condition: { 'ForAnyValue:StringLike': { 'aws:PrincipalOrgPaths': `${ORG}/*/ou-sbox-members1/*` } },
    });
    await (await sender(MEMBER, 'org-path-member', 'org-path')).send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: 'from the OU' }),
    );
    expect(await depth(url)).toBe('1');
  });

  it('"deny unless from our organization" leaves the organization\'s own callers alone', async () => {
    const url = await queue('org-guard', {
      Effect: 'Deny',
      Principal: '*',
      Action: 'sqs:*',
      Resource: queueArn('org-guard'),
      Condition: { StringNotEquals: { 'aws:PrincipalOrgID': ORG } },
    });
    const own = await sender(CENTRAL, 'org-guard-own', 'org-guard');
    await own.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'from the central account' }));
    const outsider = await sender(OUTSIDER, 'org-guard-outsider', 'org-guard');
    const denied = await failure(outsider.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(await depth(url)).toBe('1');
  });
});
