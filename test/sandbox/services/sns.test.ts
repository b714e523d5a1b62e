import {
  CreateTopicCommand,
  GetTopicAttributesCommand,
  InvalidParameterException,
  ListSubscriptionsByTopicCommand,
  ListTopicsCommand,
  NotFoundException,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { OutboxMessage } from '../../../sandbox/core/sandbox';
import { snsService } from '../../../sandbox/services/sns';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';

const sb = withSandbox({ services: [snsService(), sqsService()] });
const sns = (): SNSClient => new SNSClient(sb.clientConfig);
const ACCOUNT = '000000000000';

describe('SNS', () => {
  it('creates topics idempotently and lists them', async () => {
    const a = await sns().send(new CreateTopicCommand({ Name: 'approvals' }));
    const b = await sns().send(new CreateTopicCommand({ Name: 'approvals' }));
    expect(a.TopicArn).toBe(`arn:aws:sns:us-east-1:${ACCOUNT}:approvals`);
    expect(b.TopicArn).toBe(a.TopicArn);
    const listed = await sns().send(new ListTopicsCommand({}));
    expect(listed.Topics).toEqual([{ TopicArn: a.TopicArn }]);
  });

  it('returns topic attributes as an awsQuery map the SDK parses', async () => {
    const { TopicArn } = await sns().send(
      new CreateTopicCommand({ Name: 'with-attrs', Attributes: { DisplayName: 'Ops' } }),
    );
    const out = await sns().send(new GetTopicAttributesCommand({ TopicArn }));
    expect(out.Attributes).toMatchObject({
      TopicArn,
      DisplayName: 'Ops',
      Owner: ACCOUNT,
      SubscriptionsConfirmed: '0',
    });
  });

  it('validates topic names (InvalidParameterException)', async () => {
    await expect(sns().send(new CreateTopicCommand({ Name: 'bad name' }))).rejects.toBeInstanceOf(
      InvalidParameterException,
    );
  });

  it('keeps every published message in the outbox, notifies listeners and logs it', async () => {
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: 'notifications' }));
    const heard: OutboxMessage[] = [];
    const off = sb.sandbox.onMessage((m) => heard.push(m));
    const out = await sns().send(
      new PublishCommand({
        TopicArn,
        Subject: 'Approval required',
        Message: 'Open http://127.0.0.1/approvals/x',
        MessageAttributes: { severity: { DataType: 'String', StringValue: 'high' } },
      }),
    );
    off();
    expect(out.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    const box = sb.sandbox.outbox().filter((m) => m.topicArn === TopicArn);
    expect(box).toEqual([
      expect.objectContaining({
        messageId: out.MessageId,
        subject: 'Approval required',
        message: 'Open http://127.0.0.1/approvals/x',
        messageAttributes: { severity: { DataType: 'String', StringValue: 'high' } },
      }),
    ]);
    expect(heard.map((m) => m.messageId)).toEqual([out.MessageId]);
    expect(sb.sandbox.logs.some((l) => l.includes('[Approval required]'))).toBe(true);
  });

  it('answers NotFound for an unknown topic and InvalidParameter for bad input', async () => {
    await expect(
      sns().send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:missing`, Message: 'x' })),
    ).rejects.toBeInstanceOf(NotFoundException);
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: 'validation' }));
    await expect(sns().send(new PublishCommand({ TopicArn, Message: '' }))).rejects.toBeInstanceOf(
      InvalidParameterException,
    );
    await expect(
      sns().send(new PublishCommand({ TopicArn, Message: 'x', Subject: 's'.repeat(101) })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(
      sns().send(new SubscribeCommand({ TopicArn, Protocol: 'carrier-pigeon', Endpoint: 'x' })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });

  it('delivers to SQS subscriptions as an SNS notification and lists subscriptions', async () => {
    const sqs = new SQSClient(sb.clientConfig);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'sns-sub' }));
    const { TopicArn } = await sns().send(new CreateTopicCommand({ Name: 'fanout' }));
    const sub = await sns().send(
      new SubscribeCommand({
        TopicArn,
        Protocol: 'sqs',
        Endpoint: `arn:aws:sqs:us-east-1:${ACCOUNT}:sns-sub`,
      }),
    );
    expect(sub.SubscriptionArn).toMatch(new RegExp(`^${TopicArn}:`));
    const email = await sns().send(
      new SubscribeCommand({ TopicArn, Protocol: 'email', Endpoint: 'ops@example.com' }),
    );
    expect(email.SubscriptionArn).toBe('pending confirmation');
    const subs = await sns().send(new ListSubscriptionsByTopicCommand({ TopicArn }));
    expect(subs.Subscriptions?.map((s) => s.Protocol).sort()).toEqual(['email', 'sqs']);
    await sns().send(new PublishCommand({ TopicArn, Message: 'payload', Subject: 'hi' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    const body = JSON.parse(got.Messages?.[0]?.Body ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ Type: 'Notification', TopicArn, Message: 'payload', Subject: 'hi' });
  });
});
