/**
 * SQS operations over SDK shapes (the server decodes awsJson1.0 or awsQuery into the same input): one
 * small function per API operation, reading parameters, calling the store, shaping the result.
 */
import type { OperationHandler, RequestContext } from '../../core/types';
import { AwsError } from '../../core/types';
import {
  DEFAULT_ATTRIBUTES,
  intParam,
  MAX_MESSAGE_SIZE,
  normalizeAttributes,
  READABLE,
  str,
  validateAttributes,
  validateMessageAttributes,
} from './attributes';
import { missingParameter, queueDoesNotExist, unknownAttribute } from './errors';
import { type MessageAttributeValue, md5OfMessageAttributes } from './md5';
import type { Message, Queue, SqsStore } from './store';

type Input = Record<string, unknown>;
type Entry = Record<string, unknown>;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s) => typeof s === 'string') : []);

function checkQueueName(name: string, attrs: Record<string, string>): void {
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
}

/** Batch entries: 1..max, each with a distinct, well-formed Id. */
function checkBatch(entries: unknown, max = 10): Entry[] {
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
  for (const e of entries as Entry[]) {
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
  return entries as Entry[];
}

/** A batch API: runs `fn` per entry; each entry succeeds (with what `fn` returned) or fails on its own. */
function eachEntry(
  entries: Entry[],
  fn: (entry: Entry) => unknown,
): { Successful: Entry[]; Failed: Entry[] } {
  const Successful: Entry[] = [];
  const Failed: Entry[] = [];
  for (const e of entries) {
    const id = e.Id as string;
    try {
      const result = fn(e);
      Successful.push({ Id: id, ...(result && typeof result === 'object' ? result : {}) });
    } catch (err) {
      const x = err instanceof AwsError ? err : new AwsError('InternalError', String(err), 500);
      Failed.push({ Id: id, SenderFault: x.statusCode < 500, Code: x.code, Message: x.message });
    }
  }
  return { Successful, Failed };
}

function queueAttributes(store: SqsStore, q: Queue, names: string[]): Record<string, string> {
  const counts = store.counts(q);
  const all: Record<string, string> = {
    ...q.attributes,
    QueueArn: q.arn,
    CreatedTimestamp: String(Math.floor(q.createdAt / 1000)),
    LastModifiedTimestamp: String(Math.floor(q.modifiedAt / 1000)),
    ApproximateNumberOfMessages: String(counts.visible),
    ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
    ApproximateNumberOfMessagesDelayed: String(counts.delayed),
  };
  if (names.includes('All')) return all;
  const out: Record<string, string> = {};
  for (const n of names) {
    if (!READABLE.includes(n)) throw unknownAttribute(n);
    const v = all[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/** A received message as ReceiveMessage returns it, with the system and message attributes asked for. */
function receivedMessage(store: SqsStore, q: Queue, m: Message, input: Input): Entry {
  const names = [...strings(input.AttributeNames), ...strings(input.MessageSystemAttributeNames)];
  const attrNames = strings(input.MessageAttributeNames);
  const wantAttr = (n: string): boolean =>
    attrNames.some(
      (p) => p === 'All' || p === '.*' || p === n || (p.endsWith('.*') && n.startsWith(p.slice(0, -1))),
    );
  const sys: Record<string, string> = {};
  for (const [k, v] of Object.entries(store.systemAttributes(m, q)))
    if (names.includes('All') || names.includes(k)) sys[k] = v;
  const ua: Record<string, MessageAttributeValue> = {};
  for (const [k, v] of Object.entries(m.attributes)) if (wantAttr(k)) ua[k] = v;
  const hasUa = Object.keys(ua).length > 0;
  return {
    MessageId: m.id,
    ReceiptHandle: m.receiptHandle,
    MD5OfBody: m.md5,
    Body: m.body,
    Attributes: Object.keys(sys).length ? sys : undefined,
    MessageAttributes: hasUa ? ua : undefined,
    MD5OfMessageAttributes: hasUa ? md5OfMessageAttributes(ua) : undefined,
  };
}

function sendEntry(store: SqsStore, q: Queue, e: Entry) {
  const body = str(e.MessageBody);
  if (body === undefined) throw missingParameter('MessageBody');
  return store.send(q, body, validateMessageAttributes(e.MessageAttributes), {
    delaySeconds: intParam(e, 'DelaySeconds', 0, 900),
    groupId: str(e.MessageGroupId),
    dedupId: str(e.MessageDeduplicationId),
  });
}

function CreateQueue({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  const name = str(input.QueueName);
  if (!name) throw missingParameter('QueueName');
  const attrs = normalizeAttributes(input.Attributes);
  checkQueueName(name, attrs);
  validateAttributes(attrs, name.endsWith('.fifo'), (arn) => store.byArn(arn));
  const existing = store.find(ctx, name);
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
  const tags = (input.tags as Record<string, string> | undefined) ?? {};
  return {
    QueueUrl: store.createQueue(name, attrs, tags, { endpoint, region: ctx.region, accountId: ctx.accountId })
      .url,
  };
}

function GetQueueUrl({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  const name = str(input.QueueName);
  if (!name) throw missingParameter('QueueName');
  // QueueOwnerAWSAccountId names another account's queue (its policy must admit the caller: IAM checks).
  const owner = str(input.QueueOwnerAWSAccountId) ?? ctx.accountId;
  const q = store.find({ accountId: owner, region: ctx.region }, name);
  if (!q) throw queueDoesNotExist();
  return { QueueUrl: q.url };
}

function ListQueues({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  const prefix = str(input.QueueNamePrefix) ?? '';
  return {
    QueueUrls: store
      .list(ctx)
      .filter((q) => q.name.startsWith(prefix))
      .map((q) => q.url),
  };
}

function DeleteQueue({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  store.deleteQueue(store.byUrl(str(input.QueueUrl), ctx));
  return {};
}

function GetQueueAttributes({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  const q = store.byUrl(str(input.QueueUrl), ctx);
  const names = strings(input.AttributeNames);
  return { Attributes: names.length ? queueAttributes(store, q, names) : undefined };
}

function SetQueueAttributes({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  const q = store.byUrl(str(input.QueueUrl), ctx);
  const attrs = normalizeAttributes(input.Attributes);
  if ('FifoQueue' in attrs && attrs.FifoQueue !== String(q.fifo)) {
    throw new AwsError(
      'InvalidAttributeValue',
      'Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.',
    );
  }
  validateAttributes(attrs, q.fifo, (arn) => store.byArn(arn));
  Object.assign(q.attributes, attrs);
  if (attrs.RedrivePolicy === '') delete q.attributes.RedrivePolicy;
  q.modifiedAt = store.now();
  return {};
}

function SendMessage({ store }: SqsState, input: Input, ctx: RequestContext) {
  return sendEntry(store, store.byUrl(str(input.QueueUrl), ctx), input);
}

function SendMessageBatch({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  const q = store.byUrl(str(input.QueueUrl), ctx);
  const entries = checkBatch(input.Entries);
  const total = entries.reduce((n, e) => n + Buffer.byteLength(String(e.MessageBody ?? '')), 0);
  if (total > MAX_MESSAGE_SIZE) {
    throw new AwsError(
      'BatchRequestTooLong',
      `Batch requests cannot be longer than ${MAX_MESSAGE_SIZE} bytes. You have sent ${total} bytes.`,
    );
  }
  return eachEntry(entries, (e) => sendEntry(store, q, e));
}

/** Long polls on the sandbox clock until a message is visible or WaitTimeSeconds pass. */
async function ReceiveMessage(
  { store, stopped }: SqsState,
  input: Input,
  ctx: RequestContext,
): Promise<Entry> {
  const q = store.byUrl(str(input.QueueUrl), ctx);
  const max = intParam(input, 'MaxNumberOfMessages', 1, 10) ?? 1;
  const wait =
    intParam(input, 'WaitTimeSeconds', 0, 20) ?? Number(q.attributes.ReceiveMessageWaitTimeSeconds ?? 0);
  const visibility =
    intParam(input, 'VisibilityTimeout', 0, 43_200) ?? Number(q.attributes.VisibilityTimeout ?? 30);
  const deadline = Date.now() + wait * 1000 * ctx.sandbox.clock.timeScale;
  let got = store.take(q, max, visibility);
  while (got.length === 0 && Date.now() < deadline && !stopped()) {
    await store.waitFor(q, Math.min(deadline - Date.now(), 50));
    got = store.take(q, max, visibility);
  }
  return { Messages: got.map((m) => receivedMessage(store, q, m, input)) };
}

function DeleteMessage({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  store.deleteMessage(store.byUrl(str(input.QueueUrl), ctx), input.ReceiptHandle);
  return {};
}

function DeleteMessageBatch({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  const q = store.byUrl(str(input.QueueUrl), ctx);
  return eachEntry(checkBatch(input.Entries), (e) => store.deleteMessage(q, e.ReceiptHandle));
}

function ChangeMessageVisibility({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  store.changeVisibility(store.byUrl(str(input.QueueUrl), ctx), input.ReceiptHandle, input.VisibilityTimeout);
  return {};
}

function ChangeMessageVisibilityBatch({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  const q = store.byUrl(str(input.QueueUrl), ctx);
  return eachEntry(checkBatch(input.Entries), (e) =>
    store.changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout),
  );
}

function PurgeQueue({ store }: SqsState, input: Input, ctx: RequestContext): Entry {
  store.purge(store.byUrl(str(input.QueueUrl), ctx));
  return {};
}

/** What the operations work on: the store, and whether the sandbox is stopping (ends long polls). */
export interface SqsState {
  store: SqsStore;
  stopped: () => boolean;
}

type Operation = (state: SqsState, input: Input, ctx: RequestContext) => unknown;

const OPERATIONS: Record<string, Operation> = {
  CreateQueue,
  GetQueueUrl,
  ListQueues,
  DeleteQueue,
  GetQueueAttributes,
  SetQueueAttributes,
  SendMessage,
  SendMessageBatch,
  ReceiveMessage,
  DeleteMessage,
  DeleteMessageBatch,
  ChangeMessageVisibility,
  ChangeMessageVisibilityBatch,
  PurgeQueue,
};

/** The SQS API over `state`, by operation name. */
export function sqsOperations(state: SqsState): Record<string, OperationHandler> {
  return Object.fromEntries(
    Object.entries(OPERATIONS).map(([name, op]) => [
      name,
      (input: Input, ctx: RequestContext) => op(state, input, ctx),
    ]),
  );
}
