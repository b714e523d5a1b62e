/**
 * SQS over the awsQuery protocol, as older SDKs and CLIs speak it (Debian's awscli 2.9 among them):
 * `Action=…&Version=2012-11-05` form posts, answered in XML with the element names AWS documents
 * (`<ReceiveMessageResult><Message>…<Attribute><Name/><Value/></Attribute>…`) and the legacy error
 * codes (`AWS.SimpleQueueService.NonExistentQueue`). Both protocols reach the same queues.
 */
import {
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { sqsService } from '../../../sandbox/services/sqs';
import { TEST_CREDENTIALS, withSandbox } from '../helpers';

const sb = withSandbox({ services: [sqsService()], timeScale: 0.01 });
const NS = 'http://queue.amazonaws.com/doc/2012-11-05/';

/** A query-protocol call: form-encoded, SigV4 credential scope for sqs (the sandbox routes on it). */
async function query(params: Record<string, string>): Promise<{ status: number; xml: string }> {
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const scope = `${date.slice(0, 8)}/${sb.sandbox.region}/sqs/aws4_request`;
  const res = await fetch(`${sb.endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'x-amz-date': date,
      authorization: `AWS4-HMAC-SHA256 Credential=${TEST_CREDENTIALS.accessKeyId}/${scope}, SignedHeaders=content-type;host;x-amz-date, Signature=${'0'.repeat(64)}`,
    },
    body: new URLSearchParams({ Version: '2012-11-05', ...params }).toString(),
  });
  return { status: res.status, xml: await res.text() };
}

/** The text of every `<tag>` element, in document order. */
const all = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1] ?? '');
const one = (xml: string, tag: string): string | undefined => all(xml, tag)[0];

describe('SQS awsQuery protocol (older SDKs and CLIs)', () => {
  it('CreateQueue with Attribute.N.Name/Value answers <CreateQueueResult><QueueUrl>', async () => {
    const { status, xml } = await query({
      Action: 'CreateQueue',
      QueueName: 'legacy',
      'Attribute.1.Name': 'VisibilityTimeout',
      'Attribute.1.Value': '40',
    });
    expect(status).toBe(200);
    expect(xml).toContain(`<CreateQueueResponse xmlns="${NS}">`);
    expect(one(xml, 'QueueUrl')).toBe(`${sb.endpoint}/queue/us-east-1/000000000000/legacy`);
    expect(one(xml, 'RequestId')).toMatch(/^[0-9a-f-]{36}$/);
    const attrs = await query({
      Action: 'GetQueueAttributes',
      QueueUrl: `${sb.endpoint}/queue/us-east-1/000000000000/legacy`,
      'AttributeName.1': 'VisibilityTimeout',
    });
    // flattened map: <Attribute><Name>VisibilityTimeout</Name><Value>40</Value></Attribute>
    expect(attrs.xml).toMatch(/<Attribute><Name>VisibilityTimeout<\/Name><Value>40<\/Value><\/Attribute>/);
  });

  it('SendMessage with MessageAttribute.N answers the MD5s; ReceiveMessage returns the documented <Message> shape', async () => {
    const url =
      one((await query({ Action: 'CreateQueue', QueueName: 'legacy-messages' })).xml, 'QueueUrl') ?? '';
    const sent = await query({
      Action: 'SendMessage',
      QueueUrl: url,
      MessageBody: 'hello <old> client & friends',
      'MessageAttribute.1.Name': 'kind',
      'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.1.Value.StringValue': 'greeting',
    });
    expect(sent.status).toBe(200);
    expect(one(sent.xml, 'MD5OfMessageBody')).toMatch(/^[0-9a-f]{32}$/);
    expect(one(sent.xml, 'MD5OfMessageAttributes')).toMatch(/^[0-9a-f]{32}$/);
    const got = await query({
      Action: 'ReceiveMessage',
      QueueUrl: url,
      'AttributeName.1': 'All',
      'MessageAttributeName.1': 'All',
      MaxNumberOfMessages: '10',
    });
    expect(got.status).toBe(200);
    const messages = all(got.xml, 'Message');
    expect(messages).toHaveLength(1);
    const m = messages[0] ?? '';
    expect(one(m, 'MessageId')).toBe(one(sent.xml, 'MessageId'));
    expect(one(m, 'Body')).toBe('hello &lt;old&gt; client &amp; friends');
    expect(one(m, 'MD5OfBody')).toBe(one(sent.xml, 'MD5OfMessageBody'));
    expect(one(m, 'MD5OfMessageAttributes')).toBe(one(sent.xml, 'MD5OfMessageAttributes'));
    expect(m).toMatch(/<Attribute><Name>ApproximateReceiveCount<\/Name><Value>1<\/Value><\/Attribute>/);
    const [attr] = all(m, 'MessageAttribute');
    expect(one(attr ?? '', 'Name')).toBe('kind');
    expect(one(attr ?? '', 'StringValue')).toBe('greeting');
    expect(one(attr ?? '', 'DataType')).toBe('String');
    // the receipt handle deletes the message (an empty <DeleteMessageResponse> with its RequestId)
    const del = await query({
      Action: 'DeleteMessage',
      QueueUrl: url,
      ReceiptHandle: one(m, 'ReceiptHandle') ?? '',
    });
    expect(del.status).toBe(200);
    expect(del.xml).toContain('<DeleteMessageResponse');
  });

  it('errors are <ErrorResponse> with the legacy query codes and the sender/receiver type', async () => {
    const { status, xml } = await query({ Action: 'GetQueueUrl', QueueName: 'missing' });
    expect(status).toBe(400);
    expect(xml).toContain('<ErrorResponse');
    expect(one(xml, 'Type')).toBe('Sender');
    expect(one(xml, 'Code')).toBe('AWS.SimpleQueueService.NonExistentQueue');
    expect(one(xml, 'Message')).toBe('The specified queue does not exist.');
    const batch = await query({
      Action: 'DeleteMessageBatch',
      QueueUrl: `${sb.endpoint}/queue/us-east-1/000000000000/missing`,
    });
    expect(one(batch.xml, 'Code')).toBe('AWS.SimpleQueueService.NonExistentQueue');
    const unknown = await query({ Action: 'FlyToTheMoon' });
    expect(unknown.status).toBe(400);
    expect(one(unknown.xml, 'Code')).toBe('InvalidAction');
  });

  it('batch entries: SendMessageBatchRequestEntry.N in, <SendMessageBatchResultEntry> / <BatchResultErrorEntry> out', async () => {
    const url =
      one((await query({ Action: 'CreateQueue', QueueName: 'legacy-batch' })).xml, 'QueueUrl') ?? '';
    const { xml } = await query({
      Action: 'SendMessageBatch',
      QueueUrl: url,
      'SendMessageBatchRequestEntry.1.Id': 'a',
      'SendMessageBatchRequestEntry.1.MessageBody': 'one',
      'SendMessageBatchRequestEntry.2.Id': 'b',
      'SendMessageBatchRequestEntry.2.MessageBody': 'two',
      'SendMessageBatchRequestEntry.2.DelaySeconds': '901',
    });
    const ok = all(xml, 'SendMessageBatchResultEntry');
    const failed = all(xml, 'BatchResultErrorEntry');
    expect(ok.map((e) => one(e, 'Id'))).toEqual(['a']);
    expect(failed.map((e) => [one(e, 'Id'), one(e, 'Code'), one(e, 'SenderFault')])).toEqual([
      ['b', 'InvalidParameterValue', 'true'],
    ]);
  });

  it('both protocols reach the same queues', async () => {
    const json = new SQSClient(sb.clientConfig);
    const url = one((await query({ Action: 'CreateQueue', QueueName: 'shared' })).xml, 'QueueUrl');
    expect((await json.send(new GetQueueUrlCommand({ QueueName: 'shared' }))).QueueUrl).toBe(url);
    await json.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'from a current SDK' }));
    const got = await query({ Action: 'ReceiveMessage', QueueUrl: url ?? '' });
    expect(one(got.xml, 'Body')).toBe('from a current SDK');
    await query({ Action: 'SendMessage', QueueUrl: url ?? '', MessageBody: 'from an old CLI' });
    const back = await json.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));
    expect(back.Messages?.map((m) => m.Body)).toEqual(['from an old CLI']);
  });
});
