/**
 * SQS errors: the awsJson error codes the SDK maps to typed exceptions, the legacy awsQuery codes
 * (sent in `x-amzn-query-error` by the JSON protocol and as `<Code>` by the query protocol), and one
 * constructor per error the operations raise.
 */
import { AwsError } from '../../core/types';

/** awsJson code → awsQuery code (the service's awsQueryCompatible trait). */
export const QUERY_CODES: Record<string, string> = {
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
  KmsAccessDenied: 'KMS.AccessDeniedException',
  KmsNotFound: 'KMS.NotFoundException',
  KmsDisabled: 'KMS.DisabledException',
};

export const missingParameter = (name: string): AwsError =>
  new AwsError('MissingParameter', `The request must contain the parameter ${name}.`);

export const invalidParam = (name: string, value: unknown, reason: string): AwsError =>
  new AwsError(
    'InvalidParameterValue',
    `Value ${String(value)} for parameter ${name} is invalid. Reason: ${reason}`,
  );

export const queueDoesNotExist = (message = 'The specified queue does not exist.'): AwsError =>
  new AwsError('QueueDoesNotExist', message);

export const unknownAttribute = (name: string): AwsError =>
  new AwsError('InvalidAttributeName', `Unknown Attribute ${name}.`);

export const invalidAttributeValue = (message: string): AwsError =>
  new AwsError('InvalidAttributeValue', message);

export const receiptHandleIsInvalid = (handle: unknown): AwsError =>
  new AwsError(
    'ReceiptHandleIsInvalid',
    `The input receipt handle "${String(handle)}" is not a valid receipt handle.`,
    404,
  );

export const messageNotInflight = (): AwsError =>
  new AwsError('MessageNotInflight', 'The message referred to is not in flight.');

export const purgeInProgress = (queue: string): AwsError =>
  new AwsError(
    'PurgeQueueInProgress',
    `Only one PurgeQueue operation on ${queue} is allowed every 60 seconds.`,
    403,
  );
