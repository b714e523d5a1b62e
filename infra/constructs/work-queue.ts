/**
 * A task function's work queue: KMS-encrypted with the stack's key, TLS only, redelivered after 6× the
 * function's timeout (Lambda's advice for SQS event sources), and after `maxReceiveCount` receives moved to
 * its dead-letter queue (same encryption, kept 14 days). Construct ids `<prefix>Queue` and
 * `<prefix>DeadLetterQueue` under `scope`.
 */
import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { FUNCTION_TIMEOUT_SECONDS } from '../../workflows/remediation';

export interface WorkQueue {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

export function workQueue(
  scope: Construct,
  prefix: string,
  key: kms.IKey,
  maxReceiveCount: number,
): WorkQueue {
  const deadLetterQueue = new sqs.Queue(scope, `${prefix}DeadLetterQueue`, {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: key,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const queue = new sqs.Queue(scope, `${prefix}Queue`, {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: key,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS * 6),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}
