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

const TOPIC_ATTRIBUTES = [
  'DisplayName',
  'Policy',
  'DeliveryPolicy',
  'KmsMasterKeyId',
  'TracingConfig',
  'SignatureVersion',
  'ContentBasedDeduplication',
];

function page<T>(items: T[], token: unknown, size = 100): { items: T[]; next?: string } {
  const start = typeof token === 'string' && token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw invalid('NextToken');
  const next =
    start + size < items.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
  return { items: items.slice(start, start + size), next };
}

function subView(s: Subscription): Record<string, unknown> {
  return {
    SubscriptionArn: s.confirmed ? s.arn : 'PendingConfirmation',
    Owner: s.owner,
    Protocol: s.protocol,
    Endpoint: s.endpoint,
    TopicArn: s.topicArn,
  };
}

/** The notification JSON SNS delivers to SQS (and, wrapped in Records, to Lambda). */
function notificationOf(
  topic: Topic,
  id: string,
  at: string,
  message: string,
  subject: string | undefined,
  attributes: Record<string, Attr>,
) {
  return {
    Type: 'Notification',
    MessageId: id,
    TopicArn: topic.arn,
    Subject: subject ?? null,
    Message: message,
    Timestamp: at,
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
}

/** What one subscription receives: the Lambda event, the raw message, or the notification JSON. */
function payloadFor(
  sub: Subscription,
  notification: ReturnType<typeof notificationOf>,
  message: string,
): string {
  if (sub.protocol === 'lambda') {
    return JSON.stringify({
      Records: [
        { EventSource: 'aws:sns', EventVersion: '1.0', EventSubscriptionArn: sub.arn, Sns: notification },
      ],
    });
  }
  return sub.attributes.RawMessageDelivery === 'true' ? message : JSON.stringify(notification);
}

/** Publish's checks on Message, Subject and MessageStructure; the body to deliver. */
function publishBody(input: Record<string, unknown>): { body: string; subject: string | undefined } {
  const message = str(input.Message);
  if (message === undefined || message === '') throw invalid('Message too short');
  if (Buffer.byteLength(message) > 262_144) throw invalid('Message too long');
  const subject = str(input.Subject);
  if (subject !== undefined && (subject.length === 0 || subject.length > 100 || /[\r\n]/.test(subject))) {
    throw invalid('Subject');
  }
  if (input.MessageStructure === undefined) return { body: message, subject };
  if (input.MessageStructure !== 'json') throw invalid('MessageStructure');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(message) as Record<string, unknown>;
  } catch {
    throw invalid('Message Structure - No default entry in JSON message body');
  }
  if (typeof parsed.default !== 'string')
    throw invalid('Message Structure - No default entry in JSON message body');
  return { body: parsed.default, subject };
}

/** Subscribe's checks on Protocol and Endpoint. */
function subscriptionTarget(input: Record<string, unknown>): { protocol: string; endpoint: string } {
  const protocol = str(input.Protocol);
  if (!protocol || !PROTOCOLS.has(protocol)) throw invalid(`Invalid protocol type: ${protocol ?? ''}`);
  const endpoint = str(input.Endpoint);
  if (!endpoint) throw invalid('Endpoint');
  if ((protocol === 'sqs' || protocol === 'lambda') && !endpoint.startsWith(`arn:aws:${protocol}:`)) {
    throw invalid(`${protocol === 'sqs' ? 'SQS' : 'Lambda'} endpoint ARN`);
  }
  if (protocol.startsWith('email') && !/^[^@\s]+@[^@\s]+$/.test(endpoint)) throw invalid('Email address');
  return { protocol, endpoint };
}

/** The account-region a topic lives in (its ARN's): it delivers from there, whoever published. */
function topicScope(sandbox: SandboxContext, topic: Topic): SandboxContext {
  const [, , , region = '', account = ''] = topic.arn.split(':');
  return sandbox.scoped(account, region);
}

/**
 * The topics and subscriptions of one sandbox, every account-region's, by ARN (which names the topic's
 * account and region): two accounts' topics of one name are two topics.
 */
class SnsStore {
  readonly topics = new Map<string, Topic>();
  private readonly subscriptions = new Map<string, Subscription>();

  getTopic(arn: unknown): Topic {
    if (typeof arn !== 'string' || !arn) throw invalid('TopicArn');
    if (!/^arn:aws[\w-]*:sns:[^:]+:\d{12}:[\w.-]+$/.test(arn)) throw invalid('TopicArn');
    const t = this.topics.get(arn);
    if (!t) throw notFound('Topic');
    return t;
  }

  /** Records the message in the outbox and delivers it to the topic's confirmed sqs/lambda subscriptions. */
  publish(
    sandbox: SandboxContext,
    topic: Topic,
    message: string,
    subject: string | undefined,
    attributes: Record<string, Attr>,
  ): string {
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
    const notification = notificationOf(topic, messageId, timestamp, message, subject, attributes);
    for (const sub of this.subscriptions.values()) {
      if (sub.topicArn !== topic.arn || !sub.confirmed) continue;
      if (sub.protocol !== 'sqs' && sub.protocol !== 'lambda') continue;
      deliverToArn(sandbox, sub.endpoint, payloadFor(sub, notification, message)).catch((err: unknown) => {
        sandbox.log(
          `sns: delivery to ${sub.endpoint} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    }
    return messageId;
  }

  topicAttributes(t: Topic, ctx: RequestContext): Record<string, string> {
    const subs = [...this.subscriptions.values()].filter((s) => s.topicArn === t.arn);
    return {
      TopicArn: t.arn,
      Owner: t.arn.split(':')[4] ?? ctx.accountId,
      DisplayName: '',
      SubscriptionsConfirmed: String(subs.filter((s) => s.confirmed).length),
      SubscriptionsPending: String(subs.filter((s) => !s.confirmed).length),
      SubscriptionsDeleted: '0',
      Policy: JSON.stringify({ Version: '2008-10-17', Id: '__default_policy_ID', Statement: [] }),
      ...t.attributes,
    };
  }

  createTopic(input: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> {
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
    const existing = this.topics.get(arn);
    if (existing) {
      for (const [k, v] of Object.entries(attrs)) {
        if (existing.attributes[k] !== undefined && existing.attributes[k] !== v) {
          throw invalid(`Attributes Reason: Topic already exists with different attributes`);
        }
      }
      return { TopicArn: arn };
    }
    this.topics.set(arn, {
      name,
      arn,
      attributes: { ...attrs },
      tags: (input.Tags as Topic['tags'] | undefined) ?? [],
    });
    return { TopicArn: arn };
  }

  deleteTopic(input: Record<string, unknown>): Record<string, unknown> {
    const arn = str(input.TopicArn);
    if (!arn) throw invalid('TopicArn');
    this.topics.delete(arn);
    for (const [k, s] of this.subscriptions) if (s.topicArn === arn) this.subscriptions.delete(k);
    return {};
  }

  setTopicAttribute(input: Record<string, unknown>): Record<string, unknown> {
    const t = this.getTopic(input.TopicArn);
    const name = str(input.AttributeName);
    if (!name || !TOPIC_ATTRIBUTES.includes(name)) throw invalid('AttributeName');
    t.attributes[name] = str(input.AttributeValue) ?? '';
    return {};
  }

  publishRequest(input: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> {
    const topicArn = str(input.TopicArn) ?? str(input.TargetArn);
    if (input.PhoneNumber !== undefined)
      throw invalid('PhoneNumber Reason: SMS is not supported by the sandbox');
    if (!topicArn) throw invalid('TopicArn or TargetArn Reason: no value for required parameter');
    const { body, subject } = publishBody(input);
    const topic = this.getTopic(topicArn);
    if (topic.name.endsWith('.fifo') && !str(input.MessageGroupId)) {
      throw invalid('The MessageGroupId parameter is required for FIFO topics');
    }
    const attrs = validateAttributes(input.MessageAttributes);
    return { MessageId: this.publish(topicScope(ctx.sandbox, topic), topic, body, subject, attrs) };
  }

  subscribe(input: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> {
    const topic = this.getTopic(input.TopicArn);
    const { protocol, endpoint } = subscriptionTarget(input);
    for (const s of this.subscriptions.values()) {
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
    this.subscriptions.set(sub.arn, sub);
    return { SubscriptionArn: confirmed || input.ReturnSubscriptionArn ? sub.arn : 'pending confirmation' };
  }

  unsubscribe(input: Record<string, unknown>): Record<string, unknown> {
    const arn = str(input.SubscriptionArn);
    if (!arn) throw invalid('SubscriptionArn');
    if (!this.subscriptions.delete(arn)) throw notFound('Subscription');
    return {};
  }

  /** A topic's subscriptions, or the caller's own in its region (ListSubscriptions). */
  listSubscriptions(
    input: Record<string, unknown>,
    by: { topicArn: string } | { scope: RequestContext },
  ): Record<string, unknown> {
    const subs = [...this.subscriptions.values()].filter((s) =>
      'topicArn' in by
        ? s.topicArn === by.topicArn
        : s.owner === by.scope.accountId && s.topicArn.split(':')[3] === by.scope.region,
    );
    const { items, next } = page(subs, input.NextToken);
    return { Subscriptions: items.map(subView), NextToken: next };
  }
}

export function snsService(): ServiceModule {
  const store = new SnsStore();
  return {
    serviceName: 'sns',
    signingName: 'sns',
    protocol: 'awsQuery',
    xmlNamespace: 'http://sns.amazonaws.com/doc/2010-03-31/',
    operations: {
      CreateTopic: (input, ctx) => store.createTopic(input, ctx),
      DeleteTopic: (input) => store.deleteTopic(input),
      ListTopics: (input, ctx) => {
        // The caller's account-region's topics (another account's are reached by ARN, if its policy admits).
        const mine = `arn:aws:sns:${ctx.region}:${ctx.accountId}:`;
        const topics = [...store.topics.values()].filter((t) => t.arn.startsWith(mine));
        const { items, next } = page(topics, input.NextToken);
        return { Topics: items.map((t) => ({ TopicArn: t.arn })), NextToken: next };
      },
      GetTopicAttributes: (input, ctx) => ({
        Attributes: store.topicAttributes(store.getTopic(input.TopicArn), ctx),
      }),
      SetTopicAttributes: (input) => store.setTopicAttribute(input),
      Publish: async (input, ctx) => store.publishRequest(input, ctx),
      Subscribe: (input, ctx) => store.subscribe(input, ctx),
      Unsubscribe: (input) => store.unsubscribe(input),
      ListSubscriptions: (input, ctx) => store.listSubscriptions(input, { scope: ctx }),
      ListSubscriptionsByTopic: (input) =>
        store.listSubscriptions(input, { topicArn: store.getTopic(input.TopicArn).arn }),
    },
    start(ctx) {
      // EventBridge → SNS topic targets
      registerTargetHandler(ctx, 'sns', async (arn, message) => {
        const topic = store.topics.get(arn);
        if (!topic) throw notFound('Topic');
        store.publish(topicScope(ctx, topic), topic, message, undefined, {});
      });
    },
  };
}
