/**
 * The SQS model: queues and their messages, visibility timeouts, delays, retention, FIFO ordering
 * (message groups) and deduplication, receipt handles, redrive to a dead-letter queue, and the waiters
 * long polls and event source mappings sleep on. Operations (operations.ts) and event source mappings
 * (event-source-mappings.ts) work on this store; it speaks no wire protocol.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { SandboxContext } from '../../core/types';
import { AwsError } from '../../core/types';
import { DEFAULT_ATTRIBUTES, INVALID_CHARS, MAX_MESSAGE_SIZE } from './attributes';
import {
  invalidParam,
  messageNotInflight,
  missingParameter,
  purgeInProgress,
  queueDoesNotExist,
  receiptHandleIsInvalid,
} from './errors';
import { type MessageAttributeValue, md5Hex, md5OfMessageAttributes } from './md5';

export interface Message {
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

export interface Queue {
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

export interface SendOptions {
  delaySeconds?: number;
  groupId?: string;
  dedupId?: string;
}

export interface SendResult {
  MessageId: string;
  MD5OfMessageBody: string;
  MD5OfMessageAttributes?: string;
  SequenceNumber?: string;
}

const DEDUP_WINDOW_MS = 300_000;

/** An account-region: queues of the same name in two of them are two queues. */
export interface Scope {
  accountId: string;
  region: string;
}

export const queueArn = (scope: Scope, name: string): string =>
  `arn:aws:sqs:${scope.region}:${scope.accountId}:${name}`;

/** The queue URL: the sandbox endpoint, then `queue/REGION/ACCOUNT/NAME` (LocalStack's path style). */
export const queueUrl = (endpoint: string, scope: Scope, name: string): string =>
  `${endpoint}/queue/${scope.region}/${scope.accountId}/${name}`;

function checkBody(body: string, q: Queue): void {
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
}

/** The FIFO rules for a send: a group id, no per-message delay, a deduplication id (given or from the body). */
function fifoDedupId(q: Queue, body: string, opts: SendOptions): string {
  if (!opts.groupId) throw missingParameter('MessageGroupId');
  if (opts.delaySeconds) {
    throw invalidParam(
      'DelaySeconds',
      opts.delaySeconds,
      'The request include parameter that is not valid for this queue type.',
    );
  }
  if (opts.dedupId) return opts.dedupId;
  if (q.attributes.ContentBasedDeduplication !== 'true') {
    throw new AwsError(
      'InvalidParameterValue',
      'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
    );
  }
  return createHash('sha256').update(body).digest('hex');
}

export class SqsStore {
  /** Every account-region's queues, by ARN. */
  readonly queues = new Map<string, Queue>();
  /** Receipt handle → the message it was issued for. */
  private readonly handles = new Map<string, { queue: string; messageId: string }>();
  sandbox: SandboxContext | undefined;

  now(): number {
    return this.sandbox ? this.sandbox.clock.now().getTime() : Date.now();
  }

  createQueue(
    name: string,
    attrs: Record<string, string>,
    tags: Record<string, string>,
    where: { endpoint: string; region: string; accountId: string },
  ): Queue {
    const fifo = name.endsWith('.fifo');
    const t = this.now();
    const q: Queue = {
      name,
      url: queueUrl(where.endpoint, where, name),
      arn: queueArn(where, name),
      fifo,
      attributes: {
        ...DEFAULT_ATTRIBUTES,
        ...(fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : {}),
        ...attrs,
      },
      tags,
      createdAt: t,
      modifiedAt: t,
      messages: [],
      dedup: new Map(),
      sequence: 0n,
      waiters: new Set(),
    };
    this.queues.set(q.arn, q);
    return q;
  }

  deleteQueue(q: Queue): void {
    this.queues.delete(q.arn);
    this.wake(q);
  }

  /** The queue named `name` in an account-region. */
  find(scope: Scope, name: string): Queue | undefined {
    return this.queues.get(queueArn(scope, name));
  }

  /** The queues of an account-region. */
  list(scope: Scope): Queue[] {
    const prefix = queueArn(scope, '');
    return [...this.queues.values()].filter((q) => q.arn.startsWith(prefix));
  }

  /**
   * The queue a QueueUrl names: `…/queue/REGION/ACCOUNT/NAME`, or `…/ACCOUNT/NAME` in the request's region
   * (`where`). The owner account comes from the URL, so another account's queue is found (IAM decides
   * whether the caller may use it: the queue policy must admit a caller from another account).
   */
  byUrl(url: string | undefined, where: Scope): Queue {
    if (!url) throw missingParameter('QueueUrl');
    const parts = url.replace(/\/+$/, '').split('/');
    const name = parts.at(-1) ?? '';
    const account = parts.at(-2) ?? '';
    const region = parts.at(-4) === 'queue' ? (parts.at(-3) ?? '') : where.region;
    const q = /^\d{12}$/.test(account) ? this.find({ accountId: account, region }, name) : undefined;
    if (!q) throw queueDoesNotExist();
    return q;
  }

  byArn(arn: string): Queue | undefined {
    return this.queues.get(arn);
  }

  /** Wakes every long poll and poller waiting on `q`. */
  wake(q: Queue): void {
    for (const w of q.waiters) w();
    q.waiters.clear();
  }

  /** Sleeps until `q` changes or `ms` pass. */
  waitFor(q: Queue | undefined, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        q?.waiters.delete(done);
        resolve();
      }
      q?.waiters.add(done);
    });
  }

  send(q: Queue, body: string, attrs: Record<string, MessageAttributeValue>, opts: SendOptions): SendResult {
    checkBody(body, q);
    const t = this.now();
    let dedupId = opts.dedupId;
    if (q.fifo) {
      dedupId = fifoDedupId(q, body, opts);
      for (const [k, v] of q.dedup) if (t - v.at > DEDUP_WINDOW_MS) q.dedup.delete(k);
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
    if (q.fifo && dedupId) {
      q.sequence += 1n;
      m.sequence = q.sequence.toString().padStart(20, '1');
      q.dedup.set(dedupId, { at: t, id: m.id, sequence: m.sequence });
    }
    q.messages.push(m);
    this.wake(q);
    return {
      MessageId: m.id,
      MD5OfMessageBody: m.md5,
      MD5OfMessageAttributes: m.md5Attributes,
      SequenceNumber: m.sequence,
    };
  }

  private redrive(q: Queue): { dlq: Queue; max: number } | undefined {
    const raw = q.attributes.RedrivePolicy;
    if (!raw) return undefined;
    try {
      const p = JSON.parse(raw) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
      const dlq = p.deadLetterTargetArn ? this.byArn(p.deadLetterTargetArn) : undefined;
      return dlq ? { dlq, max: Number(p.maxReceiveCount) } : undefined;
    } catch {
      return undefined;
    }
  }

  private moveToDeadLetter(q: Queue, m: Message, dlq: Queue, t: number): void {
    q.messages.splice(q.messages.indexOf(m), 1);
    if (m.receiptHandle) this.handles.delete(m.receiptHandle);
    m.receiptHandle = undefined;
    m.visibleAt = t;
    dlq.messages.push({ ...m, receiveCount: m.receiveCount });
    this.wake(dlq);
    this.sandbox?.log(
      `sqs: message ${m.id} moved from ${q.name} to DLQ ${dlq.name} after ${m.receiveCount} receives`,
    );
  }

  private issueHandle(q: Queue, m: Message, t: number, visibilitySeconds: number): void {
    m.receiveCount += 1;
    m.firstReceiveAt ??= t;
    m.visibleAt = t + visibilitySeconds * 1000;
    if (m.receiptHandle) this.handles.delete(m.receiptHandle);
    m.receiptHandle = Buffer.from(`${q.name}:${m.id}:${randomUUID()}`).toString('base64');
    this.handles.set(m.receiptHandle, { queue: q.arn, messageId: m.id });
  }

  /** Takes up to `max` visible messages, moving over-received ones to the DLQ first. */
  take(q: Queue, max: number, visibilitySeconds: number): Message[] {
    const t = this.now();
    const retention = Number(q.attributes.MessageRetentionPeriod ?? 345_600) * 1000;
    q.messages = q.messages.filter((m) => t - m.sentAt < retention);
    const rd = this.redrive(q);
    const out: Message[] = [];
    // A FIFO group with a message in flight delivers nothing more until that message is done.
    const blockedGroups = new Set<string>();
    if (q.fifo)
      for (const m of q.messages)
        if (m.visibleAt > t && m.receiveCount > 0 && m.groupId) blockedGroups.add(m.groupId);
    for (const m of [...q.messages]) {
      if (out.length >= max) break;
      if (m.visibleAt > t) continue;
      if (q.fifo && m.groupId && blockedGroups.has(m.groupId)) continue;
      if (rd && m.receiveCount >= rd.max) {
        this.moveToDeadLetter(q, m, rd.dlq, t);
        continue;
      }
      this.issueHandle(q, m, t, visibilitySeconds);
      out.push(m);
      if (q.fifo && m.groupId) blockedGroups.add(m.groupId);
    }
    return out;
  }

  systemAttributes(m: Message, q: Queue): Record<string, string> {
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
  }

  /** The message a receipt handle was issued for; undefined when it is gone, throws when the handle is not one. */
  private byHandle(q: Queue, handle: unknown): { message: Message | undefined; handle: string } {
    if (typeof handle !== 'string' || handle === '') throw receiptHandleIsInvalid(handle);
    const ref = this.handles.get(handle);
    if (!ref) {
      const decoded = Buffer.from(handle, 'base64').toString();
      if (!decoded.startsWith(`${q.name}:`)) throw receiptHandleIsInvalid(handle);
      return { message: undefined, handle };
    }
    if (ref.queue !== q.arn) throw receiptHandleIsInvalid(handle);
    return { message: q.messages.find((m) => m.id === ref.messageId), handle };
  }

  deleteMessage(q: Queue, receiptHandle: unknown): void {
    const { message: m, handle } = this.byHandle(q, receiptHandle);
    this.handles.delete(handle);
    if (m && m.receiptHandle === handle) q.messages.splice(q.messages.indexOf(m), 1);
  }

  changeVisibility(q: Queue, receiptHandle: unknown, seconds: unknown): void {
    const n = Number(seconds);
    if (!Number.isInteger(n) || n < 0 || n > 43_200) {
      throw invalidParam('VisibilityTimeout', seconds, 'Must be between 0 and 43200, if provided.');
    }
    const { message: m, handle } = this.byHandle(q, receiptHandle);
    if (!m || m.receiptHandle !== handle || m.visibleAt <= this.now()) throw messageNotInflight();
    m.visibleAt = this.now() + n * 1000;
    if (n === 0) this.wake(q);
  }

  purge(q: Queue): void {
    const t = this.now();
    if (q.lastPurge !== undefined && t - q.lastPurge < 60_000) throw purgeInProgress(q.name);
    q.lastPurge = t;
    for (const m of q.messages) if (m.receiptHandle) this.handles.delete(m.receiptHandle);
    q.messages = [];
  }

  /** Message counts as GetQueueAttributes reports them. */
  counts(q: Queue): { visible: number; inFlight: number; delayed: number } {
    const t = this.now();
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const m of q.messages) {
      if (m.visibleAt <= t) visible++;
      else if (m.receiveCount > 0) inFlight++;
      else delayed++;
    }
    return { visible, inFlight, delayed };
  }
}
