/**
 * Resource-based policies evaluated with the caller's identity policies, as AWS does for a same-account
 * caller: an allow in either suffices, an explicit deny in either wins (and changes nothing). EventBridge
 * delivers to a queue or topic as `events.amazonaws.com`, admitted only by the target's policy. Real SDK v3
 * clients signed with role-session credentials the sandbox minted.
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateTopicCommand,
  PublishCommand,
  SetTopicAttributesCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { type EventsService, eventsService } from '../../../sandbox/services/events';
import { iamService } from '../../../sandbox/services/iam';
import { snsService } from '../../../sandbox/services/sns';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const events: EventsService = eventsService();
const sb = withSandbox(() => ({ services: [iamService(), sqsService(), snsService(), events] }));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const queueArn = (name: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;

async function messages(url: string | undefined): Promise<string[]> {
  const out = await new SQSClient(sb.clientConfig).send(
    new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0, MaxNumberOfMessages: 10 }),
  );
  return (out.Messages ?? []).map((m) => String(m.Body));
}

describe('resource-based policies', () => {
  it('a queue policy alone admits a role that no identity policy allows', async () => {
    const reader = await role(sb, 'queue-guest');
    const name = 'guest-queue';
    const url = (
      await new SQSClient(sb.clientConfig).send(
        new CreateQueueCommand({
          QueueName: name,
          Attributes: {
            Policy: policy({
              Effect: 'Allow',
              Principal: { AWS: reader },
              Action: 'sqs:SendMessage',
              Resource: queueArn(name),
            }),
          },
        }),
      )
    ).QueueUrl;
    const sqs = new SQSClient(actingAs(sb, reader, 'guest'));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'admitted' }));
    // The policy names SendMessage only: anything else is still refused.
    const denied = await failure(sqs.send(new ReceiveMessageCommand({ QueueUrl: url })));
    expect(denied.message).toMatch(/not authorized to perform: sqs:ReceiveMessage/);
    expect(await messages(url)).toEqual(['admitted']);
  });

  it("an explicit deny in a queue policy wins over the role's allow; the denied change changes nothing", async () => {
    const name = 'locked-queue';
    const owner = await role(sb, 'queue-owner', [
      { Effect: 'Allow', Action: 'sqs:*', Resource: queueArn(name) },
    ]);
    const locked = policy({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['sqs:SendMessage', 'sqs:SetQueueAttributes'],
      Resource: queueArn(name),
      Condition: { StringLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/queue-owner` } },
    });
    const admin = new SQSClient(sb.clientConfig);
    const url = (
      await admin.send(new CreateQueueCommand({ QueueName: name, Attributes: { Policy: locked } }))
    ).QueueUrl;
    const sqs = new SQSClient(actingAs(sb, owner, 'task'));
    const send = await failure(sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'no' })));
    expect(send.name).toMatch(/^AccessDenied/);
    expect(send.message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/queue-owner/task is not authorized to perform: sqs:SendMessage on resource: ${queueArn(name)} with an explicit deny in a resource-based policy`,
    );
    const set = await failure(
      sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: policy() } })),
    );
    expect(set.message).toMatch(/sqs:SetQueueAttributes .* explicit deny in a resource-based policy/);
    const attrs = await admin.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Policy'] }),
    );
    expect(attrs.Attributes?.Policy).toBe(locked);
    expect(await messages(url)).toEqual([]);
    // What the deny does not name, the role's own allow still grants.
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  });

  it("a topic policy admits a publisher; CDK's enforceSSL deny does not fire (the endpoint counts as TLS)", async () => {
    const publisher = await role(sb, 'topic-publisher');
    const admin = new SNSClient(sb.clientConfig);
    const topic = String((await admin.send(new CreateTopicCommand({ Name: 'guest-topic' }))).TopicArn);
    const sns = new SNSClient(actingAs(sb, publisher, 'pub'));
    const before = await failure(sns.send(new PublishCommand({ TopicArn: topic, Message: 'early' })));
    expect(before.name).toBe('AuthorizationErrorException');
    await admin.send(
      new SetTopicAttributesCommand({
        TopicArn: topic,
        AttributeName: 'Policy',
        AttributeValue: policy(
          { Effect: 'Allow', Principal: { AWS: publisher }, Action: 'sns:Publish', Resource: topic },
          {
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: topic,
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ),
      }),
    );
    const out = await sns.send(new PublishCommand({ TopicArn: topic, Message: 'admitted' }));
    expect(out.MessageId).toBeTruthy();
  });
});

describe('cached decisions and reads (sandbox/core/changes.ts)', () => {
  it('a queue policy taken away refuses the next call, for every session of the role', async () => {
    const guest = await role(sb, 'revoked-guest');
    const name = 'revoked-queue';
    const admit = policy({
      Effect: 'Allow',
      Principal: { AWS: guest },
      Action: 'sqs:SendMessage',
      Resource: queueArn(name),
    });
    const admin = new SQSClient(sb.clientConfig);
    const url = (await admin.send(new CreateQueueCommand({ QueueName: name, Attributes: { Policy: admit } })))
      .QueueUrl;
    await new SQSClient(actingAs(sb, guest, 'first')).send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: 'a' }),
    );
    await new SQSClient(actingAs(sb, guest, 'second')).send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: 'b' }),
    );
    await admin.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: '' } }));
    for (const session of ['first', 'third']) {
      const denied = await failure(
        new SQSClient(actingAs(sb, guest, session)).send(
          new SendMessageCommand({ QueueUrl: url, MessageBody: 'no' }),
        ),
      );
      expect(denied.message).toMatch(/not authorized to perform: sqs:SendMessage/);
    }
    expect((await messages(url)).sort()).toEqual(['a', 'b']);
  });

  it("a role's decision follows a change of its policy for sessions that already had one", async () => {
    const name = 'policy-queue';
    const url = (await new SQSClient(sb.clientConfig).send(new CreateQueueCommand({ QueueName: name })))
      .QueueUrl;
    const sender = await role(sb, 'changing-sender', [
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn(name) },
    ]);
    const sqs = new SQSClient(actingAs(sb, sender, 'task'));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'allowed' }));
    await new IAMClient(sb.clientConfig).send(
      new PutRolePolicyCommand({
        RoleName: 'changing-sender',
        PolicyName: 'inline',
        PolicyDocument: policy({ Effect: 'Allow', Action: 'sqs:ReceiveMessage', Resource: queueArn(name) }),
      }),
    );
    const denied = await failure(sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'no' })));
    expect(denied.message).toMatch(/not authorized to perform: sqs:SendMessage/);
    expect(await messages(url)).toEqual(['allowed']);
  });
});

describe('EventBridge delivery as events.amazonaws.com', () => {
  async function ruleTo(rule: string, queue: string, queuePolicy?: (ruleArn: string) => string) {
    const eb = new EventBridgeClient(sb.clientConfig);
    const { RuleArn = '' } = await eb.send(
      new PutRuleCommand({ Name: rule, EventPattern: JSON.stringify({ source: [`test.${rule}`] }) }),
    );
    const attrs = queuePolicy ? { Attributes: { Policy: queuePolicy(RuleArn) } } : {};
    const url = (
      await new SQSClient(sb.clientConfig).send(new CreateQueueCommand({ QueueName: queue, ...attrs }))
    ).QueueUrl;
    await eb.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'q', Arn: queueArn(queue) }] }));
    await eb.send(
      new PutEventsCommand({ Entries: [{ Source: `test.${rule}`, DetailType: 't', Detail: '{}' }] }),
    );
    await events.idle();
    return { url, deliveries: events.deliveries.filter((d) => d.rule === rule) };
  }

  const admitRule = (queue: string) => (ruleArn: string) =>
    policy({
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: queueArn(queue),
      Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
    });

  it('delivers where the queue policy admits the rule', async () => {
    const { url, deliveries } = await ruleTo(
      'admitted-rule',
      'admitted-target',
      admitRule('admitted-target'),
    );
    expect(deliveries.map((d) => d.ok)).toEqual([true]);
    expect(await messages(url)).toHaveLength(1);
  });

  it('a queue with no policy, or one admitting another rule, gets nothing: a failed invocation, logged', async () => {
    const none = await ruleTo('no-policy-rule', 'no-policy-target');
    expect(none.deliveries).toEqual([
      expect.objectContaining({
        ok: false,
        error: expect.stringMatching(/events\.amazonaws\.com .*sqs:SendMessage/),
      }),
    ]);
    expect(await messages(none.url)).toEqual([]);
    const other = await ruleTo('other-rule', 'other-target', () =>
      admitRule('other-target')(`arn:aws:events:${REGION}:${ACCOUNT}:rule/someone-else`),
    );
    expect(other.deliveries.map((d) => d.ok)).toEqual([false]);
    expect(await messages(other.url)).toEqual([]);
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: events.amazonaws.com is not allowed sqs:SendMessage on ${queueArn('other-target')} (no resource-based policy allows it)`,
    );
  });
});
