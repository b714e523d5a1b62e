/**
 * SNS (awsQuery): topics, subscriptions (sqs, lambda delivered in-process; email/http(s) recorded) and
 * Publish. Every published message is kept in the sandbox outbox (Sandbox.outbox() / onMessage) and logged.
 */
import { randomUUID } from 'node:crypto';
import { recordOutboxMessage } from '../../core/sandbox';
import { deliverToArn, registerTargetHandler } from '../../core/targets';
import type { RequestContext, SandboxContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';

interface Subscription {
  arn: string;
  topicArn: string;
  protocol: string;
  endpoint: string;
  owner: string;
  attributes: Record<string, string>;
  confirmed: boolean;
}

interface Topic {
  name: string;
  arn: string;
  attributes: Record<string, string>;
  tags: { Key: string; Value: string }[];
}

type Attr = { DataType: string; StringValue?: string; BinaryValue?: Uint8Array | string };

const PROTOCOLS = new Set([
  'sqs',
  'lambda',
  'email',
  'email-json',
  'http',
  'https',
  'sms',
  'application',
  'firehose',
]);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const invalid = (message: string): AwsError =>
  new AwsError('InvalidParameter', `Invalid parameter: ${message}`);
const notFound = (what: string): AwsError => new AwsError('NotFound', `${what} does not exist`, 404);

function validateAttributes(v: unknown): Record<string, Attr> {
  if (!v || typeof v !== 'object') return {};
  const out: Record<string, Attr> = {};
  for (const [name, raw] of Object.entries(v as Record<string, Record<string, unknown>>)) {
    const type = str(raw?.DataType);
    if (!type || !/^(String|String\.Array|Number|Binary)(\..+)?$/.test(type)) {
      throw new AwsError(
        'ParameterValueInvalid',
        `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
      );
    }
    if (type.startsWith('Binary') ? raw.BinaryValue === undefined : typeof raw.StringValue !== 'string') {
      throw new AwsError(
        'ParameterValueInvalid',
        `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type}'.`,
      );
    }
    if (type.startsWith('Number') && !Number.isFinite(Number(raw.StringValue))) {
      throw new AwsError(
        'ParameterValueInvalid',
        `Could not cast message attribute '${name}' value to number.`,
      );
    }
    out[name] = type.startsWith('Binary')
      ? { DataType: type, BinaryValue: raw.BinaryValue as Uint8Array | string }
      : { DataType: type, StringValue: raw.StringValue as string };
  }
  return out;
}

export function snsService(): ServiceModule {
  const topics = new Map<string, Topic>();
  const subscriptions = new Map<string, Subscription>();

  const getTopic = (arn: unknown): Topic => {
    if (typeof arn !== 'string' || !arn) throw invalid('TopicArn');
    if (!/^arn:aws[\w-]*:sns:[^:]+:\d{12}:[\w.-]+$/.test(arn)) throw invalid('TopicArn');
    const t = topics.get(arn);
    if (!t) throw notFound('Topic');
    return t;
  };

  const publish = async (
    sandbox: SandboxContext,
    topic: Topic,
    message: string,
    subject: string | undefined,
    attributes: Record<string, Attr>,
  ): Promise<string> => {
    const messageId = randomUUID();
    const timestamp = sandbox.clock.now().toISOString();
    recordOutboxMessage(sandbox, {
      topicArn: topic.arn,
      messageId,
      subject,
      message,
      messageAttributes: Object.fromEntries(
        Object.entries(attributes).map(([k, v]) => [k, { DataType: v.DataType, StringValue: v.StringValue }]),
      ),
      timestamp,
    });
    sandbox.log(
      `sns: ${topic.name}${subject ? ` [${subject}]` : ''}: ${message.length > 500 ? `${message.slice(0, 500)}…` : message}`,
    );
    const notification = {
      Type: 'Notification',
      MessageId: messageId,
      TopicArn: topic.arn,
      Subject: subject ?? null,
      Message: message,
      Timestamp: timestamp,
      SignatureVersion: '1',
      Signature: 'SANDBOX',
      SigningCertURL: 'https://sns.amazonaws.com/SimpleNotificationService-sandbox.pem',
      UnsubscribeURL: `https://sns.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${topic.arn}:sandbox`,
      MessageAttributes: Object.fromEntries(
        Object.entries(attributes).map(([k, v]) => [
          k,
          { Type: v.DataType, Value: v.StringValue ?? String(v.BinaryValue ?? '') },
        ]),
      ),
    };
    for (const sub of subscriptions.values()) {
      if (sub.topicArn !== topic.arn || !sub.confirmed) continue;
      if (sub.protocol !== 'sqs' && sub.protocol !== 'lambda') continue;
      let payload: string;
      if (sub.protocol === 'lambda') {
        payload = JSON.stringify({
          Records: [
            {
              EventSource: 'aws:sns',
              EventVersion: '1.0',
              EventSubscriptionArn: sub.arn,
              Sns: { ...notification, Subject: subject ?? null },
            },
          ],
        });
      } else {
        payload = sub.attributes.RawMessageDelivery === 'true' ? message : JSON.stringify(notification);
      }
      deliverToArn(sandbox, sub.endpoint, payload).catch((err: unknown) => {
        sandbox.log(
          `sns: delivery to ${sub.endpoint} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    }
    return messageId;
  };

  const topicAttributes = (t: Topic, ctx: RequestContext): Record<string, string> => {
    const subs = [...subscriptions.values()].filter((s) => s.topicArn === t.arn);
    return {
      TopicArn: t.arn,
      Owner: ctx.accountId,
      DisplayName: '',
      SubscriptionsConfirmed: String(subs.filter((s) => s.confirmed).length),
      SubscriptionsPending: String(subs.filter((s) => !s.confirmed).length),
      SubscriptionsDeleted: '0',
      Policy: JSON.stringify({ Version: '2008-10-17', Id: '__default_policy_ID', Statement: [] }),
      ...t.attributes,
    };
  };

  const page = <T>(items: T[], token: unknown, size = 100): { items: T[]; next?: string } => {
    const start = typeof token === 'string' && token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
    if (!Number.isInteger(start) || start < 0) throw invalid('NextToken');
    const next =
      start + size < items.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
    return { items: items.slice(start, start + size), next };
  };

  const subView = (s: Subscription): Record<string, unknown> => ({
    SubscriptionArn: s.confirmed ? s.arn : 'PendingConfirmation',
    Owner: s.owner,
    Protocol: s.protocol,
    Endpoint: s.endpoint,
    TopicArn: s.topicArn,
  });

  const operations: ServiceModule['operations'] = {
    CreateTopic(input, ctx) {
      const name = str(input.Name);
      const attrs = (input.Attributes as Record<string, string> | undefined) ?? {};
      const fifo = attrs.FifoTopic === 'true';
      if (
        !name ||
        !/^[A-Za-z0-9_-]{1,256}$/.test(fifo ? name.replace(/\.fifo$/, '') : name) ||
        (fifo && !name.endsWith('.fifo'))
      ) {
        throw invalid('Topic Name');
      }
      const arn = `arn:aws:sns:${ctx.region}:${ctx.accountId}:${name}`;
      const existing = topics.get(arn);
      if (existing) {
        for (const [k, v] of Object.entries(attrs)) {
          if (existing.attributes[k] !== undefined && existing.attributes[k] !== v) {
            throw invalid(`Attributes Reason: Topic already exists with different attributes`);
          }
        }
        return { TopicArn: arn };
      }
      topics.set(arn, {
        name,
        arn,
        attributes: { ...attrs },
        tags: (input.Tags as Topic['tags'] | undefined) ?? [],
      });
      return { TopicArn: arn };
    },
    DeleteTopic(input) {
      const arn = str(input.TopicArn);
      if (!arn) throw invalid('TopicArn');
      topics.delete(arn);
      for (const [k, s] of subscriptions) if (s.topicArn === arn) subscriptions.delete(k);
      return {};
    },
    ListTopics(input) {
      const { items, next } = page([...topics.values()], input.NextToken);
      return { Topics: items.map((t) => ({ TopicArn: t.arn })), NextToken: next };
    },
    GetTopicAttributes(input, ctx) {
      return { Attributes: topicAttributes(getTopic(input.TopicArn), ctx) };
    },
    SetTopicAttributes(input) {
      const t = getTopic(input.TopicArn);
      const name = str(input.AttributeName);
      if (
        !name ||
        ![
          'DisplayName',
          'Policy',
          'DeliveryPolicy',
          'KmsMasterKeyId',
          'TracingConfig',
          'SignatureVersion',
          'ContentBasedDeduplication',
        ].includes(name)
      ) {
        throw invalid('AttributeName');
      }
      t.attributes[name] = str(input.AttributeValue) ?? '';
      return {};
    },
    Publish: async (input, ctx) => {
      const topicArn = str(input.TopicArn) ?? str(input.TargetArn);
      if (input.PhoneNumber !== undefined)
        throw invalid('PhoneNumber Reason: SMS is not supported by the sandbox');
      if (!topicArn) throw invalid('TopicArn or TargetArn Reason: no value for required parameter');
      const message = str(input.Message);
      if (message === undefined || message === '') throw invalid('Message too short');
      if (Buffer.byteLength(message) > 262_144) throw invalid('Message too long');
      const subject = str(input.Subject);
      if (subject !== undefined && (subject.length === 0 || subject.length > 100 || /[\r\n]/.test(subject))) {
        throw invalid('Subject');
      }
      if (input.MessageStructure !== undefined) {
        if (input.MessageStructure !== 'json') throw invalid('MessageStructure');
        try {
          const parsed = JSON.parse(message) as Record<string, unknown>;
          if (typeof parsed.default !== 'string') throw new Error('no default');
        } catch {
          throw invalid('Message Structure - No default entry in JSON message body');
        }
      }
      const topic = getTopic(topicArn);
      if (topic.name.endsWith('.fifo') && !str(input.MessageGroupId)) {
        throw invalid('The MessageGroupId parameter is required for FIFO topics');
      }
      const attrs = validateAttributes(input.MessageAttributes);
      const body =
        input.MessageStructure === 'json'
          ? String((JSON.parse(message) as Record<string, unknown>).default)
          : message;
      const messageId = await publish(ctx.sandbox, topic, body, subject, attrs);
      return { MessageId: messageId };
    },
    Subscribe(input, ctx) {
      const topic = getTopic(input.TopicArn);
      const protocol = str(input.Protocol);
      if (!protocol || !PROTOCOLS.has(protocol)) throw invalid(`Invalid protocol type: ${protocol ?? ''}`);
      const endpoint = str(input.Endpoint);
      if (!endpoint) throw invalid('Endpoint');
      if ((protocol === 'sqs' || protocol === 'lambda') && !endpoint.startsWith(`arn:aws:${protocol}:`)) {
        throw invalid(`${protocol === 'sqs' ? 'SQS' : 'Lambda'} endpoint ARN`);
      }
      if (protocol.startsWith('email') && !/^[^@\s]+@[^@\s]+$/.test(endpoint)) throw invalid('Email address');
      for (const s of subscriptions.values()) {
        if (s.topicArn === topic.arn && s.protocol === protocol && s.endpoint === endpoint) {
          return {
            SubscriptionArn: s.confirmed || input.ReturnSubscriptionArn ? s.arn : 'pending confirmation',
          };
        }
      }
      const confirmed = protocol === 'sqs' || protocol === 'lambda';
      const sub: Subscription = {
        arn: `${topic.arn}:${randomUUID()}`,
        topicArn: topic.arn,
        protocol,
        endpoint,
        owner: ctx.accountId,
        attributes: { ...((input.Attributes as Record<string, string> | undefined) ?? {}) },
        confirmed,
      };
      subscriptions.set(sub.arn, sub);
      return { SubscriptionArn: confirmed || input.ReturnSubscriptionArn ? sub.arn : 'pending confirmation' };
    },
    Unsubscribe(input) {
      const arn = str(input.SubscriptionArn);
      if (!arn) throw invalid('SubscriptionArn');
      if (!subscriptions.delete(arn)) throw notFound('Subscription');
      return {};
    },
    ListSubscriptions(input) {
      const { items, next } = page([...subscriptions.values()], input.NextToken);
      return { Subscriptions: items.map(subView), NextToken: next };
    },
    ListSubscriptionsByTopic(input) {
      const topic = getTopic(input.TopicArn);
      const { items, next } = page(
        [...subscriptions.values()].filter((s) => s.topicArn === topic.arn),
        input.NextToken,
      );
      return { Subscriptions: items.map(subView), NextToken: next };
    },
  };

  return {
    serviceName: 'sns',
    signingName: 'sns',
    protocol: 'awsQuery',
    xmlNamespace: 'http://sns.amazonaws.com/doc/2010-03-31/',
    operations,
    start(ctx) {
      // EventBridge → SNS topic targets
      registerTargetHandler(ctx, 'sns', async (arn, message) => {
        const topic = topics.get(arn);
        if (!topic) throw notFound('Topic');
        await publish(ctx, topic, message, undefined, {});
      });
    },
  };
}
