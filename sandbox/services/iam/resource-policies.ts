/**
 * What IAM reads from the resource a call acts on: its resource-based policy — an SQS queue's or SNS
 * topic's `Policy` attribute, an S3 bucket's policy (for the bucket and its objects), a Lambda function's policy, a KMS key's key policy — and, for a queue, topic, secret or table encrypted with a KMS key,
 * that key (`KmsMasterKeyId`, a secret's `KmsKeyId`, a table's `SSEDescription.KMSMasterKeyArn`). Read through the emulated services themselves (not authorized: IAM's own
 * view). A resource without them (or a resource of another kind) has none.
 */

import { cachedRead } from '../../core/changes';
import type { SandboxContext } from '../../core/types';

type Out = Record<string, unknown>;

const textOf = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);

export interface ResourceFacts {
  /** The resource-based policy document (JSON text). */
  policy?: string;
  /** The KMS key (id, ARN or alias) the resource's data is encrypted with. */
  kmsKeyId?: string;
}

function facts(attributes: unknown): ResourceFacts {
  const a = (attributes ?? {}) as Out;
  const policy = textOf(a.Policy);
  const kmsKeyId = textOf(a.KmsMasterKeyId);
  return { ...(policy ? { policy } : {}), ...(kmsKeyId ? { kmsKeyId } : {}) };
}

/** The policy and encryption key of the resource with this ARN (empty when it has neither). */
export async function resourceFacts(caller: SandboxContext, arn: string): Promise<ResourceFacts> {
  const [prefix, , service, region = '', account = '', ...rest] = arn.split(':');
  if (prefix === 'arn' && service === 'lambda' && rest[0] === 'function' && rest.length === 2) {
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME — the function's policy (AddPermission's statements).
    const scope = caller.scoped(account, region);
    return facts({ Policy: (await cachedRead(scope, 'lambda', 'GetPolicy', { FunctionName: arn })).Policy });
  }
  if (prefix === 'arn' && service === 'secretsmanager' && rest[0] === 'secret') {
    // A secret's key (DescribeSecret's KmsKeyId; none: the AWS managed aws/secretsmanager key).
    const out = await cachedRead(caller.scoped(account, region), service, 'DescribeSecret', {
      SecretId: arn,
    });
    return facts({ KmsMasterKeyId: out.KmsKeyId });
  }
  if (prefix !== 'arn' || rest.length !== 1) return {};
  const name = rest[0] ?? '';
  // Read where the resource lives (its ARN's account-region), which may be another account than the caller's.
  const sandbox =
    /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region) && /^\d{12}$/.test(account)
      ? caller.scoped(account, region)
      : caller;
  if (service === 'sqs') {
    const url = (
      await cachedRead(sandbox, 'sqs', 'GetQueueUrl', { QueueName: name, QueueOwnerAWSAccountId: account })
    ).QueueUrl;
    if (typeof url !== 'string') return {};
    const out = await cachedRead(sandbox, 'sqs', 'GetQueueAttributes', {
      QueueUrl: url,
      AttributeNames: ['Policy', 'KmsMasterKeyId'],
    });
    return facts(out.Attributes);
  }
  if (service === 'sns')
    return facts((await cachedRead(sandbox, 'sns', 'GetTopicAttributes', { TopicArn: arn })).Attributes);
  if (service === 's3') {
    const bucket = name.split('/')[0] ?? '';
    return facts(await cachedRead(sandbox, 's3', 'GetBucketPolicy', { Bucket: bucket }));
  }
  if (service === 'dynamodb' && name.startsWith('table/')) {
    // A table's (or its index's) customer managed key: DescribeTable's SSEDescription.
    const TableName = name.split('/')[1] ?? '';
    const table = (await cachedRead(sandbox, 'dynamodb', 'DescribeTable', { TableName })).Table as
      | Out
      | undefined;
    const sse = (table?.SSEDescription ?? {}) as Out;
    return facts({ KmsMasterKeyId: sse.SSEType === 'KMS' ? sse.KMSMasterKeyArn : undefined });
  }
  if (service === 'kms' && name.startsWith('key/')) {
    return facts({ Policy: (await cachedRead(sandbox, 'kms', 'GetKeyPolicy', { KeyId: arn })).Policy });
  }
  return {};
}

/** The policy document (JSON text) attached to the resource with this ARN, if any. */
export async function resourcePolicyText(sandbox: SandboxContext, arn: string): Promise<string | undefined> {
  return (await resourceFacts(sandbox, arn)).policy;
}
