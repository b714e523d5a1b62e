/**
 * Sandbox.callCounts: every operation the sandbox runs is counted once, by `service:Operation` for a
 * request over the wire (an SDK client) and with ` (in-process)` for SandboxContext.call, so the bench can
 * divide a run's calls by its remediations.
 */
import { CreateQueueCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';

const sb = withSandbox({ services: [sqsService()] });

describe('Sandbox.callCounts', () => {
  it('counts wire requests and in-process calls apart, failed ones included', async () => {
    const before = sb.sandbox.callCounts();
    const sqs = new SQSClient(sb.clientConfig);
    await sqs.send(new CreateQueueCommand({ QueueName: 'counted' }));
    await sqs.send(new GetQueueUrlCommand({ QueueName: 'counted' }));
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'missing' }))).rejects.toThrow();
    await sb.sandbox.context.call('sqs', 'GetQueueUrl', { QueueName: 'counted' });
    const after = sb.sandbox.callCounts();
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(delta('sqs:CreateQueue')).toBe(1);
    expect(delta('sqs:GetQueueUrl')).toBe(2);
    expect(delta('sqs:GetQueueUrl (in-process)')).toBe(1);
    // A snapshot: later calls do not change a map already returned.
    await sb.sandbox.context.call('sqs', 'GetQueueUrl', { QueueName: 'counted' });
    expect(after.get('sqs:GetQueueUrl (in-process)')).toBe(
      (before.get('sqs:GetQueueUrl (in-process)') ?? 0) + 1,
    );
  });
});
