/**
 * Queue and message attributes as SQS validates them: which queue attributes exist, which may be set,
 * their ranges, RedrivePolicy's rules, and message attributes (at most 10, typed String/Number/Binary).
 */
import { AwsError } from '../../core/types';
import { invalidAttributeValue, invalidParam, unknownAttribute } from './errors';
import type { MessageAttributeValue } from './md5';

export const MAX_MESSAGE_SIZE = 262_144;

export const DEFAULT_ATTRIBUTES: Record<string, string> = {
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

/** Attributes GetQueueAttributes may name. */
export const READABLE = [
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

const FIFO_ONLY = new Set(['ContentBasedDeduplication', 'FifoThroughputLimit', 'DeduplicationScope']);

// biome-ignore lint/suspicious/noControlCharactersInRegex: SQS's allowed character set is defined by control ranges
export const INVALID_CHARS = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\uD800-\uDBFF\uDC00-\uDFFF]/;

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** An optional integer parameter within [min, max]. */
export function intParam(
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

/** A dead-letter queue as RedrivePolicy validation needs to see it. */
export interface RedriveTarget {
  fifo: boolean;
}

function validateRedrivePolicy(
  value: string,
  fifo: boolean,
  dlqByArn: (arn: string) => RedriveTarget | undefined,
): void {
  let p: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
  try {
    p = JSON.parse(value) as typeof p;
  } catch {
    throw invalidAttributeValue(
      'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.',
    );
  }
  const max = Number(p.maxReceiveCount);
  if (typeof p.deadLetterTargetArn !== 'string' || !Number.isInteger(max) || max < 1 || max > 1000) {
    throw invalidAttributeValue(
      'Value for parameter RedrivePolicy is invalid. Reason: Redrive policy must contain deadLetterTargetArn and maxReceiveCount between 1 and 1000.',
    );
  }
  const dlq = dlqByArn(p.deadLetterTargetArn);
  const invalid = (reason: string) =>
    invalidAttributeValue(`Value ${value} for parameter RedrivePolicy is invalid. Reason: ${reason}`);
  if (!dlq) throw invalid('Dead letter target does not exist.');
  if (dlq.fifo !== fifo) throw invalid('Dead-letter queue must be the same type of queue as the source.');
}

/** Queue attributes a caller may set: known names, values in range, FIFO-only ones on FIFO queues. */
export function validateAttributes(
  attrs: Record<string, string>,
  fifo: boolean,
  dlqByArn: (arn: string) => RedriveTarget | undefined,
): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (!SETTABLE.has(name) || (FIFO_ONLY.has(name) && !fifo)) throw unknownAttribute(name);
    const range = RANGES[name];
    if (range) {
      const n = Number(value);
      if (!/^\d+$/.test(String(value)) || n < range[0] || n > range[1]) {
        throw invalidAttributeValue(`Invalid value for the parameter ${name}.`);
      }
    }
    if (name === 'RedrivePolicy' && value !== '') validateRedrivePolicy(value, fifo, dlqByArn);
  }
}

export function normalizeAttributes(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = String(val);
  return out;
}

function messageAttribute(name: string, a: Record<string, unknown> | undefined): MessageAttributeValue {
  const dataType = str(a?.DataType);
  if (!a || !dataType || !/^(String|Number|Binary)(\..+)?$/.test(dataType)) {
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
  return isBinary
    ? { DataType: dataType, BinaryValue: a.BinaryValue as string | Uint8Array }
    : { DataType: dataType, StringValue: a.StringValue as string };
}

/** A message's attributes: at most 10, each typed String, Number or Binary (with a custom suffix). */
export function validateMessageAttributes(v: unknown): Record<string, MessageAttributeValue> {
  if (!v || typeof v !== 'object') return {};
  const entries = Object.entries(v as Record<string, Record<string, unknown> | undefined>);
  if (entries.length > 10)
    throw new AwsError(
      'InvalidParameterValue',
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`,
    );
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, a] of entries) out[name] = messageAttribute(name, a);
  return out;
}
