/**
 * Notify: delivers the notifications queue's messages (tasks/shared/notifications.ts: outcomes and approval
 * requests) to the policy's channels — Slack incoming webhooks (Block Kit) and signed generic webhooks — off the remediation's path:
 * Record outcome only enqueued the message, so nothing here can block or fail a remediation.
 *
 * Input  an SQS event (Powertools batch processing, partial batch response).
 * Per message and channel that hears its outcome:
 *   1. already delivered (item `notification#<deliveryId>` / <channel> in the outcomes table): skipped, so a
 *      redelivered or duplicated message reaches each channel once;
 *   2. up to DELIVERY_ATTEMPTS POSTs with exponential backoff and full jitter; success marks it delivered;
 *   3. a permanent refusal (4xx but 408/429, a missing or short secret) or a transient failure on the
 *      message's last receive (NOTIFY_MAX_RECEIVE_COUNT) is recorded (`notification#failed`, which the
 *      console can show) and counted (metric NotificationDeliveryFailed, dimension channel); a transient
 *      failure before that fails the record, so SQS delivers it again after the visibility timeout and,
 *      after the last receive, moves it to the DLQ (alarmed).
 * A body that is no notification message is logged and dropped (it can never become one).
 * Output { batchItemFailures }.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import * as v from 'valibot';
import { awsCall, DriftRemediationError } from '../shared/errors';
import {
  FAILED_DELIVERIES_KEY,
  NOTIFY_MAX_RECEIVE_COUNT,
  NotificationMessage,
  notificationTopic,
} from '../shared/notifications';
import {
  channelsFor,
  type NotificationChannel,
  type NotificationsPolicy,
} from '../shared/notifications-policy';
import { MIN_WEBHOOK_SECRET_LENGTH, signedHeaders } from '../shared/notifications-sign';
import { slackMessage } from '../shared/notifications-slack';
import { logger } from '../shared/powertools';

export const NotifyInput = v.object({
  Records: v.array(
    v.looseObject({
      messageId: v.pipe(v.string(), v.minLength(1)),
      body: v.string(),
      attributes: v.optional(v.looseObject({ ApproximateReceiveCount: v.optional(v.string()) })),
    }),
  ),
});
export type NotifyInput = v.InferOutput<typeof NotifyInput>;

/** POSTs per channel in one invocation, and the backoff between them (full jitter). */
export const DELIVERY_ATTEMPTS = 3;
export const BACKOFF_BASE_MS = 200;
export const BACKOFF_CAP_MS = 2000;
/** How long delivery marks and failure records are kept (seconds). */
const RECORD_TTL_SECONDS = 14 * 86_400;
export const deliveredKey = (deliveryId: string) => `notification#${deliveryId}`;

/** A channel refused or could not be reached. `retryable`: worth trying again later. */
export class NotificationDeliveryError extends DriftRemediationError {
  override readonly name = 'NotificationDeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options: { cause?: unknown; channel: string; status?: number },
  ) {
    super(message, options);
  }
}

/** The slice of Powertools Metrics this task uses (a fake in tests). */
export interface NotifyMetrics {
  singleMetric(): {
    addDimension(name: string, value: string): unknown;
    addMetric(name: string, unit: 'Count', value: number): unknown;
  };
}

export interface HttpResponse {
  status: number;
}

export interface NotifyDeps {
  ddb: DynamoDBDocumentClient;
  /** The outcomes table: delivery marks and failure records live next to the outcomes. */
  table: string;
  policy: NotificationsPolicy | undefined;
  /** A secret's value by name or ARN (Powertools Parameters, cached). */
  secret: (ref: string) => Promise<string>;
  /** One POST; rejects on a network error or timeout. */
  post: (url: string, body: string, headers: Record<string, string>) => Promise<HttpResponse>;
  metrics: NotifyMetrics;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  now: () => Date;
}

function count(deps: NotifyDeps, metric: string, channel: string): void {
  const m = deps.metrics.singleMetric();
  m.addDimension('channel', channel);
  m.addMetric(metric, 'Count', 1);
}

/** The request for `channel`: URL, body and headers. Secrets are read here and never logged. */
async function requestFor(m: NotificationMessage, channel: NotificationChannel, deps: NotifyDeps) {
  let secret: string;
  try {
    secret = await deps.secret(channel.secret);
  } catch (err) {
    const transient = err instanceof DriftRemediationError && err.retryable;
    throw new NotificationDeliveryError(`channel ${channel.name}: cannot read its secret`, transient, {
      cause: err,
      channel: channel.name,
    });
  }
  if (channel.type === 'slack') {
    if (!/^https?:\/\/\S+$/.test(secret.trim()))
      throw new NotificationDeliveryError(`channel ${channel.name}: the secret is not a webhook URL`, false, {
        channel: channel.name,
      });
    const body = JSON.stringify(slackMessage(m, deps.policy?.consoleUrl));
    return { url: secret.trim(), body, headers: { 'content-type': 'application/json' } };
  }
  if (Buffer.byteLength(secret, 'utf8') < MIN_WEBHOOK_SECRET_LENGTH)
    throw new NotificationDeliveryError(
      `channel ${channel.name}: the signing secret must be at least ${MIN_WEBHOOK_SECRET_LENGTH} bytes`,
      false,
      { channel: channel.name },
    );
  if (!channel.url)
    throw new NotificationDeliveryError(`channel ${channel.name}: no url`, false, { channel: channel.name });
  const body = JSON.stringify(m);
  return {
    url: channel.url,
    body,
    headers: signedHeaders(secret, body, m.deliveryId, deps.now().getTime() / 1000),
  };
}

/** One POST, classified: 2xx ok; 408, 429, 5xx and network errors retryable; other statuses permanent. */
async function postOnce(
  channel: string,
  req: { url: string; body: string; headers: Record<string, string> },
  deps: NotifyDeps,
) {
  let res: HttpResponse;
  try {
    res = await deps.post(req.url, req.body, req.headers);
  } catch (err) {
    throw new NotificationDeliveryError(`channel ${channel}: ${(err as Error).name}: not reachable`, true, {
      cause: err,
      channel,
    });
  }
  if (res.status >= 200 && res.status < 300) return;
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  throw new NotificationDeliveryError(`channel ${channel}: HTTP ${res.status}`, retryable, {
    channel,
    status: res.status,
  });
}

/** DELIVERY_ATTEMPTS tries, backoff min(cap, base·2^n)·random() between them; the last error is thrown. */
export async function deliverWithRetries(
  m: NotificationMessage,
  channel: NotificationChannel,
  deps: NotifyDeps,
): Promise<void> {
  const req = await requestFor(m, channel, deps);
  for (let attempt = 0; ; attempt++) {
    try {
      return await postOnce(channel.name, req, deps);
    } catch (err) {
      const last = attempt + 1 >= DELIVERY_ATTEMPTS;
      if (last || !(err instanceof NotificationDeliveryError) || !err.retryable) throw err;
      await deps.sleep(Math.floor(Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt) * deps.random()));
    }
  }
}

async function delivered(deps: NotifyDeps, m: NotificationMessage, channel: string): Promise<boolean> {
  const res = await awsCall('GetItem(notification delivered)', () =>
    deps.ddb.send(
      new GetCommand({
        TableName: deps.table,
        Key: { resourceKey: deliveredKey(m.deliveryId), sk: channel },
        ConsistentRead: true,
      }),
    ),
  );
  return res.Item !== undefined;
}

async function put(deps: NotifyDeps, what: string, item: Record<string, unknown>): Promise<void> {
  const expiresAt = Math.floor(deps.now().getTime() / 1000) + RECORD_TTL_SECONDS;
  await awsCall(`PutItem(${what})`, () =>
    deps.ddb.send(new PutCommand({ TableName: deps.table, Item: { ...item, expiresAt } })),
  );
}

/** What the console and the audit read about a delivery that gave up. */
async function recordFailure(deps: NotifyDeps, m: NotificationMessage, channel: string, err: Error) {
  const at = deps.now().toISOString();
  await put(deps, 'notification failed', {
    resourceKey: FAILED_DELIVERIES_KEY,
    sk: `${at}#${m.deliveryId}#${channel}`,
    failedAt: at,
    channel,
    deliveryId: m.deliveryId,
    outcome: notificationTopic(m),
    subject: m.resource.key,
    executionName: m.execution.name,
    error: err.message.slice(0, 500),
  });
}

/** One channel. Returns true when the message must come back (a transient failure before its last receive). */
async function toChannel(
  m: NotificationMessage,
  channel: NotificationChannel,
  deps: NotifyDeps,
  lastReceive: boolean,
) {
  if (await delivered(deps, m, channel.name)) return false;
  try {
    await deliverWithRetries(m, channel, deps);
  } catch (err) {
    if (!(err instanceof NotificationDeliveryError)) throw err;
    count(deps, 'NotificationDeliveryFailed', channel.name);
    logger.warn('notification not delivered', {
      channel: channel.name,
      deliveryId: m.deliveryId,
      errorMessage: err.message,
      retryable: err.retryable,
      lastReceive,
    });
    if (err.retryable && !lastReceive) return true;
    await recordFailure(deps, m, channel.name, err);
    return err.retryable; // the last receive of a transient failure still goes to the DLQ
  }
  await put(deps, 'notification delivered', {
    resourceKey: deliveredKey(m.deliveryId),
    sk: channel.name,
    deliveredAt: deps.now().toISOString(),
  });
  count(deps, 'NotificationDelivered', channel.name);
  return false;
}

/** One queue message to every channel that hears its outcome; throws when it must be delivered again. */
export async function deliverMessage(body: string, receiveCount: number, deps: NotifyDeps): Promise<number> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const parsed = v.safeParse(NotificationMessage, json);
  if (!parsed.success) {
    logger.error('not a notification message; dropped', { issues: parsed.issues.length });
    return 0;
  }
  const m = parsed.output;
  const channels = channelsFor(deps.policy, notificationTopic(m));
  // Channels in parallel: one slow endpoint does not hold the others (nor the function's timeout).
  const last = receiveCount >= NOTIFY_MAX_RECEIVE_COUNT;
  const results = await Promise.all(channels.map((c) => toChannel(m, c, deps, last)));
  const again = channels.filter((_, i) => results[i]).map((c) => c.name);
  if (again.length)
    throw new NotificationDeliveryError(`not delivered yet to ${again.join(', ')}`, true, {
      channel: again.join(','),
    });
  return channels.length;
}

export async function notify(
  input: NotifyInput,
  deps: NotifyDeps,
  context?: Context,
): Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = (record: {
    body: string;
    attributes?: { ApproximateReceiveCount?: string | undefined };
  }) => deliverMessage(record.body, Number(record.attributes?.ApproximateReceiveCount ?? '1'), deps);
  return processPartialResponse(
    input as Parameters<typeof processPartialResponse>[0],
    recordHandler,
    processor,
    {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    },
  );
}
