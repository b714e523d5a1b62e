/**
 * The resource-based policy IAM evaluates next to the caller's identity policies: an SQS queue's `Policy`
 * attribute, an SNS topic's `Policy` attribute. Read through the emulated services themselves (not
 * authorized: IAM's own view). A resource without one (or a resource of another kind) has none.
 */
import { asService } from '../../core/authz';
import type { SandboxContext } from '../../core/types';

type Out = Record<string, unknown>;

async function read(sandbox: SandboxContext, service: string, op: string, input: Out): Promise<Out> {
  try {
    return await asService(() => sandbox.call(service, op, input));
  } catch {
    return {};
  }
}

const textOf = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);

/** The policy document (JSON text) attached to the resource with this ARN, if any. */
export async function resourcePolicyText(sandbox: SandboxContext, arn: string): Promise<string | undefined> {
  const [prefix, , service, , account, ...rest] = arn.split(':');
  if (prefix !== 'arn' || rest.length !== 1) return undefined;
  const name = rest[0] ?? '';
  if (service === 'sqs') {
    const url = (
      await read(sandbox, 'sqs', 'GetQueueUrl', { QueueName: name, QueueOwnerAWSAccountId: account })
    ).QueueUrl;
    if (typeof url !== 'string') return undefined;
    const out = await read(sandbox, 'sqs', 'GetQueueAttributes', {
      QueueUrl: url,
      AttributeNames: ['Policy'],
    });
    return textOf((out.Attributes as Out | undefined)?.Policy);
  }
  if (service === 'sns') {
    const out = await read(sandbox, 'sns', 'GetTopicAttributes', { TopicArn: arn });
    return textOf((out.Attributes as Out | undefined)?.Policy);
  }
  return undefined;
}
