import { createHash } from 'node:crypto';
import {
  BatchEntryIdsNotDistinct,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  EmptyBatchRequest,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  InvalidAttributeName,
  MessageNotInflight,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  TooManyEntriesInBatchRequest,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { SqsService } from '../../../sandbox/services/sqs';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';

const sqsModule: SqsService = sqsService();
// 30 s of visibility = 300 ms: long enough that a loaded machine does not see in-flight messages come back mid-test.
const sb = withSandbox({ services: [sqsModule], timeScale: 0.01 });
const client = (): SQSClient => new SQSClient(sb.clientConfig);

async function queue(name: string, attributes: Record<string, string> = {}): Promise<string> {
  const out = await client().send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!out.QueueUrl) throw new Error('no QueueUrl');
  return out.QueueUrl;
}

describe('SQS: queues', () => {
  it('creates a queue whose URL points at the sandbox, and finds it by name', async () => {
    const url = await queue('orders');
    expect(url).toBe(`${sb.endpoint}/queue/us-east-1/000000000000/orders`);
    expect((await client().send(new GetQueueUrlCommand({ QueueName: 'orders' }))).QueueUrl).toBe(url);
    // idempotent with the same attributes
    expect(await queue('orders')).toBe(url);
  });

  it('answers QueueDoesNotExist (typed) for an unknown queue', async () => {
    const err = await client()
      .send(new GetQueueUrlCommand({ QueueName: 'missing' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueDoesNotExist);
    expect(err).toMatchObject({ Code: 'AWS.SimpleQueueService.NonExistentQueue' });
    await expect(
      client().send(
        new SendMessageCommand({
          QueueUrl: `${sb.endpoint}/queue/us-east-1/000000000000/missing`,
          MessageBody: 'x',
        }),
      ),
    ).rejects.toBeInstanceOf(QueueDoesNotExist);
  });

  it('rejects re-creating a queue with different attributes (QueueNameExists)', async () => {
    await queue('attrs', { VisibilityTimeout: '10' });
    await expect(queue('attrs', { VisibilityTimeout: '20' })).rejects.toBeInstanceOf(QueueNameExists);
  });

  it('gets and sets attributes, validating names and values', async () => {
    const url = await queue('attributes');
    await client().send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '45' } }),
    );
    const out = await client().send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['VisibilityTimeout', 'QueueArn', 'ApproximateNumberOfMessages'],
      }),
    );
    expect(out.Attributes).toEqual({
      VisibilityTimeout: '45',
      QueueArn: 'arn:aws:sqs:us-east-1:000000000000:attributes',
      ApproximateNumberOfMessages: '0',
    });
    await expect(
      client().send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Nope' as 'All'] })),
    ).rejects.toBeInstanceOf(InvalidAttributeName);
    await expect(
      client().send(
        new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '99999' } }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidAttributeValue' });
  });
});

describe('SQS: messages', () => {
  it('sends and receives with the MD5s the SDK verifies, and deletes', async () => {
    const url = await queue('messages');
    const sent = await client().send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'hello',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'greeting' } },
      }),
    );
    expect(sent.MD5OfMessageBody).toBe(createHash('md5').update('hello').digest('hex'));
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    const got = await client().send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    expect(got.Messages).toHaveLength(1);
    const m = got.Messages?.[0];
    expect(m?.Body).toBe('hello');
    expect(m?.MessageAttributes?.kind?.StringValue).toBe('greeting');
    expect(m?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(m?.Attributes?.ApproximateReceiveCount).toBe('1');
    // in flight: not received again
    expect((await client().send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages ?? []).toHaveLength(
      0,
    );
    await client().send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m?.ReceiptHandle }));
    const attrs = await client().send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
    );
    expect(attrs.Attributes?.ApproximateNumberOfMessages).toBe('0');
    expect(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe('0');
  });

  it('makes a message visible again after its visibility timeout (scaled time)', async () => {
    const url = await queue('visibility', { VisibilityTimeout: '5' });
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'again' }));
    const first = await client().send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(first.Messages).toHaveLength(1);
    // 5 emulated seconds at timeScale 0.01 = 50 ms; a 20 s long poll (200 ms) sees it come back
    const second = await client().send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        WaitTimeSeconds: 20,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    expect(second.Messages?.[0]?.Body).toBe('again');
    expect(second.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('validates receipt handles and in-flight state', async () => {
    const url = await queue('handles');
    await expect(
      client().send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'garbage' })),
    ).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    const got = await client().send(new ReceiveMessageCommand({ QueueUrl: url }));
    const handle = got.Messages?.[0]?.ReceiptHandle;
    await client().send(
      new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: handle, VisibilityTimeout: 0 }),
    );
    await expect(
      client().send(
        new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: handle, VisibilityTimeout: 10 }),
      ),
    ).rejects.toBeInstanceOf(MessageNotInflight);
  });

  it('rejects invalid ReceiveMessage parameters', async () => {
    const url = await queue('params');
    await expect(
      client().send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 11 })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: expect.stringContaining('MaxNumberOfMessages'),
    });
  });

  it('batches: send/delete with per-entry results and batch-level errors', async () => {
    const url = await queue('batch');
    const sent = await client().send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: 'a', MessageBody: 'one' },
          { Id: 'b', MessageBody: 'two' },
          { Id: 'c', MessageBody: 'bad\u0000char' },
        ],
      }),
    );
    expect(sent.Successful?.map((s) => s.Id)).toEqual(['a', 'b']);
    expect(sent.Failed).toEqual([
      expect.objectContaining({ Id: 'c', Code: 'InvalidMessageContents', SenderFault: true }),
    ]);
    const got = await client().send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
    expect(got.Messages?.map((m) => m.Body).sort()).toEqual(['one', 'two']);
    const del = await client().send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: (got.Messages ?? []).map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
      }),
    );
    expect(del.Successful).toHaveLength(2);
    await expect(
      client().send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [] })),
    ).rejects.toBeInstanceOf(EmptyBatchRequest);
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Id: `m${i}`, MessageBody: 'x' }));
    await expect(
      client().send(new SendMessageBatchCommand({ QueueUrl: url, Entries: eleven })),
    ).rejects.toBeInstanceOf(TooManyEntriesInBatchRequest);
    await expect(
      client().send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: [
            { Id: 'x', MessageBody: '1' },
            { Id: 'x', MessageBody: '2' },
          ],
        }),
      ),
    ).rejects.toBeInstanceOf(BatchEntryIdsNotDistinct);
  });

  it('moves a message to the DLQ after maxReceiveCount receives', async () => {
    const dlqUrl = await queue('work-dlq');
    const url = await queue('work', {
      VisibilityTimeout: '1',
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:work-dlq',
        maxReceiveCount: 2,
      }),
    });
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison' }));
    for (let i = 0; i < 2; i++) {
      const got = await client().send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
      expect(got.Messages?.[0]?.Body).toBe('poison');
      await new Promise((r) => setTimeout(r, 5));
    }
    // Let the second receive's 1-second visibility run out (50 ms real = 5 emulated seconds), so the next
    // receive finds the message visible again and over maxReceiveCount, however slow the machine is.
    await new Promise((r) => setTimeout(r, 50));
    const third = await client().send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(third.Messages ?? []).toHaveLength(0);
    const dead = await client().send(new ReceiveMessageCommand({ QueueUrl: dlqUrl }));
    expect(dead.Messages?.[0]?.Body).toBe('poison');
  });

  it('rejects a RedrivePolicy whose DLQ does not exist', async () => {
    await expect(
      queue('orphan', {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:nope',
          maxReceiveCount: 3,
        }),
      }),
    ).rejects.toMatchObject({ name: 'InvalidAttributeValue' });
  });

  it('purges, and refuses a second purge within 60 s', async () => {
    const url = await queue('purge');
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    await client().send(new PurgeQueueCommand({ QueueUrl: url }));
    expect((await client().send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages ?? []).toHaveLength(
      0,
    );
    await expect(client().send(new PurgeQueueCommand({ QueueUrl: url }))).rejects.toBeInstanceOf(
      PurgeQueueInProgress,
    );
  });

  it('deduplicates FIFO messages by MessageDeduplicationId', async () => {
    const url = await queue('jobs.fifo', { FifoQueue: 'true' });
    const a = await client().send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'x',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd1',
      }),
    );
    const b = await client().send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'x',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd1',
      }),
    );
    expect(b.MessageId).toBe(a.MessageId);
    await expect(
      client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })),
    ).rejects.toMatchObject({
      name: 'MissingParameter',
    });
  });
});

describe('SQS: event source mappings', () => {
  it('invokes the function with the Lambda SQS event and deletes processed messages', async () => {
    const url = await queue('esm');
    const received: { body: string; eventSource: string; attempt: string }[] = [];
    sb.sandbox.registerFunction({
      name: 'consumer',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:consumer',
      env: {},
      async invoke(payload) {
        const records = (
          payload as {
            Records: { body: string; eventSource: string; attributes: { ApproximateReceiveCount: string } }[];
          }
        ).Records;
        for (const r of records)
          received.push({
            body: r.body,
            eventSource: r.eventSource,
            attempt: r.attributes.ApproximateReceiveCount,
          });
        return { batchItemFailures: [] };
      },
    });
    sqsModule.addEventSourceMapping('arn:aws:sqs:us-east-1:000000000000:esm', 'consumer', 5);
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'm1' }));
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'm2' }));
    await sqsModule.idle();
    expect(received.map((r) => r.body).sort()).toEqual(['m1', 'm2']);
    expect(received[0]?.eventSource).toBe('aws:sqs');
    expect(sqsModule.peek('esm')).toEqual([]);
  });

  it('retries only batchItemFailures, then redrives them to the DLQ', async () => {
    await queue('esm-dlq');
    const url = await queue('esm-partial', {
      VisibilityTimeout: '5',
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:esm-dlq',
        maxReceiveCount: 3,
      }),
    });
    const attempts = new Map<string, number>();
    sb.sandbox.registerFunction({
      name: 'picky',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:picky',
      env: {},
      async invoke(payload) {
        const records = (payload as { Records: { messageId: string; body: string }[] }).Records;
        for (const r of records) attempts.set(r.body, (attempts.get(r.body) ?? 0) + 1);
        return {
          batchItemFailures: records
            .filter((r) => r.body === 'bad')
            .map((r) => ({ itemIdentifier: r.messageId })),
        };
      },
    });
    sqsModule.addEventSourceMapping('arn:aws:sqs:us-east-1:000000000000:esm-partial', 'picky', 10);
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'good' }));
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'bad' }));
    const deadline = Date.now() + 5000;
    while (sqsModule.peek('esm-dlq').length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(attempts.get('good')).toBe(1);
    expect(attempts.get('bad')).toBe(3);
    expect(sqsModule.peek('esm-dlq').map((m) => m.body)).toEqual(['bad']);
    expect(sqsModule.peek('esm-partial')).toEqual([]);
  });

  it('keeps the whole batch when the function throws', async () => {
    const url = await queue('esm-throw', { VisibilityTimeout: '43200' });
    let calls = 0;
    sb.sandbox.registerFunction({
      name: 'thrower',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:thrower',
      env: {},
      async invoke() {
        calls++;
        throw new Error('handler failed');
      },
    });
    sqsModule.addEventSourceMapping('arn:aws:sqs:us-east-1:000000000000:esm-throw', 'thrower', 10, {
      maxConcurrency: 1,
    });
    await client().send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'keep' }));
    const deadline = Date.now() + 2000;
    while (calls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await sqsModule.idle();
    expect(calls).toBe(1);
    expect(sqsModule.peek('esm-throw')).toEqual([{ body: 'keep', receiveCount: 1, inFlight: true }]);
    expect(sb.sandbox.logs.some((l) => l.includes('handler failed'))).toBe(true);
  });
});
