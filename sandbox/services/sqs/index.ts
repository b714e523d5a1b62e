/**
 * SQS (awsJson1.0 with awsQueryCompatible error codes): standard and FIFO queues, visibility timeouts,
 * delays, long polling on the sandbox clock, RedrivePolicy (→ DLQ after maxReceiveCount), and Lambda
 * event source mappings that poll a queue and invoke an in-process function with the Lambda SQS event,
 * honouring `batchItemFailures`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { sleepMs } from '../../core/clock';
import { serviceModule } from '../../core/sandbox';
import { registerTargetHandler } from '../../core/targets';
import type { RequestContext, SandboxContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import type { MessageAttributeValue } from './md5';
import { md5Hex, md5OfMessageAttributes } from './md5';

const QUERY_CODES: Record<string, string> = {
  QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue',
  QueueNameExists: 'QueueAlreadyExists',
  MessageNotInflight: 'AWS.SimpleQueueService.MessageNotInflight',
  PurgeQueueInProgress: 'AWS.SimpleQueueService.PurgeQueueInProgress',
  QueueDeletedRecently: 'AWS.SimpleQueueService.QueueDeletedRecently',
  BatchEntryIdsNotDistinct: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
  EmptyBatchRequest: 'AWS.SimpleQueueService.EmptyBatchRequest',
  InvalidBatchEntryId: 'AWS.SimpleQueueService.InvalidBatchEntryId',
  TooManyEntriesInBatchRequest: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
  BatchRequestTooLong: 'AWS.SimpleQueueService.BatchRequestTooLong',
  UnsupportedOperation: 'AWS.SimpleQueueService.UnsupportedOperation',
  InvalidParameterValue: 'InvalidParameterValue',
  MissingParameter: 'MissingParameter',
  ReceiptHandleIsInvalid: 'ReceiptHandleIsInvalid',
  InvalidAttributeName: 'InvalidAttributeName',
  InvalidAttributeValue: 'InvalidAttributeValue',
  InvalidMessageContents: 'InvalidMessageContents',
};

const MAX_MESSAGE_SIZE = 262_144;

interface Message {
  id: string;
  body: string;
  md5: string;
  attributes: Record<string, MessageAttributeValue>;
  md5Attributes?: string;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceiveAt?: number;
  receiptHandle?: string;
  groupId?: string;
  dedupId?: string;
  sequence?: string;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  fifo: boolean;
  attributes: Record<string, string>;
  tags: Record<string, string>;
  createdAt: number;
  modifiedAt: number;
  messages: Message[];
  dedup: Map<string, { at: number; id: string; sequence?: string }>;
  lastPurge?: number;
  sequence: bigint;
  waiters: Set<() => void>;
}

const DEFAULT_ATTRIBUTES: Record<string, string> = {
  VisibilityTimeout: '30',
  MessageRetentionPeriod: '345600',
  DelaySeconds: '0',
  ReceiveMessageWaitTimeSeconds: '0',
  MaximumMessageSize: '262144',
  SqsManagedSseEnabled: 'true',
};

const SETTABLE = new Set([
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'Policy',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
]);

const READABLE = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesDelayed',
  'ApproximateNumberOfMessagesNotVisible',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
  ...SETTABLE,
];

const RANGES: Record<string, [number, number]> = {
  DelaySeconds: [0, 900],
  MaximumMessageSize: [1024, 262_144],
  MessageRetentionPeriod: [60, 1_209_600],
  ReceiveMessageWaitTimeSeconds: [0, 20],
  VisibilityTimeout: [0, 43_200],
  KmsDataKeyReusePeriodSeconds: [60, 86_400],
};

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function invalidParam(name: string, value: unknown, reason: string): AwsError {
  return new AwsError(
    'InvalidParameterValue',
    `Value ${String(value)} for parameter ${name} is invalid. Reason: ${reason}`,
  );
}

function intParam(
  input: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw invalidParam(name, v, `Must be between ${min} and ${max}, if provided.`);
  }
  return n;
}

function validateAttributes(attrs: Record<string, string>, fifo: boolean, queues: Map<string, Queue>): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (!SETTABLE.has(name)) throw new AwsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    const range = RANGES[name];
    if (range) {
      const n = Number(value);
      if (!/^\d+$/.test(String(value)) || n < range[0] || n > range[1]) {
        throw new AwsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
      }
    }
    if (
      (name === 'ContentBasedDeduplication' ||
        name === 'FifoThroughputLimit' ||
        name === 'DeduplicationScope') &&
      !fifo
    ) {
      throw new AwsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
    if (name === 'RedrivePolicy' && value !== '') {
      let p: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
      try {
        p = JSON.parse(value) as typeof p;
      } catch {
        throw new AwsError(
          'InvalidAttributeValue',
          'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.',
        );
      }
      const max = Number(p.maxReceiveCount);
      if (typeof p.deadLetterTargetArn !== 'string' || !Number.isInteger(max) || max < 1 || max > 1000) {
        throw new AwsError(
          'InvalidAttributeValue',
          'Value for parameter RedrivePolicy is invalid. Reason: Redrive policy must contain deadLetterTargetArn and maxReceiveCount between 1 and 1000.',
        );
      }
      const dlqName = p.deadLetterTargetArn.split(':').pop() ?? '';
      const dlq = queues.get(dlqName);
      if (!dlq) {
        throw new AwsError(
          'InvalidAttributeValue',
          `Value ${value} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`,
        );
      }
      if (dlq.fifo !== fifo) {
        throw new AwsError(
          'InvalidAttributeValue',
          `Value ${value} for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be the same type of queue as the source.`,
        );
      }
    }
  }
}

function normalizeAttributes(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = String(val);
  return out;
}

function validateMessageAttributes(v: unknown): Record<string, MessageAttributeValue> {
  if (!v || typeof v !== 'object') return {};
  const out: Record<string, MessageAttributeValue> = {};
  const entries = Object.entries(v as Record<string, Record<string, unknown>>);
  if (entries.length > 10)
    throw new AwsError(
      'InvalidParameterValue',
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`,
    );
  for (const [name, a] of entries) {
    const dataType = str(a?.DataType);
    if (!dataType || !/^(String|Number|Binary)(\..+)?$/.test(dataType)) {
      throw new AwsError(
        'InvalidParameterValue',
        `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
      );
    }
    const isBinary = dataType.startsWith('Binary');
    if (isBinary ? a.BinaryValue === undefined : typeof a.StringValue !== 'string') {
      throw new AwsError(
        'InvalidParameterValue',
        `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${dataType}'.`,
      );
    }
    if (dataType.startsWith('Number') && !Number.isFinite(Number(a.StringValue))) {
      throw new AwsError(
        'InvalidParameterValue',
        `Can't cast the value of message (user) attribute '${name}' to a number.`,
      );
    }
    out[name] = isBinary
      ? { DataType: dataType, BinaryValue: a.BinaryValue as string | Uint8Array }
      : { DataType: dataType, StringValue: a.StringValue as string };
  }
  return out;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: SQS's allowed character set is defined by control ranges
const INVALID_CHARS = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\uD800-\uDBFF\uDC00-\uDFFF]/;

export interface EventSourceMapping {
  uuid: string;
  queueArn: string;
  functionArn: string;
  batchSize: number;
  enabled: boolean;
  /** Concurrent batches (Lambda's maximum concurrency for SQS). */
  maxConcurrency: number;
  reportBatchItemFailures: boolean;
}

export interface SqsService extends ServiceModule {
  addEventSourceMapping(
    queueArn: string,
    functionArn: string,
    batchSize?: number,
    options?: { maxConcurrency?: number; reportBatchItemFailures?: boolean; enabled?: boolean },
  ): EventSourceMapping;
  removeEventSourceMapping(uuid: string): void;
  listEventSourceMappings(): EventSourceMapping[];
  /** Resolves when no event source mapping has visible messages or a batch in flight. */
  idle(timeoutMs?: number): Promise<void>;
  /** Messages currently held by a queue (visible, delayed or in flight), for tests and the CLI. */
  peek(queueName: string): { body: string; receiveCount: number; inFlight: boolean }[];
}

export function sqsService(): SqsService {
  const queues = new Map<string, Queue>();
  const mappings = new Map<string, EventSourceMapping>();
  const handles = new Map<string, { queue: string; messageId: string }>();
  let sandbox: SandboxContext | undefined;
  let stopped = false;
  const pollers: Promise<void>[] = [];
  let busyBatches = 0;

  const now = (): number => (sandbox ? sandbox.clock.now().getTime() : Date.now());

  const queueNameFromUrl = (url: string): string => {
    const trimmed = url.replace(/\/+$/, '');
    return trimmed.slice(trimmed.lastIndexOf('/') + 1);
  };

  const getQueue = (input: Record<string, unknown>): Queue => {
    const url = str(input.QueueUrl);
    if (!url) throw new AwsError('MissingParameter', 'The request must contain the parameter QueueUrl.');
    const q = queues.get(queueNameFromUrl(url));
    if (!q) throw new AwsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return q;
  };

  const queueByArn = (arn: string): Queue | undefined => queues.get(arn.split(':').pop() ?? '');

  const wake = (q: Queue): void => {
    for (const w of q.waiters) w();
    q.waiters.clear();
  };

  const enqueue = (
    q: Queue,
    body: string,
    attrs: Record<string, MessageAttributeValue>,
    opts: { delaySeconds?: number; groupId?: string; dedupId?: string },
  ): {
    MessageId: string;
    MD5OfMessageBody: string;
    MD5OfMessageAttributes?: string;
    SequenceNumber?: string;
  } => {
    if (body.length === 0)
      throw new AwsError('InvalidParameterValue', 'The request must contain the parameter MessageBody.');
    if (INVALID_CHARS.test(body)) {
      throw new AwsError(
        'InvalidMessageContents',
        'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
      );
    }
    const max = Number(q.attributes.MaximumMessageSize ?? MAX_MESSAGE_SIZE);
    if (Buffer.byteLength(body) > max) {
      throw new AwsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`,
      );
    }
    const t = now();
    let dedupId = opts.dedupId;
    if (q.fifo) {
      if (!opts.groupId)
        throw new AwsError('MissingParameter', 'The request must contain the parameter MessageGroupId.');
      if (opts.delaySeconds) {
        throw new AwsError(
          'InvalidParameterValue',
          `Value ${opts.delaySeconds} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`,
        );
      }
      if (!dedupId) {
        if (q.attributes.ContentBasedDeduplication !== 'true') {
          throw new AwsError(
            'InvalidParameterValue',
            'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
          );
        }
        dedupId = createHash('sha256').update(body).digest('hex');
      }
      for (const [k, v] of q.dedup) if (t - v.at > 300_000) q.dedup.delete(k);
      const dup = q.dedup.get(dedupId);
      if (dup) {
        return {
          MessageId: dup.id,
          MD5OfMessageBody: md5Hex(body),
          MD5OfMessageAttributes: md5OfMessageAttributes(attrs),
          SequenceNumber: dup.sequence,
        };
      }
    } else if (opts.groupId !== undefined && opts.groupId === '') {
      throw invalidParam('MessageGroupId', opts.groupId, 'MessageGroupId must not be empty.');
    }
    const delay = opts.delaySeconds ?? Number(q.attributes.DelaySeconds ?? 0);
    const m: Message = {
      id: randomUUID(),
      body,
      md5: md5Hex(body),
      attributes: attrs,
      md5Attributes: md5OfMessageAttributes(attrs),
      sentAt: t,
      visibleAt: t + delay * 1000,
      receiveCount: 0,
      groupId: opts.groupId,
      dedupId,
    };
    if (q.fifo) {
      q.sequence += 1n;
      m.sequence = q.sequence.toString().padStart(20, '1');
      q.dedup.set(dedupId as string, { at: t, id: m.id, sequence: m.sequence });
    }
    q.messages.push(m);
    wake(q);
    return {
      MessageId: m.id,
      MD5OfMessageBody: m.md5,
      MD5OfMessageAttributes: m.md5Attributes,
      SequenceNumber: m.sequence,
    };
  };

  const redrive = (q: Queue): { dlq: Queue; max: number } | undefined => {
    const raw = q.attributes.RedrivePolicy;
    if (!raw) return undefined;
    try {
      const p = JSON.parse(raw) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
      const dlq = p.deadLetterTargetArn ? queueByArn(p.deadLetterTargetArn) : undefined;
      return dlq ? { dlq, max: Number(p.maxReceiveCount) } : undefined;
    } catch {
      return undefined;
    }
  };

  /** Takes up to `max` visible messages, moving over-received ones to the DLQ first. */
  const take = (q: Queue, max: number, visibilitySeconds: number): Message[] => {
    const t = now();
    const retention = Number(q.attributes.MessageRetentionPeriod ?? 345_600) * 1000;
    q.messages = q.messages.filter((m) => t - m.sentAt < retention);
    const rd = redrive(q);
    const out: Message[] = [];
    const blockedGroups = new Set<string>();
    if (q.fifo)
      for (const m of q.messages)
        if (m.visibleAt > t && m.receiveCount > 0 && m.groupId) blockedGroups.add(m.groupId);
    for (const m of [...q.messages]) {
      if (out.length >= max) break;
      if (m.visibleAt > t) continue;
      if (q.fifo && m.groupId && blockedGroups.has(m.groupId)) continue;
      if (rd && m.receiveCount >= rd.max) {
        q.messages.splice(q.messages.indexOf(m), 1);
        if (m.receiptHandle) handles.delete(m.receiptHandle);
        m.receiptHandle = undefined;
        m.visibleAt = t;
        rd.dlq.messages.push({ ...m, receiveCount: m.receiveCount });
        wake(rd.dlq);
        sandbox?.log(
          `sqs: message ${m.id} moved from ${q.name} to DLQ ${rd.dlq.name} after ${m.receiveCount} receives`,
        );
        continue;
      }
      m.receiveCount += 1;
      m.firstReceiveAt ??= t;
      m.visibleAt = t + visibilitySeconds * 1000;
      if (m.receiptHandle) handles.delete(m.receiptHandle);
      m.receiptHandle = Buffer.from(`${q.name}:${m.id}:${randomUUID()}`).toString('base64');
      handles.set(m.receiptHandle, { queue: q.name, messageId: m.id });
      out.push(m);
      if (q.fifo && m.groupId) blockedGroups.add(m.groupId);
    }
    return out;
  };

  const systemAttributes = (m: Message, q: Queue): Record<string, string> => {
    const a: Record<string, string> = {
      SenderId: 'AIDASANDBOX000000000',
      SentTimestamp: String(m.sentAt),
      ApproximateReceiveCount: String(m.receiveCount),
      ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt ?? m.sentAt),
    };
    if (q.fifo) {
      if (m.groupId) a.MessageGroupId = m.groupId;
      if (m.dedupId) a.MessageDeduplicationId = m.dedupId;
      if (m.sequence) a.SequenceNumber = m.sequence;
    }
    return a;
  };

  const findByHandle = (q: Queue, handle: unknown): Message | undefined | 'invalid' => {
    if (typeof handle !== 'string' || handle === '') return 'invalid';
    const ref = handles.get(handle);
    if (!ref) {
      const decoded = Buffer.from(handle, 'base64').toString();
      return decoded.startsWith(`${q.name}:`) ? undefined : 'invalid';
    }
    if (ref.queue !== q.name) return 'invalid';
    return q.messages.find((m) => m.id === ref.messageId);
  };

  const deleteMessage = (q: Queue, handle: unknown): void => {
    const m = findByHandle(q, handle);
    if (m === 'invalid')
      throw new AwsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${String(handle)}" is not a valid receipt handle.`,
        404,
      );
    handles.delete(handle as string);
    if (m && m.receiptHandle === handle) q.messages.splice(q.messages.indexOf(m), 1);
  };

  const changeVisibility = (q: Queue, handle: unknown, seconds: unknown): void => {
    const n = Number(seconds);
    if (!Number.isInteger(n) || n < 0 || n > 43_200) {
      throw invalidParam('VisibilityTimeout', seconds, 'Must be between 0 and 43200, if provided.');
    }
    const m = findByHandle(q, handle);
    if (m === 'invalid')
      throw new AwsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${String(handle)}" is not a valid receipt handle.`,
        404,
      );
    if (!m || m.receiptHandle !== handle || m.visibleAt <= now()) {
      throw new AwsError('MessageNotInflight', 'The message referred to is not in flight.');
    }
    m.visibleAt = now() + n * 1000;
    if (n === 0) wake(q);
  };

  const checkBatch = (entries: unknown, max = 10): Record<string, unknown>[] => {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new AwsError(
        'EmptyBatchRequest',
        'There should be at least one SendMessageBatchRequestEntry in the request.',
      );
    }
    if (entries.length > max) {
      throw new AwsError(
        'TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are ${max}. You have sent ${entries.length}.`,
      );
    }
    const ids = new Set<string>();
    for (const e of entries as Record<string, unknown>[]) {
      const id = str(e.Id);
      if (!id || !/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
        throw new AwsError(
          'InvalidBatchEntryId',
          'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
        );
      }
      if (ids.has(id)) throw new AwsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
      ids.add(id);
    }
    return entries as Record<string, unknown>[];
  };

  const failure = (id: string, err: unknown): Record<string, unknown> => {
    const e = err instanceof AwsError ? err : new AwsError('InternalError', String(err), 500);
    return { Id: id, SenderFault: e.statusCode < 500, Code: e.code, Message: e.message };
  };

  /** A batch API: runs `fn` per entry; each entry succeeds (with what `fn` returned) or fails on its own. */
  const eachEntry = (
    entries: Record<string, unknown>[],
    fn: (entry: Record<string, unknown>) => unknown,
  ): { Successful: Record<string, unknown>[]; Failed: Record<string, unknown>[] } => {
    const Successful: Record<string, unknown>[] = [];
    const Failed: Record<string, unknown>[] = [];
    for (const e of entries) {
      const id = e.Id as string;
      try {
        const result = fn(e);
        Successful.push({ Id: id, ...(result && typeof result === 'object' ? result : {}) });
      } catch (err) {
        Failed.push(failure(id, err));
      }
    }
    return { Successful, Failed };
  };

  const queueAttributes = (q: Queue, names: string[]): Record<string, string> => {
    const t = now();
    const all: Record<string, string> = {
      ...q.attributes,
      QueueArn: q.arn,
      CreatedTimestamp: String(Math.floor(q.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(q.modifiedAt / 1000)),
      ApproximateNumberOfMessages: String(q.messages.filter((m) => m.visibleAt <= t).length),
      ApproximateNumberOfMessagesNotVisible: String(
        q.messages.filter((m) => m.visibleAt > t && m.receiveCount > 0).length,
      ),
      ApproximateNumberOfMessagesDelayed: String(
        q.messages.filter((m) => m.visibleAt > t && m.receiveCount === 0).length,
      ),
    };
    if (names.includes('All')) return all;
    const out: Record<string, string> = {};
    for (const n of names) {
      if (!READABLE.includes(n)) throw new AwsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
      const v = all[n];
      if (v !== undefined) out[n] = v;
    }
    return out;
  };

  const createQueue = (input: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> => {
    const name = str(input.QueueName);
    if (!name) throw new AwsError('MissingParameter', 'The request must contain the parameter QueueName.');
    const attrs = normalizeAttributes(input.Attributes);
    const fifo = name.endsWith('.fifo');
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(fifo ? name.slice(0, -5) : name) || name.length > 80) {
      throw new AwsError(
        'InvalidParameterValue',
        'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    if (attrs.FifoQueue === 'true' && !fifo) {
      throw new AwsError(
        'InvalidParameterValue',
        'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.',
      );
    }
    validateAttributes(attrs, fifo, queues);
    const existing = queues.get(name);
    if (existing) {
      for (const [k, v] of Object.entries(attrs)) {
        if ((existing.attributes[k] ?? DEFAULT_ATTRIBUTES[k]) !== v) {
          throw new AwsError(
            'QueueNameExists',
            `A queue already exists with the same name and a different value for attribute ${k}`,
          );
        }
      }
      return { QueueUrl: existing.url };
    }
    const endpoint = ctx.sandbox.endpoint ?? `http://sqs.${ctx.region}.localhost`;
    const t = now();
    const q: Queue = {
      name,
      url: `${endpoint}/${ctx.accountId}/${name}`,
      arn: `arn:aws:sqs:${ctx.region}:${ctx.accountId}:${name}`,
      fifo,
      attributes: {
        ...DEFAULT_ATTRIBUTES,
        ...(fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : {}),
        ...attrs,
      },
      tags: (input.tags as Record<string, string> | undefined) ?? {},
      createdAt: t,
      modifiedAt: t,
      messages: [],
      dedup: new Map(),
      sequence: 0n,
      waiters: new Set(),
    };
    queues.set(name, q);
    return { QueueUrl: q.url };
  };

  const receive = async (
    input: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<Record<string, unknown>> => {
    const q = getQueue(input);
    const max = intParam(input, 'MaxNumberOfMessages', 1, 10) ?? 1;
    const wait =
      intParam(input, 'WaitTimeSeconds', 0, 20) ?? Number(q.attributes.ReceiveMessageWaitTimeSeconds ?? 0);
    const visibility =
      intParam(input, 'VisibilityTimeout', 0, 43_200) ?? Number(q.attributes.VisibilityTimeout ?? 30);
    const deadline = Date.now() + wait * 1000 * ctx.sandbox.clock.timeScale;
    let got = take(q, max, visibility);
    while (got.length === 0 && Date.now() < deadline && !stopped) {
      const remaining = deadline - Date.now();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(remaining, 50));
        function done(): void {
          clearTimeout(timer);
          q.waiters.delete(done);
          resolve();
        }
        q.waiters.add(done);
      });
      got = take(q, max, visibility);
    }
    const names = [
      ...((input.AttributeNames as string[] | undefined) ?? []),
      ...((input.MessageSystemAttributeNames as string[] | undefined) ?? []),
    ];
    const attrNames = (input.MessageAttributeNames as string[] | undefined) ?? [];
    const wantAttr = (n: string): boolean =>
      attrNames.some(
        (p) => p === 'All' || p === '.*' || p === n || (p.endsWith('.*') && n.startsWith(p.slice(0, -1))),
      );
    return {
      Messages: got.map((m) => {
        const sys = systemAttributes(m, q);
        const selectedSys: Record<string, string> = {};
        for (const [k, v] of Object.entries(sys))
          if (names.includes('All') || names.includes(k)) selectedSys[k] = v;
        const ua: Record<string, MessageAttributeValue> = {};
        for (const [k, v] of Object.entries(m.attributes)) if (wantAttr(k)) ua[k] = v;
        return {
          MessageId: m.id,
          ReceiptHandle: m.receiptHandle,
          MD5OfBody: m.md5,
          Body: m.body,
          Attributes: Object.keys(selectedSys).length ? selectedSys : undefined,
          MessageAttributes: Object.keys(ua).length ? ua : undefined,
          MD5OfMessageAttributes: Object.keys(ua).length ? md5OfMessageAttributes(ua) : undefined,
        };
      }),
    };
  };

  const operations: ServiceModule['operations'] = {
    CreateQueue: createQueue,
    GetQueueUrl(input) {
      const name = str(input.QueueName);
      if (!name) throw new AwsError('MissingParameter', 'The request must contain the parameter QueueName.');
      const q = queues.get(name);
      if (!q) throw new AwsError('QueueDoesNotExist', 'The specified queue does not exist.');
      return { QueueUrl: q.url };
    },
    ListQueues(input) {
      const prefix = str(input.QueueNamePrefix) ?? '';
      return { QueueUrls: [...queues.values()].filter((q) => q.name.startsWith(prefix)).map((q) => q.url) };
    },
    DeleteQueue(input) {
      const q = getQueue(input);
      queues.delete(q.name);
      wake(q);
      return {};
    },
    GetQueueAttributes(input) {
      const q = getQueue(input);
      const names = (input.AttributeNames as string[] | undefined) ?? [];
      return { Attributes: names.length ? queueAttributes(q, names) : undefined };
    },
    SetQueueAttributes(input) {
      const q = getQueue(input);
      const attrs = normalizeAttributes(input.Attributes);
      if ('FifoQueue' in attrs && attrs.FifoQueue !== String(q.fifo)) {
        throw new AwsError(
          'InvalidAttributeValue',
          'Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.',
        );
      }
      validateAttributes(attrs, q.fifo, queues);
      Object.assign(q.attributes, attrs);
      if (attrs.RedrivePolicy === '') delete q.attributes.RedrivePolicy;
      q.modifiedAt = now();
      return {};
    },
    SendMessage(input) {
      const q = getQueue(input);
      const body = str(input.MessageBody);
      if (body === undefined)
        throw new AwsError('MissingParameter', 'The request must contain the parameter MessageBody.');
      return enqueue(q, body, validateMessageAttributes(input.MessageAttributes), {
        delaySeconds: intParam(input, 'DelaySeconds', 0, 900),
        groupId: str(input.MessageGroupId),
        dedupId: str(input.MessageDeduplicationId),
      });
    },
    SendMessageBatch(input) {
      const q = getQueue(input);
      const entries = checkBatch(input.Entries);
      const total = entries.reduce((n, e) => n + Buffer.byteLength(String(e.MessageBody ?? '')), 0);
      if (total > MAX_MESSAGE_SIZE) {
        throw new AwsError(
          'BatchRequestTooLong',
          `Batch requests cannot be longer than ${MAX_MESSAGE_SIZE} bytes. You have sent ${total} bytes.`,
        );
      }
      return eachEntry(entries, (e) => {
        const body = str(e.MessageBody);
        if (body === undefined)
          throw new AwsError('MissingParameter', 'The request must contain the parameter MessageBody.');
        return enqueue(q, body, validateMessageAttributes(e.MessageAttributes), {
          delaySeconds: intParam(e, 'DelaySeconds', 0, 900),
          groupId: str(e.MessageGroupId),
          dedupId: str(e.MessageDeduplicationId),
        });
      });
    },
    ReceiveMessage: receive,
    DeleteMessage(input) {
      const q = getQueue(input);
      deleteMessage(q, input.ReceiptHandle);
      return {};
    },
    DeleteMessageBatch(input) {
      const q = getQueue(input);
      const entries = checkBatch(input.Entries);
      return eachEntry(entries, (e) => {
        deleteMessage(q, e.ReceiptHandle);
      });
    },
    ChangeMessageVisibility(input) {
      const q = getQueue(input);
      changeVisibility(q, input.ReceiptHandle, input.VisibilityTimeout);
      return {};
    },
    ChangeMessageVisibilityBatch(input) {
      const q = getQueue(input);
      const entries = checkBatch(input.Entries);
      return eachEntry(entries, (e) => {
        changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout);
      });
    },
    PurgeQueue(input) {
      const q = getQueue(input);
      const t = now();
      if (q.lastPurge !== undefined && t - q.lastPurge < 60_000) {
        throw new AwsError(
          'PurgeQueueInProgress',
          `Only one PurgeQueue operation on ${q.name} is allowed every 60 seconds.`,
          403,
        );
      }
      q.lastPurge = t;
      for (const m of q.messages) if (m.receiptHandle) handles.delete(m.receiptHandle);
      q.messages = [];
      return {};
    },
  };

  // ---------------------------------------------------------------- event source mappings

  const runBatch = async (ctx: SandboxContext, mapping: EventSourceMapping, q: Queue): Promise<boolean> => {
    const visibility = Number(q.attributes.VisibilityTimeout ?? 30);
    const batch = take(q, mapping.batchSize, visibility);
    if (batch.length === 0) return false;
    busyBatches++;
    try {
      const event = {
        Records: batch.map((m) => ({
          messageId: m.id,
          receiptHandle: m.receiptHandle,
          body: m.body,
          attributes: systemAttributes(m, q),
          messageAttributes: Object.fromEntries(
            Object.entries(m.attributes).map(([k, v]) => [
              k,
              {
                stringValue: v.StringValue,
                binaryValue:
                  typeof v.BinaryValue === 'string'
                    ? v.BinaryValue
                    : v.BinaryValue
                      ? Buffer.from(v.BinaryValue).toString('base64')
                      : undefined,
                stringListValues: [],
                binaryListValues: [],
                dataType: v.DataType,
              },
            ]),
          ),
          md5OfBody: m.md5,
          eventSource: 'aws:sqs',
          eventSourceARN: q.arn,
          awsRegion: ctx.region,
        })),
      };
      let failedIds: Set<string> | 'all' = new Set();
      try {
        const result = await ctx.invokeFunction(mapping.functionArn, event);
        const failures = (result as { batchItemFailures?: { itemIdentifier?: unknown }[] } | undefined)
          ?.batchItemFailures;
        if (mapping.reportBatchItemFailures && Array.isArray(failures)) {
          const ids = new Set(batch.map((m) => m.id));
          const reported = failures.map((f) => f?.itemIdentifier);
          failedIds = reported.every((id) => typeof id === 'string' && ids.has(id))
            ? new Set(reported as string[])
            : 'all';
        }
      } catch (err) {
        failedIds = 'all';
        ctx.log(
          `sqs: ${mapping.functionArn} failed on a batch of ${batch.length} from ${q.name}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
        );
      }
      for (const m of batch) {
        const failed = failedIds === 'all' || failedIds.has(m.id);
        if (!failed && m.receiptHandle) deleteMessage(q, m.receiptHandle);
      }
      return true;
    } finally {
      busyBatches--;
    }
  };

  const pollLoop = async (ctx: SandboxContext, mapping: EventSourceMapping): Promise<void> => {
    while (!stopped && mappings.has(mapping.uuid)) {
      const q = queueByArn(mapping.queueArn);
      let worked = false;
      if (q && mapping.enabled) {
        try {
          worked = await runBatch(ctx, mapping, q);
        } catch (err) {
          ctx.log(
            `sqs: event source mapping ${mapping.uuid} poll failed: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      if (!worked) {
        // wait for a send/visibility change, or re-check for expiring visibility timeouts
        const pollMs = Math.max(5, Math.min(1000, 1000 * ctx.clock.timeScale));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, pollMs);
          function done(): void {
            clearTimeout(timer);
            q?.waiters.delete(done);
            resolve();
          }
          q?.waiters.add(done);
        });
      }
    }
  };

  const service: SqsService = {
    serviceName: 'sqs',
    signingName: 'sqs',
    protocol: 'awsJson1_0',
    targetPrefix: 'AmazonSQS',
    awsQueryCompatible: QUERY_CODES,
    operations,
    start(ctx) {
      sandbox = ctx;
      stopped = false;
      registerTargetHandler(ctx, 'sqs', async (arn, message) => {
        const q = queueByArn(arn);
        if (!q) throw new AwsError('QueueDoesNotExist', `Target queue ${arn} does not exist.`);
        enqueue(
          q,
          message,
          {},
          { groupId: q.fifo ? 'default' : undefined, dedupId: q.fifo ? randomUUID() : undefined },
        );
      });
      for (const m of mappings.values()) {
        for (let i = 0; i < m.maxConcurrency; i++) pollers.push(pollLoop(ctx, m));
      }
    },
    async stop() {
      stopped = true;
      for (const q of queues.values()) wake(q);
      // a batch whose function never returns must not hold the sandbox open
      await Promise.race([
        Promise.allSettled(pollers),
        new Promise<void>((r) => setTimeout(r, 5000).unref()),
      ]);
    },
    addEventSourceMapping(queueArn, functionArn, batchSize = 10, options = {}) {
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
        throw new AwsError('InvalidParameterValueException', 'BatchSize must be between 1 and 10000.');
      }
      const mapping: EventSourceMapping = {
        uuid: randomUUID(),
        queueArn,
        functionArn,
        batchSize: Math.min(batchSize, 10),
        enabled: options.enabled ?? true,
        maxConcurrency: Math.max(1, options.maxConcurrency ?? 2),
        reportBatchItemFailures: options.reportBatchItemFailures ?? true,
      };
      mappings.set(mapping.uuid, mapping);
      if (sandbox && !stopped) {
        for (let i = 0; i < mapping.maxConcurrency; i++) pollers.push(pollLoop(sandbox, mapping));
      }
      return mapping;
    },
    removeEventSourceMapping(uuid) {
      mappings.delete(uuid);
    },
    listEventSourceMappings: () => [...mappings.values()],
    async idle(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      const pendingWork = (): boolean => {
        if (busyBatches > 0) return true;
        const t = now();
        return [...mappings.values()].some((m) => {
          const q = queueByArn(m.queueArn);
          return m.enabled && q?.messages.some((msg) => msg.visibleAt <= t);
        });
      };
      while (pendingWork()) {
        if (Date.now() > deadline) throw new Error('sqs: event source mappings still busy');
        await sleepMs(5);
      }
    },
    peek(queueName) {
      const q = queues.get(queueName);
      const t = now();
      return (q?.messages ?? []).map((m) => ({
        body: m.body,
        receiveCount: m.receiveCount,
        inFlight: m.visibleAt > t && m.receiveCount > 0,
      }));
    },
  };
  return service;
}

/** The sandbox's SQS module (for the installer / Lambda CreateEventSourceMapping). */
export function sqsOf(ctx: SandboxContext): SqsService | undefined {
  const m = serviceModule(ctx, 'sqs');
  return m && 'addEventSourceMapping' in m ? (m as SqsService) : undefined;
}
